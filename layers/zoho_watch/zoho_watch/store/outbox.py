"""The events outbox: an event stays pending in the job's STATE item until it is on the bus.

A finished job's "finished" event (and the job in the index's `ACTIVE#finished-event` partition) until one
claimer has published it; a claim is a lease on the library's clock (`zoho_watch.lease`), so the event of a
claimer that died is published by the next check or sweep. A "status changed" event, written pending by the
check that saw the new status (`recording`), until a publisher marks it published; that check holds it for a
lease written with the move (`PendingChange.claimed_at`), so two checkers at once publish it once, and gives
it back if the bus refuses it. Either event is published again only when its publisher dies (or AWS fails)
between publishing it and marking it published; its `event_id` is stable, none is lost."""

from __future__ import annotations

from typing import Any

from zoho_watch.jobs import TERMINAL_STATUSES, JobKey
from zoho_watch.lease import ItemLease
from zoho_watch.store.index import ActiveIndex
from zoho_watch.store.items import (
    FINISHED_EVENT_PARTITION,
    JobView,
    PendingChange,
    _check_limit,
    _serialize,
    iso_utc,
    state_view,
)

# How long a claim on a job's "finished" event lasts (seconds, library clock): longer than one publication
# (put_events is bounded by the events client's time-outs, see services.EVENTS_CLIENT_TIMEOUTS), short enough
# that a retry after a claimer died publishes soon.
FINISHED_EVENT_LEASE_SECONDS = 8.0


# A job has announcements to make: its "finished" event, or waiters (answered once its watch has an end).
_ANNOUNCEMENTS_PENDING = "finished_event_pending = :true OR size(waiters) > :zero"


