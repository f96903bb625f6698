"""Every job kind's reply read strictly: the sample replies of Zoho's v8 specifications and docs (both shapes
where they differ), the statuses in their phases, the counts and result links, and malformed replies."""

from __future__ import annotations

from typing import Any

import pytest
from zoho_watch.errors import JobNotFound, ZohoAuthError, ZohoRequestError, ZohoUnavailable
from zoho_watch.job_kinds import KINDS, ORG_MODULE, KindReply
from zoho_watch.jobs import DEFAULT_KIND

BULK_READ_DONE = {
    "data": [
        {
            "id": "554023000000568002",
            "operation": "read",
            "state": "COMPLETED",
            "query": {"module": {"api_name": "Leads"}, "page": 1},
            "created_by": {"id": "554023000000235011", "name": "Patricia Boyle"},
            "created_time": "2026-12-02T10:00:00+05:30",
            "file_type": "csv",
            "result": {
                "page": 1,
                "per_page": 200000,
                "count": 200000,
                "download_url": "/crm/bulk/v8/read/554023000000568002/result",
                "more_records": True,
                "next_page_token": "c8582d5c3f3b2e6b1d0a8c0a",
            },
        }
    ]
}
BULK_WRITE_DONE = {
    "id": "554023000000572001",
    "status": "COMPLETED",
    "operation": "upsert",
    "created_by": {"id": "554023000000235011", "name": "Patricia Boyle"},
    "created_time": "2026-12-02T10:00:00+05:30",
    "callback": None,
    "result": {
        "download_url": "https://download-accl.zoho.com/v2/crm/6735/bulk-write/554023000000572001.zip"
    },
    "resource": [
        {
            "status": "COMPLETED",
            "code": "SUCCESS",
            "module": {"api_name": "Contacts"},
            "file_id": "554023000000565001",
            "field_mappings": [],
            "file": {
                "name": "contacts.csv",
                "status": "COMPLETED",
                "total_count": 1000,
                "added_count": 700,
                "updated_count": 250,
                "skipped_count": 50,
            },
        }
    ],
}


def deleting(**row: Any) -> dict[str, Any]:
    """A mass delete's status reply, with `row` over a valid running one."""
    return {"data": [{"Status": "RUNNING", "Total_Count": 9, "Deleted_Count": 0, "Failed_Count": 0, **row}]}


def counts(reply: KindReply) -> tuple[int | None, ...]:
    return (reply.total, reply.done, reply.failed, reply.skipped)


