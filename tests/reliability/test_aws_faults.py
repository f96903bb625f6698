"""AWS faults on the embedded stack: a passing one is retried and loses nothing, a refusal ends the watch with
a clear error on the job, and neither costs a Zoho token refresh.

Faults come from `stack.aws_faults` (zoho_watch_local/aws_faults.py): they answer the functions' AWS calls
and the state machine's Lambda invocations in AWS's place, after which the SDK's own retries and then the
state machine's Retry see them as they would on AWS. Scripts are longer than the SDK's retries (Secrets
Manager: 5 attempts, DynamoDB: 10) so that the library's error handling is reached.
"""

from __future__ import annotations

import json

import pytest
import requests

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS
from tests.integration.test_watch_on_embedded_stack import (
    assert_finished_as,
    failure_names,
    job_events,
    wait_execution_end,
    watch,
)
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

FINISHED = "Mass Update Job Finished"


def job_executions(stack: EmbeddedStack, job_id: str) -> list[str]:
    """The names of the executions that watched the job (earlier tests' executions stay listed)."""
    return [item["name"] for item in stack.executions() if job_id in item["name"]]


@pytest.mark.parametrize(
    ("route", "kinds", "failures"),
    [
        ("secretsmanager", ["throttling"] * 12, {"AwsUnavailable"}),
        ("secretsmanager", ["read_timeout", "connection_error"] * 6, {"AwsUnavailable"}),
        ("dynamodb", ["provisioned_throughput"] * 25, {"AwsUnavailable"}),
        (
            "lambda",
            ["too_many_requests", "internal_error"],
            {"Lambda.TooManyRequestsException", "Lambda.ServiceException"},
        ),
    ],
)
def test_a_passing_aws_fault_is_retried_and_the_job_ends_right(
    embedded_stack: EmbeddedStack, route: str, kinds: list[str], failures: set[str]
) -> None:
    stack = embedded_stack
    refreshes = stack.zoho.counters["token_refreshes"]
    job_id = stack.zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=300))
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    stack.aws_faults.script(kinds, routes=route)  # for the watch's checks (the API meets none)
    if route == "secretsmanager":
        # A check reads the secrets only for a new token: Zoho now refuses the one the functions hold.
        stack.zoho.expire_access_tokens()
        refreshes += 1
    described = wait_execution_end(stack, reply.json()["execution_name"])
    assert described["status"] == "SUCCEEDED"
    assert failures <= set(failure_names(stack, described["executionArn"]))
    # The loop's count of its history, retries included, is the history Step Functions wrote: its last
    # check had no Wait (2 events fewer), then the Succeed state and the execution's end (3 more).
    history = stack.client("stepfunctions").get_execution_history(
        executionArn=described["executionArn"], maxResults=1000
    )["events"]
    assert len(history) == json.loads(described["output"])["history_events"] - 2 + 3
    assert sum(stack.aws_faults.injected()[route].values()) == len(kinds)  # the whole script was met
    # DynamoDB faults may fall between a check's history item and its state (a check already running when
    # the script was set), or between publishing a change and recording it (that change goes out again).
    state = assert_finished_as(stack, "Leads", job_id, "COMPLETED", aws_faults=route == "dynamodb")
    assert state.get("last_error") is None
    assert [event["detail-type"] for event in job_events(stack, job_id)].count(FINISHED) == 1
    assert stack.zoho.counters["token_refreshes"] == refreshes  # none spent on an AWS fault


def test_an_aws_refusal_ends_the_watch_with_a_clear_error_and_no_call_to_zoho(
    embedded_stack: EmbeddedStack,
) -> None:
    stack = embedded_stack
    counters = dict(stack.zoho.counters)
    job_id = stack.zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=300))
    stack.aws_faults.inject("access_denied", share=1.0, routes="secretsmanager")
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    described = wait_execution_end(stack, reply.json()["execution_name"])
    assert described["status"] == "FAILED"
    assert failure_names(stack, described["executionArn"]) == ["AwsRequestError"]  # not retried
    state = stack.job_state("Leads", job_id)
    assert state is not None and "active" not in state  # not left watched
    error = state["last_error"]
    assert (error["error"], error["code"], error["retryable"]) == (
        "AwsRequestError",
        "AWS_REQUEST_FAILED",
        False,
    )
    assert "GetSecretValue" in error["message"] and "AccessDeniedException" in error["message"]
    for counter in ("calls_total", "token_refreshes"):
        assert stack.zoho.counters[counter] == counters[counter]


def test_the_api_answers_503_while_aws_fails_in_passing_and_200_after(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    refreshes = stack.zoho.counters["token_refreshes"]
    job_id = stack.zoho.create_job("Deals", total=50)
    stack.aws_faults.inject("throttling", share=1.0, routes="secretsmanager")
    url = f"{stack.api_url}/jobs/Deals/{job_id}?live=true"
    reply = requests.get(url, timeout=REQUEST_LIMIT_SECONDS)
    assert reply.status_code == 503, reply.text
    assert reply.json()["code"] == "AWS_UNAVAILABLE"
    assert stack.zoho.counters["token_refreshes"] == refreshes
    stack.aws_faults.clear()
    reply = requests.get(url, timeout=REQUEST_LIMIT_SECONDS)
    assert reply.status_code == 200, reply.text
    assert reply.json()["job_id"] == job_id


def test_a_failed_watch_start_says_so_and_a_second_start_watches_once(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=0, duration=120))
    stack.aws_faults.script(["service_unavailable"] * 5, routes="stepfunctions")  # StartExecution's attempts
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 503, reply.text
    assert reply.json()["code"] == "AWS_UNAVAILABLE"
    assert job_executions(stack, job_id) == []
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    assert wait_execution_end(stack, reply.json()["execution_name"])["status"] == "SUCCEEDED"
    assert job_executions(stack, job_id) == [f"Leads-{job_id}-g0"]
    assert_finished_as(stack, "Leads", job_id, "COMPLETED")


def test_a_sweep_run_that_meets_aws_faults_leaves_its_jobs_due_for_the_next(
    embedded_stack: EmbeddedStack,
) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Contacts", total=100, profile=JobProfile(queue_delay=0, duration=30))
    assert watch(stack, "Contacts", job_id, mode="schedule").status_code == 202
    [schedule] = stack.deployment.schedules if stack.deployment else []
    stack.sleep(60)  # the job has ended in Zoho
    stack.aws_faults.inject("throttling", share=1.0, routes="secretsmanager")
    firing = stack.scheduler.fire(schedule.name) if stack.scheduler else None
    assert firing is not None and firing.error is None
    assert firing.payload["errors"] == 1 and firing.payload["checked"] == 0
    state = stack.job_state("Contacts", job_id)
    assert state is not None and state["active"] == "ACTIVE" and state.get("last_error") is None
    stack.aws_faults.clear()
    firing = stack.scheduler.fire(schedule.name) if stack.scheduler else None
    assert firing is not None and firing.payload["finished"] == 1
    assert_finished_as(stack, "Contacts", job_id, "COMPLETED")


def test_only_the_functions_and_the_state_machine_meet_faults(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    stack.aws_faults.inject("throttling", share=1.0, routes=("dynamodb", "secretsmanager"))
    assert stack.table_name() in stack.client("dynamodb").list_tables()["TableNames"]  # the driver's call
    assert stack.aws_faults.injected() == {}
    with pytest.raises(ValueError, match="Lambda invocations fail only with"):
        stack.aws_faults.inject("throttling", share=0.5, routes="lambda")
    with pytest.raises(ValueError, match="unknown fault kind"):
        stack.aws_faults.script(["slow"], routes="dynamodb")
