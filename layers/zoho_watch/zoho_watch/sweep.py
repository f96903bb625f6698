"""The sweep: check every due job watched in schedule mode, within a Zoho concurrency budget.

The due jobs come from the sparse ActiveJobs index (the sweep's partition; never a scan) as raw STATE items,
so each check writes from the item it already has instead of reading the job again. Only the Zoho call
counts against the budget: `ZohoSlots` lets at most `budget` status calls be in flight, while a larger pool
of workers does everything else a check does (token, DynamoDB writes, events) around them, so the store's
latency overlaps Zoho's instead of adding to it. A check that would start too close to the invocation's
end is left for the next sweep, and so is everything after Zoho answers 429.
Each run first publishes the "finished" events that checks left pending (a checker that died between the
job's terminal write and the publication): they come from the index's `ACTIVE#finished-event` partition
(a query) and go out through the claim of `check.publish_pending_finished`, without calling Zoho.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from zoho_watch.aws_errors import typed_aws_errors
from zoho_watch.check import check_job, publish_pending_finished
from zoho_watch.errors import InvalidInput, ZohoRateLimited, ZohoWatchError
from zoho_watch.healing import heal_watches
from zoho_watch.jobs import SCHEDULE_WATCHER, JobKey
from zoho_watch.services import get_services

logger = Logger(child=True)

# Workers per Zoho slot: while one worker's call is in flight, another writes its results (a check's writes
# take about as long as a 100 ms Zoho call on the bench's in-process moto). More workers only add thread
# contention there: measured on 1,000 checks, 2 per slot beat 1 (Zoho slots idle) and 3 or 4 (GIL
# contention). Small enough for boto3's connection pools (services.MAX_POOL_CONNECTIONS).
WORKERS_PER_SLOT = 2
MAX_WORKERS = 48


class SweepStopped(Exception):
    """The sweep stopped taking new Zoho calls (throttled, or out of time); the job is left for later."""


@dataclass
class SweepReport:
    """What one sweep did; `left` jobs were due but not checked (time or throttling).

    `published`: pending "finished" events this run published (`pending` were found); not in `as_dict`,
    whose keys are the sweep function's answer.
    """

    due: int = 0
    checked: int = 0
    finished: int = 0
    errors: int = 0
    left: int = 0
    rate_limited: bool = False
    pending: int = 0
    published: int = 0
    resumed: int = 0
    abandoned: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to the counters (thread-safe)."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {
            "due": self.due,
            "checked": self.checked,
            "finished": self.finished,
            "errors": self.errors,
            "left": self.left,
            "rate_limited": self.rate_limited,
            "resumed": self.resumed,
            "abandoned": self.abandoned,
        }


class ZohoSlots:
    """At most `budget` Zoho calls in flight; once stopped (or throttled), or short of time, none starts.

    `slot()` is the context manager `check_job(zoho_slot=...)` holds around each Zoho status call. It
    raises SweepStopped instead of starting a call after `stop()` or when `time_left_ms()` is below
    `reserve_ms` (a worker may wait for its slot a while: the time is judged when the call would start).
    """

    def __init__(
        self, budget: int, time_left_ms: Callable[[], int] | None = None, reserve_ms: int = 0
    ) -> None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise InvalidInput("the Zoho concurrency budget must be a positive integer")
        self.budget = budget
        self._semaphore = threading.BoundedSemaphore(budget)
        self._stopped = threading.Event()
        self._time_left_ms = time_left_ms
        self._reserve_ms = reserve_ms

    def stop(self) -> None:
        """Start no more Zoho calls (calls in flight finish)."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        """True once `stop()` was called."""
        return self._stopped.is_set()

    def may_start(self) -> bool:
        """True unless stopped or short of time."""
        if self._stopped.is_set():
            return False
        return self._time_left_ms is None or self._time_left_ms() >= self._reserve_ms

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the budget's slots for one Zoho call (SweepStopped if the call must not start)."""
        with self._semaphore:
            if not self.may_start():
                raise SweepStopped("the sweep takes no more Zoho calls")
            try:
                yield
            except ZohoRateLimited:
                # Stopped before the slot is released, so no waiting worker starts a call after a 429.
                self.stop()
                raise


