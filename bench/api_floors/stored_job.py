"""The one read both floor handlers make: the stored job's id and status, by one consistent GetItem."""

from __future__ import annotations

import os
from typing import Any

_clients: dict[str, Any] = {}


def stored_status(module: str, job_id: str) -> dict[str, Any]:
    """The stored job's id and status (the DynamoDB client made at the first call, as the api makes its)."""
    if "dynamodb" not in _clients:
        import boto3

        _clients["dynamodb"] = boto3.client("dynamodb")
    key = {"pk": {"S": f"JOB#default#{module}#{job_id}"}, "sk": {"S": "STATE"}}
    item = _clients["dynamodb"].get_item(TableName=os.environ["TABLE_NAME"], Key=key, ConsistentRead=True)
    return {"job_id": item["Item"]["job_id"]["S"], "status": item["Item"]["status"]["S"]}
