"""Jobs of other kinds than mass update, watched on the embedded stack with the real state machine and sweep:
asked for through the watch-request function (a caller's Lambda invoke or task), followed to their end with
their counts, recorded under their kind, announced as "Zoho CRM Job ..." events; a FAILED one ends the watch
in JobFailed and fails a waiting caller with JobFailed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fake_zoho import JobProfile
from tests.integration.test_task_tokens import caller_machine, ended, start_callers
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration


def request_watch(stack: EmbeddedStack, **request: Any) -> dict[str, Any]:
    """Invoke the watch-request function directly, as a caller's Lambda invoke would."""
    reply = stack.client("lambda").invoke(
        FunctionName=stack.outputs["WatchRequestFunctionArn"], Payload=json.dumps(request).encode()
    )
    answer: dict[str, Any] = json.loads(reply["Payload"].read())
    assert "FunctionError" not in reply, answer
    return answer


def finished_events(stack: EmbeddedStack, job_id: str) -> list[dict[str, Any]]:
    return [
        event
        for event in stack.events()
        if event["detail"]["job_id"] == job_id and event["detail-type"].endswith("Finished")
    ]


def test_a_mass_delete_is_watched_to_its_end_and_announced_with_its_kind(
    embedded_stack: EmbeddedStack,
) -> None:
    stack = embedded_stack
    profile = JobProfile(queue_delay=30, duration=900)
    job_id = stack.zoho.create_job("Contacts", total=750, profile=profile, kind="mass_delete")
    answer = request_watch(stack, module="Contacts", job_id=job_id, kind="mass_delete")
    assert answer["watching"] is True and answer["execution_name"] == f"Contacts-{job_id}-g0"
    [event] = stack.wait_for(lambda: finished_events(stack, job_id), timeout=300)
    truth = stack.zoho.job_truth(job_id)
    assert event["detail-type"] == "Zoho CRM Job Finished"
    detail = event["detail"]
    assert (detail["kind"], detail["status"], detail["zoho_status"]) == (
        "mass_delete",
        "COMPLETED",
        "COMPLETED",
    )
    assert detail["counts"] == {
        "total": 750,
        "updated": truth["Updated_Count"],
        "failed": 0,
        "not_updated": 0,
    }
    # Recorded under its kind: a key of its own, the kind and Zoho's word on the record.
    [item] = [i for i in stack.table_items() if i["sk"] == "STATE" and i["job_id"] == job_id]
    assert item["pk"] == f"JOB#default#Contacts#{job_id}#mass_delete"
    assert (item["kind"], item["zoho_status"], item["status"]) == ("mass_delete", "COMPLETED", "COMPLETED")
    # No mass update event for it: consumers of those see nothing new.
    assert not [e for e in stack.events() if e["detail-type"].startswith("Mass Update")]
    # The execution ends right after the check that announced the end (the event may come first).
    execution = stack.wait_for(
        lambda: next(
            (
                e
                for e in stack.executions()
                if e["name"] == f"Contacts-{job_id}-g0" and e["status"] != "RUNNING"
            ),
            None,
        )
    )
    assert execution["status"] == "SUCCEEDED"


def test_a_failed_conversion_fails_the_watch_and_its_caller_with_job_failed(
    embedded_stack: EmbeddedStack,
) -> None:
    stack = embedded_stack
    profile = JobProfile(queue_delay=0, duration=600, final_status="FAILED", fail_at=0.5)
    job_id = stack.zoho.create_job("Leads", total=40, profile=profile, kind="mass_convert")
    machine = caller_machine(stack, "caller-converts", kind="mass_convert")
    [caller] = ended(stack, start_callers(stack, machine, job_id, 1))
    assert (caller["status"], caller.get("error")) == ("FAILED", "JobFailed")
    watch = stack.wait_for(
        lambda: next(
            (e for e in stack.executions() if e["name"] == f"Leads-{job_id}-g0" and e["status"] != "RUNNING"),
            None,
        )
    )
    described = stack.client("stepfunctions").describe_execution(executionArn=watch["executionArn"])
    assert (described["status"], described.get("error")) == ("FAILED", "JobFailed")
    [event] = finished_events(stack, job_id)
    assert (event["detail"]["kind"], event["detail"]["status"]) == ("mass_convert", "FAILED")


def test_the_sweep_follows_a_tag_deletion_of_the_organisation(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("org", total=12, profile=JobProfile(0, 120), kind="mass_delete_tags")
    answer = request_watch(stack, module="org", job_id=job_id, kind="mass_delete_tags", mode="schedule")
    assert answer["mode"] == "schedule"
    assert stack.scheduler is not None
    stack.scheduler.start()
    try:
        [event] = stack.wait_for(lambda: finished_events(stack, job_id), timeout=300)
    finally:
        stack.scheduler.stop()
    assert (event["detail"]["kind"], event["detail"]["counts"]["total"]) == ("mass_delete_tags", 12)
    assert event["detail"]["module"] == "org"


@pytest.mark.parametrize(
    ("request_fields", "words"),
    [
        ({"kind": "mass_explode"}, "kind must be one of"),
        ({"kind": "mass_convert", "module": "Deals"}, "mass_convert jobs exist in Leads only"),
        ({"kind": "bulk_read", "module": "Leads"}, "bulk_read jobs exist in org only"),
    ],
)
def test_a_kind_that_does_not_fit_is_refused(
    embedded_stack: EmbeddedStack, request_fields: dict[str, Any], words: str
) -> None:
    reply = embedded_stack.client("lambda").invoke(
        FunctionName=embedded_stack.outputs["WatchRequestFunctionArn"],
        Payload=json.dumps({"module": "Leads", "job_id": "554023000000506003", **request_fields}).encode(),
    )
    error = json.loads(reply["Payload"].read())
    assert reply.get("FunctionError") and error["errorType"] == "InvalidInput"
    assert words in error["errorMessage"]
    assert [entry for entry in embedded_stack.zoho.request_log if entry["route"] == "status"] == []
