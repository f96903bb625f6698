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
that a dead checker left behind (`pending_finished_events`).
Each (connection, module) has one rate prior item, `pk = RATE#{connection}#{module}`, `sk = RATE`: the
throughput learnt from its jobs seen finishing (`RatePrior`), which the polling policy uses while a job waits.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from zoho_watch.errors import InvalidInput, ZohoWatchError
from zoho_watch.jobs import (
    COMPLETED,
    FAILED,
    QUEUED,
    RUNNING,
    SCHEDULE_WATCHER,
    SCHEDULED,
    SUSPENDED,
    TERMINAL_STATUSES,
    Observation,
    PollPolicy,
    RatePrior,
    Snapshot,
    jitter_rng,
    next_check_in,
    observed_rate,
    trim_observations,
    validate_connection,
    validate_job_id,
    validate_module,
)

logger = Logger(child=True)

STATE_SK = "STATE"
CHECK_PREFIX = "CHECK#"
ACTIVE = "ACTIVE"
ACTIVE_INDEX = "ActiveJobs"
# The index partition of finished jobs whose "finished" event is still pending (not a watcher's partition).
FINISHED_EVENT_PARTITION = f"{ACTIVE}#finished-event"
_RESERVED_KINDS = frozenset({"finished-event"})
_WATCHER_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_DAY = 86400
_MAX_WRITE_ATTEMPTS = 25
RATE_SK = "RATE"
_MAX_RATE_ATTEMPTS = 5
# How long a claim on a job's "finished" event lasts (seconds, library clock): longer than one publication
# (put_events is bounded by the events client's time-outs, see services.EVENTS_CLIENT_TIMEOUTS), short enough
# that a retry after a claimer died publishes soon.
FINISHED_EVENT_LEASE_SECONDS = 8.0
# How long (seconds, library clock) a container keeps a (connection, module)'s rate prior: a sweep of many
# jobs of one module reads it once. The prior is a hint, so a few seconds' staleness across containers costs
# nothing. The library's clock, not a real-time one: on AWS they are the same, and on the embedded stack the
# cache then expires on the simulated timeline the jobs run on, whatever the machine's speed.
RATE_PRIOR_CACHE_SECONDS = 60.0
# How far along a job is: a write may never lower it (a terminal status is final). Statuses Zoho may invent
# later have no rank and are ordered by time alone.
STATUS_RANK = {SCHEDULED: 0, QUEUED: 0, RUNNING: 1, SUSPENDED: 1, COMPLETED: 2, FAILED: 2}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class StoreConflict(ZohoWatchError):
    """Too many concurrent writers on one job; the check is safe to repeat."""

    code = "STORE_CONFLICT"
    retryable = True


def iso_utc(epoch: float) -> str:
    """ISO-8601 UTC with microseconds, the form of every timestamp zoho-watch stores and returns."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_of(iso: str) -> float:
    """Inverse of `iso_utc`."""
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def job_pk(connection: str, module: str, job_id: str) -> str:
    """Partition key of a job: `JOB#{connection}#{module}#{job_id}`."""
    return f"JOB#{connection}#{module}#{job_id}"


def rate_pk(connection: str, module: str) -> str:
    """Partition key of a (connection, module)'s rate prior: `RATE#{connection}#{module}`."""
    return f"RATE#{connection}#{module}"


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals (and sets) as JSON-ready numbers and lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


