"""Bulk read on the emulator: the creation call's reply and errors, the job's states (the specification's
and the docs'), its result zip (rows, fields, ICS, pages of 200,000) and the 10-downloads-a-minute limit, all
on the emulator's clock."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from fake_zoho import FakeZoho, JobProfile

from .helpers import EVERY_SCOPE, access_token, crm_call, csv_rows, error_of, unzip

READ = "/crm/bulk/v8/read"


def zoho_time(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).isoformat()


def create(zoho: FakeZoho, token: str, body: Any) -> str:
    reply = crm_call(zoho, token, "POST", READ, json=body)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["data"][0]["details"]["id"])


def state(zoho: FakeZoho, token: str, job_id: str) -> dict[str, Any]:
    reply = crm_call(zoho, token, "GET", f"{READ}/{job_id}")
    assert reply.status_code == 200, reply.text
    [row] = reply.json()["data"]
    return dict(row)


def test_a_job_is_added_then_read_and_its_result_described(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_view("Leads", "4500", total=1234, profile=JobProfile(queue_delay=10, duration=100))
    token = access_token(zoho, EVERY_SCOPE)
    query = {"module": {"api_name": "Leads"}, "cvid": "4500", "fields": ["Last_Name", "Email"], "page": 1}
    reply = crm_call(zoho, token, "POST", READ, json={"query": query, "file_type": "csv"})
    assert reply.status_code == 201
    job_id = zoho.jobs.all()[-1].job_id
    user = {"name": "Emulated User", "id": "554023000000235011"}
    created = zoho_time(zoho.clock.now())
    assert reply.json() == {
        "data": [
            {
                "code": "ADDED_SUCCESSFULLY",
                "details": {
                    "id": job_id,
                    "operation": "read",
                    "state": "ADDED",
                    "created_by": user,
                    "created_time": created,
                },
                "message": "Added successfully.",
                "status": "success",
            }
        ],
        "info": {},
    }
    assert (zoho.job(job_id).kind, zoho.job(job_id).module, zoho.job(job_id).total) == (
        "bulk_read",
        "org",
        1234,
    )
    added = state(zoho, token, job_id)
    assert added == {
        "id": job_id,
        "operation": "read",
        "state": "ADDED",
        "query": {
            "module": {"api_name": "Leads", "id": "554023000000002175"},
            "cvid": "4500",
            "fields": ["Last_Name", "Email"],
            "page": 1,
        },
        "created_by": user,
        "created_time": created,
        "file_type": "csv",
    }
    zoho.clock.advance(60)
    assert state(zoho, token, job_id)["state"] == "IN PROGRESS"
    assert "result" not in state(zoho, token, job_id)
    zoho.clock.advance(50)
    done = state(zoho, token, job_id)
    assert done["state"] == "COMPLETED"
    assert done["result"] == {
        "page": 1,
        "per_page": 200000,
        "count": 1234,
        "download_url": f"/crm/bulk/v8/read/{job_id}/result",
        "more_records": False,
        "next_page_token": None,
    }


def test_the_docs_states_show_queued_before_in_progress(zoho: FakeZoho) -> None:
    zoho.config.update(kind_words="docs")
    zoho.clock.freeze()
    job_id = zoho.create_job("org", 10, JobProfile(queued=5, queue_delay=5, duration=10), kind="bulk_read")
    token = access_token(zoho, EVERY_SCOPE)
    seen = []
    for _ in range(4):
        seen.append(state(zoho, token, job_id)["state"])
        zoho.clock.advance(5)
    assert seen == ["ADDED", "QUEUED", "IN PROGRESS", "IN PROGRESS"]
    zoho.config.update(kind_words="spec")
    assert [zoho.job_reply(job_id)["data"][0]["state"]] == ["COMPLETED"]


def test_a_failed_job_ends_in_failure_without_a_result(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=0, duration=10, final_status="FAILED", fail_at=0.5)
    job_id = zoho.create_job("org", 10, profile, kind="bulk_read")
    zoho.clock.advance(5)
    row = state(zoho, access_token(zoho, EVERY_SCOPE), job_id)
    assert row["state"] == "FAILURE" and "result" not in row
    reply = crm_call(zoho, access_token(zoho, EVERY_SCOPE), "GET", f"{READ}/{job_id}/result")
    assert error_of(reply, 400, "RESOURCE_NOT_FOUND")["details"] == {"resource": job_id}


def test_the_result_is_a_zip_of_one_csv_with_the_jobs_records(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_kind("bulk_read", total=321, profile=JobProfile(queue_delay=0, duration=5))
    token = access_token(zoho, EVERY_SCOPE)
    job_id = create(
        zoho, token, {"query": {"module": {"api_name": "Contacts"}, "fields": ["Last_Name", "Id"]}}
    )
    early = crm_call(zoho, token, "GET", f"{READ}/{job_id}/result")
    error_of(early, 400, "RESOURCE_NOT_FOUND")  # not there before the job completes
    zoho.clock.advance(5)
    reply = crm_call(zoho, token, "GET", f"{READ}/{job_id}/result")
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/zip"
    files = unzip(reply.content)
    assert list(files) == [f"{job_id}.csv"]
    rows = csv_rows(files[f"{job_id}.csv"])
    assert rows[0] == ["Id", "Last_Name"]
    assert len(rows) == 1 + 321
    assert rows[1][1] == "Last_Name 1" and rows[-1][1] == "Last_Name 321"
    assert len({row[0] for row in rows[1:]}) == 321 and all(len(row[0]) == 18 for row in rows[1:])


def test_meetings_can_be_read_as_an_ics_file(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_kind("bulk_read", total=4, profile=JobProfile(queue_delay=0, duration=1))
    token = access_token(zoho, EVERY_SCOPE)
    job_id = create(zoho, token, {"query": {"module": {"api_name": "Meetings"}}, "file_type": "ics"})
    zoho.clock.advance(1)
    assert state(zoho, token, job_id)["file_type"] == "ics"
    files = unzip(crm_call(zoho, token, "GET", f"{READ}/{job_id}/result").content)
    assert list(files) == [f"{job_id}.ics"]
    text = files[f"{job_id}.ics"]
    assert text.startswith("BEGIN:VCALENDAR") and text.count("BEGIN:VEVENT") == 4


def test_more_than_200000_records_come_in_pages(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_kind("bulk_read", total=250_000, profile=JobProfile(queue_delay=0, duration=10))
    token = access_token(zoho, EVERY_SCOPE)
    first = create(zoho, token, {"query": {"module": {"api_name": "Leads"}, "fields": ["Last_Name"]}})
    zoho.clock.advance(10)
    result = state(zoho, token, first)["result"]
    assert (result["page"], result["count"], result["more_records"]) == (1, 200_000, True)
    token_of_page_2 = result["next_page_token"]
    assert isinstance(token_of_page_2, str) and token_of_page_2
    rows = csv_rows(unzip(crm_call(zoho, token, "GET", f"{READ}/{first}/result").content)[f"{first}.csv"])
    assert len(rows) == 1 + 200_000
    query = {"module": {"api_name": "Leads"}, "fields": ["Last_Name"], "page_token": token_of_page_2}
    second = create(zoho, token, {"query": query})
    zoho.clock.advance(10)
    result = state(zoho, token, second)["result"]
    assert (result["page"], result["count"], result["more_records"], result["next_page_token"]) == (
        2,
        50_000,
        False,
        None,
    )
    rows = csv_rows(unzip(crm_call(zoho, token, "GET", f"{READ}/{second}/result").content)[f"{second}.csv"])
    assert len(rows) == 1 + 50_000 and rows[1][1] == "Last_Name 200001"


def test_at_most_10_downloads_a_minute_then_429_until_the_minute_has_passed(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("org", 3, JobProfile(queue_delay=0, duration=1), kind="bulk_read")
    zoho.clock.advance(1)
    token = access_token(zoho, EVERY_SCOPE)

    def download() -> int:
        return crm_call(zoho, token, "GET", f"{READ}/{job_id}/result").status_code

    assert [download() for _ in range(5)] == [200] * 5
    zoho.clock.advance(30)
    assert [download() for _ in range(5)] == [200] * 5
    refused = crm_call(zoho, token, "GET", f"{READ}/{job_id}/result")
    assert error_of(refused, 429, "TOO_MANY_REQUESTS")["message"].startswith("at most 10")
    zoho.clock.advance(29)
    assert download() == 429
    zoho.clock.advance(1)  # a minute after the first five: five more
    assert [download() for _ in range(6)] == [200] * 5 + [429]
    zoho.clock.advance(30)  # a minute after the next five
    assert download() == 200
    assert zoho.counters["calls"]["download"] == {"200": 16, "429": 3}


def field(path: str) -> dict[str, str]:
    """An error's details for a body field: its name and JSON path."""
    return {"api_name": path.rsplit(".", 1)[-1], "json_path": f"$.{path}"}


