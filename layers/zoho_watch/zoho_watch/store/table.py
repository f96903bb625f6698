"""The DynamoDB access every part of `JobStore` shares: the client, the table, the library's clock, a job's
key, a consistent read, an update that returns the item as written, and the pause before a retried request."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from zoho_watch.jobs import DEFAULT_KIND, JobKey
from zoho_watch.store.items import LISTING, STATE_SK, _deserialize, _serialize, iso_utc, job_pk, listing_key

# After a lost conditional write (or a batch DynamoDB served only in part), the request is made again after a
# pause: full jitter in a window that doubles from 5 ms up to 100 ms, so that writers racing on one job spread
# out instead of failing again in lockstep.
WRITE_BACKOFF_BASE_SECONDS = 0.005
WRITE_BACKOFF_CAP_SECONDS = 0.1


def write_backoff(attempt: int, jitter: random.Random) -> float:
    """Seconds to pause after the `attempt`-th (from 0) lost conditional write or partly served batch."""
    return jitter.uniform(0.0, min(WRITE_BACKOFF_CAP_SECONDS, WRITE_BACKOFF_BASE_SECONDS * 2**attempt))


class StoreTable:
    """The table a `JobStore` works on: the base class of each of its parts (see `zoho_watch.store`)."""

    def __init__(self, client: Any, table_name: str, clock: Callable[[], float]) -> None:
        self._client = client  # a boto3 DynamoDB client
        self._table = table_name
        self._clock = clock  # the library's clock (epoch seconds)
        # The pause between two attempts of a write that lost a race (see `write_backoff`).
        self._sleep: Callable[[float], None] = time.sleep
        self._jitter = random.Random()

    def _back_off(self, attempt: int) -> None:
        """Pause before making the `attempt`-th (from 0) failed request again (see `write_backoff`)."""
        self._sleep(write_backoff(attempt, self._jitter))

    @staticmethod
    def _key(key: JobKey) -> dict[str, Any]:
        """The DynamoDB key of the job's STATE item."""
        if not isinstance(key, JobKey):
            raise TypeError(f"a job is named by a JobKey, got {type(key).__name__}")
        return {"pk": {"S": job_pk(key)}, "sk": {"S": STATE_SK}}

    @staticmethod
    def _identity(job: JobKey, at: float) -> tuple[list[str], dict[str, Any], dict[str, str]]:
        """What an update that may create the job's STATE item sets: (SET clauses, values, names).

        The job's names, when it was first seen, its `version` counted up, its `JobList` entry (an item
        without a status yet is listed as unchecked; a check's write moves it to its status) and its waiters.
        """
        sets = [
            "#connection = :connection",
            "#module = :module",
            "job_id = :job_id",
            "first_seen_at = if_not_exists(first_seen_at, :now)",
            "version = if_not_exists(version, :zero) + :one",
            "listing = :listing",
            "listing_key = if_not_exists(listing_key, :unchecked)",
            # Every STATE item has the map, so that conditions can ask for its size.
            "waiters = if_not_exists(waiters, :no_waiters)",
        ]
        values = {
            ":connection": job.connection,
            ":module": job.module,
            ":job_id": job.job_id,
            ":now": iso_utc(at),
            ":zero": 0,
            ":one": 1,
            ":listing": LISTING,
            ":unchecked": listing_key(job, None),
            ":no_waiters": {},
        }
        if job.kind != DEFAULT_KIND:
            sets.append("kind = :kind")
            values[":kind"] = job.kind
        return sets, values, {"#connection": "connection", "#module": "module"}

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
