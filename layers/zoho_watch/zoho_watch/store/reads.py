"""Reading jobs: one job's state, its check history and the list of jobs, a page at a time."""

from __future__ import annotations

from typing import Any

from zoho_watch.errors import AwsUnavailable, InvalidInput
from zoho_watch.job_kinds import KINDS
from zoho_watch.jobs import JobKey, validate_connection
from zoho_watch.store.items import (
    CHECK_PREFIX,
    LIST_INDEX,
    LISTING,
    STATE_SK,
    HistoryView,
    JobView,
    _check_limit,
    _decode_cursor,
    _deserialize,
    _encode_cursor,
    history_view,
    kind_of_pk,
    listing_prefix,
    state_view,
)
from zoho_watch.store.table import StoreTable

# The most `JobList` entries one `list_jobs` call reads, whatever its filter: a page stays far inside API
# Gateway's 29 s whatever the table holds.
LIST_READ_BUDGET = 1000
# A `JobList` cursor carries the index's keys besides the table's.
_LIST_KEYS = frozenset({"listing", "listing_key"})
_BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem limit
_MAX_BATCH_ATTEMPTS = 8


class JobReads(StoreTable):
    """`get`, `history` and `list_jobs` of a `JobStore`."""

    def get(self, job: JobKey) -> JobView | None:
        """The job's stored state (JSON-ready), or None if zoho-watch has never seen it."""
        item = self._get_raw(self._key(job))
        return state_view(item) if item else None

    def record(self, job: JobKey) -> dict[str, Any] | None:
        """The job's STATE item as stored (plain values, internal attributes too), read consistently."""
        return self._get_raw(self._key(job))

    def history(
        self, job: JobKey, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[HistoryView], str | None]:
        """The job's checks, newest first, a page at a time: (items, next_cursor or None)."""
        key = self._key(job)
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
        kind: str | None = None,
    ) -> tuple[list[JobView], str | None]:
        """Jobs (any status, or one), optionally of one connection or one kind, a page at a time: (items,
        next_cursor).

        Read from the `JobList` index (STATE items only, never the check history): one key range for a
        status (and a connection within it). A connection without a status is a filter on the index, and a
        kind is read from each entry's key (no item is read for a job of another kind), so such a page may
        hold fewer than `limit` jobs although `next_cursor` is set; a request reads at most `LIST_READ_BUDGET`
        index entries either way.
        """
        _check_limit(limit, 1000)
        if status is not None and (not isinstance(status, str) or not status.isupper() or len(status) > 64):
            raise InvalidInput("status must be an upper-case Zoho status such as RUNNING or COMPLETED")
        if connection is not None:
            validate_connection(connection)
        if kind is not None and kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(sorted(KINDS))}")
        start = _decode_cursor(cursor, STATE_SK, _LIST_KEYS)
        args: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": "listing = :listing",
            "ExpressionAttributeValues": {":listing": {"S": LISTING}},
        }
        prefix = listing_prefix(status, connection)
        if prefix is not None:
            args["KeyConditionExpression"] += " AND begins_with(listing_key, :prefix)"
            args["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
        elif connection is not None:
            args["FilterExpression"] = "begins_with(pk, :job)"
            args["ExpressionAttributeValues"][":job"] = {"S": f"JOB#{connection}#"}
        keys: list[dict[str, Any]] = []
        read = 0
        while True:
            page_args = {**args, "Limit": min(limit - len(keys), LIST_READ_BUDGET - read)}
            if start is not None:
                page_args["ExclusiveStartKey"] = start
            reply = self._client.query(**page_args)
            read += reply.get("ScannedCount", 0)
            keys.extend(
                {"pk": raw["pk"], "sk": raw["sk"]}
                for raw in reply.get("Items", [])
                if kind is None or kind_of_pk(raw["pk"]["S"]) == kind
            )
            start = reply.get("LastEvaluatedKey")
            if start is None or len(keys) == limit or read >= LIST_READ_BUDGET:
                break
        return [state_view(item) for item in self._get_many(keys)], (_encode_cursor(start) if start else None)

    def _get_many(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items at `keys` (plain values), in the order of `keys`; a job deleted meanwhile is left out."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for first in range(0, len(keys), _BATCH_GET_MAX):
            pending: list[dict[str, Any]] = keys[first : first + _BATCH_GET_MAX]
            for attempt in range(_MAX_BATCH_ATTEMPTS):
                reply = self._client.batch_get_item(RequestItems={self._table: {"Keys": pending}})
                for raw in reply.get("Responses", {}).get(self._table, []):
                    item = _deserialize(raw)
                    found[item["pk"], item["sk"]] = item
                pending = reply.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not pending:
                    break
                # DynamoDB read only part of the batch (throughput): pause, then ask for the rest.
                self._back_off(attempt)
            else:
                raise AwsUnavailable("DynamoDB left part of a BatchGetItem unread after several attempts")
        return [found[key] for key in ((k["pk"]["S"], k["sk"]["S"]) for k in keys) if key in found]