@pytest.mark.parametrize(
    ("kind", "body", "status", "phase", "expected"),
    [
        (
            "mass_update",
            {"data": [{"Status": "RUNNING", "Failed_Count": 0, "Updated_Count": 30,
                       "Not_Updated_Count": 20, "Total_Count": 50}]},
            "RUNNING", "running", (50, 30, 0, 20),
        ),
        (
            "mass_convert",
            {"data": [{"Status": "COMPLETED", "Total_Count": 40, "Converted_Count": 38,
                       "Not_Converted_Count": 1, "Failed_Count": 1}]},
            "COMPLETED", "completed", (40, 38, 1, 1),
        ),
        (
            "mass_convert",  # the docs' lower-case words
            {"data": [{"Status": "in progress", "Total_Count": 40, "Converted_Count": 10,
                       "Not_Converted_Count": 30, "Failed_Count": 0}]},
            "in progress", "running", (40, 10, 0, 30),
        ),
        (
            "inventory_mass_convert",  # the specification's flat object
            {"total_count": 20, "converted_count": 5, "not_converted_count": 15, "failed_count": 0,
             "status": "IN PROGRESS"},
            "IN PROGRESS", "running", (20, 5, 0, 15),
        ),
        (
            "inventory_mass_convert",  # the docs' reply wrapped in data[]
            {"data": [{"total_count": 20, "converted_count": 19, "not_converted_count": 0, "failed_count": 1,
                       "status": "COMPLETED"}]},
            "COMPLETED", "completed", (20, 19, 1, 0),
        ),
        (
            "mass_delete",
            {"data": [{"Status": "FAILED", "Total_Count": 300, "Deleted_Count": 120, "Failed_Count": 180}]},
            "FAILED", "failed", (300, 120, 180, None),
        ),
        (
            "mass_change_owner",
            {"data": [{"Status": "SCHEDULED", "Total_Count": 0, "Updated_Count": 0, "Not_Updated_Count": 0,
                       "Failed_Count": 0}]},
            "SCHEDULED", "queued", (0, 0, 0, 0),
        ),
        (
            "mass_delete_tags",
            {"mass_delete": [{"job_id": "554023000000591001", "total_count": 12, "deleted_count": 12,
                              "failed_count": 0, "status": "COMPLETED"}]},
            "COMPLETED", "completed", (12, 12, 0, None),
        ),
        ("bulk_read", BULK_READ_DONE, "COMPLETED", "completed", (200000, 200000, None, None)),
        (
            "bulk_read",
            {"data": [{"id": "554023000000568002", "operation": "read", "state": "ADDED", "result": None}]},
            "ADDED", "queued", (None, None, None, None),
        ),
        ("bulk_write", BULK_WRITE_DONE, "COMPLETED", "completed", (1000, 950, None, 50)),
        (
            "bulk_write",
            {"id": "554023000000572001", "status": "IN PROGRESS", "operation": "insert", "resource": []},
            "IN PROGRESS", "running", (None, None, None, None),
        ),
        (
            "audit_log_export",
            {"audit_log_export": [{"id": "554023000000601001", "status": "Progress", "criteria": None,
                                   "job_start_time": "2026-12-02T10:00:00+05:30", "job_end_time": None,
                                   "expiry_date": None, "download_links": None}]},
            "Progress", "running", (None, None, None, None),
        ),
        (
            "transfer_and_delete",
            {"transfer_and_delete": [{"status": "completed"}]},
            "completed", "completed", (None, None, None, None),
        ),
    ],
)  # fmt: skip
def test_each_kinds_reply_is_read(
    kind: str, body: Any, status: str, phase: str, expected: tuple[int | None, ...]
) -> None:
    reply = KINDS[kind].parse(200, body)
    assert (reply.status, reply.phase, counts(reply)) == (status, phase, expected)
    assert reply.terminal == (phase in ("completed", "failed"))


def test_result_links_are_kept() -> None:
    read = KINDS["bulk_read"].parse(200, BULK_READ_DONE).results
    assert read == {
        "download_url": "/crm/bulk/v8/read/554023000000568002/result",
        "more_records": True,
        "next_page_token": "c8582d5c3f3b2e6b1d0a8c0a",
        "page": 1,
        "per_page": 200000,
    }
    written = KINDS["bulk_write"].parse(200, BULK_WRITE_DONE).results
    assert written == {"download_url": BULK_WRITE_DONE["result"]["download_url"]}
    links = ["https://download-accl.zoho.com/v2/crm/6735/auditlog/554023000000601001/AuditLog.csv"]
    body = {"audit_log_export": [{"id": "1", "status": "Finished", "download_links": links,
                                  "expiry_date": "2026-12-09T10:00:00+05:30"}]}  # fmt: skip
    finished = KINDS["audit_log_export"].parse(200, body)
    assert finished.phase == "completed"
    assert finished.results == {"download_links": links, "expiry_date": "2026-12-09T10:00:00+05:30"}


