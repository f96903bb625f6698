"""A lease on one DynamoDB item: a time-limited claim that one caller wins by a conditional write.

The lease is an attribute of the item holding the time it runs out (epoch seconds on the library's clock).
A caller takes it when the attribute is absent or the time has passed, in one `UpdateItem` that may also
require more of the item and set more of it; the write that loses raises nothing, it answers None. When an
owner is given it is written with the lease, and only that owner can keep or end it. A holder that dies lets
it run out, and the next caller takes it then. Two leases use it: the token refresh of a connection
(`zoho_watch.token_lease`) and the claim on a finished job's event (`zoho_watch.store.outbox`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

# Placeholders of the lease's own names and values, kept apart from the caller's.
_UNTIL, _OWNER = "#lease_until", "#lease_owner"


def number(value: float) -> dict[str, str]:
    """A number in DynamoDB's typed form (exactly the float's shortest repr)."""
    return {"N": str(Decimal(repr(value)))}


class ItemLease:
    """Leases held in the attribute `until` (and `owner`, for owned leases) of items of one table."""

    def __init__(
        self,
        client: Any,
        table: str,
        clock: Callable[[], float],
        *,
        until: str = "lease_until",
        owner: str = "lease_owner",
    ) -> None:
        """`client`: boto3 DynamoDB; `clock`: the library's clock; `until`, `owner`: the attributes' names."""
        self._client = client
        self._table = table
        self._clock = clock
        self._names = {_UNTIL: until, _OWNER: owner}

    def take(
        self,
        key: Mapping[str, Any],
        seconds: float,
        *,
        owner: str | None = None,
        sets: str = "",
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> float | None:
        """Take the lease of the item at `key` for `seconds`: the time it runs out, or None when it is held
        (or `condition` is false).

        In the same write: `sets` (more `name = value` of an UpdateExpression's SET) and `condition` (more of
        a ConditionExpression), with their typed `values` and `names`. `:lease_until` is the lease's end and
        `:lease_now` the time it was taken, for `sets` and `condition` to use.
        """
        now = self._clock()
        until = now + seconds
        assignments = ["#lease_until = :lease_until"]
        lease_values: dict[str, Any] = {":lease_until": number(until), ":lease_now": number(now)}
        lease_names = {_UNTIL: self._names[_UNTIL]}
        if owner is not None:
            assignments.append("#lease_owner = :lease_owner")
            lease_values[":lease_owner"] = {"S": owner}
            lease_names[_OWNER] = self._names[_OWNER]
        if sets:
            assignments.append(sets)
        free = "(attribute_not_exists(#lease_until) OR #lease_until <= :lease_now)"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=dict(key),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression=free + (f" AND ({condition})" if condition else ""),
                ExpressionAttributeNames={**lease_names, **(names or {})},
                ExpressionAttributeValues={**lease_values, **(values or {})},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return until

    def keep(
        self,
        key: Mapping[str, Any],
        until: float,
        owner: str,
        *,
        sets: str = "",
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """Keep `owner`'s lease until `until` (with `sets` and their typed `values` in the same write); False
        when it is not `owner`'s any more (it ran out and someone else took it)."""
        expression = "SET #lease_until = :lease_until" + (f", {sets}" if sets else "")
        return self._owned_update(key, owner, expression, {**(values or {}), ":lease_until": number(until)})

    def end(
        self,
        key: Mapping[str, Any],
        owner: str | None = None,
        *,
        sets: str = "",
        removes: str = "",
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> bool:
        """End the lease now (its attributes removed, `sets` and `removes` applied in the same write); with an
        `owner`, only if it is still that owner's (False otherwise)."""
        removed = ", ".join(filter(None, ("#lease_until, #lease_owner", removes)))
        expression = (f"SET {sets} " if sets else "") + f"REMOVE {removed}"
        if owner is not None:
            return self._owned_update(key, owner, expression, dict(values or {}), names=names)
        self._client.update_item(
            TableName=self._table,
            Key=dict(key),
            UpdateExpression=expression,
            ExpressionAttributeNames={**self._names, **(names or {})},
            **({"ExpressionAttributeValues": dict(values)} if values else {}),
        )
        return True

    def read(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The item (typed form) while its lease is held and not run out, else None (a consistent read)."""
        item = self._client.get_item(TableName=self._table, Key=dict(key), ConsistentRead=True).get("Item")
        if not item or self._names[_UNTIL] not in item:
            return None
        return item if float(item[self._names[_UNTIL]]["N"]) > self._clock() else None

    def _owned_update(
        self,
        key: Mapping[str, Any],
        owner: str,
        expression: str,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
    ) -> bool:
        """`UpdateItem` with `expression` if the lease is `owner`'s; False when it is not."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=dict(key),
                UpdateExpression=expression,
                ConditionExpression="#lease_owner = :lease_owner",
                ExpressionAttributeNames={**self._names, **(names or {})},
                ExpressionAttributeValues={**values, ":lease_owner": {"S": owner}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
