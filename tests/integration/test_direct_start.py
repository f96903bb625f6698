"""A start of the watch state machine that zoho-watch did not make is refused at once; zoho-watch's own pass.

A caller's workflow that runs the watch with `startExecution.sync:2` would see SUCCEEDED at the watch's first
hand-over to its next generation (continue-as-new), while the job still runs. So the watch's first state,
`StartedByZohoWatch?`, lets through only zoho-watch's starts (a `start_request`, or a continue-as-new start:
`AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID` and a generation of 1 or more) and fails any other with
`StartedOutsideZohoWatch` before any check: a workflow waits for a job's end with a task token. The
continue-as-new path through the gate is `test_continue_as_new_follows_the_job_across_generations` in
test_watch_on_embedded_stack.py.

moto 5.2.5 cannot run a `startExecution.sync:2` (or `.sync`) Task to its end: it keeps the StartExecution
reply as boto3 gives it (`executionArn`) where its own `.sync` resolvers read `ExecutionArn`, so the caller's
Task fails with `States.Runtime` right after it started the watch. The caller's test therefore proves what
the caller started: the watch execution, refused. The direct start is the same refusal without the caller.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fake_zoho import JobProfile
from tests.integration.test_watch_on_embedded_stack import watch
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

# Real seconds to wait for an outcome that needs no simulated time: only a hung test's limit.
OUTCOME_LIMIT_SECONDS = 120


def status_calls(stack: EmbeddedStack) -> dict[Any, int]:
    """The emulator's status calls so far, by HTTP status (each check of a job makes one)."""
    return dict(stack.zoho.counters["calls"].get("status", {}))


def execution_arns(stack: EmbeddedStack, machine: str) -> set[str]:
    """The ARNs of a state machine's executions."""
    pages = stack.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=machine)
    return {item["executionArn"] for page in pages for item in page["executions"]}


def ended_or_checked(stack: EmbeddedStack, arn: str, checks: dict[Any, int]) -> dict[str, Any]:
    """Wait until the execution `arn` has ended, or a check reached Zoho (which a refusal must prevent, and
    which ends the wait at once rather than after a whole watch); the execution's description."""
    sfn = stack.client("stepfunctions")
    stack.wait_for(
        lambda: (
            sfn.describe_execution(executionArn=arn)["status"] != "RUNNING" or status_calls(stack) != checks
        ),
        timeout=OUTCOME_LIMIT_SECONDS,
    )
    return sfn.describe_execution(executionArn=arn)


def assert_refused(
    stack: EmbeddedStack, described: dict[str, Any], job_id: str, checks: dict[Any, int]
) -> None:
    """The watch execution `described` was refused before it checked the job, and nothing was recorded."""
    assert status_calls(stack) == checks  # no check of the job: Zoho was never asked
    assert json.loads(described["input"])["job_id"] == job_id
    assert (described["status"], described["error"]) == ("FAILED", "StartedOutsideZohoWatch")
    assert "PUT /jobs/{module}/{job_id}/watch" in described["cause"]
    assert ".waitForTaskToken" in described["cause"] and "startExecution.sync" in described["cause"]
    events = stack.client("stepfunctions").get_execution_history(executionArn=described["executionArn"])
    assert not [event for event in events["events"] if event["type"].startswith("Task")]  # no CheckJob
    assert stack.job_state("Leads", job_id) is None  # nothing written for the job


@pytest.fixture
def caller(embedded_stack: EmbeddedStack) -> Iterator[str]:
    """A user's own state machine beside the stack, waiting for a job the way a user might try: its only
    Task runs the watch with startExecution.sync:2 and the caller's input. Deleted, with its role, after."""
    stack = embedded_stack
    name = f"direct-caller-{uuid.uuid4().hex[:8]}"
    iam, sfn = stack.client("iam"), stack.client("stepfunctions")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {
            "StateMachineArn": stack.outputs["WatchJobStateMachineArn"],
            "Input.$": "$",
            # moto names an execution started without a name "None" (AWS: a UUID): the caller's name instead.
            "Name.$": "$$.Execution.Name",
        },
        "End": True,
    }
    definition = {"StartAt": "WaitForTheJob", "States": {"WaitForTheJob": task}}
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)
    try:
        yield machine["stateMachineArn"]
    finally:
        sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
        iam.delete_role(RoleName=name)


def test_a_direct_start_of_the_watch_state_machine_is_refused_at_once(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=600))
    checks = status_calls(stack)

    started = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.outputs["WatchJobStateMachineArn"],
        name=f"direct-{job_id}",
        input=json.dumps({"connection": "default", "module": "Leads", "job_id": job_id}),
    )

    assert_refused(stack, ended_or_checked(stack, started["executionArn"], checks), job_id, checks)


def test_a_workflow_that_runs_the_watch_with_start_execution_sync_gets_it_refused(
    embedded_stack: EmbeddedStack, caller: str
) -> None:
    stack = embedded_stack
    sfn = stack.client("stepfunctions")
    machine = stack.outputs["WatchJobStateMachineArn"]
    job_id = stack.zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=600))
    checks, watches_before = status_calls(stack), execution_arns(stack, machine)
    calls_before = len(stack.aws_calls.calls())

    started = sfn.start_execution(
        stateMachineArn=caller,
        name=f"wait-for-{job_id}",
        input=json.dumps({"connection": "default", "module": "Leads", "job_id": job_id}),
    )

    described = ended_or_checked(stack, started["executionArn"], checks)
    assert described["status"] == "FAILED"  # not SUCCEEDED while the job runs
    if described["error"] == "States.TaskFailed":  # AWS: the Task fails on the watch's failure
        assert "StartedOutsideZohoWatch" in described["cause"]
    [refused] = execution_arns(stack, machine) - watches_before
    assert_refused(stack, ended_or_checked(stack, refused, checks), job_id, checks)
    # The stack's functions and state machine called nothing meanwhile: the refused watch made no CheckJob
    # invocation. (The caller's own Task calls are its role's business, not the stack's: not recorded.)
    assert stack.aws_calls.calls()[calls_before:] == []


def test_a_watch_through_the_api_passes_the_gate_and_checks_the_job(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=3_600))
    checks = sum(status_calls(stack).values())
    stack.clock.freeze()  # the first check happens at once; the job cannot end meanwhile
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    first = stack.wait_for(
        lambda: (state := stack.job_state("Leads", job_id)) and state.get("checks", 0) >= 1 and state,
        timeout=OUTCOME_LIMIT_SECONDS,
    )
    assert first["status"] == "RUNNING" and first.get("last_error") is None
    assert first["watcher"].endswith(reply.json()["execution_name"])
    assert sum(status_calls(stack).values()) == checks + 1
    sfn = stack.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=reply.json()["execution_arn"])
    assert execution["status"] == "RUNNING"
    assert json.loads(execution["input"])["start_request"]  # zoho-watch's own start
