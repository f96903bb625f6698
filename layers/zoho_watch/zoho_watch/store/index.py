"""The sparse `ActiveJobs` index: which partition a watcher's jobs are in, the jobs due for a check, starting
and stopping a watch, and writes that take a job out of its watcher's partition."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal, overload

from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import SCHEDULE_WATCHER, JobKey
from zoho_watch.polling import PollPolicy
from zoho_watch.store.items import (
    ACTIVE,
    FINISHED_EVENT_PARTITION,
    JobView,
    _check_limit,
    _deserialize,
    state_view,
)
from zoho_watch.store.table import StoreTable

ACTIVE_INDEX = "ActiveJobs"
_RESERVED_KINDS = frozenset({"finished-event"})
_WATCHER_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def index_partition(watcher: str) -> str:
    """The `active` value (index partition) of a job watched by `watcher`.

    `schedule` -> `ACTIVE` (the sweep's partition); `stepfunctions:<arn>` -> `ACTIVE#stepfunctions`; any
    other watcher `<kind>:<...>` checks its own job too -> `ACTIVE#<kind>` (`ACTIVE#other` if the kind is not
    a word).
    """
    if watcher == SCHEDULE_WATCHER:
        return ACTIVE
    kind = watcher.split(":", 1)[0].lower()
    usable = _WATCHER_KIND.fullmatch(kind) and kind not in _RESERVED_KINDS
    return f"{ACTIVE}#{kind if usable else 'other'}"


class ActiveIndex(StoreTable):
    """`due_jobs`, `watch` and `unwatch` of a `JobStore`, and the index reads and writes its parts share."""

    @overload
    def due_jobs(
        self, now: float | None = None, limit: int = 1000, *, raw: Literal[False] = False, kind: str = ...
    ) -> list[JobView]: ...

    @overload
    def due_jobs(
        self, now: float | None = None, limit: int = 1000, *, raw: Literal[True], kind: str = ...
    ) -> list[dict[str, Any]]: ...

    def due_jobs(
        self,
        now: float | None = None,
        limit: int = 1000,
        *,
        raw: bool = False,
        kind: str = SCHEDULE_WATCHER,
    ) -> list[JobView] | list[dict[str, Any]]:
        """Watched, unfinished jobs due for a check at `now`, soonest first (from the sparse index).

        Only the jobs of one watcher kind: by default `schedule` (the sweep's jobs; jobs watched by a Step
        Functions execution are in another partition and never count against `limit`); `kind="stepfunctions"`
        gives the executions' jobs whose next check is overdue. With `raw=False` each job is its public
        `state_view`; with `raw=True` each is the whole STATE item as stored (the index projects ALL),
        which `record_check(..., prefetched=item)` takes to save its first read; `state_view(item)` gives
        the public view of a raw item.
        """
        _check_limit(limit, 100000)
        if kind != SCHEDULE_WATCHER and (not isinstance(kind, str) or not _WATCHER_KIND.fullmatch(kind)):
            raise InvalidInput("kind must be a watcher kind such as schedule or stepfunctions")
        if kind in _RESERVED_KINDS:
            raise InvalidInput(f"{kind} is not a watcher kind")
        partition = ACTIVE if kind == SCHEDULE_WATCHER else f"{ACTIVE}#{kind}"
        found = self._query_due(partition, now, limit)
        if raw:
            return found
        return [state_view(item) for item in found]

    def _query_due(self, partition: str, now: float | None, limit: int) -> list[dict[str, Any]]:
        """The raw items of one index partition with `next_check_at <= now`, soonest first."""
        now = self._clock() if now is None else now
        items: list[dict[str, Any]] = []
        start = None
        while len(items) < limit:
            args: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": ACTIVE_INDEX,
                "KeyConditionExpression": "active = :active AND next_check_at <= :now",
                "ExpressionAttributeValues": {
                    ":active": {"S": partition},
                    ":now": {"N": str(Decimal(repr(float(now))))},
                },
                "Limit": limit - len(items),
            }
            if start is not None:
                args["ExclusiveStartKey"] = start
            reply = self._client.query(**args)
            items.extend(reply.get("Items", []))
            start = reply.get("LastEvaluatedKey")
            if start is None:
                break
        return [_deserialize(item) for item in items[:limit]]

    def watch(
        self,
        job: JobKey,
        watcher: str,
        poll: dict[str, Any] | None = None,
        next_check_at: float | None = None,
    ) -> JobView:
        """Mark the job watched by `watcher` ("stepfunctions:<execution arn>" or "schedule"); idempotent.

        An unfinished job enters the active index with its next check at `next_check_at` (default now);
        a finished job only records the watcher.
        """
        key = self._key(job)
        if not isinstance(watcher, str) or not 1 <= len(watcher) <= 2048:
            raise InvalidInput("watcher must be a non-empty string")
        poll_values = None
        if poll is not None:
            PollPolicy.from_poll(poll, 1, 86400)  # validates; only the bounds given are kept
            poll_values = {name: int(value) for name, value in poll.items() if value is not None}
        now = self._clock()
        sets, values, names = self._identity(job, now)
        sets.append("watcher = :watcher")
        values.update(
            {
                ":watcher": watcher,
                ":active": index_partition(watcher),
                ":next": float(now if next_check_at is None else next_check_at),
                ":completed": "COMPLETED",
                ":failed": "FAILED",
            }
        )
        if poll_values is not None:
            values[":poll"] = poll_values
            sets.append("poll = :poll")
        names["#status"] = "status"
        try:
            item = self._update(
                key,
                "SET " + ", ".join([*sets, "active = :active", "next_check_at = :next"]),
                values,
                ConditionExpression="attribute_not_exists(#status) OR NOT #status IN (:completed, :failed)",
                ExpressionAttributeNames=names,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            # Finished already: remember who asked, but it needs no more checks.
            for name in (":active", ":next", ":completed", ":failed"):
                values.pop(name)
            names.pop("#status")
            item = self._update(key, "SET " + ", ".join(sets), values, ExpressionAttributeNames=names)
        return state_view(item)

    def hand_over(self, job: JobKey, ended: str, to: str) -> bool:
        """Give the watch of a job from the `ended` watcher to `to`, due now.

        Only while `ended` still watches the unfinished job: False when the job was finished, unwatched or
        handed to someone else meanwhile (nothing is written then).
        """
        key = self._key(job)
        try:
            self._update(
                key,
                "SET watcher = :to, active = :active, next_check_at = :now, version = version + :one",
                {
                    ":to": to,
                    ":ended": ended,
                    ":active": index_partition(to),
                    ":watched": index_partition(ended),
                    ":now": float(self._clock()),
                    ":one": 1,
                },
                ConditionExpression="watcher = :ended AND active = :watched",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def unwatch(self, job: JobKey) -> JobView | None:
        """Stop watching the job (it leaves the active index); the state, or None for an unknown job."""
        key = self._key(job)
        try:
            item = self._update_leaving_index(
                key, "version = version + :one", {":one": 1}, "watcher", condition="attribute_exists(pk)"
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return state_view(item)

    def _update_leaving_index(
        self,
        key: dict[str, Any],
        sets: str,
        values: dict[str, Any],
        *removes: str,
        condition: str | None = None,
        names: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """`SET sets REMOVE removes` that also takes the job out of its watcher's index partition.

        A finished job whose "finished" event is pending stays in `ACTIVE#finished-event` (the event is
        the job's, not the watch's): the first attempt requires another partition (or none) and removes
        `active`, the second requires the pending partition and keeps it, the third covers an event
        published in between. ConditionalCheckFailed when `condition` fails.
        """
        values = {**values, ":finished_event": FINISHED_EVENT_PARTITION}
        extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        off_index = (
            "attribute_not_exists(active) OR active <> :finished_event",
            " REMOVE active, next_check_at",
        )
        keep = ("active = :finished_event", "")
        for attempt, (guard, remove_index) in enumerate((off_index, keep, off_index)):
            removal = ", ".join(removes)
            if remove_index:
                removal = remove_index + (f", {removal}" if removal else "")
            elif removal:
                removal = f" REMOVE {removal}"
            full = f"({guard})" + (f" AND ({condition})" if condition else "")
            try:
                return self._update(key, f"SET {sets}{removal}", values, ConditionExpression=full, **extra)
            except self._client.exceptions.ConditionalCheckFailedException:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
