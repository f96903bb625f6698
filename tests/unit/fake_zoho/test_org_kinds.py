"""Audit log export and transfer-and-delete-user on the emulator: their creation calls' replies and errors,
their statuses over a job's life (emulator clock), the audit log's download links and file."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from fake_zoho import FakeZoho, JobProfile

from .helpers import EVERY_SCOPE, ZGID, access_token, crm_call, csv_rows, error_of, unzip

AUDIT = "/crm/v8/settings/audit_log_export"
TRANSFER = "/crm/v8/users/actions/transfer_and_delete"
USER = {"name": "Emulated User", "id": "554023000000235011"}


def at(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).isoformat()


def test_an_audit_log_export_is_scheduled_then_finished_with_its_link(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_kind("audit_log_export", total=3, profile=JobProfile(queue_delay=10, duration=20))
    token = access_token(zoho, EVERY_SCOPE)
    criteria = {"field": {"api_name": "action"}, "comparator": "equal", "value": "added"}
    reply = crm_call(zoho, token, "POST", AUDIT, json={"audit_log_export": [{"criteria": criteria}]})
    assert reply.status_code == 200
    job_id = zoho.jobs.all()[-1].job_id
    assert reply.json() == {
        "audit_log_export": [
            {
                "code": "SCHEDULED",
                "details": {"id": job_id},
                "message": "audit log export scheduled",
                "status": "success",
            }
        ]
    }
    start = zoho.clock.now()

    def row() -> dict[str, Any]:
        answer = crm_call(zoho, token, "GET", f"{AUDIT}/{job_id}")
        assert answer.status_code == 200, answer.text
        [only] = answer.json()["audit_log_export"]
        return dict(only)

    assert row() == {
        "id": job_id,
        "status": "Scheduled",
        "criteria": criteria,
        "created_by": USER,
        "job_start_time": None,
        "job_end_time": None,
        "expiry_date": None,
        "download_links": None,
    }
    zoho.clock.advance(15)
    assert (row()["status"], row()["job_start_time"], row()["job_end_time"]) == (
        "Progress",
        at(start + 10),
        None,
    )
    zoho.clock.advance(15)
    link = f"{zoho.url}/v2/crm/{ZGID}/auditlog/{job_id}/AuditLog.csv"
    assert row() == {
        "id": job_id,
        "status": "Finished",
        "criteria": criteria,
        "created_by": USER,
        "job_start_time": at(start + 10),
        "job_end_time": at(start + 30),
        "expiry_date": at(start + 30 + 7 * 86400),
        "download_links": [link],
    }
    assert zoho.job_reply(job_id)["audit_log_export"][0]["download_links"] == [link]

    files_token = access_token(zoho, ["ZohoFiles.files.READ"])
    entries = crm_call(zoho, files_token, "GET", link.removeprefix(zoho.url))
    assert entries.status_code == 200 and entries.headers["Content-Type"].startswith("text/csv")
    rows = csv_rows(entries.text)
    assert rows[0] == ["Time", "User", "Action", "Module", "Record_Id"] and len(rows) == 1 + 3
    error_of(
        crm_call(zoho, token, "GET", link.removeprefix(zoho.url).replace(".csv", ".zip")),
        404,
        "RESOURCE_NOT_FOUND",
    )
    error_of(
        crm_call(
            zoho, access_token(zoho, ["ZohoCRM.settings.audit_logs.READ"]), "GET", link.removeprefix(zoho.url)
        ),
        401,
        "OAUTH_SCOPE_MISMATCH",
    )
    zoho.clock.advance(7 * 86400 + 1)  # the link has expired
    files_token = access_token(zoho, ["ZohoFiles.files.READ"])
    error_of(crm_call(zoho, files_token, "GET", link.removeprefix(zoho.url)), 404, "RESOURCE_NOT_FOUND")


def test_more_than_100000_entries_come_as_a_zip_of_csvs(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("org", 100_001, JobProfile(queue_delay=0, duration=1), kind="audit_log_export")
    zoho.clock.advance(1)
    [link] = zoho.job_reply(job_id)["audit_log_export"][0]["download_links"]
    assert link.endswith(f"/auditlog/{job_id}/AuditLog.zip")
    reply = crm_call(zoho, access_token(zoho, EVERY_SCOPE), "GET", link.removeprefix(zoho.url))
    files = unzip(reply.content)
    assert sorted(files) == ["AuditLog_1.csv", "AuditLog_2.csv"]
    assert (len(csv_rows(files["AuditLog_1.csv"])), len(csv_rows(files["AuditLog_2.csv"]))) == (100_001, 2)


def test_every_export_is_listed_and_a_failed_one_has_no_link(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    token = access_token(zoho, EVERY_SCOPE)
    assert crm_call(zoho, token, "POST", AUDIT).status_code == 200  # no body: the last three years
    failing = JobProfile(queue_delay=0, duration=4, final_status="FAILED", fail_at=0.5)
    failed = zoho.create_job("org", 10, failing, kind="audit_log_export")
    failed_at = zoho.clock.now() + 2
    zoho.clock.advance(4)  # the default profile: 2 s scheduled, 50 entries at 25 a second
    rows = crm_call(zoho, token, "GET", AUDIT).json()["audit_log_export"]
    first = zoho.jobs.all()[0].job_id
    assert [(row["id"], row["status"]) for row in rows] == [(first, "Finished"), (failed, "Failed")]
    assert rows[1]["download_links"] is None and rows[1]["job_end_time"] == at(failed_at)


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {"audit_log_export": {"criteria": {}}},
            {"api_name": "audit_log_export", "json_path": "$.audit_log_export"},
        ),
        (
            {"audit_log_export": [{"criteria": "last week"}]},
            {"api_name": "criteria", "json_path": "$.audit_log_export[0].criteria"},
        ),
    ],
)
def test_each_audit_log_creation_error_is_wrapped(zoho: FakeZoho, body: Any, details: Any) -> None:
    reply = crm_call(zoho, access_token(zoho, EVERY_SCOPE), "POST", AUDIT, json=body)
    assert error_of(reply, 400, "INVALID_DATA", "audit_log_export")["details"] == details


@pytest.mark.parametrize(
    ("scopes", "status"),
    [(["ZohoCRM.settings.audit_logs.CREATE"], 200), (["ZohoCRM.settings.audit_logs.READ"], 401)],
)
def test_an_export_needs_the_audit_logs_create_scope(zoho: FakeZoho, scopes: list[str], status: int) -> None:
    assert crm_call(zoho, access_token(zoho, scopes), "POST", AUDIT).status_code == status


TRANSFER_BODY = {"transfer_and_delete": [{"id": "111", "transfer": {"id": "222", "records": True}}]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (TRANSFER, TRANSFER_BODY),
        (
            "/crm/v8/users/111/actions/transfer_and_delete",
            {"transfer_and_delete": [{"transfer": {"id": "222", "assignment": True}}]},
        ),
    ],
)
def test_a_user_is_transferred_and_deleted_in_a_job(zoho: FakeZoho, path: str, body: Any) -> None:
    zoho.clock.freeze()
    zoho.define_kind("transfer_and_delete", profile=JobProfile(queue_delay=5, duration=10))
    token = access_token(zoho, EVERY_SCOPE)
    reply = crm_call(zoho, token, "POST", path, json=body)
    assert reply.status_code == 200
    job_id = zoho.jobs.all()[-1].job_id
    assert reply.json() == {
        "transfer_and_delete": [
            {
                "code": "SUCCESS",
                "details": {"id": "111", "jobId": job_id},
                "message": "User deleted",
                "status": "success",
            }
        ]
    }
    seen = []
    for _ in range(4):
        status = crm_call(zoho, token, "GET", TRANSFER, params={"job_id": job_id})
        seen.append(status.json())
        zoho.clock.advance(5)
    assert [item["transfer_and_delete"][0]["status"] for item in seen] == [
        "in_progress",
        "in_progress",
        "in_progress",
        "completed",
    ]
    assert seen[0] == {"transfer_and_delete": [{"status": "in_progress"}]}


def test_a_failed_transfer_ends_failed(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("org", 5, JobProfile(0, 10, final_status="FAILED"), kind="transfer_and_delete")
    zoho.clock.advance(10)
    status = crm_call(zoho, access_token(zoho, EVERY_SCOPE), "GET", TRANSFER, params={"job_id": job_id})
    assert status.json() == {"transfer_and_delete": [{"status": "failed"}]}


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        (
            {},
            "MANDATORY_NOT_FOUND",
            {"api_name": "transfer_and_delete", "json_path": "$.transfer_and_delete"},
        ),
        (
            {"transfer_and_delete": [{"transfer": {"id": "222"}}]},
            "MANDATORY_NOT_FOUND",
            {"api_name": "id", "json_path": "$.transfer_and_delete[0].id"},
        ),
        (
            {"transfer_and_delete": [{"id": "me", "transfer": {"id": "222"}}]},
            "INVALID_DATA",
            {"api_name": "id", "json_path": "$.transfer_and_delete[0].id"},
        ),
        (
            {"transfer_and_delete": [{"id": "111"}]},
            "MANDATORY_NOT_FOUND",
            {"api_name": "transfer", "json_path": "$.transfer_and_delete[0].transfer"},
        ),
        (
            {"transfer_and_delete": [{"id": "111", "transfer": {"records": True}}]},
            "MANDATORY_NOT_FOUND",
            {"api_name": "id", "json_path": "$.transfer_and_delete[0].transfer.id"},
        ),
        (
            {"transfer_and_delete": [{"id": "111", "transfer": {"id": "111"}}]},
            "INVALID_DATA",
            {"api_name": "id", "json_path": "$.transfer_and_delete[0].transfer.id"},
        ),
    ],
)
def test_each_transfer_creation_error_is_wrapped(zoho: FakeZoho, body: Any, code: str, details: Any) -> None:
    reply = crm_call(zoho, access_token(zoho, EVERY_SCOPE), "POST", TRANSFER, json=body)
    assert error_of(reply, 400, code, "transfer_and_delete")["details"] == details
    assert zoho.jobs.all() == []


def test_a_user_id_in_the_path_must_be_an_id(zoho: FakeZoho) -> None:
    path = "/crm/v8/users/me/actions/transfer_and_delete"
    reply = crm_call(zoho, access_token(zoho, EVERY_SCOPE), "POST", path, json=TRANSFER_BODY)
    assert error_of(reply, 400, "INVALID_DATA")["details"] == {"resource_path_index": 1}


@pytest.mark.parametrize(
    ("scopes", "status"), [(["ZohoCRM.users.DELETE"], 200), (["ZohoCRM.users.READ"], 401)]
)
def test_a_transfer_needs_the_users_delete_scope(zoho: FakeZoho, scopes: list[str], status: int) -> None:
    assert (
        crm_call(zoho, access_token(zoho, scopes), "POST", TRANSFER, json=TRANSFER_BODY).status_code == status
    )
