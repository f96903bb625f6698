"""Mass Update Records: scheduling a job by cvid, ALREADY_SCHEDULED, the ids mode and bad bodies."""

from __future__ import annotations

import pytest
import requests

from fake_zoho import FakeZoho, JobProfile

from .helpers import TIMEOUT, access_token, assert_error, create_call, status_call


def test_cvid_schedules_a_job_that_status_then_reports(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_view("Leads", "554023000000087501", total=300, profile=JobProfile(queue_delay=5, duration=30))
    token = access_token(zoho)
    response = create_call(
        zoho, token, {"data": [{"Lead_Status": "Contacted"}], "cvid": "554023000000087501"}
    )
    assert response.status_code == 200
    item = response.json()["data"][0]
    assert list(item) == ["code", "details", "message", "status"]
    assert item["code"] == "SUCCESS" and item["status"] == "success"
    assert item["message"] == "mass update scheduled successfully"
    job_id = item["details"]["job_id"]
    assert job_id.isdigit()
    assert status_call(zoho, token, job_id).json()["data"][0]["Status"] == "SCHEDULED"
    zoho.clock.advance(20)
    body = status_call(zoho, token, job_id).json()["data"][0]
    assert body == {
        "Status": "RUNNING",
        "Failed_Count": 0,
        "Updated_Count": 150,
        "Not_Updated_Count": 150,
        "Total_Count": 300,
    }


def test_busy_cvid_is_already_scheduled_with_202(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    zoho.define_view("Leads", "42", total=10, profile=JobProfile(queue_delay=0, duration=10))
    token = access_token(zoho)
    body = {"data": [{"Rating": "Hot"}], "cvid": "42"}
    first = create_call(zoho, token, body).json()["data"][0]["details"]["job_id"]
    again = create_call(zoho, token, body)
    assert again.status_code == 202
    item = again.json()["data"][0]
    assert item == {
        "code": "ALREADY_SCHEDULED",
        "details": {},
        "message": "Already a Mass Action scheduler is running for the given cvid",  # the v8 spec's words
        "status": "error",
    }
    # Another module's view with the same id is independent; after the job ends the cvid is free again.
    assert create_call(zoho, token, body, module="Deals").status_code == 200
    zoho.clock.advance(10)
    second = create_call(zoho, token, body)
    assert second.status_code == 200
    assert second.json()["data"][0]["details"]["job_id"] != first


def test_unknown_cvid_uses_the_default_view_size(zoho: FakeZoho) -> None:
    zoho.config.update(cvid_default_total=77)
    token = access_token(zoho)
    reply = create_call(zoho, token, {"data": [{"A": 1}], "cvid": "9"}).json()
    job_id = reply["data"][0]["details"]["job_id"]
    assert zoho.job_truth(job_id)["Total_Count"] == 77


def test_ids_mode_updates_at_once_without_a_job(zoho: FakeZoho) -> None:
    token = access_token(zoho)
    response = create_call(zoho, token, {"data": [{"Rating": "Hot"}], "ids": ["111", "222", "x"]})
    assert response.status_code == 200
    results = response.json()["data"]
    assert [r["code"] for r in results] == ["SUCCESS", "SUCCESS", "INVALID_DATA"]
    assert results[0]["details"]["id"] == "111" and results[0]["message"] == "record updated"
    assert results[2]["details"] == {"id": "x"}
    assert zoho.jobs.all() == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_is_read_whatever_its_content_type(zoho: FakeZoho, content_type: str | None) -> None:
    token = access_token(zoho)
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = b'{"data": [{"Rating": "Hot"}], "cvid": "42"}'
    # requests adds no Content-Type for bytes: the request goes out as Zoho's Python SDK sends it.
    reply = requests.post(
        f"{zoho.url}/crm/v8/Leads/actions/mass_update", data=body, headers=headers, timeout=TIMEOUT
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"][0]["code"] == "SUCCESS"
    assert [job.cvid for job in zoho.jobs.all()] == ["42"]


def test_bad_bodies(zoho: FakeZoho) -> None:
    token = access_token(zoho)
    headers = {"Authorization": f"Zoho-oauthtoken {token}", "Content-Type": "application/json"}
    url = f"{zoho.url}/crm/v8/Leads/actions/mass_update"
    not_json = assert_error(
        requests.post(url, data="{not json", headers=headers, timeout=TIMEOUT), 400, "INVALID_DATA"
    )
    assert not_json["message"] == "invalid data"
    # Body fields name the field and its JSON path, with the v8 specification's messages.
    missing_data = assert_error(create_call(zoho, token, {"cvid": "1"}), 400, "MANDATORY_NOT_FOUND")
    assert missing_data["details"] == {"api_name": "data", "json_path": "$.data"}
    assert missing_data["message"] == "required field not found"
    missing_cvid = assert_error(create_call(zoho, token, {"data": [{"A": 1}]}), 400, "MANDATORY_NOT_FOUND")
    assert missing_cvid["details"] == {"api_name": "cvid", "json_path": "$.cvid"}
    bad_cvid = assert_error(
        create_call(zoho, token, {"data": [{"A": 1}], "cvid": "abc"}), 400, "INVALID_DATA"
    )
    assert (bad_cvid["message"], bad_cvid["details"]) == (
        "invalid data",
        {"api_name": "cvid", "json_path": "$.cvid"},
    )
    too_many = {"data": [{"A": 1}], "ids": [str(i) for i in range(501)]}
    limit = assert_error(create_call(zoho, token, too_many), 400, "INVALID_DATA")
    assert limit["message"] == "Record count exceeded" and limit["details"]["limit"] == 500
    assert zoho.jobs.all() == []


def test_create_needs_the_update_scope(zoho: FakeZoho) -> None:
    token = access_token(zoho, ["ZohoCRM.mass_update.READ"])
    assert_error(create_call(zoho, token, {"data": [{"A": 1}], "cvid": "1"}), 401, "OAUTH_SCOPE_MISMATCH")
    leads_only = access_token(zoho, ["ZohoCRM.mass_update.Leads.UPDATE"])
    assert create_call(zoho, leads_only, {"data": [{"A": 1}], "cvid": "1"}).status_code == 200
    assert zoho.counters["calls"]["create"] == {"401": 1, "200": 1}


def test_a_job_id_seed_gives_the_same_id_series_every_time() -> None:
    def ids(zoho: FakeZoho) -> list[str]:
        return [zoho.create_job("Leads", total=10) for _ in range(5)]

    first, second = FakeZoho(job_id_seed=7), FakeZoho(job_id_seed=7)
    series = ids(first)
    assert ids(second) == series
    assert len(set(series)) == 5 and all(len(job_id) == 18 and job_id.isdigit() for job_id in series)
    first.reset()
    assert ids(first) == series  # a reset starts the series again
    assert ids(FakeZoho(job_id_seed=8)) != series
    assert ids(FakeZoho()) != ids(FakeZoho())  # without a seed, random as a real org's
    with pytest.raises(ValueError, match="job_id_seed must be an integer"):
        FakeZoho(job_id_seed=-1)