def due_schedule_jobs(limit: int) -> list[dict[str, Any]]:
    """The raw STATE items of the due jobs the sweep checks (watcher `schedule`), soonest first."""
    items = get_services().store.due_jobs(limit=limit, raw=True)
    return [item for item in items if item.get("watcher") == SCHEDULE_WATCHER]


def run_sweep(
    budget: int,
    batch_limit: int,
    time_left_ms: Callable[[], int],
    reserve_ms: int,
    workers: int | None = None,
) -> SweepReport:
    """Check the due schedule-mode jobs: at most `budget` Zoho calls at once, none once `reserve_ms` remain.

    `workers` (default WORKERS_PER_SLOT x budget, at most MAX_WORKERS, at least `budget`) is the size of
    the thread pool. Per-job errors are counted, logged and recorded on the job by `check_job`; Zoho's 429
    stops the sweep's new calls (the rest is left for the next sweep). Last, the watches whose execution
    ended before their job are resumed (`zoho_watch.healing`), in the time left.
    """
    slots = ZohoSlots(budget, time_left_ms, reserve_ms)
    services = get_services()
    with typed_aws_errors():  # the run fails as AwsUnavailable or AwsRequestError; the jobs stay due
        pending = services.store.pending_finished_events(limit=batch_limit)
        due = due_schedule_jobs(batch_limit)
    report = SweepReport(due=len(due), pending=len(pending))
    if workers is None:
        workers = max(budget, min(MAX_WORKERS, WORKERS_PER_SLOT * budget))

    def publish_one(item: dict[str, Any]) -> None:
        # A publication is bounded by the events client's time-outs; none starts too close to the end.
        if time_left_ms() < reserve_ms:
            return
        try:
            if publish_pending_finished(services, item):
                report.add(published=1)
        except Exception:  # left pending: the next check or sweep run publishes it
            report.add(errors=1)
            logger.exception("pending finished event not published", extra={"job_id": item.get("job_id")})

    def check_one(item: dict[str, Any]) -> None:
        # Decided when a worker takes the job, and again when its Zoho call would start (ZohoSlots).
        if not slots.may_start():
            report.add(left=1)
            return
        job_id = item.get("job_id")
        try:
            # As stored: an item that names no valid job is InvalidInput, a failed check of that item. An AWS
            # failure leaves the job due for the next run (AwsUnavailable) like any transient error.
            with typed_aws_errors():
                state = check_job(JobKey.of(item), prefetched=item, zoho_slot=slots.slot)
        except SweepStopped:
            report.add(left=1)
            return
        except ZohoRateLimited:
            # Zoho's concurrency or credit limit: further calls now would only add 429s.
            slots.stop()
            report.rate_limited = True
            report.add(errors=1)
            logger.warning(
                "zoho is throttling; leaving the rest for the next sweep", extra={"job_id": job_id}
            )
            return
        except ZohoWatchError as error:
            # Permanent errors are recorded on the job by check_job (and take it out of the index).
            report.add(errors=1)
            logger.info("check failed", extra={"job_id": job_id, "code": error.code})
            return
        except Exception:
            report.add(errors=1)
            logger.exception("unexpected error checking a job", extra={"job_id": job_id})
            return
        report.add(checked=1, finished=1 if state.get("terminal") else 0)

    if pending or due:
        size = min(workers, max(len(pending), len(due)))
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="sweep") as pool:
            list(pool.map(publish_one, pending))
            list(pool.map(check_one, due))
    try:
        with typed_aws_errors():
            healed = heal_watches(batch_limit, time_left_ms, reserve_ms)
    except ZohoWatchError as error:  # the checks are done; the next run looks at the watches again
        report.add(errors=1)
        logger.warning("watches not healed this run", extra={"code": error.code})
    else:
        report.add(resumed=healed.resumed, abandoned=healed.abandoned)
    return report
