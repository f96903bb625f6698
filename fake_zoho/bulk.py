"""Bulk read and bulk write: the files uploaded for bulk writes, the pages and download limit of bulk reads,
each kind's status reply and its result file.

A bulk read job reads ``total`` records (its query's), in pages of 200,000: the job's page holds what is left
from ``(page - 1) * 200,000``; ``more_records`` and ``next_page_token`` say when more pages follow (a new
job reads them). A bulk write job writes the rows of its uploaded files: its timeline's processed records are
added (insert), updated (update) or half of each (upsert), the failed ones skipped; the result zip has one CSV
per file, its rows with STATUS, RECORD_ID and ERRORS.
"""

from __future__ import annotations

import collections
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .files import csv_bytes, events_ics, record_id, records_csv, zip_bytes
from .gate import zoho_time
from .jobs import Job
from .kinds import Seen
from .metadata import CURRENT_USER, ORG_ZGID, module_id

PER_PAGE = 200_000
DOWNLOADS_PER_MINUTE = 10
DEFAULT_FIELDS = ("Owner", "Created_Time", "Last_Name")
DEFAULT_MODULE = "Leads"  # the module of bulk jobs made from Python (no creation call said one)


@dataclass(frozen=True)
class Upload:
    """A CSV uploaded for bulk write (the CSV of the uploaded zip): who sent it and what it holds."""

    file_id: str
    org_id: str
    name: str
    header: list[str]
    rows: list[list[str]]
    created_time: str


class BulkState:
    """The org-wide state of bulk jobs: uploaded files, bulk read page tokens and result downloads."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every upload, page token and download."""
        with self._lock:
            self._uploads: dict[str, Upload] = {}
            self._tokens: dict[str, int] = {}
            self._downloads: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def add_upload(self, upload: Upload) -> None:
        """Keep an uploaded file for the bulk write jobs that will name it."""
        with self._lock:
            self._uploads[upload.file_id] = upload

    def upload(self, org_id: str, file_id: str) -> Upload | None:
        """The file ``org_id`` uploaded under ``file_id``, or None (another org's file is not found)."""
        with self._lock:
            found = self._uploads.get(file_id)
        return found if found is not None and found.org_id == org_id else None

    def page_token(self, page: int) -> str:
        """An opaque token for ``page`` (Zoho's next_page_token), the same one each time it is asked."""
        with self._lock:
            for token, known in self._tokens.items():
                if known == page:
                    return token
            token = secrets.token_hex(12)
            self._tokens[token] = page
            return token

    def page_of_token(self, token: str) -> int | None:
        """The page a next_page_token stands for, or None for a token this emulator never gave."""
        with self._lock:
            return self._tokens.get(token)

    def try_download(self, org_id: str) -> bool:
        """Count one result download of ``org_id``; False past DOWNLOADS_PER_MINUTE in an emulated minute."""
        now = self._clock.now()
        with self._lock:
            times = self._downloads[org_id]
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= DOWNLOADS_PER_MINUTE:
                return False
            times.append(now)
            return True


# ----- bulk read ------------------------------------------------------------------------------------------


def read_query(job: Job) -> dict[str, Any]:
    """The job's query as its creation call gave it (a job made from Python: Leads, page 1)."""
    query = job.details.get("query") or {"module": {"api_name": DEFAULT_MODULE}}
    return {**query, "page": query.get("page", 1)}


def read_module(job: Job) -> str:
    """The module a bulk read job reads."""
    return str(read_query(job)["module"]["api_name"])


def read_page(job: Job) -> tuple[int, int, bool]:
    """(page, records in it, more records after it) of a bulk read job."""
    page = int(read_query(job)["page"])
    start = (page - 1) * PER_PAGE
    count = max(0, min(PER_PAGE, job.total - start))
    return page, count, job.total > page * PER_PAGE


def created(job: Job) -> dict[str, Any]:
    """The fields every bulk reply has: who created the job and when."""
    return {"created_by": dict(CURRENT_USER), "created_time": zoho_time(job.created_at)}


def read_reply(seen: Seen, state: BulkState) -> dict[str, Any]:
    """``GET /crm/bulk/{version}/read/{job_id}``'s body; its result once COMPLETED."""
    job = seen.job
    row: dict[str, Any] = {
        "id": job.job_id,
        "operation": "read",
        "state": seen.word,
        "query": read_query(job),
        **created(job),
        "file_type": job.details.get("file_type", "csv"),
    }
    if seen.body["Status"] == "COMPLETED":
        page, count, more = read_page(job)
        row["result"] = {
            "page": page,
            "per_page": PER_PAGE,
            "count": count,
            "download_url": f"/crm/bulk/{seen.version}/read/{job.job_id}/result",
            "more_records": more,
            "next_page_token": state.page_token(page + 1) if more else None,
        }
    return {"data": [row]}


