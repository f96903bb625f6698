"""Reading jobs: one job's state, its check history and the list of jobs, a page at a time."""

from __future__ import annotations

from typing import Any

from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import JobKey, validate_connection
from zoho_watch.store.items import (
    CHECK_PREFIX,
    STATE_SK,
    HistoryView,
    JobView,
    _check_limit,
    _decode_cursor,
    _deserialize,
    _encode_cursor,
    history_view,
    state_view,
)
from zoho_watch.store.table import StoreTable


class JobReads(StoreTable):
    """`get`, `history` and `list_jobs` of a `JobStore`."""

    def get(self, job: JobKey) -> JobView | None:
        """The job's stored state (JSON-ready), or None if zoho-watch has never seen it."""
        item = self._get_raw(self._key(job))
        return state_view(item) if item else None

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
    ) -> tuple[list[JobView], str | None]:
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
