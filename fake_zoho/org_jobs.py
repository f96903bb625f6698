"""Audit log export and transfer-and-delete-user jobs: their creation checks, status replies and (audit log)
result file.

An audit log export of ``total`` entries is Scheduled, in Progress, then Finished with its download link (a
CSV up to 100,000 entries; beyond, a zip of CSVs of 100,000 each), which expires 7 days after the job's end;
it reports no counts. A transfer and delete job reports only in_progress, completed or failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import request

from .accounts import IssuedToken
from .files import csv_bytes, record_id, zip_bytes
from .gate import Reply, check_access, enveloped, invalid, is_digits, json_body, mandatory, refuse, zoho_time
from .jobs import Job
from .kinds import ORG_MODULE, Seen
from .metadata import CURRENT_USER, ORG_ZGID
from .replies import json_reply
from .scopes import FILES_READ_NEED, create_need

if TYPE_CHECKING:
    from .emulator import FakeZoho

AUDIT = "audit_log_export"
TRANSFER = "transfer_and_delete"
ENTRIES_PER_CSV = 100_000
LINK_DAYS = 7
AUDIT_COLUMNS = ("Time", "User", "Action", "Module", "Record_Id")
ACTIONS = ("Created", "Updated", "Deleted")


# ----- audit log export -----------------------------------------------------------------------------------


def audit_file_name(job: Job) -> str:
    """AuditLog.csv, or AuditLog.zip beyond 100,000 entries (the docs' names)."""
    return "AuditLog.zip" if job.total > ENTRIES_PER_CSV else "AuditLog.csv"


def audit_reply(seen: Seen) -> dict[str, Any]:
    """``GET /crm/{version}/settings/audit_log_export/{id}``'s body: status, times; links once Finished."""
    job = seen.job
    waiting = job.profile.queued + job.profile.queue_delay
    started = job.created_at + waiting if seen.now >= job.created_at + waiting else None
    ended = job.finished_at(seen.now)
    finished = seen.body["Status"] == "COMPLETED" and ended is not None
    link = f"{seen.host}/v2/crm/{ORG_ZGID}/auditlog/{job.job_id}/{audit_file_name(job)}"
    row = {
        "id": job.job_id,
        "status": seen.word,
        "criteria": job.details.get("criteria"),
        "created_by": dict(CURRENT_USER),
        "job_start_time": None if started is None else zoho_time(started),
        "job_end_time": None if ended is None else zoho_time(ended),
        "expiry_date": zoho_time(ended + LINK_DAYS * 86400) if finished and ended is not None else None,
        "download_links": [link] if finished else None,
    }
    return {AUDIT: [row]}


def audit_file(job: Job) -> bytes:
    """The audit log of a Finished export: its entries, newest first, one CSV or a zip of CSVs."""

    def rows(start: int, count: int) -> list[list[str]]:
        return [
            [
                zoho_time(job.created_at - 60 * (index + 1)),
                CURRENT_USER["name"],
                ACTIONS[index % len(ACTIONS)],
                "Leads",
                record_id(job.job_id, index),
            ]
            for index in range(start, min(start + count, job.total))
        ]

    if job.total <= ENTRIES_PER_CSV:
        return csv_bytes(AUDIT_COLUMNS, rows(0, job.total))
    parts = range(0, job.total, ENTRIES_PER_CSV)
    return zip_bytes(
        {
            f"AuditLog_{n + 1}.csv": csv_bytes(AUDIT_COLUMNS, rows(start, ENTRIES_PER_CSV))
            for n, start in enumerate(parts)
        }
    )


def create_audit(zoho: FakeZoho, token: IssuedToken) -> Reply:
    """``POST /crm/{version}/settings/audit_log_export``: 200 SCHEDULED, the job's id in ``details.id``. The
    body is optional (no criteria: the last three years)."""
    check_access(zoho, token, create_need(AUDIT, None), "export audit logs")
    with enveloped(AUDIT):
        payload = json_body() if request.get_data() else {}
        if not isinstance(payload, dict):
            invalid(AUDIT)
        exports = payload.get(AUDIT, [{}])
        if not isinstance(exports, list) or len(exports) != 1 or not isinstance(exports[0], dict):
            invalid(AUDIT)
        criteria = exports[0].get("criteria")
        if criteria is not None and not isinstance(criteria, dict):
            invalid(f"{AUDIT}[0].criteria")
    total, profile = zoho.job_plan(AUDIT)
    job = zoho.jobs.create(ORG_MODULE, total, profile, None, AUDIT, {"criteria": criteria})
    item = {"code": "SCHEDULED", "details": {"id": job.job_id}, "message": "audit log export scheduled"}
    return json_reply({AUDIT: [{**item, "status": "success"}]}), "SCHEDULED"


def audit_download(zoho: FakeZoho, token: IssuedToken, zgid: str, job_id: str, name: str) -> bytes:
    """The file behind a Finished audit log export's download link, until it expires (scope
    ZohoFiles.files.READ); refused with RESOURCE_NOT_FOUND for any other link."""
    check_access(zoho, token, FILES_READ_NEED, "download files")
    now = zoho.clock.now()
    job = zoho.jobs.find(ORG_MODULE, job_id, AUDIT) if is_digits(job_id) else None
    if (
        job is None
        or zgid != ORG_ZGID
        or name != audit_file_name(job)
        or job.body(now)["Status"] != "COMPLETED"
        or link_expired(job, now)
    ):
        refuse("RESOURCE_NOT_FOUND", details={"resource": job_id})
    return audit_file(job)


def link_expired(job: Job, now: float) -> bool:
    """True once an audit log's download link has expired (7 days after the job ended)."""
    ended = job.finished_at(now)
    return ended is not None and now > ended + LINK_DAYS * 86400


# ----- transfer and delete user ---------------------------------------------------------------------------


def transfer_reply(seen: Seen) -> dict[str, Any]:
    """``GET /crm/{version}/users/actions/transfer_and_delete?job_id=``'s body: a status, no counts."""
    return {TRANSFER: [{"status": seen.word}]}


def create_transfer(zoho: FakeZoho, token: IssuedToken, user_id: str | None) -> Reply:
    """``POST /crm/{version}/users[/{user_id}]/actions/transfer_and_delete``: 200 SUCCESS with
    ``details{id, jobId}`` (camelCase, as the v8 specification writes it)."""
    check_access(zoho, token, create_need(TRANSFER, None), "delete users")
    if user_id is not None and not is_digits(user_id):
        refuse("INVALID_DATA", "the id given seems to be invalid", {"resource_path_index": 1})
    with enveloped(TRANSFER):
        payload = json_body()
        items = payload.get(TRANSFER) if isinstance(payload, dict) else None
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            mandatory(TRANSFER)
        item = items[0]
        user = user_id if user_id is not None else item.get("id")
        if user is None:
            mandatory(f"{TRANSFER}[0].id")
        if not is_digits(user):
            invalid(f"{TRANSFER}[0].id")
        transfer = item.get("transfer")
        if not isinstance(transfer, dict):
            mandatory(f"{TRANSFER}[0].transfer")
        if transfer.get("id") is None:
            mandatory(f"{TRANSFER}[0].transfer.id")
        if not is_digits(transfer["id"]) or str(transfer["id"]) == str(user):
            # The records go to another, existing user: not to the one being deleted.
            invalid(f"{TRANSFER}[0].transfer.id")
    total, profile = zoho.job_plan(TRANSFER)
    details = {"user_id": str(user), "transfer_to": str(transfer["id"])}
    job = zoho.jobs.create(ORG_MODULE, total, profile, None, TRANSFER, details)
    item = {"code": "SUCCESS", "details": {"id": str(user), "jobId": job.job_id}, "message": "User deleted"}
    return json_reply({TRANSFER: [{**item, "status": "success"}]}), "SCHEDULED"
