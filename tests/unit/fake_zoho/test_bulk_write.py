"""Bulk write on the emulator: the upload (a zip of one CSV) and its limits, the creation call's reply and
errors, the job's status reply over time (counts from the CSV's rows) and its result zip (STATUS, RECORD_ID,
ERRORS)."""

from __future__ import annotations

import datetime
import os
from typing import Any

import pytest
import requests

from fake_zoho import FakeZoho, JobProfile

from .helpers import EVERY_SCOPE, ZGID, access_token, crm_call, csv_rows, error_of, refresh, unzip, zipped

WRITE = "/crm/bulk/v8/write"
HEADERS = {"feature": "bulk-write", "X-CRM-ORG": ZGID}
LEADS_CSV = "Last_Name,Email\n" + "".join(f"Lead {n},lead{n}@example.com\n" for n in range(1, 11))
USER = {"name": "Emulated User", "id": "554023000000235011"}


def upload(
    zoho: FakeZoho, token: str, content: bytes, headers: dict[str, str] | None = None
) -> requests.Response:
    return crm_call(
        zoho,
        token,
        "POST",
        "/crm/v8/upload",
        files={"file": ("leads.zip", content)},
        headers=headers or HEADERS,
    )


def uploaded(zoho: FakeZoho, token: str, text: str = LEADS_CSV) -> str:
    reply = upload(zoho, token, zipped("leads.csv", text))
    assert reply.status_code == 200, reply.text
    return str(reply.json()["details"]["file_id"])


def write_body(file_id: str, operation: str = "insert", **resource: Any) -> dict[str, Any]:
    return {
        "operation": operation,
        "resource": [{"type": "data", "module": {"api_name": "Leads"}, "file_id": file_id, **resource}],
    }


def file_of(status: str, added: int, updated: int, skipped: int) -> dict[str, Any]:
    """A resource's file in a status reply, for the 10-row leads.csv."""
    counts = {"added_count": added, "updated_count": updated, "skipped_count": skipped}
    return {"name": "leads.csv", "status": status, "total_count": 10, **counts}