def read_result(job: Job) -> tuple[str, bytes]:
    """The result zip of a COMPLETED bulk read: (its name, its bytes), one CSV (or ICS) of the job's page."""
    page, count, _ = read_page(job)
    start = (page - 1) * PER_PAGE
    if job.details.get("file_type") == "ics":
        inner = {f"{job.job_id}.ics": events_ics(job.job_id, start, count, job.created_at)}
    else:
        fields = read_query(job).get("fields") or DEFAULT_FIELDS
        inner = {
            f"{job.job_id}.csv": records_csv(job.job_id, fields, start, count, zoho_time(job.created_at))
        }
    return f"{job.job_id}.zip", zip_bytes(inner)


# ----- bulk write -----------------------------------------------------------------------------------------


def write_files(job: Job) -> list[dict[str, Any]]:
    """The job's resources: module, file id, file name and rows (a job made from Python: one Leads file)."""
    default = [{"module": DEFAULT_MODULE, "file_id": None, "name": "records.csv", "rows": job.total}]
    resources: list[dict[str, Any]] = job.details.get("resources") or default
    return resources


def _shares(amount: int, sizes: list[int]) -> list[int]:
    """``amount`` records spread over files in order: the first file's rows first, then the next file's."""
    shares = []
    for size in sizes:
        taken = min(size, amount)
        shares.append(taken)
        amount -= taken
    return shares


def write_counts(job: Job, body: dict[str, Any]) -> list[dict[str, int]]:
    """Each file's counts: processed records added or updated (as the operation says), failed ones skipped."""
    sizes = [int(resource["rows"]) for resource in write_files(job)]
    operation = job.details.get("operation", "insert")
    counts = []
    for done, failed, size in zip(
        _shares(body["Updated_Count"], sizes), _shares(body["Failed_Count"], sizes), sizes, strict=True
    ):
        # An upsert finds half of its records already there (an even split: the emulator keeps no records).
        updated = done if operation == "update" else done // 2 if operation == "upsert" else 0
        counts.append(
            {
                "total_count": size,
                "added_count": done - updated,
                "updated_count": updated,
                "skipped_count": failed,
            }
        )
    return counts


def write_url(host: str, job_id: str) -> str:
    """Where a bulk write's result zip is downloaded (Zoho's download server; here, the emulator)."""
    return f"{host}/v2/crm/{ORG_ZGID}/bulk-write/{job_id}/{job_id}.zip"


def write_reply(seen: Seen) -> dict[str, Any]:
    """``GET /crm/bulk/{version}/write/{job_id}``'s body (not wrapped); the result link once COMPLETED."""
    job = seen.job
    resources = []
    for resource, counts in zip(write_files(job), write_counts(job, seen.body), strict=True):
        code = {"COMPLETED": "SUCCESS", "FAILED": "FAILED"}.get(seen.body["Status"], "ADDED_SUCCESSFULLY")
        resources.append(
            {
                "status": seen.word,
                "type": "data",
                "code": code,
                "module": {"api_name": resource["module"], "id": module_id(resource["module"])},
                "file_id": resource["file_id"],
                "ignore_empty": resource.get("ignore_empty", False),
                "field_mappings": resource.get("field_mappings", []),
                "file": {"name": resource["name"], "status": seen.word, **counts},
            }
        )
    reply: dict[str, Any] = {
        "id": job.job_id,
        "status": seen.word,
        "operation": job.details.get("operation", "insert"),
        **created(job),
    }
    if job.details.get("callback"):
        reply["callback"] = job.details["callback"]
    if seen.body["Status"] == "COMPLETED":
        reply["result"] = {"download_url": write_url(seen.host, job.job_id)}
    reply["resource"] = resources
    return reply


def write_result(job: Job, body: dict[str, Any], state: BulkState, org_id: str) -> bytes:
    """The result zip of a finished bulk write: one CSV per file, its rows with STATUS, RECORD_ID, ERRORS."""
    files = {}
    first = 0
    for resource, counts in zip(write_files(job), write_counts(job, body), strict=True):
        upload = state.upload(org_id, resource["file_id"]) if resource["file_id"] else None
        header = upload.header if upload else ["Last_Name"]
        rows = upload.rows if upload else [[f"Record {n + 1}"] for n in range(int(resource["rows"]))]
        done = counts["added_count"] + counts["updated_count"]
        added = counts["added_count"]
        lines = []
        for index, row in enumerate(rows):
            if index < done:
                status = "ADDED" if index < added else "UPDATED"
                lines.append([*row, status, record_id(job.job_id, first + index), ""])
            else:
                lines.append([*row, "SKIPPED", "", "INVALID_DATA - the record could not be written"])
        first += len(rows)
        files[resource["name"]] = csv_bytes([*header, "STATUS", "RECORD_ID", "ERRORS"], lines)
    return zip_bytes(files)
