"""The other mass actions' status calls on the emulator: each kind's reply in its own words and fields, and
its documented errors (missing job_id, an unknown job, a method other than GET, an unknown action, a bad
kind)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from fake_zoho import FakeZoho, JobProfile

from .helpers import TIMEOUT, access_token, admin, assert_error

SCOPES = ["ZohoCRM.mass_convert.leads.READ", "ZohoCRM.mass_delete.READ", "ZohoCRM.change_owner.READ",
          "ZohoCRM.settings.tags.READ"]  # fmt: skip


def kind_call(zoho: FakeZoho, token: str, path: str, method: str = "GET", **params: str) -> requests.Response:
    return requests.request(
        method,
        f"{zoho.url}/crm/v8/{path}",
        params=params,
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize(
    ("kind", "module", "path", "expected"),
    [
        ("mass_convert", "Leads", "Leads/actions/mass_convert",
         {"data": [{"Status": "IN PROGRESS", "Total_Count": 100, "Converted_Count": 50,
                    "Not_Converted_Count": 50, "Failed_Count": 0}]}),
        ("mass_delete", "Contacts", "Contacts/actions/mass_delete",
         {"data": [{"Status": "RUNNING", "Total_Count": 100, "Deleted_Count": 50, "Failed_Count": 0}]}),
        ("mass_change_owner", "Deals", "Deals/actions/mass_change_owner",
         {"data": [{"Status": "RUNNING", "Total_Count": 100, "Updated_Count": 50, "Not_Updated_Count": 50,
                    "Failed_Count": 0}]}),
        ("mass_delete_tags", "org", "settings/tags/actions/mass_delete",
         {"mass_delete": [{"job_id": "JOB", "total_count": 100, "deleted_count": 50, "failed_count": 0,
                           "status": "RUNNING"}]}),
    ],
)  # fmt: skip
def test_each_kind_answers_in_its_own_words(
    zoho: FakeZoho, kind: str, module: str, path: str, expected: dict[str, Any]
) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job(module, total=100, profile=JobProfile(queue_delay=10, duration=100), kind=kind)
    token = access_token(zoho, SCOPES)
    zoho.clock.advance(60)
    reply = kind_call(zoho, token, path, job_id=job_id)
    assert reply.status_code == 200
    assert reply.json() == json.loads(json.dumps(expected).replace("JOB", job_id))


def test_a_mass_delete_not_started_shows_running_as_its_docs_list_no_scheduled(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job(
        "Contacts", total=5, profile=JobProfile(queue_delay=60, duration=10), kind="mass_delete"
    )
    reply = kind_call(zoho, access_token(zoho, SCOPES), "Contacts/actions/mass_delete", job_id=job_id)
    assert reply.json()["data"][0]["Status"] == "RUNNING"


def test_the_documented_errors(zoho: FakeZoho) -> None:
    token = access_token(zoho, SCOPES)
    job_id = zoho.create_job("Leads", total=5, kind="mass_convert")
    assert_error(kind_call(zoho, token, "Leads/actions/mass_convert"), 400, "REQUIRED_PARAM_MISSING")
    assert_error(kind_call(zoho, token, "Leads/actions/mass_convert", job_id="123"), 400, "INVALID_DATA")
    assert kind_call(zoho, token, "Deals/actions/mass_change_owner", job_id=job_id).status_code == 204
    assert_error(kind_call(zoho, token, "Leads/actions/mass_convert", "PUT", job_id=job_id), 400,
                 "INVALID_REQUEST_METHOD")  # fmt: skip
    assert_error(
        kind_call(zoho, token, "Leads/actions/mass_explode", job_id=job_id), 404, "INVALID_URL_PATTERN"
    )
    assert_error(
        kind_call(zoho, token, "Contacts/actions/mass_convert", job_id=job_id), 400, "INVALID_MODULE"
    )
    no_scope = access_token(zoho, ["ZohoCRM.mass_update.READ"])
    assert_error(
        kind_call(zoho, no_scope, "Leads/actions/mass_convert", job_id=job_id), 401, "OAUTH_SCOPE_MISMATCH"
    )


def test_jobs_of_a_kind_are_made_over_the_admin_api_and_a_bad_kind_is_refused(zoho: FakeZoho) -> None:
    made = admin(zoho, "POST", "jobs", {"module": "Contacts", "total": 7, "kind": "mass_delete"})
    assert made.status_code == 200 and made.json()["kind"] == "mass_delete"
    assert admin(zoho, "POST", "jobs", {"module": "Contacts", "kind": "mass_explode"}).status_code == 400
    with pytest.raises(ValueError, match="unknown job kind"):
        zoho.create_job("Leads", kind="mass_explode")


def test_the_docs_words_are_served_when_asked(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=10, duration=100)
    convert = zoho.create_job("Leads", total=100, profile=profile, kind="mass_convert")
    tags = zoho.create_job("org", total=100, profile=profile, kind="mass_delete_tags")
    zoho.config.update(kind_words="docs")
    assert zoho.job_reply(convert)["data"][0]["Status"] == "scheduled"
    zoho.clock.advance(60)
    assert zoho.job_reply(convert)["data"][0]["Status"] == "in progress"
    assert zoho.job_reply(tags)["mass_delete"][0]["status"] == "SCHEDULED"  # the docs list no RUNNING
    zoho.config.update(kind_words="spec")
    assert zoho.job_reply(convert)["data"][0]["Status"] == "IN PROGRESS"
    assert zoho.job_reply(tags)["mass_delete"][0]["status"] == "RUNNING"
    zoho.clock.advance(50)
    zoho.config.update(kind_words="docs")
    assert zoho.job_reply(convert)["data"][0]["Status"] == "completed"
    with pytest.raises(ValueError, match="kind_words must be one of"):
        zoho.config.update(kind_words="both")


@pytest.mark.parametrize(
    ("kind", "module", "word"),
    [
        ("mass_convert", "Leads", ["data", "Status", "FAILED"]),
        ("inventory_mass_convert", "Quotes", ["status", "FAILED"]),
        ("mass_delete", "Contacts", ["data", "Status", "FAILED"]),
        ("mass_change_owner", "Deals", ["data", "Status", "FAILED"]),
        ("mass_delete_tags", "org", ["mass_delete", "status", "FAILED"]),
        ("bulk_read", "org", ["data", "state", "FAILURE"]),
        ("bulk_write", "org", ["status", "FAILED"]),
        ("audit_log_export", "org", ["audit_log_export", "status", "Failed"]),
        ("transfer_and_delete", "org", ["transfer_and_delete", "status", "failed"]),
    ],
)
def test_a_failing_job_of_each_kind_ends_in_its_failure_word(
    zoho: FakeZoho, kind: str, module: str, word: list[str]
) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=0, duration=10, final_status="FAILED", fail_at=0.3)
    job_id = zoho.create_job(module, total=10, profile=profile, kind=kind)
    zoho.clock.advance(3)
    reply: Any = zoho.job_reply(job_id)
    for key in word[:-1]:
        reply = reply[0][key] if isinstance(reply, list) else reply[key]
    assert reply == word[-1]
    assert zoho.job_truth(job_id) == {"Status": "FAILED", "Failed_Count": 7, "Updated_Count": 3,
                                      "Not_Updated_Count": 0, "Total_Count": 10}  # fmt: skip


@pytest.mark.parametrize(
    ("module", "kind", "message"),
    [
        ("Leads", "bulk_read", "bulk_read jobs exist in the org only"),
        ("org", "mass_delete", "mass_delete jobs exist in a module"),
        ("Contacts", "mass_convert", "mass_convert jobs exist in Leads only"),
        ("Leads", "inventory_mass_convert", "exist in Quotes and Sales_Orders only"),
    ],
)
def test_a_job_is_made_only_where_its_kind_lives(
    zoho: FakeZoho, module: str, kind: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        zoho.create_job(module, kind=kind)
    refused = admin(zoho, "POST", "jobs", {"module": module, "kind": kind})
    assert refused.status_code == 400 and message in refused.json()["error"]


def test_org_level_kinds_and_their_http_plans_over_the_admin_api(zoho: FakeZoho) -> None:
    made = admin(zoho, "POST", "jobs", {"module": "org", "total": 300_000, "kind": "bulk_read",
                                        "profile": {"queue_delay": 0, "duration": 10}})  # fmt: skip
    assert made.status_code == 200
    assert (made.json()["kind"], made.json()["total"]) == ("bulk_read", 300_000)
    assert made.json()["reply"]["data"][0]["state"] == "IN PROGRESS"
    plan = {"kind": "audit_log_export", "total": 12, "profile": {"queue_delay": 1}}
    assert admin(zoho, "POST", "kinds", plan).json() == plan
    assert zoho.job_plan("audit_log_export") == (12, JobProfile(queue_delay=1))
    assert admin(zoho, "POST", "kinds", {"kind": "mass_explode"}).status_code == 400
    assert admin(zoho, "POST", "kinds", {"kind": "bulk_write", "total": 25_001}).status_code == 400
    assert (
        admin(zoho, "POST", "jobs", {"module": "org", "total": 25_001, "kind": "bulk_write"}).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("flat", {"total_count": 40, "converted_count": 20, "not_converted_count": 20, "failed_count": 0,
                  "status": "IN PROGRESS"}),
        ("data", {"data": [{"total_count": 40, "converted_count": 20, "not_converted_count": 20,
                            "failed_count": 0, "status": "IN PROGRESS"}]}),
    ],
)  # fmt: skip
def test_inventory_convert_answers_in_either_shape(
    zoho: FakeZoho, shape: str, expected: dict[str, Any]
) -> None:
    zoho.config.update(inventory_reply_shape=shape)
    zoho.clock.freeze()
    job_id = zoho.create_job("Quotes", total=40, profile=JobProfile(queue_delay=0, duration=40),
                             kind="inventory_mass_convert")  # fmt: skip
    zoho.clock.advance(20)
    token = access_token(zoho, ["ZohoCRM.mass_convert.Quotes.READ"])
    reply = kind_call(zoho, token, "Quotes/actions/mass_convert", job_id=job_id)
    assert (reply.status_code, reply.json()) == (200, expected)
