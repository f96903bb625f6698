"""How zoho-watch's items look in DynamoDB: keys, timestamps, (de)serialisation, pagination cursors, and the
public, JSON-ready views of a job's STATE and CHECK items.

Pure functions over items (no table access): each part of `zoho_watch.store` builds and reads items with them.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import DEFAULT_KIND, TERMINAL_STATUSES, JobKey

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

STATE_SK = "STATE"
CHECK_PREFIX = "CHECK#"
ACTIVE = "ACTIVE"
RATE_SK = "RATE"
# The index partition of finished jobs whose "finished" event is still pending (not a watcher's partition).
FINISHED_EVENT_PARTITION = f"{ACTIVE}#finished-event"
# The `JobList` index: every STATE item (and nothing else) in one partition, sorted by `listing_key`.
LIST_INDEX = "JobList"
LISTING = "JOBS"
# `listing_key`'s status part for a job not checked yet (Zoho's statuses are upper case).
UNCHECKED = "unchecked"


@cache
def _codec() -> tuple[TypeSerializer, TypeDeserializer]:
    """boto3's (de)serializers, made on first use: importing `boto3.dynamodb.types` imports all of boto3,
    which a handler's cold start leaves to its first call (the DynamoDB client needs it then anyway)."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def iso_utc(epoch: float) -> str:
    """ISO-8601 UTC with microseconds, the form of every timestamp zoho-watch stores and returns."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_of(iso: str) -> float:
    """Inverse of `iso_utc`."""
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def job_pk(key: JobKey) -> str:
    """Partition key of a job: `JOB#{connection}#{module}#{job_id}`, then `#{kind}` for kinds other than mass
    update (a mass update's key is what it was before there were kinds: old records read back as they are)."""
    return f"JOB#{key.ref}"


def kind_of_pk(pk: str) -> str:
    """The kind of the job whose partition key is `pk` (`job_pk`: a fifth part only for kinds other than mass
    update; none of the parts before it can hold a `#`)."""
    parts = pk.split("#")
    return parts[4] if len(parts) > 4 else DEFAULT_KIND


def listing_key(key: JobKey, status: str | None) -> str:
    """The job's sort key in the `JobList` index: `{status}#{connection}#{module}#{job_id}` (`#{kind}` after
    it for kinds other than mass update).

    The status comes first so that a page of one status is one key range; `unchecked` before the first check.
    """
    return f"{status or UNCHECKED}#{key.ref}"


def listing_prefix(status: str | None, connection: str | None) -> str | None:
    """The `listing_key` prefix of the jobs in `status` (of `connection` among them); None for any status."""
    if status is None:
        return None
    return f"{status}#" + (f"{connection}#" if connection is not None else "")


def rate_scope(module: str, kind: str) -> str:
    """What a pace is learnt under: the module, then `#{kind}` for kinds other than mass update."""
    return module if kind == DEFAULT_KIND else f"{module}#{kind}"


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
    """A plain item (None values left out) in DynamoDB's typed form."""
    serializer = _codec()[0]
    return {key: serializer.serialize(_to_dynamo(value)) for key, value in item.items() if value is not None}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (typed form) as a plain, JSON-ready dict."""
    deserializer = _codec()[1]
    return {key: _plain(deserializer.deserialize(value)) for key, value in item.items()}


def _encode_cursor(key: dict[str, Any]) -> str:
    """An item's key as the opaque cursor a page of results ends with."""
    raw = json.dumps(_deserialize(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(
    cursor: str | None, expected_prefix: str, index_keys: frozenset[str] = frozenset()
) -> dict[str, Any] | None:
    """The key a cursor from `_encode_cursor` stands for (None for no cursor), else InvalidInput.

    Only a job's key (`pk = JOB#...`) whose `sk` starts with `expected_prefix` is taken, with exactly the
    `index_keys` attributes of the index it was read from besides.
    """
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidInput("cursor is not one zoho-watch returned") from None
    if (
        not isinstance(key, dict)
        or set(key) != {"pk", "sk", *index_keys}
        or not all(isinstance(value, str) and len(value) < 400 for value in key.values())
        or not key["pk"].startswith("JOB#")
        or not key["sk"].startswith(expected_prefix)
    ):
        raise InvalidInput("cursor is not one zoho-watch returned")
    return _serialize(key)


def _check_limit(limit: int, highest: int) -> int:
    """Return `limit` if it is an integer from 1 to `highest`, else raise InvalidInput."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= highest:
        raise InvalidInput(f"limit must be an integer from 1 to {highest}")
    return limit


def _is_active(value: Any) -> bool:
    """True for a watcher's index partition value (`ACTIVE` or `ACTIVE#<kind>`), not a pending event's."""
    return (
        isinstance(value, str)
        and value != FINISHED_EVENT_PARTITION
        and (value == ACTIVE or value.startswith(ACTIVE + "#"))
    )


@dataclass(frozen=True)
class PendingChange:
    """A job's "status changed" event still to be published: from `previous_status` to the stored status.

    `claimed_until`: the check that wrote the move publishes it; until then (library clock) no other check
    does, so two checkers at once publish it once. None: anyone may (the claim was given back, or never held).
    """

    previous_status: str | None
    claimed_until: float | None = None

    def claimed_at(self, now: float) -> bool:
        """True while the check that wrote this move still holds it for itself at `now`."""
        return self.claimed_until is not None and now < self.claimed_until


def pending_change(item: dict[str, Any]) -> PendingChange | None:
    """The "status changed" event pending in a raw STATE item, or None."""
    if not item.get("changed_event_pending"):
        return None
    claimed_until = item.get("changed_claimed_until")
    return PendingChange(
        item.get("changed_previous_status"), None if claimed_until is None else float(claimed_until)
    )


class Counts(TypedDict):
    """A job's four record counts as Zoho last gave them (None before its first check)."""

    total: int | None
    updated: int | None
    failed: int | None
    not_updated: int | None


class JobView(TypedDict):
    """The public, JSON-ready state of a job: `state_view` of its STATE item (docs/interfaces.md)."""

    connection: str
    module: str
    job_id: str
    status: str | None  # None while the job is watched and not yet checked
    counts: Counts
    progress: float | None
    terminal: bool
    first_seen_at: str | None
    last_checked_at: str | None
    finished_at: str | None
    checks: int
    last_error: dict[str, Any] | None
    watcher: str | None
    watched: bool
    poll: dict[str, int] | None
    next_check_at: float | None
    version: int
    # Jobs of kinds other than mass update only: the kind, Zoho's own status word and the result's links.
    kind: NotRequired[str]
    zoho_status: NotRequired[str | None]
    results: NotRequired[dict[str, Any]]


class HistoryView(TypedDict):
    """The public, JSON-ready form of one check of a job: `history_view` of a CHECK item."""

    checked_at: str
    status: str
    counts: Counts
    progress: float | None


def _counts(item: dict[str, Any]) -> Counts:
    """The four counts of a STATE or CHECK item, in the JSON shape of `Snapshot.counts`."""
    return {
        "total": item.get("total"),
        "updated": item.get("updated"),
        "failed": item.get("failed"),
        "not_updated": item.get("not_updated"),
    }


def state_view(item: dict[str, Any]) -> JobView:
    """The public, JSON-ready shape of a job's STATE item."""
    status = item.get("status")
    view: JobView = {
        "connection": item["connection"],
        "module": item["module"],
        "job_id": item["job_id"],
        "status": status,
        "counts": _counts(item),
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
    if item.get("kind"):
        view["kind"] = item["kind"]
        view["zoho_status"] = item.get("zoho_status")
        view["results"] = item.get("results") or {}
    return view


def history_view(item: dict[str, Any]) -> HistoryView:
    """The public, JSON-ready shape of a CHECK history item."""
    return {
        "checked_at": item["checked_at"],
        "status": item["status"],
        "counts": _counts(item),
        "progress": item.get("progress"),
    }


def heartbeat_wait(waiters: dict[str, Any]) -> int | None:
    """The longest wait between two checks that keeps every waiter's heartbeat (`heartbeat_seconds`, its
    task's HeartbeatSeconds): half the shortest, so a check that is itself late still beats in time. None
    when no waiter asked for heartbeats."""
    intervals = [int(w["heartbeat_seconds"]) for w in waiters.values() if w.get("heartbeat_seconds")]
    return max(1, min(intervals) // 2) if intervals else None


def heartbeat_tokens(waiters: dict[str, Any]) -> dict[str, str]:
    """The task tokens (by waiter key) of the waiters that asked for heartbeats."""
    return {key: str(w["token"]) for key, w in waiters.items() if w.get("heartbeat_seconds")}
