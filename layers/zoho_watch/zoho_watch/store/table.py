"""The DynamoDB access every part of `JobStore` shares: the client, the table, the library's clock, a job's
key, a consistent read and an update that returns the item as written."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from zoho_watch.jobs import JobKey
from zoho_watch.store.items import STATE_SK, _deserialize, _serialize, job_pk


class StoreTable:
    """The table a `JobStore` works on: the base class of each of its parts (see `zoho_watch.store`)."""

    def __init__(self, client: Any, table_name: str, clock: Callable[[], float]) -> None:
        self._client = client  # a boto3 DynamoDB client
        self._table = table_name
        self._clock = clock  # the library's clock (epoch seconds)
        # The pause between two attempts of a write that lost a race (see `write_backoff`).
        self._sleep: Callable[[float], None] = time.sleep
        self._jitter = random.Random()

    @staticmethod
    def _key(key: JobKey) -> dict[str, Any]:
        """The DynamoDB key of the job's STATE item."""
        if not isinstance(key, JobKey):
            raise TypeError(f"a job is named by a JobKey, got {type(key).__name__}")
        return {"pk": {"S": job_pk(key)}, "sk": {"S": STATE_SK}}

    def _get_raw(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The item at `key` as stored (plain values), read consistently, or None."""
        reply = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        item = reply.get("Item")
        return _deserialize(item) if item else None

    def _update(self, key: dict[str, Any], expression: str, values: dict[str, Any], **extra: Any) -> dict:
        """`UpdateItem` with `values` serialised; the whole item after the update (plain values)."""
        reply = self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeValues=_serialize(values),
            ReturnValues="ALL_NEW",
            **extra,
        )
        return _deserialize(reply["Attributes"])
