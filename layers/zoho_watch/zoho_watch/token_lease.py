"""The token refresh lease of a connection: an item in the jobs table elects one refresher of all containers.

A conditional put takes the lease when no one holds it or it has run out (`lease_until`, on the library's
clock); the holder keeps it for the spacing between refreshes or releases it. DynamoDB's TTL removes the
item a day later.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

# The lease item is removed by DynamoDB's TTL a day later (`expires_at` on the library clock, as the store's).
_LEASE_TTL = 86400


def lease_key(connection: str) -> dict[str, Any]:
    """Key of the token refresh lease item of a connection."""
    return {"pk": {"S": f"LEASE#token-refresh#{connection}"}, "sk": {"S": "LEASE"}}


class RefreshLease:
    """The refresh lease of one connection, held by this owner (one per TokenProvider)."""

    def __init__(
        self, connection: str, *, dynamodb: Any, table: str, seconds: float, clock: Callable[[], float]
    ) -> None:
        """`seconds`: how long an acquired lease lasts; `clock`: the library's clock."""
        self._dynamodb = dynamodb
        self._table = table
        self._seconds = seconds
        self._clock = clock
        self._key = lease_key(connection)
        self._owner = uuid.uuid4().hex

    def read(self) -> dict[str, Any] | None:
        """The lease's phase ("refreshing" or "spacing") and `lease_until`, or None when nobody holds it."""
        reply = self._dynamodb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
        item = reply.get("Item")
        if not item:
            return None
        return {
            "phase": item.get("phase", {}).get("S", "refreshing"),
            "lease_until": float(item.get("lease_until", {}).get("N", "0")),
        }

    def acquire(self) -> bool:
        """Take the lease when it is free or has run out; False when someone else holds it."""
        now = self._clock()
        until = now + self._seconds
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    **self._key,
                    "owner": {"S": self._owner},
                    "phase": {"S": "refreshing"},
                    "lease_until": {"N": str(Decimal(repr(until)))},
                    "expires_at": {"N": str(int(now) + _LEASE_TTL)},
                },
                ConditionExpression="attribute_not_exists(pk) OR lease_until <= :now",
                ExpressionAttributeValues={":now": {"N": str(Decimal(repr(now)))}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def keep_until(self, until: float | None) -> None:
        """Keep our lease until `until` (spacing refreshes), or release it now (None)."""
        try:
            if until is None:
                self._dynamodb.delete_item(
                    TableName=self._table,
                    Key=self._key,
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":owner": {"S": self._owner}},
                )
            else:
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=self._key,
                    UpdateExpression="SET lease_until = :until, phase = :spacing",
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={
                        ":owner": {"S": self._owner},
                        ":until": {"N": str(Decimal(repr(until)))},
                        ":spacing": {"S": "spacing"},
                    },
                )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            pass  # our lease ran out and someone else holds it now: nothing of ours to change
