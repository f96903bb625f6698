"""The status call of every kind other than mass update: its module and scopes, the job in the kind's own
words (`fake_zoho.kinds`, `fake_zoho.bulk`, `fake_zoho.org_jobs`), and the kind's answer for a job it does not
know. ``reply_of`` gives the same body to Python (``FakeZoho.job_reply``) and the admin API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import has_request_context, request

from .accounts import IssuedToken
from .bulk import read_module, read_reply, write_reply
from .gate import Reply, check_access, check_module, is_digits, refuse
from .jobs import Job
from .kinds import MASS_REPLIES, NOT_FOUND, ORG_MODULE, Seen, word
from .org_jobs import audit_reply, transfer_reply
from .replies import empty_reply, json_reply
from .scopes import status_need

if TYPE_CHECKING:
    from .emulator import FakeZoho


def seen_now(zoho: FakeZoho, job: Job, version: str = "v8") -> Seen:
    """The job as its status call sees it now (download links on the URL the client reached)."""
    now = zoho.clock.now()
    body = job.body(now)
    # Links on the URL the client reached; from Python, the emulator's URL (none when it serves nothing: an
    # offline emulator's replies, such as a replayed watch's, link to paths only).
    served = zoho.url if zoho.serving else ""
    host = request.host_url.rstrip("/") if has_request_context() else served
    kind_word = word(job.kind, body["Status"], zoho.config.kind_words)
    return Seen(job, body, kind_word, now, version, host, zoho.config)


def render(zoho: FakeZoho, seen: Seen) -> Any:
    """The status call's body for ``seen`` in its kind's shape."""
    kind = seen.job.kind
    if kind in MASS_REPLIES:
        return MASS_REPLIES[kind](seen)
    if kind == "bulk_read":
        return read_reply(seen, zoho.bulk)
    if kind == "bulk_write":
        return write_reply(seen)
    if kind == "audit_log_export":
        return audit_reply(seen)
    if kind == "transfer_and_delete":
        return transfer_reply(seen)
    return {"data": [seen.body]}  # mass update


def reply_of(zoho: FakeZoho, job: Job, version: str = "v8") -> Any:
    """The body the job's status call answers now."""
    return render(zoho, seen_now(zoho, job, version))


def not_found(zoho: FakeZoho, kind: str, job_id: str) -> Reply:
    """The kind's answer for a job it does not know (the v8 specification's, or its docs' where they differ
    and ``config.audit_log_not_found`` says so)."""
    mode = NOT_FOUND[kind]
    if mode == "audit_log" and zoho.config.audit_log_not_found == "no_content":
        refuse("NO_CONTENT")
    if mode in ("no_content", "audit_log"):
        return empty_reply(204), "NO_CONTENT"
    if mode == "tags_invalid_data":
        error = {
            "code": "INVALID_DATA",
            "details": {"job_id": job_id},
            "message": "invalid data",
            "status": "error",
        }
        return json_reply({"mass_delete": [error]}, 400), "INVALID_DATA"
    if mode in ("resource_404", "resource_400"):
        refuse(
            "RESOURCE_NOT_FOUND", details={"resource": job_id}, status=404 if mode == "resource_404" else 400
        )
    refuse("INVALID_DATA")


def job_status(
    zoho: FakeZoho, token: IssuedToken, kind: str, module: str, job_id: str | None, version: str
) -> Reply:
    """A kind's status call in Zoho's order: its module, its scopes, the user, the job_id, then the job."""
    if module != ORG_MODULE:
        check_module(zoho, module)
    if kind == "mass_convert" and module.lower() != "leads":
        refuse("INVALID_MODULE")
    job = zoho.jobs.find(module, job_id, kind) if job_id is not None and is_digits(job_id) else None
    # Bulk read's scopes name the module its query reads (ZohoCRM.modules.{module}.READ).
    scope_module = read_module(job) if job is not None and kind == "bulk_read" else module
    check_access(
        zoho, token, status_need(kind, None if scope_module == ORG_MODULE else scope_module), "read records"
    )
    if job_id is None or not job_id.strip():
        # Mass change owner's docs give this error HTTP 404; every other kind's, 400.
        refuse(
            "REQUIRED_PARAM_MISSING",
            details={"param_name": "job_id"},
            status=404 if kind == "mass_change_owner" else None,
        )
    if job is None:
        return not_found(zoho, kind, job_id)
    seen = seen_now(zoho, job, version)
    return json_reply(render(zoho, seen)), seen.body["Status"]


def jobs_status(zoho: FakeZoho, token: IssuedToken, kind: str, version: str) -> Reply:
    """A status call without a job id (audit log export): every job of the kind, oldest first."""
    check_access(zoho, token, status_need(kind, None), "read records")
    jobs = [job for job in zoho.jobs.all() if job.kind == kind]
    if not jobs:
        return not_found(zoho, kind, "")
    envelope = "audit_log_export"
    rows = [row for job in jobs for row in render(zoho, seen_now(zoho, job, version))[envelope]]
    return json_reply({envelope: rows}), "LISTED"
