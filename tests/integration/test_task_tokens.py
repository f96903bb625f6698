"""A caller's own state machine waits for a job with a task token, on the embedded stack.

The caller's Task is `arn:aws:states:::lambda:invoke.waitForTaskToken` on zoho-watch's watch-request
function (payload: module, job_id, `$$.Task.Token`), as README's "Use it from your workflow" shows. zoho-watch
answers the token when the job ends: the caller's execution succeeds with the job's final state, or fails
with `MassUpdateFailed` (or the error that ended the watch).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

FINISHED = "Mass Update Job Finished"


def caller_role(stack: EmbeddedStack, name: str) -> str:
    """A role a caller's state machine runs with (moto does not evaluate it)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam = stack.client("iam")
    return str(
        iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


def caller_machine(stack: EmbeddedStack, name: str, heartbeat_task: int | None = None, **payload: Any) -> str:
    """A caller's state machine (made once per name) waiting on a job through the watch-request function
    (its task with HeartbeatSeconds `heartbeat_task`, when given)."""
    sfn = stack.client("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            return str(machine["stateMachineArn"])
    role = caller_role(stack, name)
    definition = {
        "StartAt": "WaitForTheJob",
        "States": {
            "WaitForTheJob": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": stack.outputs["WatchRequestFunctionArn"],
                    "Payload": {
                        "module.$": "$.module",
                        "job_id.$": "$.job_id",
                        "task_token.$": "$$.Task.Token",
                        **payload,
                    },
                },
                "End": True,
                **({"HeartbeatSeconds": heartbeat_task} if heartbeat_task else {}),
            }
        },
    }
    created = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)
    return str(created["stateMachineArn"])


def start_callers(stack: EmbeddedStack, machine: str, job_id: str, count: int) -> list[str]:
    sfn = stack.client("stepfunctions")
    body = json.dumps({"module": "Leads", "job_id": job_id})
    return [
        sfn.start_execution(stateMachineArn=machine, name=f"caller-{uuid.uuid4().hex}", input=body)[
            "executionArn"
        ]
        for _ in range(count)
    ]


def ended(stack: EmbeddedStack, arns: list[str]) -> list[dict[str, Any]]:
    """Let the clock run until the executions have ended; DescribeExecution of each."""
    sfn = stack.client("stepfunctions")

    def all_ended() -> list[dict[str, Any]] | None:
        found = [sfn.describe_execution(executionArn=arn) for arn in arns]
        return found if all(item["status"] != "RUNNING" for item in found) else None

    result: list[dict[str, Any]] = stack.wait_for(all_ended, timeout=300, interval=0.05)
    return result


def test_three_callers_get_the_completed_jobs_final_state(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=300, profile=JobProfile(queue_delay=60, duration=600))
    machine = caller_machine(stack, "caller-waits")
    callers = start_callers(stack, machine, job_id, 3)  # at one simulated moment: the test holds the clock
    outcomes = ended(stack, callers)
    truth = stack.zoho.job_truth(job_id)
    assert [item["status"] for item in outcomes] == ["SUCCEEDED"] * 3
    for item in outcomes:
        output = json.loads(item["output"])
        assert (output["job_id"], output["status"]) == (job_id, "COMPLETED")
        assert output["counts"] == {
            "total": truth["Total_Count"],
            "updated": truth["Updated_Count"],
            "failed": truth["Failed_Count"],
            "not_updated": truth["Not_Updated_Count"],
        }
        assert output["finished_at"]
    # One watch for the three, one finished event, and nobody left waiting on the job.
    assert len([item for item in stack.executions() if job_id in item["name"]]) == 1
    assert [event["detail"]["job_id"] for event in stack.events() if event["detail-type"] == FINISHED].count(
        job_id
    ) == 1
    assert (stack.job_state("Leads", job_id) or {}).get("waiters") == {}


def test_a_failed_job_fails_the_caller_with_its_counts(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    profile = JobProfile(queue_delay=0, duration=300, final_status="FAILED", fail_at=0.5)
    job_id = stack.zoho.create_job("Leads", total=200, profile=profile)
    [caller] = start_callers(stack, caller_machine(stack, "caller-waits"), job_id, 1)
    [outcome] = ended(stack, [caller])
    # The cause (the counts) is checked in tests/unit/library/test_waiters.py: moto drops a failure's cause.
    assert (outcome["status"], outcome["error"]) == ("FAILED", "MassUpdateFailed")
    assert stack.zoho.job_truth(job_id)["Status"] == "FAILED"


def test_a_caller_after_the_end_is_answered_at_once(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=50, profile=JobProfile(queue_delay=0, duration=30))
    reply = requests.put(f"{stack.api_url}/jobs/Leads/{job_id}/watch", json={}, timeout=REQUEST_LIMIT_SECONDS)
    assert reply.status_code == 202
    stack.wait_for(lambda: (stack.job_state("Leads", job_id) or {}).get("status") == "COMPLETED", timeout=120)
    checks = sum(stack.zoho.counters["calls"]["status"].values())
    stack.clock.freeze()  # no simulated time passes: the answer does not wait for a check
    [caller] = start_callers(stack, caller_machine(stack, "caller-waits"), job_id, 1)
    [outcome] = ended(stack, [caller])
    assert outcome["status"] == "SUCCEEDED" and json.loads(outcome["output"])["status"] == "COMPLETED"
    assert sum(stack.zoho.counters["calls"]["status"].values()) == checks  # answered from the record


def test_a_deadline_ends_the_wait_with_deadline_exceeded(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=50, profile=JobProfile(queue_delay=0, duration=36000))
    deadline = stack.clock.now() + 900
    payload = {"deadline": datetime.fromtimestamp(deadline, UTC).isoformat().replace("+00:00", "Z")}
    [caller] = start_callers(stack, caller_machine(stack, "caller-deadline", **payload), job_id, 1)
    [outcome] = ended(stack, [caller])
    assert (outcome["status"], outcome["error"]) == ("FAILED", "DeadlineExceeded")
    assert stack.zoho.job_truth(job_id)["Status"] == "RUNNING"


def test_a_bad_request_fails_the_caller_at_once(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    [caller] = start_callers(stack, caller_machine(stack, "caller-bad", mode="sometimes"), "123", 1)
    [outcome] = ended(stack, [caller])
    assert (outcome["status"], outcome["error"]) == ("FAILED", "InvalidInput")
    assert stack.job_state("Leads", "123") is None


def test_a_caller_with_heartbeats_is_kept_alive_through_a_long_job(embedded_stack: EmbeddedStack) -> None:
    # The caller's task times out after 300 s without a heartbeat (HeartbeatSeconds, on the stack's clock);
    # the policy alone would wait up to 15 minutes between two checks of this two-hour job.
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=3000, profile=JobProfile(queue_delay=60, duration=7200))
    beating = caller_machine(stack, "caller-heartbeats", heartbeat_seconds=300, heartbeat_task=300)
    silent = caller_machine(stack, "caller-no-heartbeats", heartbeat_task=300)
    [kept, lost] = ended(
        stack, start_callers(stack, beating, job_id, 1) + start_callers(stack, silent, job_id, 1)
    )
    assert kept["status"] == "SUCCEEDED", kept
    assert json.loads(kept["output"])["status"] == "COMPLETED"
    # moto 5.2.5 names a heartbeat time-out States.Timeout (AWS: States.HeartbeatTimeout); it came after the
    # task's 300 simulated seconds without a heartbeat.
    assert (lost["status"], lost.get("error")) == ("FAILED", "States.Timeout")
    assert 300 <= (lost["stopDate"] - lost["startDate"]).total_seconds() < 400
