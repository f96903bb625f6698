"""DynamoDB request units of the calls a benchmark makes, metered from their parameters and replies: an
item's size, its index copies (template.yaml's JobsTable indexes), reads by consistency and size."""

from __future__ import annotations

import json
import math
import threading
from typing import Any


def item_size(item: dict[str, Any]) -> int:
    """Approximate DynamoDB item size in bytes (attribute names plus values), from DynamoDB JSON."""

    def value_size(value: dict[str, Any]) -> int:
        ((kind, inner),) = value.items()
        if kind == "S":
            return len(inner.encode())
        if kind == "N":
            return len(str(inner).lstrip("-").replace(".", "")) // 2 + 2
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "L":
            return 3 + sum(1 + value_size(element) for element in inner)
        if kind == "M":
            return 3 + sum(1 + len(key.encode()) + value_size(element) for key, element in inner.items())
        return len(json.dumps(inner))

    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


# template.yaml's JobsTable indexes: ActiveJobs (sparse, projects ALL: a write to an item in it writes the
# index's copy too) and JobList (keys only: written when a job's listing keys change).
ACTIVE_INDEX_KEYS = ("active", "next_check_at")
LIST_INDEX_KEYS = ("listing", "listing_key")


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def index_writes(old: dict[str, Any] | None, new: dict[str, Any] | None, units: int) -> int:
    """Write units of the table's two indexes when an item goes from `old` to `new` (None: absent).

    An index entry whose keys change is a delete and a put (2 writes), one that stays is rewritten (1, for a
    projecting index), one that appears or goes is 1; ActiveJobs' copies are the item's size, JobList's 1.
    """
    old, new = old or {}, new or {}
    total = 0
    for keys, projected, cost in ((ACTIVE_INDEX_KEYS, True, units), (LIST_INDEX_KEYS, False, 1)):
        had, has = keys[0] in old, keys[0] in new
        same = had and has and all(old.get(key) == new.get(key) for key in keys)
        if same:
            total += cost if projected else 0
        else:
            total += (cost if had else 0) + (cost if has else 0)
    return total


class WriteMeter:
    """Request units of DynamoDB calls, from their parameters and replies (botocore hooks, thread-safe).

    Writes: an item's size in 1 KB units, plus its index copies (`index_writes`); an UpdateItem is priced at
    the size of the item last put under its key (else the largest seen), and moves its index entries when its
    expression sets their keys. Reads: a strongly consistent GetItem of an item under 4 KB is 1 unit, an
    eventually consistent one 0.5; a Query (index queries are eventually consistent) 0.5 per 4 KB returned.
    """

    def __init__(self) -> None:
        self.write_units = 0.0
        self.read_units = 0.0
        self.largest_item = 0
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def install(self, client: Any) -> None:
        """Meter every call of `client` (a DynamoDB client) from now on."""
        client.meta.events.register("before-parameter-build.dynamodb", self.hook)
        client.meta.events.register("after-call.dynamodb.Query", self.query_reply)

    @staticmethod
    def _key(params: dict[str, Any]) -> tuple[str, str]:
        key = params.get("Item") or params.get("Key") or {}
        return (str(key.get("pk", {}).get("S")), str(key.get("sk", {}).get("S")))

    def hook(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """Count one request by its parameters."""
        name = model.name
        with self._lock:
            if name == "PutItem":
                item, key = params["Item"], self._key(params)
                size = item_size(item)
                self.largest_item = max(self.largest_item, size)
                units = _units(size, 1024)
                self.write_units += units + index_writes(self._items.get(key), item, units)
                self._items[key] = item
            elif name in ("UpdateItem", "DeleteItem"):
                key = self._key(params)
                old = self._items.get(key)
                units = _units(item_size(old) if old else self.largest_item, 1024)
                self.write_units += units
                if name == "DeleteItem":
                    self.write_units += index_writes(old, None, units)
                    self._items.pop(key, None)
                else:
                    names = set(params.get("ExpressionAttributeNames", {}).values())
                    text = params.get("UpdateExpression", "")
                    moved = any(k in names or k in text for k in ACTIVE_INDEX_KEYS)
                    in_index = old is not None and ACTIVE_INDEX_KEYS[0] in old
                    self.write_units += (2 if moved and in_index else 1) * units if (moved or in_index) else 0
            elif name == "GetItem":
                self.read_units += 1.0 if params.get("ConsistentRead") else 0.5

    def query_reply(self, parsed: dict[str, Any], **_: Any) -> None:
        """Count one Query by the size of what it returned."""
        size = sum(item_size(item) for item in parsed.get("Items", []))
        with self._lock:
            self.read_units += 0.5 * _units(size, 4096)
