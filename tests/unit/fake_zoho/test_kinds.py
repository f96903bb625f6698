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
    assert_error(kind_call(zoho, token, "Leads/actions/mass_convert", "POST", job_id=job_id), 400,
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
