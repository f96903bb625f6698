"""Recording a check: its history item, then the job's STATE moved forward by a conditional write on
`version` (never backwards: see `_overtaken`), the polling policy's next wait, and permanent errors."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from zoho_watch.errors import InvalidInput, ZohoWatchError
from zoho_watch.jobs import (
    COMPLETED,
    DEFAULT_KIND,
    FAILED,
    QUEUED,
    RUNNING,
    SCHEDULED,
    SUSPENDED,
    TERMINAL_STATUSES,
    JobKey,
    Snapshot,
)
from zoho_watch.polling import Observation, PollPolicy, PollState, jitter_rng, poll_step
from zoho_watch.priors import RatePrior, observed_end_error, observed_sample
from zoho_watch.store.index import ActiveIndex, index_partition
from zoho_watch.store.items import (
    CHECK_PREFIX,
    FINISHED_EVENT_PARTITION,
    LISTING,
    STATE_SK,
    JobView,
    PendingChange,
    _serialize,
    epoch_of,
    heartbeat_tokens,
    heartbeat_wait,
    iso_utc,
    job_pk,
    listing_key,
    pending_change,
    state_view,
)
from zoho_watch.store.outbox import FINISHED_EVENT_LEASE_SECONDS
from zoho_watch.store.rates import RatePriors, learns_runs

_MAX_WRITE_ATTEMPTS = 25

# How far along a job is: a write may never lower it (a terminal status is final). Statuses Zoho may invent
# later have no rank and are ordered by time alone.
STATUS_RANK = {SCHEDULED: 0, QUEUED: 0, RUNNING: 1, SUSPENDED: 1, COMPLETED: 2, FAILED: 2}


class StoreConflict(ZohoWatchError):
    """Too many concurrent writers on one job; the check is safe to repeat."""

    code = "STORE_CONFLICT"
    api_status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True


def _overtaken(old: dict[str, Any], snapshot: Snapshot, checked_at: float) -> bool:
    """True when the stored state must stay: it is terminal, holds a check sent at or after this one, or
    this answer would move the job backwards (a lower status rank, or fewer records done in the same status).

    The time comparison alone orders checks by when they were sent; the progress comparison also holds when
    clocks or answers disagree, since a job's truth never goes backwards.
    """
    stored = old.get("status")
    if stored in TERMINAL_STATUSES or float(old.get("checked_ts", -1)) >= checked_at:
        return True
    old_rank, new_rank = STATUS_RANK.get(stored or ""), STATUS_RANK.get(snapshot.status)
    if old_rank is not None and new_rank is not None and new_rank < old_rank:
        return True
    if stored == snapshot.status and old.get("total") is not None:
        old_done = Snapshot(
            stored,
            int(old["total"]),
            int(old.get("updated") or 0),
            int(old.get("failed") or 0),
            int(old.get("not_updated") or 0),
        ).done
        return snapshot.done < old_done
    return False


def _changed_event(old: dict[str, Any], status: str, claim_until: float) -> dict[str, Any]:
    """The pending "status changed" event a check to `status` leaves in the STATE item it writes over `old`.

    A new status makes one pending; one still pending from an earlier change is kept, from its previous
    status (the event then tells the whole move, `A -> C` for an unpublished `A -> B` and then `B -> C`).
    The check that writes a move claims it until `claim_until` (`PendingChange.claimed_at`); a check that
    writes the same status again leaves the claim as it is.
    """
    if old.get("changed_event_pending"):
        previous = old.get("changed_previous_status")
        pending = {"changed_event_pending": True, "changed_previous_status": previous}
        if old.get("status") != status:
            return {**pending, "changed_claimed_until": claim_until}
        if "changed_claimed_until" in old:
            return {**pending, "changed_claimed_until": old["changed_claimed_until"]}
        return pending
    if old.get("status") != status:
        return {
            "changed_event_pending": True,
            "changed_previous_status": old.get("status"),
            "changed_claimed_until": claim_until,
        }
    return {}


def _kind_fields(job: JobKey, snapshot: Snapshot) -> dict[str, Any]:
    """What a check writes of another kind than mass update: the kind, Zoho's status word, its results."""
    if job.kind == DEFAULT_KIND:
        return {}
    return {"kind": job.kind, "zoho_status": snapshot.zoho_status, "results": dict(snapshot.results or {})}