def _to_dynamo(value: Any) -> Any:
    """Floats as Decimals, the only number type boto3 serialises."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(item) for item in value]
    return value


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_to_dynamo(value)) for key, value in item.items() if value is not None}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps(_deserialize(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None, expected_prefix: str) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidInput("cursor is not one zoho-watch returned") from None
    if (
        not isinstance(key, dict)
        or set(key) != {"pk", "sk"}
        or not all(isinstance(value, str) and len(value) < 400 for value in key.values())
        or not key["pk"].startswith("JOB#")
        or not key["sk"].startswith(expected_prefix)
    ):
        raise InvalidInput("cursor is not one zoho-watch returned")
    return _serialize(key)


def _check_limit(limit: int, highest: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= highest:
        raise InvalidInput(f"limit must be an integer from 1 to {highest}")
    return limit


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


def _is_active(value: Any) -> bool:
    """True for a watcher's index partition value (`ACTIVE` or `ACTIVE#<kind>`), not a pending event's."""
    return (
        isinstance(value, str)
        and value != FINISHED_EVENT_PARTITION
        and (value == ACTIVE or value.startswith(ACTIVE + "#"))
    )


def state_view(item: dict[str, Any]) -> dict[str, Any]:
    """The public, JSON-ready shape of a job's STATE item."""
    status = item.get("status")
    return {
        "connection": item.get("connection"),
        "module": item.get("module"),
        "job_id": item.get("job_id"),
        "status": status,
        "counts": {
            "total": item.get("total"),
            "updated": item.get("updated"),
            "failed": item.get("failed"),
            "not_updated": item.get("not_updated"),
        },
        "progress": item.get("progress"),
        "terminal": status in TERMINAL_STATUSES,
        "first_seen_at": item.get("first_seen_at"),
        "last_checked_at": item.get("last_checked_at"),
        "finished_at": item.get("finished_at"),
        "checks": item.get("checks", 0),
        "last_error": item.get("last_error"),
        "watcher": item.get("watcher"),
        "watched": _is_active(item.get("active")),
        "poll": item.get("poll"),
        "next_check_at": item.get("next_check_at"),
        "version": item.get("version", 0),
    }


def history_view(item: dict[str, Any]) -> dict[str, Any]:
    """The public, JSON-ready shape of a CHECK history item."""
    return {
        "checked_at": item.get("checked_at"),
        "status": item.get("status"),
        "counts": {
            "total": item.get("total"),
            "updated": item.get("updated"),
            "failed": item.get("failed"),
            "not_updated": item.get("not_updated"),
        },
        "progress": item.get("progress"),
    }


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


@dataclass(frozen=True)
class CheckOutcome:
    """What `record_check` did: the state now stored, and whether this check moved it."""

    state: dict[str, Any]
    changed: bool  # the status differs from the stored one before this check
    became_terminal: bool  # this check is the one that made the job terminal
    stale: bool  # the stored state was newer or terminal: this check changed nothing
    previous_status: str | None
    next_check_in: int
    finished_event_pending: bool = False  # the job ended and its "finished" event is still to be published