def test_an_upload_gives_the_file_id(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    reply = upload(zoho, access_token(zoho, EVERY_SCOPE), zipped("leads.csv", LEADS_CSV))
    assert reply.status_code == 200
    body = reply.json()
    created = datetime.datetime.fromtimestamp(int(zoho.clock.now()), datetime.UTC).isoformat()
    assert body == {
        "code": "FILE_UPLOAD_SUCCESS",
        "details": {"file_id": body["details"]["file_id"], "created_time": created},
        "message": "file uploaded.",
        "status": "success",
    }
    assert len(body["details"]["file_id"]) == 18 and body["details"]["file_id"].isdigit()


MISSING_HEADERS = {
    "ERROR_CODE": 400,
    "ERROR_MESSAGE": "Bad Request",
    "x-error": "check if headers [feature, X-CRM-ORG] are present and valid",
}


@pytest.mark.parametrize(
    "headers", [{"X-CRM-ORG": ZGID}, {"feature": "bulk-write"}, {"feature": "bulk-write", "X-CRM-ORG": "1"}]
)
def test_an_upload_without_its_headers_is_refused_by_the_content_server(
    zoho: FakeZoho, headers: dict[str, str]
) -> None:
    reply = upload(zoho, access_token(zoho, EVERY_SCOPE), zipped("leads.csv", LEADS_CSV), headers)
    assert (reply.status_code, reply.json()) == (400, MISSING_HEADERS)


@pytest.mark.parametrize(
    ("content", "headers", "scopes", "status", "code"),
    [
        (
            zipped("leads.csv", LEADS_CSV),
            {**HEADERS, "feature": "bulk-read"},
            EVERY_SCOPE,
            400,
            "NOT_SUPPORTED_FEATURE",
        ),
        (zipped("leads.csv", LEADS_CSV), HEADERS, ["ZohoCRM.bulk.ALL"], 401, "OAUTH_SCOPE_MISMATCH"),
        (LEADS_CSV.encode(), HEADERS, EVERY_SCOPE, 400, "INVALID_FILE_FORMAT"),
        (zipped("leads.txt", LEADS_CSV), HEADERS, EVERY_SCOPE, 400, "FILE_NOT_SUPPORTED"),
        (os.urandom(25 * 1024 * 1024 + 1), HEADERS, EVERY_SCOPE, 413, "FILE_TOO_LARGE"),
        (zipped("leads.csv", "Last_Name\n" + "x\n" * 25_001), HEADERS, EVERY_SCOPE, 400, "LIMIT_EXCEEDED"),
        (
            zipped("leads.csv", ",".join(f"F{n}" for n in range(201)) + "\n"),
            HEADERS,
            EVERY_SCOPE,
            400,
            "HEADER_LIMIT_EXCEEDED",
        ),
    ],
    ids=["feature", "scope", "not-a-zip", "no-csv", "25MB", "25000-rows", "200-columns"],
)
def test_each_upload_error(
    zoho: FakeZoho, content: bytes, headers: dict[str, str], scopes: list[str], status: int, code: str
) -> None:
    error_of(upload(zoho, access_token(zoho, scopes), content, headers), status, code)


def test_an_upload_limit_error_says_the_limit(zoho: FakeZoho) -> None:
    token = access_token(zoho, EVERY_SCOPE)
    rows = error_of(upload(zoho, token, zipped("a.csv", "A\n" + "x\n" * 25_001)), 400, "LIMIT_EXCEEDED")
    assert rows["details"] == {"limit": 25_000, "api_name": "file"}
    assert rows["message"] == "the file holds 25001 records; at most 25000 can be imported per file"
    assert uploaded(zoho, token, "A\n" + "x\n" * 25_000)  # the limit itself is fine
    no_file = crm_call(zoho, token, "POST", "/crm/v8/upload", headers=HEADERS)
    assert error_of(no_file, 400, "MANDATORY_NOT_FOUND")["details"] == {
        "api_name": "file",
        "json_path": "$.file",
    }


def test_a_job_writes_the_uploaded_rows_and_reports_them(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_kind("bulk_write", profile=JobProfile(queue_delay=10, duration=10, failure_share=0.2))
    token = access_token(zoho, EVERY_SCOPE)
    file_id = uploaded(zoho, token)
    callback = {"url": "https://example.com/done", "method": "post"}
    reply = crm_call(zoho, token, "POST", WRITE, json={**write_body(file_id, "upsert"), "callback": callback})
    assert reply.status_code == 201
    job_id = zoho.jobs.all()[-1].job_id
    created = datetime.datetime.fromtimestamp(int(zoho.clock.now()), datetime.UTC).isoformat()
    assert reply.json() == {
        "code": "SUCCESS",
        "details": {"id": job_id, "created_by": USER, "created_time": created},
        "message": "success",
        "status": "success",
    }
    assert (zoho.job(job_id).total, zoho.job(job_id).module) == (10, "org")

    def status() -> dict[str, Any]:
        answer = crm_call(zoho, token, "GET", f"{WRITE}/{job_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    added = status()
    assert added == {
        "id": job_id,
        "status": "ADDED",
        "operation": "upsert",
        "created_by": USER,
        "created_time": created,
        "callback": callback,
        "resource": [
            {
                "status": "ADDED",
                "type": "data",
                "code": "ADDED_SUCCESSFULLY",
                "module": {"api_name": "Leads", "id": "554023000000002175"},
                "file_id": file_id,
                "ignore_empty": False,
                "field_mappings": [{"api_name": "Last_Name", "index": 0}, {"api_name": "Email", "index": 1}],
                "file": file_of("ADDED", 0, 0, 0),
            }
        ],
    }
    zoho.clock.advance(15)
    running = status()
    assert running["status"] == "IN PROGRESS" and "result" not in running
    assert running["resource"][0]["file"] == file_of("IN PROGRESS", 2, 2, 1)
    zoho.clock.advance(5)
    done = status()
    assert done["status"] == "COMPLETED" and done["resource"][0]["code"] == "SUCCESS"
    assert done["resource"][0]["file"] == file_of("COMPLETED", 4, 4, 2)
    truth = zoho.job_truth(job_id)
    assert (truth["Updated_Count"], truth["Failed_Count"]) == (8, 2)
    url = done["result"]["download_url"]
    assert url == f"{zoho.url}/v2/crm/{ZGID}/bulk-write/{job_id}/{job_id}.zip"

    result = requests.get(url, headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=10)
    assert result.status_code == 200 and result.headers["Content-Type"] == "application/zip"
    rows = csv_rows(unzip(result.content)["leads.csv"])
    assert rows[0] == ["Last_Name", "Email", "STATUS", "RECORD_ID", "ERRORS"]
    assert [row[2] for row in rows[1:]] == ["ADDED"] * 4 + ["UPDATED"] * 4 + ["SKIPPED"] * 2
    assert rows[1][:2] == ["Lead 1", "lead1@example.com"]
    assert all(len(row[3]) == 18 and row[4] == "" for row in rows[1:9])
    assert all(row[3] == "" and row[4].startswith("INVALID_DATA") for row in rows[9:])


@pytest.mark.parametrize(("operation", "added", "updated"), [("insert", 10, 0), ("update", 0, 10)])
def test_insert_adds_and_update_updates(zoho: FakeZoho, operation: str, added: int, updated: int) -> None:
    zoho.clock.freeze()
    token = access_token(zoho, EVERY_SCOPE)
    reply = crm_call(zoho, token, "POST", WRITE, json=write_body(uploaded(zoho, token), operation))
    zoho.clock.advance(60)
    file = crm_call(zoho, token, "GET", f"{WRITE}/{reply.json()['details']['id']}").json()["resource"][0][
        "file"
    ]
    assert (file["added_count"], file["updated_count"], file["skipped_count"]) == (added, updated, 0)


def test_a_failed_job_ends_failed_with_its_counts_and_no_result(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=0, duration=10, final_status="FAILED", fail_at=0.5)
    job_id = zoho.create_job("org", 10, profile, kind="bulk_write")
    zoho.clock.advance(10)
    token = access_token(zoho, EVERY_SCOPE)
    body = crm_call(zoho, token, "GET", f"{WRITE}/{job_id}").json()
    assert body["status"] == "FAILED" and "result" not in body
    assert (
        body["resource"][0]["file"]["added_count"] == 5 and body["resource"][0]["file"]["skipped_count"] == 5
    )
    download = crm_call(zoho, token, "GET", f"/v2/crm/{ZGID}/bulk-write/{job_id}/{job_id}.zip")
    assert error_of(download, 404, "RESOURCE_NOT_FOUND")["details"] == {"resource": job_id}


@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        ({"resource": []}, "MANDATORY_NOT_FOUND", {"api_name": "operation", "json_path": "$.operation"}),
        (
            write_body("FILE", "merge"),
            "INVALID_DATA",
            {
                "api_name": "operation",
                "json_path": "$.operation",
                "supported_values": ["insert", "update", "upsert"],
            },
        ),
        ({"operation": "insert"}, "MANDATORY_NOT_FOUND", {"api_name": "resource", "json_path": "$.resource"}),
        (
            write_body("123456789012345678"),
            "INVALID_FILE_ID",
            {"api_name": "file_id", "json_path": "$.resource[0].file_id"},
        ),
        (
            {"operation": "insert", "resource": [{"type": "data", "file_id": "FILE"}]},
            "MANDATORY_NOT_FOUND",
            {"api_name": "module", "json_path": "$.resource[0].module"},
        ),
        (
            {"operation": "insert", "resource": [{"module": {"api_name": "Gadgets"}, "file_id": "FILE"}]},
            "MODULE_NOT_AVAILABLE",
            {"api_name": "api_name", "json_path": "$.resource[0].module.api_name"},
        ),
        (
            write_body("FILE", field_mappings=[{"api_name": "Last_Name", "index": 7}]),
            "INVALID_DATA",
            {"api_name": "field_mappings", "json_path": "$.resource[0].field_mappings"},
        ),
        (
            {**write_body("FILE"), "callback": {"url": "https://example.com", "method": "put"}},
            "INVALID_CALLBACK_METHOD",
            {"supported_callback_methods": ["post"]},
        ),
    ],
)
def test_each_creation_error(zoho: FakeZoho, body: dict[str, Any], code: str, details: Any) -> None:
    token = access_token(zoho, EVERY_SCOPE)
    file_id = uploaded(zoho, token)
    body = with_file(body, file_id)
    error = error_of(crm_call(zoho, token, "POST", WRITE, json=body), 400, code)
    assert error["details"] == details
    assert zoho.jobs.all() == []


def with_file(body: Any, file_id: str) -> Any:
    """The body with FILE replaced by an uploaded file's id."""
    if isinstance(body, dict):
        return {key: with_file(value, file_id) for key, value in body.items()}
    if isinstance(body, list):
        return [with_file(value, file_id) for value in body]
    return file_id if body == "FILE" else body


def test_another_orgs_file_is_no_file(zoho: FakeZoho) -> None:
    file_id = uploaded(zoho, access_token(zoho, EVERY_SCOPE))
    token = refresh(zoho, zoho.credentials(EVERY_SCOPE, org_id="org2")).json()["access_token"]
    error_of(crm_call(zoho, token, "POST", WRITE, json=write_body(file_id)), 400, "INVALID_FILE_ID")


@pytest.mark.parametrize(("scopes", "status"), [(["ZohoCRM.bulk.CREATE"], 201), (["ZohoCRM.bulk.read"], 401)])
def test_creation_needs_the_bulk_create_scope(zoho: FakeZoho, scopes: list[str], status: int) -> None:
    file_id = uploaded(zoho, access_token(zoho, EVERY_SCOPE))
    reply = crm_call(zoho, access_token(zoho, scopes), "POST", WRITE, json=write_body(file_id))
    assert reply.status_code == status, reply.text


def test_a_result_link_that_is_not_one_is_not_found(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("org", 3, JobProfile(queue_delay=0, duration=1), kind="bulk_write")
    zoho.clock.advance(1)
    token = access_token(zoho, EVERY_SCOPE)
    assert crm_call(zoho, token, "GET", f"/v2/crm/{ZGID}/bulk-write/{job_id}/{job_id}.zip").status_code == 200
    error_of(
        crm_call(zoho, token, "GET", f"/v2/crm/{ZGID}/bulk-write/{job_id}/other.zip"),
        404,
        "RESOURCE_NOT_FOUND",
    )
    error_of(
        crm_call(zoho, token, "GET", f"/v2/crm/1/bulk-write/{job_id}/{job_id}.zip"), 404, "RESOURCE_NOT_FOUND"
    )
    error_of(
        crm_call(zoho, None, "GET", f"/v2/crm/{ZGID}/bulk-write/{job_id}/{job_id}.zip"),
        401,
        "AUTHENTICATION_FAILURE",
    )
