"""JobStore: every job's latest state and its check history, in one DynamoDB table (see docs/interfaces.md).

Writes never move a job backwards: a check is written with a conditional put on the item's `version`, after
checking that the stored state is neither terminal nor newer than the check; a lost race re-reads and decides
again. Every other write bumps `version` too, so no write is lost under the check's read-modify-write.
The sparse `ActiveJobs` index holds only watched jobs that still need checks (`active`, `next_check_at`).
Its partition value says who checks the job: `ACTIVE` for the sweep (watcher `schedule`), `ACTIVE#{kind}`
for a watcher that checks its own job (`ACTIVE#stepfunctions` for `stepfunctions:<execution arn>`), so the
sweep's query reads only the jobs it must check (see `index_partition`). A finished job whose "finished" event
is still to be published sits in its own partition, `ACTIVE#finished-event` (`next_check_at`: when to try to
publish it), from the terminal write until the event is on the bus, so the sweep finds and publishes events
that a dead checker left behind (`pending_finished_events`). A "status changed" event is pending too, in
the STATE item the check that saw the new status writes (`changed_event_pending`, `changed_previous_status`),
until it is on the bus (`changed_event_published`): a publication that fails loses no event. The check that
wrote the move claims it for a lease (`changed_claimed_until`), so concurrent checks publish it once.
Every STATE item (and only those) is also in the `JobList` index, one partition (`listing = JOBS`) sorted
by `listing_key = {status}#{connection}#{module}#{job_id}` (`unchecked` before a first check), keys only:
`list_jobs` reads a page of keys there, then the items, so a page's reads never grow with the check history;
the index is written only when a job's status changes, far below one partition's write limit.
Each (connection, module) has one rate prior item, `pk = RATE#{connection}#{module}`, `sk = RATE`: the
throughput learnt from its jobs seen finishing and how far their progress strayed from the estimates
(`RatePrior`), which the polling policy uses while a job waits and near a running job's estimated end.

One module per job:

- `items`: keys, timestamps, (de)serialisation, pagination cursors, `state_view` and `history_view`;
- `table`: `StoreTable`, the client, table and clock every part shares, a job's key, reads and updates;
- `reads`: `get`, `history`, `list_jobs`;
- `index`: `index_partition`, `due_jobs`, `watch`, `unwatch`, and leaving a watcher's index partition;
- `rates`: `rate_prior`, `learn_rate` and the container's cache of the priors;
- `outbox`: the events still to publish ("finished": claimed with a lease; "status changed"), and publication;
- `recording`: `record_check` (history item, conditional write loop, next state) and `record_error`.

A package, not sibling `store_*.py` modules: the parts share one table and one key schema and are private to
it, so they live under the one name every caller already imports (`from zoho_watch.store import JobStore`),
and this module re-exports each name callers use. (pyproject.toml lists `zoho_watch.store` with the library's
other packages: setuptools installs only the packages it names.)

`JobStore` is the one class callers use. Each part is a class over `StoreTable`, and `JobStore` inherits
them all rather than holding part objects: every method stays a method of the one `JobStore` instance, so a
part reaches another through `self` (`record_check` calls `self.rate_prior` and `self._put_history`), and
whoever wraps or replaces a method on a `JobStore` (as the crash-safety tests do) replaces it for every
caller, inside the store too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from zoho_watch.store.index import ACTIVE_INDEX, ActiveIndex, index_partition
from zoho_watch.store.items import (
    ACTIVE,
    CHECK_PREFIX,
    FINISHED_EVENT_PARTITION,
    LIST_INDEX,
    RATE_SK,
    STATE_SK,
    Counts,
    HistoryView,
    JobView,
    PendingChange,
    epoch_of,
    history_view,
    iso_utc,
    job_pk,
    pending_change,
    rate_pk,
    state_view,
)
from zoho_watch.store.outbox import FINISHED_EVENT_LEASE_SECONDS, EventOutbox
from zoho_watch.store.rates import RATE_PRIOR_CACHE_SECONDS, RatePriors
from zoho_watch.store.reads import JobReads
from zoho_watch.store.recording import STATUS_RANK, CheckOutcome, CheckRecording, StoreConflict

__all__ = [
    "ACTIVE",
    "ACTIVE_INDEX",
    "CHECK_PREFIX",
    "FINISHED_EVENT_LEASE_SECONDS",
    "FINISHED_EVENT_PARTITION",
    "LIST_INDEX",
    "RATE_PRIOR_CACHE_SECONDS",
    "RATE_SK",
    "STATE_SK",
    "STATUS_RANK",
    "ActiveIndex",
    "CheckOutcome",
    "CheckRecording",
    "Counts",
    "EventOutbox",
    "HistoryView",
    "JobReads",
    "JobStore",
    "JobView",
    "PendingChange",
    "RatePriors",
    "StoreConflict",
    "epoch_of",
    "history_view",
    "index_partition",
    "iso_utc",
    "job_pk",
    "pending_change",
    "rate_pk",
    "state_view",
]

_DAY = 86400


class JobStore(CheckRecording, EventOutbox, JobReads):
    """Job state, check history and active-job index on one DynamoDB table."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        state_ttl_days: int = 30,
        history_ttl_days: int = 7,
        clock: Callable[[], float] = time.time,
        rate_prior_cache_seconds: float = RATE_PRIOR_CACHE_SECONDS,
    ) -> None:
        super().__init__(client, table_name, clock)
        self._state_ttl = state_ttl_days * _DAY
        self._history_ttl = history_ttl_days * _DAY
        self._start_rate_cache(rate_prior_cache_seconds)
