"""Submit and watch through the API, on the embedded stack: `POST /mass-updates` schedules on the emulator
with zoho-watch's own tokens and watches the job to its end; an update by ids answers each record; an
Idempotency-Key makes a retried request schedule once; Zoho's ALREADY_SCHEDULED is a clear 409."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

CVID = "4150868000000087011"
FINISHED = "Mass Update Job Finished"


def submit(stack: EmbeddedStack, body: dict[str, Any], key: str | None = None) -> requests.Response:
    """POST /mass-updates through the local API gateway."""
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(
        f"{stack.api_url}/mass-updates", json=body, headers=headers, timeout=REQUEST_LIMIT_SECONDS
    )


def posts(stack: EmbeddedStack) -> int:
    """How many mass update calls (POST) reached Zoho."""
    return sum(
        1 for entry in stack.zoho.request_log if entry["method"] == "POST" and "mass_update" in entry["path"]
    )


def by_view(**extra: Any) -> dict[str, Any]:
    return {"module": "Leads", "data": [{"Lead_Status": "Contacted"}], "cvid": CVID, **extra}


def test_a_view_is_scheduled_and_watched_to_its_end(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    stack.zoho.define_view("Leads", CVID, 400, JobProfile(queue_delay=30, duration=900))
    reply = submit(stack, by_view(over_write=True), key="sync-2026-12-02")
    assert reply.status_code == 202, reply.text
    answer = reply.json()
    job_id = answer["job_id"]
    assert reply.headers["Location"] == f"/jobs/Leads/{job_id}"
    assert answer["message"] == "mass update scheduled successfully" and answer["replayed"] is False
    assert answer["watch"]["watching"] is True and answer["watch"]["mode"] == "stepfunctions"
    state = stack.wait_for(
        lambda: (found := stack.job_state("Leads", job_id) or {}).get("finished_at") and found,
        timeout=300,
    )
    truth = stack.zoho.job_truth(job_id)
    assert (state["status"], state["total"], state["updated"]) == (
        "COMPLETED",
        truth["Total_Count"],
        truth["Updated_Count"],
    )
    assert truth["Total_Count"] == 400
    finished = stack.wait_for(
        lambda: [event["detail"]["job_id"] for event in stack.events() if event["detail-type"] == FINISHED]
    )
    assert finished == [job_id]
    assert posts(stack) == 1


def test_a_retried_submit_with_the_same_key_schedules_once(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    stack.zoho.define_view("Leads", CVID, 300, JobProfile(duration=3600))
    first = submit(stack, by_view(), key="retry-7")
    again = submit(stack, by_view(), key="retry-7")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.json()["replayed"] is True and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["watch"]["already"] is True
    assert posts(stack) == 1
    job_id = first.json()["job_id"]
    assert len([item for item in stack.executions() if job_id in item["name"]]) == 1
    # The same key for another request: refused, nothing sent. Another key: Zoho's own refusal, a clear 409.
    reused = submit(stack, by_view(data=[{"Lead_Status": "Lost"}]), key="retry-7")
    assert (reused.status_code, reused.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    busy = submit(stack, by_view(), key="retry-8")
    assert (busy.status_code, busy.json()["code"]) == (409, "ALREADY_SCHEDULED")
    assert "custom view" in busy.json()["message"]
    assert posts(stack) == 2


def test_records_by_id_are_updated_at_once(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    body = {"module": "Deals", "data": [{"Stage": "Closed Won"}], "ids": ["5001", "5002", "5003"]}
    executions_before = len(stack.executions())
    reply = submit(stack, body, key="ids-1")
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["job_id"] is None and answer["watch"] is None
    assert [(item["id"], item["status"], item["code"]) for item in answer["records"]] == [
        ("5001", "success", "SUCCESS"),
        ("5002", "success", "SUCCESS"),
        ("5003", "success", "SUCCESS"),
    ]
    assert submit(stack, body, key="ids-1").json()["records"] == answer["records"]
    assert posts(stack) == 1
    assert len(stack.executions()) == executions_before  # nothing to watch


@pytest.mark.parametrize(
    "body",
    [
        by_view(ids=["1"]),  # two selections
        {"module": "Leads", "data": [{"Lead_Status": "x"}]},  # none
        {"module": "Leads", "data": [{"Lead_Status": "x"}], "ids": [str(n) for n in range(501)]},
        {"module": "Leads", "data": [{"Lead_Status": "x"}], "ids": ["1"], "watch": {"mode": "schedule"}},
        by_view(module="Leads;drop"),
        by_view(cvid="12ab"),
    ],
)
def test_bad_requests_are_refused_before_zoho(embedded_stack: EmbeddedStack, body: dict[str, Any]) -> None:
    reply = submit(embedded_stack, body)
    assert (reply.status_code, reply.json()["code"]) == (400, "INVALID_INPUT")
    assert posts(embedded_stack) == 0