class EventOutbox(ActiveIndex):
    """The pending events' methods of a `JobStore`: find, claim, mark published, give back, ask."""

    def pending_finished_events(self, now: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Raw STATE items of finished jobs whose "finished" event is pending and may be claimed at `now`.

        A query of the index's `ACTIVE#finished-event` partition (never a scan), soonest first: jobs whose
        terminal write was not followed by a publication (the checker died, or EventBridge failed), and
        jobs whose claim has run out (library clock).
        """
        _check_limit(limit, 100000)
        return self._query_due(FINISHED_EVENT_PARTITION, now, limit)

    @property
    def _claims(self) -> ItemLease:
        """Claims on finished jobs' events: a lease in each STATE item's `finished_event_claimed_until`."""
        return ItemLease(self._client, self._table, self._clock, until="finished_event_claimed_until")

    def claim_finished_event(self, job: JobKey, lease_seconds: float = FINISHED_EVENT_LEASE_SECONDS) -> bool:
        """Claim the job's announcements for `lease_seconds`: its pending "finished" event and the waiters to
        answer (`zoho_watch.waiters`); True for one caller, who makes them.

        The claim is a lease (`zoho_watch.lease`, library clock), not the removal of `finished_event_pending`:
        the flag stays until `finished_event_published`, so a claimer that dies before publishing leaves the
        event pending, and once the lease has run out the next checker claims it. The job's place in
        `ACTIVE#finished-event` moves to the lease's end (`next_check_at`): the sweep tries it again only if
        the claimer has not published it.
        """
        until = self._claims.take(
            self._key(job),
            lease_seconds,
            sets="active = :finished_event, next_check_at = :lease_until, version = version + :one",
            condition=_ANNOUNCEMENTS_PENDING,
            values=_serialize(
                {":finished_event": FINISHED_EVENT_PARTITION, ":one": 1, ":true": True, ":zero": 0}
            ),
        )
        return until is not None

    def finished_event_sent(self, job: JobKey) -> None:
        """The claimed "finished" event is on the bus: no longer pending (the claim goes on: the waiters)."""
        self._update(
            self._key(job), "SET version = version + :one REMOVE finished_event_pending", {":one": 1}
        )

    def finished_event_published(self, job: JobKey) -> None:
        """The claimed announcements are made: nothing pending, the claim is over, and the job leaves the
        index (`ACTIVE#finished-event`); unless a waiter registered meanwhile: due now, for the next one."""
        key = self._key(job)
        try:
            self._update(
                key,
                "SET version = version + :one"
                " REMOVE finished_event_pending, finished_event_claimed_until, active, next_check_at",
                {":one": 1, ":zero": 0},
                ConditionExpression="size(waiters) = :zero",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            self._claims.end(
                key,
                sets="next_check_at = :now, version = version + :one",
                removes="finished_event_pending",
                values=_serialize({":one": 1, ":now": self._clock()}),
            )

    def announcements_pending(self, job: JobKey) -> bool:
        """True while the job's "finished" event or a waiter's answer is still to be made."""
        item = self._get_raw(self._key(job))
        return bool(item and (item.get("finished_event_pending") or item.get("waiters")))

    def add_waiter(self, job: JobKey, key: str, token: str, heartbeat_seconds: int | None = None) -> JobView:
        """Register a waiter (`zoho_watch.waiters`) on the job, creating its record if zoho-watch had none;
        with `heartbeat_seconds`, the job's checks send it heartbeats at least that often from the next on.

        A finished job goes into `ACTIVE#finished-event` due now, so that the waiter is answered even if the
        caller's own attempt fails. (A job whose watch ended otherwise is watched again by the caller.)
        """
        now = self._clock()
        sets, values, names = self._identity(job, now)
        self._update(self._key(job), "SET " + ", ".join(sets), values, ExpressionAttributeNames=names)
        waiter: dict[str, Any] = {"token": token, "registered_at": iso_utc(now)}
        if heartbeat_seconds is not None:
            waiter["heartbeat_seconds"] = heartbeat_seconds
        item = self._update(
            self._key(job),
            "SET waiters.#waiter = :waiter, version = version + :one",
            {":waiter": waiter, ":one": 1},
            ExpressionAttributeNames={"#waiter": key},
        )
        if item.get("status") in TERMINAL_STATUSES:
            item = self._update(
                self._key(job),
                "SET active = :finished_event, next_check_at = :now, version = version + :one",
                {":finished_event": FINISHED_EVENT_PARTITION, ":now": now, ":one": 1},
            )
        return state_view(item)

    def waiter_answered(self, job: JobKey, key: str) -> None:
        """The waiter `key` was answered (or is gone): it leaves the job's record."""
        self._update(
            self._key(job),
            "SET version = version + :one REMOVE waiters.#waiter",
            {":one": 1},
            ExpressionAttributeNames={"#waiter": key},
        )

    def end_waits(self, job: JobKey, error: str, message: str) -> bool:
        """The job's watch ended without an end of the job (an error, its deadline): its waiters are to be
        answered with `error` by the next claimer (due now in `ACTIVE#finished-event`); False without any."""
        item = self._get_raw(self._key(job))
        if not item or not item.get("waiters"):
            return False
        try:
            self._update(
                self._key(job),
                "SET watch_ended = :ended, active = :finished_event, next_check_at = :now,"
                " version = version + :one",
                {
                    ":ended": {"error": error, "message": message, "at": iso_utc(self._clock())},
                    ":finished_event": FINISHED_EVENT_PARTITION,
                    ":now": self._clock(),
                    ":one": 1,
                    ":zero": 0,
                },
                ConditionExpression="size(waiters) > :zero",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release_finished_event(self, job: JobKey) -> None:
        """Give claimed announcements back, still pending (a publication or an answer failed), to the next
        check or the next sweep run (due now in `ACTIVE#finished-event`)."""
        self._claims.end(
            self._key(job),
            sets="active = :finished_event, next_check_at = :now, version = version + :one",
            values=_serialize(
                {":one": 1, ":finished_event": FINISHED_EVENT_PARTITION, ":now": self._clock()}
            ),
        )

    def finished_event_pending(self, job: JobKey) -> bool:
        """True when the job ended and its "finished" event has not been published yet."""
        item = self._get_raw(self._key(job))
        return bool(item and item.get("finished_event_pending"))

    def changed_event_published(self, job: JobKey, status: str, change: PendingChange) -> bool:
        """The pending "status changed" event `change` (to `status`) is on the bus: no longer pending.

        False (nothing written) when the pending event is another one by now (a newer status: it stays
        pending and tells the move from `change.previous_status`), or none is pending.
        """
        return self._update_pending_change(
            job,
            status,
            change,
            "REMOVE changed_event_pending, changed_previous_status, changed_claimed_until",
        )

    def release_changed_event(self, job: JobKey, status: str, change: PendingChange) -> bool:
        """Give back the claim on the pending "status changed" event `change` (to `status`), which the bus
        refused: the next check publishes it at once. False when it is another one by now, or none."""
        return self._update_pending_change(job, status, change, "REMOVE changed_claimed_until")

    def _update_pending_change(self, job: JobKey, status: str, change: PendingChange, removes: str) -> bool:
        """Apply `removes` (and a version bump) if the STATE item still has `change` pending; else False."""
        values: dict[str, Any] = {":true": True, ":status": status, ":one": 1}
        condition = "changed_event_pending = :true AND #status = :status AND "
        if change.previous_status is None:
            condition += "attribute_not_exists(changed_previous_status)"
        else:
            condition += "changed_previous_status = :previous"
            values[":previous"] = change.previous_status
        try:
            self._update(
                self._key(job),
                f"SET version = version + :one {removes}",
                values,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