def test_a_status_never_documented_is_kept_and_not_an_end() -> None:
    body = {"data": [{"Status": "PAUSED_BY_ADMIN", "Total_Count": 9, "Deleted_Count": 1, "Failed_Count": 0}]}
    reply = KINDS["mass_delete"].parse(200, body)
    assert (reply.status, reply.phase, reply.terminal) == ("PAUSED_BY_ADMIN", "running", False)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("mass_delete", deleting(Total_Count=-1)),
        ("mass_delete", deleting(Total_Count="9")),
        ("mass_delete", deleting(Deleted_Count=True)),
        ("mass_delete", {"data": []}),
        ("mass_delete", {"data": [{"Total_Count": 1, "Deleted_Count": 0, "Failed_Count": 0}]}),
        ("mass_delete", {"info": {}}),
        ("mass_convert", {"data": [{"Status": 7, "Total_Count": 1}]}),
        ("bulk_read", {"data": [{"state": "COMPLETED", "result": {"count": 1, "download_url": 5}}]}),
        ("bulk_read", {"data": [{"state": "COMPLETED", "result": []}]}),
        ("audit_log_export", {"audit_log_export": "Finished"}),
        ("mass_update", {"data": [{"Status": "RUNNING"}]}),
        ("bulk_write", "<not json>"),
    ],
)  # fmt: skip
def test_malformed_replies_are_zoho_unavailable(kind: str, body: Any) -> None:
    with pytest.raises(ZohoUnavailable):
        KINDS[kind].parse(200, body)


@pytest.mark.parametrize(
    ("kind", "status", "body", "error"),
    [
        ("bulk_read", 404, {"code": "RESOURCE_NOT_FOUND", "details": {"resource": "554"}, "message": "",
                            "status": "error"}, JobNotFound),
        ("mass_change_owner", 204, "<empty>", JobNotFound),
        ("audit_log_export", 204, "<empty>", JobNotFound),
        ("audit_log_export", 400, {"code": "NO_CONTENT", "details": {}, "message": "", "status": "error"},
         JobNotFound),
        ("mass_convert", 400, {"code": "REQUIRED_PARAM_MISSING", "details": {"param_name": "job_id"},
                               "message": "", "status": "error"}, ZohoRequestError),
        ("mass_change_owner", 401, {"code": "OAUTH_SCOPE_MISMATCH", "details": {}, "message": "",
                                    "status": "error"}, ZohoAuthError),
        ("bulk_write", 503, "<empty>", ZohoUnavailable),
        # A tag deletion's errors come in its envelope; INVALID_DATA on the job id is no such job.
        ("mass_delete_tags", 400, {"mass_delete": [{"code": "INVALID_DATA", "details": {"job_id": "554"},
                                                    "message": "", "status": "error"}]}, JobNotFound),
        ("mass_delete_tags", 400, {"mass_delete": [{"code": "REQUIRED_PARAM_MISSING", "message": "",
                                                    "details": {"param_name": "job_id"}, "status": "error"}]},
         ZohoRequestError),
    ],
)  # fmt: skip
def test_error_replies_are_the_shared_typed_errors(kind: str, status: int, body: Any, error: type) -> None:
    with pytest.raises(error):
        KINDS[kind].parse(status, body)


def test_each_kind_says_where_its_status_is_asked() -> None:
    asked = {
        name: (kind.request("v8", "Leads" if kind.modules is None else sorted(kind.modules)[0], "42"))
        for name, kind in KINDS.items()
    }
    assert {name: (request.path, dict(request.params)) for name, request in asked.items()} == {
        "mass_update": ("/crm/v8/Leads/actions/mass_update", {"job_id": "42"}),
        "mass_convert": ("/crm/v8/Leads/actions/mass_convert", {"job_id": "42"}),
        "inventory_mass_convert": ("/crm/v8/Quotes/actions/mass_convert", {"job_id": "42"}),
        "mass_delete": ("/crm/v8/Leads/actions/mass_delete", {"job_id": "42"}),
        "mass_change_owner": ("/crm/v8/Leads/actions/mass_change_owner", {"job_id": "42"}),
        "mass_delete_tags": ("/crm/v8/settings/tags/actions/mass_delete", {"job_id": "42"}),
        "bulk_read": ("/crm/bulk/v8/read/42", {}),
        "bulk_write": ("/crm/bulk/v8/write/42", {}),
        "audit_log_export": ("/crm/v8/settings/audit_log_export/42", {}),
        "transfer_and_delete": ("/crm/v8/users/actions/transfer_and_delete", {"job_id": "42"}),
    }
    assert DEFAULT_KIND == "mass_update" and KINDS["bulk_write"].modules == frozenset({ORG_MODULE})