class JobStore:
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
        self._client = client
        self._table = table_name
        self._state_ttl = state_ttl_days * _DAY
        self._history_ttl = history_ttl_days * _DAY
        self._clock = clock
        self._rate_cache_seconds = rate_prior_cache_seconds
        # (connection, module) -> (library-clock time it expires, prior or None): see `rate_prior`.
        self._rate_cache: dict[tuple[str, str], tuple[float, RatePrior | None]] = {}
        self._rate_cache_lock = threading.Lock()
        self._rate_reads: dict[tuple[str, str], threading.Lock] = {}  # one read of a prior at a time

    # ---- reading -------------------------------------------------------------------------------------------

    def _key(self, connection: str, module: str, job_id: str) -> dict[str, Any]:
        validate_connection(connection)
        validate_module(module)
        job_id = validate_job_id(job_id)
        return {"pk": {"S": job_pk(connection, module, job_id)}, "sk": {"S": STATE_SK}}

    def _get_raw(self, key: dict[str, Any]) -> dict[str, Any] | None:
        reply = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        item = reply.get("Item")
        return _deserialize(item) if item else None

    def get(self, connection: str, module: str, job_id: str) -> dict[str, Any] | None:
        """The job's stored state (JSON-ready), or None if zoho-watch has never seen it."""
        item = self._get_raw(self._key(connection, module, job_id))
        return state_view(item) if item else None

    def history(
        self, connection: str, module: str, job_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The job's checks, newest first, a page at a time: (items, next_cursor or None)."""
        key = self._key(connection, module, job_id)
        _check_limit(limit, 1000)
        start = _decode_cursor(cursor, CHECK_PREFIX)
        if start is not None and start["pk"] != key["pk"]:
            raise InvalidInput("cursor belongs to another job")
        args: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :check)",
            "ExpressionAttributeValues": {":pk": key["pk"], ":check": {"S": CHECK_PREFIX}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start is not None:
            args["ExclusiveStartKey"] = start
        reply = self._client.query(**args)
        items = [history_view(_deserialize(item)) for item in reply.get("Items", [])]
        last = reply.get("LastEvaluatedKey")
        return items, (_encode_cursor(last) if last else None)

    def list_jobs(
        self,
        status: str | None = None,
        connection: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Jobs (any status, or one), optionally of one connection, a page at a time: (items, next_cursor)."""
        _check_limit(limit, 1000)
        if status is not None and (not isinstance(status, str) or not status.isupper() or len(status) > 64):
            raise InvalidInput("status must be an upper-case Zoho status such as RUNNING or COMPLETED")
        if connection is not None:
            validate_connection(connection)
        start = _decode_cursor(cursor, STATE_SK)
        condition = ["sk = :state"]
        values: dict[str, Any] = {":state": {"S": STATE_SK}}
        names: dict[str, str] = {}
        if status is not None:
            condition.append("#status = :status")
            values[":status"] = {"S": status}
            names["#status"] = "status"
        if connection is not None:
            condition.append("#connection = :connection")
            values[":connection"] = {"S": connection}
            names["#connection"] = "connection"
        items: list[dict[str, Any]] = []
        while True:
            args: dict[str, Any] = {
                "TableName": self._table,
                "FilterExpression": " AND ".join(condition),
                "ExpressionAttributeValues": values,
                "Limit": max(limit, 100),
            }
            if names:
                args["ExpressionAttributeNames"] = names
            if start is not None:
                args["ExclusiveStartKey"] = start
            reply = self._client.scan(**args)
            for raw in reply.get("Items", []):
                items.append(raw)
                if len(items) == limit:
                    # The page ends on this item: the next one starts right after its key.
                    more = raw is not reply["Items"][-1] or "LastEvaluatedKey" in reply
                    cursor_out = _encode_cursor({"pk": raw["pk"], "sk": raw["sk"]}) if more else None
                    return [state_view(_deserialize(item)) for item in items], cursor_out
            start = reply.get("LastEvaluatedKey")
            if start is None:
                return [state_view(_deserialize(item)) for item in items], None

    def due_jobs(
        self,
        now: float | None = None,
        limit: int = 1000,
        *,
        raw: bool = False,
        kind: str = SCHEDULE_WATCHER,
    ) -> list[dict[str, Any]]:
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
        return found if raw else [state_view(item) for item in found]

    def pending_finished_events(self, now: float | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Raw STATE items of finished jobs whose "finished" event is pending and may be claimed at `now`.

        A query of the index's `ACTIVE#finished-event` partition (never a scan), soonest first: jobs whose
        terminal write was not followed by a publication (the checker died, or EventBridge failed), and
        jobs whose claim has run out (library clock).
        """
        _check_limit(limit, 100000)
        return self._query_due(FINISHED_EVENT_PARTITION, now, limit)

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

    def _rate_key(self, connection: str, module: str) -> dict[str, Any]:
        validate_connection(connection)
        validate_module(module)
        return {"pk": {"S": rate_pk(connection, module)}, "sk": {"S": RATE_SK}}

    def rate_prior(self, connection: str, module: str) -> RatePrior | None:
        """The throughput learnt from this (connection, module)'s finished jobs, or None before the first.

        Kept in this container for `rate_prior_cache_seconds` (library clock) after it was read or learnt
        here, so a sweep of many jobs of one module reads it once; another container's lessons show after
        that.
        """
        key = self._rate_key(connection, module)
        cached = self._rate_cache.get((connection, module))
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        with self._rate_cache_lock:
            reading = self._rate_reads.setdefault((connection, module), threading.Lock())
        with reading:  # single flight: the sweep's workers checking jobs of one module wait for one read
            cached = self._rate_cache.get((connection, module))
            if cached is not None and self._clock() < cached[0]:
                return cached[1]
            reply = self._client.get_item(TableName=self._table, Key=key)
            item = reply.get("Item")
            prior = RatePrior.from_item(_deserialize(item)["prior"]) if item else None
            self._cache_rate(connection, module, prior)
            return prior

    def _cache_rate(self, connection: str, module: str, prior: RatePrior | None) -> None:
        with self._rate_cache_lock:
            self._rate_cache[(connection, module)] = (self._clock() + self._rate_cache_seconds, prior)

    def _forget_rate(self, connection: str, module: str) -> None:
        with self._rate_cache_lock:
            self._rate_cache.pop((connection, module), None)

    # ---- writing -------------------------------------------------------------------------------------------

    def learn_rate(self, connection: str, module: str, rate: float) -> RatePrior | None:
        """Teach the (connection, module)'s rate prior one finished job's `rate` (records per second).

        A conditional write on the item's `version`, retried a few times; the prior is a hint, so when it
        cannot be written (contention, DynamoDB error) the sample is dropped with a warning and None returned.
        The container's cached prior becomes the one written (or is dropped when none was).
        """
        key = self._rate_key(connection, module)
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise InvalidInput(f"rate must be a positive number of records per second, got {rate!r}")
        try:
            for _ in range(_MAX_RATE_ATTEMPTS):
                old = self._get_raw(key)
                prior = (
                    RatePrior.first(rate) if old is None else RatePrior.from_item(old["prior"]).learn(rate)
                )
                version = int(old["version"]) if old is not None else 0
                item = {
                    "pk": key["pk"]["S"],
                    "sk": RATE_SK,
                    "connection": connection,
                    "module": module,
                    "prior": prior.to_item(),
                    "version": version + 1,
                    "updated_at": iso_utc(self._clock()),
                }
                extra: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
                if old is not None:
                    extra = {
                        "ConditionExpression": "version = :version",
                        "ExpressionAttributeValues": {":version": {"N": str(version)}},
                    }
                try:
                    self._client.put_item(TableName=self._table, Item=_serialize(item), **extra)
                except self._client.exceptions.ConditionalCheckFailedException:
                    continue
                # Cached as stored (rounded), so a cached read equals a read from the table.
                self._cache_rate(connection, module, RatePrior.from_item(item["prior"]))
                return prior
        except (ClientError, BotoCoreError) as error:
            self._forget_rate(connection, module)
            logger.warning(
                "rate prior not updated", extra={"connection": connection, "error": type(error).__name__}
            )
            return None
        self._forget_rate(connection, module)
        logger.warning(
            "rate prior not updated: too many concurrent writers", extra={"connection": connection}
        )
        return None

    def _update(self, key: dict[str, Any], expression: str, values: dict[str, Any], **extra: Any) -> dict:
        reply = self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeValues=_serialize(values),
            ReturnValues="ALL_NEW",
            **extra,
        )
        return _deserialize(reply["Attributes"])

    def watch(
        self,
        connection: str,
        module: str,
        job_id: str,
        watcher: str,
        poll: dict[str, Any] | None = None,
        next_check_at: float | None = None,
    ) -> dict[str, Any]:
        """Mark the job watched by `watcher` ("stepfunctions:<execution arn>" or "schedule"); idempotent.

        An unfinished job enters the active index with its next check at `next_check_at` (default now);
        a finished job only records the watcher.
        """
        key = self._key(connection, module, job_id)
        job_id = validate_job_id(job_id)
        if not isinstance(watcher, str) or not 1 <= len(watcher) <= 2048:
            raise InvalidInput("watcher must be a non-empty string")
        poll_values = None
        if poll is not None:
            PollPolicy.from_poll(poll, 1, 86400)  # validates; only the bounds given are kept
            poll_values = {name: int(value) for name, value in poll.items() if value is not None}
        now = self._clock()
        values: dict[str, Any] = {
            ":connection": connection,
            ":module": module,
            ":job_id": job_id,
            ":watcher": watcher,
            ":now": iso_utc(now),
            ":zero": 0,
            ":one": 1,
            ":active": index_partition(watcher),
            ":next": float(now if next_check_at is None else next_check_at),
            ":completed": "COMPLETED",
            ":failed": "FAILED",
        }
        sets = [
            "#connection = :connection",
            "#module = :module",
            "job_id = :job_id",
            "watcher = :watcher",
            "first_seen_at = if_not_exists(first_seen_at, :now)",
            "version = if_not_exists(version, :zero) + :one",
        ]
        if poll_values is not None:
            values[":poll"] = poll_values
            sets.append("poll = :poll")
        names = {"#connection": "connection", "#module": "module", "#status": "status"}
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

    def unwatch(self, connection: str, module: str, job_id: str) -> dict[str, Any] | None:
        """Stop watching the job (it leaves the active index); the state, or None for an unknown job."""
        key = self._key(connection, module, job_id)
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

    def record_error(
        self,
        connection: str,
        module: str,
        job_id: str,
        error: ZohoWatchError,
        at: float | None = None,
        *,
        known_only: bool = False,
    ) -> dict[str, Any] | None:
        """Keep a permanent error as the job's `last_error` and take it out of the active index.

        `known_only`: record it only on a job zoho-watch already has (None otherwise, nothing written).
        """
        key = self._key(connection, module, job_id)
        job_id = validate_job_id(job_id)
        at = self._clock() if at is None else at
        extra: dict[str, Any] = {"ConditionExpression": "attribute_exists(pk)"} if known_only else {}
        try:
            item = self._record_error(key, connection, module, job_id, error, at, extra)
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return state_view(item)

    def _record_error(
        self,
        key: dict[str, Any],
        connection: str,
        module: str,
        job_id: str,
        error: ZohoWatchError,
        at: float,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        return self._update_leaving_index(
            key,
            "last_error = :error, #connection = :connection, #module = :module, job_id = :job_id,"
            " first_seen_at = if_not_exists(first_seen_at, :now),"
            " version = if_not_exists(version, :zero) + :one",
            {
                ":error": {**error.to_dict(), "at": iso_utc(at)},
                ":connection": connection,
                ":module": module,
                ":job_id": job_id,
                ":now": iso_utc(at),
                ":zero": 0,
                ":one": 1,
            },
            condition=extra.get("ConditionExpression"),
            names={"#connection": "connection", "#module": "module"},
        )

    def record_check(
        self,
        connection: str,
        module: str,
        job_id: str,
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
        key = self._key(connection, module, job_id)
        job_id = validate_job_id(job_id)
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
                )
            if not prior_read and not snapshot.terminal and self._may_use_prior(old, snapshot, checked_at):
                prior, prior_read = self.rate_prior(connection, module), True
            new, wait = self._next_state(
                old,
                connection,
                module,
                job_id,
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
                continue  # someone wrote in between: read again and decide again
            previous = old.get("status") if old else None
            if snapshot.terminal:
                sample = observed_rate([Observation.from_item(raw) for raw in new["observations"]])
                if sample is not None:
                    self.learn_rate(connection, module, sample)
            return CheckOutcome(
                state=state_view(new),
                changed=previous != snapshot.status,
                became_terminal=snapshot.terminal,
                stale=False,
                previous_status=previous,
                next_check_in=wait,
                finished_event_pending=bool(new.get("finished_event_pending")),
            )
        raise StoreConflict("too many concurrent writes on this job; try the check again")

    def _put_history(self, key: dict[str, Any], snapshot: Snapshot, checked_at: float) -> None:
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

    @staticmethod
    def _may_use_prior(old: dict[str, Any] | None, snapshot: Snapshot, checked_at: float) -> bool:
        """True until the job's own rate is known: only then does the policy look at the rate prior."""
        observations = [Observation.from_item(raw) for raw in (old or {}).get("observations", [])]
        observations.append(Observation(checked_at, snapshot.status, snapshot.done, snapshot.total))
        return observed_rate(observations) is None

    def _next_state(
        self,
        old: dict[str, Any] | None,
        connection: str,
        module: str,
        job_id: str,
        snapshot: Snapshot,
        checked_at: float,
        policy: PollPolicy | None,
        default_policy: PollPolicy | None,
        watcher: str | None,
        rng: random.Random | None,
        prior: RatePrior | None = None,
    ) -> tuple[dict[str, Any], int]:
        old = old or {}
        if policy is None:
            fallback = default_policy or PollPolicy()
            policy = PollPolicy.from_poll(old.get("poll"), fallback.min_seconds, fallback.max_seconds)
        first_seen_iso = old.get("first_seen_at") or iso_utc(checked_at)
        first_seen = min(epoch_of(first_seen_iso), checked_at)
        observations = [Observation.from_item(raw) for raw in old.get("observations", [])]
        observations.append(Observation(checked_at, snapshot.status, snapshot.done, snapshot.total))
        observations = trim_observations(observations, policy.keep)
        checks = int(old.get("checks", 0)) + 1
        rng = rng or jitter_rng(connection, module, job_id, checks)
        wait = next_check_in(observations, checked_at, policy, rng, first_seen_at=first_seen, prior=prior)
        watcher = watcher or old.get("watcher")
        new: dict[str, Any] = {
            # Attributes this write does not own are carried over (their changes bump `version`).
            **{name: old[name] for name in ("poll", "created_by") if name in old},
            "pk": job_pk(connection, module, job_id),
            "sk": STATE_SK,
            "connection": connection,
            "module": module,
            "job_id": job_id,
            "status": snapshot.status,
            **snapshot.counts(),
            "progress": snapshot.progress,
            "first_seen_at": first_seen_iso,
            "last_checked_at": iso_utc(checked_at),
            "checked_ts": checked_at,
            "checks": checks,
            "observations": [obs.to_item() for obs in observations],
            "next_check_in": wait,
            "watcher": watcher,
            "version": int(old.get("version", 0)) + 1,
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

    def claim_finished_event(
        self,
        connection: str,
        module: str,
        job_id: str,
        lease_seconds: float = FINISHED_EVENT_LEASE_SECONDS,
    ) -> bool:
        """Claim the pending "finished" event for `lease_seconds`; True for one caller, who publishes it.

        The claim is a lease (`finished_event_claimed_until`, library clock), not the removal of
        `finished_event_pending`: the flag stays until `finished_event_published`, so a claimer that dies
        before publishing leaves the event pending, and once the lease has run out the next checker claims it.
        The job's place in `ACTIVE#finished-event` moves to the lease's end (`next_check_at`): the sweep tries
        it again only if the claimer has not published it.
        """
        key = self._key(connection, module, job_id)
        now = self._clock()
        try:
            self._update(
                key,
                "SET finished_event_claimed_until = :until, active = :finished_event, next_check_at = :until,"
                " version = version + :one",
                {
                    ":finished_event": FINISHED_EVENT_PARTITION,
                    ":one": 1,
                    ":true": True,
                    ":now": now,
                    ":until": now + lease_seconds,
                },
                ConditionExpression="finished_event_pending = :true AND (attribute_not_exists("
                "finished_event_claimed_until) OR finished_event_claimed_until <= :now)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def finished_event_published(self, connection: str, module: str, job_id: str) -> None:
        """The claimed "finished" event is on the bus: no longer pending, the claim is over, and the job
        leaves the index (`ACTIVE#finished-event`)."""
        key = self._key(connection, module, job_id)
        self._update(
            key,
            "REMOVE finished_event_pending, finished_event_claimed_until, active, next_check_at"
            " SET version = version + :one",
            {":one": 1},
        )

    def release_finished_event(self, connection: str, module: str, job_id: str) -> None:
        """Give a claimed "finished" event back, still pending (its publication failed), to the next check
        or the next sweep run (due now in `ACTIVE#finished-event`)."""
        key = self._key(connection, module, job_id)
        self._update(
            key,
            "SET finished_event_pending = :true, active = :finished_event, next_check_at = :now,"
            " version = version + :one"
            " REMOVE finished_event_claimed_until",
            {":one": 1, ":true": True, ":finished_event": FINISHED_EVENT_PARTITION, ":now": self._clock()},
        )

    def finished_event_pending(self, connection: str, module: str, job_id: str) -> bool:
        """True when the job ended and its "finished" event has not been published yet."""
        item = self._get_raw(self._key(connection, module, job_id))
        return bool(item and item.get("finished_event_pending"))