@dataclass(frozen=True)
class CheckOutcome:
    """What `record_check` did: the state now stored, and whether this check moved it."""

    state: JobView
    changed: bool  # the status differs from the stored one before this check
    became_terminal: bool  # this check is the one that made the job terminal
    stale: bool  # the stored state was newer or terminal: this check changed nothing
    previous_status: str | None
    next_check_in: int
    finished_event_pending: bool = False  # the job ended and its "finished" event is still to be published
    # The job's "status changed" event still to be published (see `JobStore.changed_event_published`).
    pending_change: PendingChange | None = None
    # When the check before this one was made (epoch seconds; None for the job's first check).
    previous_checked_at: float | None = None
    # Callers' executions wait for the job's end with a task token (`zoho_watch.waiters`).
    waiting: bool = False
    # The task tokens (by waiter key) that get a heartbeat at this check: the job still runs.
    heartbeats: dict[str, str] = field(default_factory=dict)


class CheckRecording(ActiveIndex, RatePriors):
    """`record_check` and `record_error` of a `JobStore`."""

    _state_ttl: int  # seconds a finished job's STATE item is kept (set by JobStore)
    _history_ttl: int  # seconds a CHECK history item is kept (set by JobStore)

    def record_error(
        self,
        job: JobKey,
        error: ZohoWatchError,
        at: float | None = None,
        *,
        known_only: bool = False,
    ) -> JobView | None:
        """Keep a permanent error as the job's `last_error` and take it out of the active index.

        `known_only`: record it only on a job zoho-watch already has (None otherwise, nothing written).
        """
        at = self._clock() if at is None else at
        extra: dict[str, Any] = {"ConditionExpression": "attribute_exists(pk)"} if known_only else {}
        try:
            item = self._record_error(job, error, at, extra)
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return state_view(item)

    def _record_error(
        self, job: JobKey, error: ZohoWatchError, at: float, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """The update of `record_error`: `extra` may hold its ConditionExpression."""
        sets, values, names = self._identity(job, at)
        return self._update_leaving_index(
            self._key(job),
            ", ".join(["last_error = :error", *sets]),
            {**values, ":error": {**error.to_dict(), "at": iso_utc(at)}},
            condition=extra.get("ConditionExpression"),
            names=names,
        )

    def record_check(
        self,
        job: JobKey,
        snapshot: Snapshot,
        checked_at: float,
        policy: PollPolicy | None = None,
        *,
        default_policy: PollPolicy | None = None,
        watcher: str | None = None,
        rng: random.Random | None = None,
        prefetched: dict[str, Any] | None = None,
    ) -> CheckOutcome:
        """Write one check: append its history item, then move the state forward if (and only if) it is newer.

        `policy` decides `next_check_in`; None means the job's stored poll bounds, else `default_policy`.
        The job stays in the active index while it is watched and unfinished; a terminal status leaves it,
        sets `finished_at`, the state's TTL and `finished_event_pending` (see `claim_finished_event`).
        A check that is not newer than the stored one, or would move it backwards, only adds its history item.

        `prefetched`: the job's raw STATE item the caller has already read (`due_jobs(raw=True)`), used
        instead of a read for the first write attempt. It may be stale (the index is eventually consistent):
        the conditional write on `version` then fails and the item is read again, as for any lost race.
        """
        key = self._key(job)
        if prefetched is not None and (
            not isinstance(prefetched, dict)
            or prefetched.get("pk") != key["pk"]["S"]
            or prefetched.get("sk") != STATE_SK
        ):
            raise InvalidInput("prefetched must be this job's STATE item")
        self._put_history(key, snapshot, checked_at)
        prior: RatePrior | None = None
        prior_read = False
        for attempt in range(_MAX_WRITE_ATTEMPTS):
            old = prefetched if attempt == 0 and prefetched is not None else self._get_raw(key)
            if old is not None and _overtaken(old, snapshot, checked_at):
                return CheckOutcome(
                    state=state_view(old),
                    changed=False,
                    became_terminal=False,
                    stale=True,
                    previous_status=old.get("status"),
                    next_check_in=max(0, round(float(old.get("next_check_at", checked_at)) - checked_at)),
                    finished_event_pending=bool(old.get("finished_event_pending")),
                    pending_change=pending_change(old),
                    waiting=bool(old.get("waiters")),
                )
            if not prior_read and not snapshot.terminal:
                prior, prior_read = self.rate_prior_hint(job), True
            new, wait = self._next_state(
                old,
                job,
                snapshot,
                checked_at,
                policy,
                default_policy,
                watcher,
                rng,
                prior=prior,
            )
            condition = "attribute_not_exists(pk)" if old is None else "version = :version"
            extra: dict[str, Any] = {"ConditionExpression": condition}
            if old is not None:
                extra["ExpressionAttributeValues"] = {":version": {"N": str(old.get("version", 0))}}
            try:
                self._client.put_item(TableName=self._table, Item=_serialize(new), **extra)
            except self._client.exceptions.ConditionalCheckFailedException:
                # Someone wrote in between: pause, then read again and decide again.
                self._back_off(attempt)
                continue
            previous = old.get("status") if old else None
            if snapshot.terminal:
                # A kind without counts teaches how long it ran (its prior is one of whole runs); a kind with
                # counts its rate and how far its progress strayed from the estimates.
                observations = [Observation.from_item(raw) for raw in new["observations"]]
                sample = observed_sample(observations, per_run=learns_runs(job.kind))
                if sample is not None:
                    end_error = observed_end_error(observations)
                    self.learn_rate(job.connection, job.module, sample, job.kind, end_error=end_error)
            return CheckOutcome(
                state=state_view(new),
                changed=previous != snapshot.status,
                became_terminal=snapshot.terminal,
                stale=False,
                previous_status=previous,
                next_check_in=wait,
                finished_event_pending=bool(new.get("finished_event_pending")),
                pending_change=pending_change(new),
                previous_checked_at=float(old["checked_ts"]) if old and "checked_ts" in old else None,
                waiting=bool(new.get("waiters")),
                heartbeats={} if snapshot.terminal else heartbeat_tokens(new.get("waiters") or {}),
            )
        raise StoreConflict("too many concurrent writes on this job; try the check again")

    def _put_history(self, key: dict[str, Any], snapshot: Snapshot, checked_at: float) -> None:
        """Write the check's CHECK history item (sort key `CHECK#` + its time), kept `history_ttl_days`."""
        checked_iso = iso_utc(checked_at)
        item = {
            "pk": key["pk"]["S"],
            "sk": CHECK_PREFIX + checked_iso,
            "checked_at": checked_iso,
            "status": snapshot.status,
            **snapshot.counts(),
            "progress": snapshot.progress,
            "expires_at": int(checked_at) + self._history_ttl,
        }
        self._client.put_item(TableName=self._table, Item=_serialize(item))

    def _next_state(
        self,
        old: dict[str, Any] | None,
        job: JobKey,
        snapshot: Snapshot,
        checked_at: float,
        policy: PollPolicy | None,
        default_policy: PollPolicy | None,
        watcher: str | None,
        rng: random.Random | None,
        prior: RatePrior | None = None,
    ) -> tuple[dict[str, Any], int]:
        """The STATE item this check writes over `old` (None: the job's first), and the wait it chose."""
        old = old or {}
        if policy is None:
            fallback = default_policy or PollPolicy()
            policy = PollPolicy.from_poll(old.get("poll"), fallback.min_seconds, fallback.max_seconds)
        first_seen_iso = old.get("first_seen_at") or iso_utc(checked_at)
        state = PollState(
            tuple(Observation.from_item(raw) for raw in old.get("observations", [])),
            int(old.get("checks", 0)),
            epoch_of(first_seen_iso),
        )
        rng = rng or jitter_rng(job, state.checks + 1)
        seen = Observation(checked_at, snapshot.status, snapshot.done, snapshot.total)
        step = poll_step(state, seen, policy, rng, prior)
        wait = step.wait
        beat = heartbeat_wait(old.get("waiters") or {})
        if beat is not None:
            wait = min(wait, beat)  # waiters' heartbeats go out at checks: check at least that often
        watcher = watcher or old.get("watcher")
        new: dict[str, Any] = {
            # Attributes this write does not own are carried over (their changes bump `version`).
            **{name: old[name] for name in ("poll", "created_by") if name in old},
            "waiters": old.get("waiters") or {},
            "pk": job_pk(job),
            "sk": STATE_SK,
            "connection": job.connection,
            "module": job.module,
            "job_id": job.job_id,
            "status": snapshot.status,
            **snapshot.counts(),
            "progress": snapshot.progress,
            "listing": LISTING,
            "listing_key": listing_key(job, snapshot.status),
            **_kind_fields(job, snapshot),
            "first_seen_at": first_seen_iso,
            "last_checked_at": iso_utc(checked_at),
            "checked_ts": checked_at,
            "checks": step.state.checks,
            "observations": [obs.to_item() for obs in step.state.observations],
            "next_check_in": wait,
            "watcher": watcher,
            "version": int(old.get("version", 0)) + 1,
            # The move's claim lasts as long as the finished event's: longer than one publication.
            **_changed_event(old, snapshot.status, self._clock() + FINISHED_EVENT_LEASE_SECONDS),
        }
        if snapshot.terminal:
            new["finished_at"] = iso_utc(checked_at)
            new["finished_event_pending"] = True
            # In the pending events' partition until published: the sweep publishes it if this check dies.
            new["active"] = FINISHED_EVENT_PARTITION
            new["next_check_at"] = checked_at
            new["finished_previous_status"] = old.get("status")
            new["expires_at"] = int(checked_at) + self._state_ttl
        elif watcher is not None:
            new["active"] = index_partition(watcher)
            new["next_check_at"] = checked_at + wait
        return new, wait
