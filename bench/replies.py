"""The polling bench's simulated Zoho replies, one shape per kind of job it models, each read by the library's
own reader into the snapshot a check records.

A job's timeline (`fake_zoho.profile.JobTimeline`) tells a mass update's status body at any moment; another
kind's reply tells the same moment in its own words and fields: a bulk write counts its file's rows as they
are written (added = the timeline's updated records, skipped = its failed ones); a bulk read and an audit
log export count nothing while they run (a bulk read's count comes with its result, once completed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from zoho_watch.job_kinds import KINDS, snapshot_of
from zoho_watch.jobs import DEFAULT_KIND, Snapshot
from zoho_watch.zoho import parse_status_reply

# Each kind's status word for the timeline's (a mass update's) statuses, from its reader's words.
WORDS: Mapping[str, Mapping[str, str]] = {
    "bulk_write": {"SCHEDULED": "ADDED", "RUNNING": "IN PROGRESS"},
    "bulk_read": {"SCHEDULED": "QUEUED", "RUNNING": "IN PROGRESS", "FAILED": "FAILURE"},
    "audit_log_export": {
        "SCHEDULED": "Scheduled",
        "RUNNING": "Progress",
        "COMPLETED": "Finished",
        "FAILED": "Failed",
    },
}


def _bulk_write(body: dict[str, Any], word: str) -> Any:
    counts = {
        "total_count": body["Total_Count"],
        "added_count": body["Updated_Count"],
        "updated_count": 0,
        "skipped_count": body["Failed_Count"],
    }
    return {"status": word, "operation": "insert", "resource": [{"status": word, "file": counts}]}


def _bulk_read(body: dict[str, Any], word: str) -> Any:
    row: dict[str, Any] = {"id": "1", "operation": "read", "state": word}
    if body["Status"] == "COMPLETED":
        row["result"] = {"page": 1, "per_page": 200_000, "count": body["Total_Count"], "more_records": False}
    return {"data": [row]}


def _audit_log_export(body: dict[str, Any], word: str) -> Any:
    return {"audit_log_export": [{"id": "1", "status": word}]}


RENDER: Mapping[str, Callable[[dict[str, Any], str], Any]] = {
    "bulk_write": _bulk_write,
    "bulk_read": _bulk_read,
    "audit_log_export": _audit_log_export,
}


def snapshot(kind: str, body: dict[str, Any]) -> Snapshot:
    """What a check of a job of `kind` records when the timeline's body is `body`: the kind's reply, read by
    its reader (a mass update's by the library's original parser)."""
    if kind == DEFAULT_KIND:
        return parse_status_reply(200, {"data": [body]})
    word = WORDS[kind].get(body["Status"], body["Status"])
    return snapshot_of(KINDS[kind].parse(200, RENDER[kind](body, word)))