LEADS = {"module": "Leads"}
NAMED = "query.module.api_name"
HOOK = "https://example.com/cb"


@pytest.mark.parametrize(
    ("body", "status", "code", "details"),
    [
        ("not json", 400, "REQUEST_BODY_NOT_SUPPORTED", {}),
        ({"file_type": "csv"}, 400, "MANDATORY_NOT_FOUND", field("query")),
        ({"query": {"fields": ["A"]}}, 400, "MANDATORY_NOT_FOUND", field("query.module")),
        ({"query": {"module": {"api_name": "Gadgets"}}}, 400, "MODULE_NOT_AVAILABLE", field(NAMED)),
        ({"query": {"module": {"api_name": "Documents"}}}, 400, "MODULE_NOT_SUPPORTED", field(NAMED)),
        ({"query": {**LEADS, "cvid": "x1"}}, 400, "INVALID_DATA", field("query.cvid")),
        ({"query": {**LEADS, "fields": "Last_Name"}}, 400, "INVALID_DATA", field("query.fields")),
        ({"query": {**LEADS, "page": 0}}, 400, "INVALID_DATA", field("query.page")),
        ({"query": {**LEADS, "page_token": "nope"}}, 400, "INVALID_DATA", field("query.page_token")),
        ({"query": LEADS, "file_type": "xlsx"}, 400, "INVALID_DATA",
         {**field("file_type"), "supported_values": ["csv", "ics"]}),
        ({"query": LEADS, "file_type": "ics"}, 400, "INVALID_DATA", field("file_type")),  # ics: Meetings only
        ({"query": LEADS, "callback": {"url": HOOK, "method": "get"}}, 400, "INVALID_CALLBACK_METHOD",
         {"supported_callback_methods": ["post"]}),
        ({"query": LEADS, "callback": {"url": "ftp://example.com", "method": "post"}}, 400,
         "INVALID_CALLBACK_URL", field("callback.url")),
    ],
)  # fmt: skip
def test_each_creation_error(zoho: FakeZoho, body: Any, status: int, code: str, details: Any) -> None:
    token = access_token(zoho, EVERY_SCOPE)
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    assert error_of(crm_call(zoho, token, "POST", READ, **kwargs), status, code)["details"] == details
    assert zoho.jobs.all() == []


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        (["ZohoCRM.bulk.read", "ZohoCRM.modules.leads.READ"], 201),  # the docs: bulk.read (and) the module's
        (["ZohoCRM.bulk.ALL", "ZohoCRM.modules.ALL"], 201),  # the specification's
        (["ZohoCRM.bulk.read"], 401),
        (["ZohoCRM.modules.ALL"], 401),
        (["ZohoCRM.bulk.read", "ZohoCRM.modules.contacts.READ"], 401),
    ],
)
def test_creation_needs_the_bulk_scope_and_the_modules(
    zoho: FakeZoho, scopes: list[str], status: int
) -> None:
    reply = crm_call(
        zoho, access_token(zoho, scopes), "POST", READ, json={"query": {"module": {"api_name": "Leads"}}}
    )
    assert reply.status_code == status, reply.text


def test_the_create_path_takes_only_post(zoho: FakeZoho) -> None:
    error_of(crm_call(zoho, access_token(zoho, EVERY_SCOPE), "GET", READ), 400, "INVALID_REQUEST_METHOD")
