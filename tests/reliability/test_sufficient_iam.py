"""IAM that is sufficient, not only least: every AWS call the functions and the state machine make is one
their deployed role allows (tests/fixtures/iam.py).

Every module on the shared embedded stack is checked when its stack stops (tests/fixtures/stack.py). This
module runs each path once on purpose (a watch through the state machine to its end, the API's reads, a
live check and a stop, a schedule-mode watch and a sweep; hand-overs and resumed watches are the
self-healing module's), shows the calls were recorded, and shows that a policy one grant too narrow is
caught.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests

from fake_zoho import JobProfile
from tests.fixtures.iam import assert_grants_suffice, insufficient_grants, role_statements
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS
from tests.integration.test_watch_on_embedded_stack import wait_execution_end, watch
from zoho_watch_local.aws_calls import STATE_MACHINE
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration


def exercise_every_path(stack: EmbeddedStack) -> None:
    """Each function and the state machine do each of their jobs once."""
    assert stack.deployment is not None and stack.scheduler is not None
    api = stack.api_url
    # A watch through the state machine, to the job's end.
    job_id = stack.zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=0, duration=120))
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    assert wait_execution_end(stack, reply.json()["execution_name"])["status"] == "SUCCEEDED"
    # Through the API: a watch, the reads, a live check, a stop.
    other = stack.zoho.create_job("Deals", total=100, profile=JobProfile(queue_delay=0, duration=3_600))
    assert watch(stack, "Deals", other).status_code == 202
    for path in (
        "/jobs",
        f"/jobs/Deals/{other}",
        f"/jobs/Deals/{other}/history",
        f"/jobs/Deals/{other}?live=true",
    ):
        assert requests.get(api + path, timeout=REQUEST_LIMIT_SECONDS).status_code == 200, path
    assert (
        requests.delete(f"{api}/jobs/Deals/{other}/watch", timeout=REQUEST_LIMIT_SECONDS).status_code == 200
    )
    # A schedule-mode watch and a sweep run (which also looks for watches to resume).
    swept = stack.zoho.create_job("Contacts", total=100, profile=JobProfile(queue_delay=0, duration=30))
    assert watch(stack, "Contacts", swept, mode="schedule").status_code == 202
    stack.sleep(60)
    [schedule] = stack.deployment.schedules
    assert stack.scheduler.fire(schedule.name).payload["finished"] == 1


@pytest.fixture(scope="module")
def exercised(embedded_stack_server: EmbeddedStack) -> EmbeddedStack:
    embedded_stack_server.reset()
    exercise_every_path(embedded_stack_server)
    return embedded_stack_server


def test_every_call_of_every_path_is_granted(exercised: EmbeddedStack) -> None:
    calls = exercised.aws_calls.calls()
    made = {(call.caller, call.action) for call in calls}
    names = (
        {
            logical_id: exercised.deployment.ref(logical_id)
            for logical_id in ("CheckJobFunction", "ApiFunction", "SweepFunction")
        }
        if exercised.deployment
        else {}
    )
    expected = {
        (names["CheckJobFunction"], "dynamodb:PutItem"),
        (names["CheckJobFunction"], "events:PutEvents"),
        (names["ApiFunction"], "states:StartExecution"),
        (names["ApiFunction"], "states:StopExecution"),
        (names["ApiFunction"], "dynamodb:Query"),
        (names["ApiFunction"], "secretsmanager:GetSecretValue"),
        (names["SweepFunction"], "dynamodb:Query"),
        (STATE_MACHINE, "lambda:InvokeFunction"),
    }
    assert expected <= made, sorted(expected - made)
    assert all(call.resources for call in calls)
    assert_grants_suffice(exercised)


def _without(statements: dict[str, list[dict[str, Any]]], caller: str, action: str) -> dict[str, Any]:
    narrowed = copy.deepcopy(statements)
    for statement in narrowed[caller]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [item for item in actions if item != action] or ["none:Nothing"]
    return narrowed


@pytest.mark.parametrize(
    ("caller", "action"),
    [
        ("CheckJobFunction", "dynamodb:UpdateItem"),
        ("ApiFunction", "states:StopExecution"),
        ("SweepFunction", "dynamodb:Query"),
        (STATE_MACHINE, "lambda:InvokeFunction"),
    ],
)
def test_a_policy_one_grant_too_narrow_is_caught(exercised: EmbeddedStack, caller: str, action: str) -> None:
    statements = role_statements(exercised)
    who = (
        caller
        if caller == STATE_MACHINE
        else exercised.deployment.ref(caller)
        if exercised.deployment
        else ""
    )
    assert insufficient_grants(exercised.aws_calls.calls(), statements) == []
    problems = insufficient_grants(exercised.aws_calls.calls(), _without(statements, who, action))
    assert problems and all(f"{who}: {action} on " in problem for problem in problems), problems


def test_a_resource_one_grant_too_narrow_is_caught(exercised: EmbeddedStack) -> None:
    who = exercised.deployment.ref("CheckJobFunction") if exercised.deployment else ""
    statements = copy.deepcopy(role_statements(exercised))
    for statement in statements[who]:
        if statement.get("Sid") == "ReadZohoSecrets":  # the credentials only, not the access token
            statement["Resource"] = statement["Resource"].replace("/*", "/*/credentials-??????")
    problems = insufficient_grants(exercised.aws_calls.calls(), statements)
    assert problems and all("access-token" in problem for problem in problems), problems
