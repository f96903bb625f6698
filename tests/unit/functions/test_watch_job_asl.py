"""The real watch_job.asl.json executed by moto's Step Functions engine, with a scripted CheckJob task.

The handler is replaced by a script of answers (or errors) so each path of the state machine is driven
quickly; the handler itself is tested in test_check_job.py. Waits are 0 seconds and no retry is triggered, so
nothing sleeps.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn

from tests.unit.functions.conftest import REPO_ROOT

REGION = "us-east-1"
MACHINE = "zoho-watch-test-watch-job"
MACHINE_ARN = f"arn:aws:states:{REGION}:123456789012:stateMachine:{MACHINE}"
# A watch's settings, as every generation's input carries them.
SETTINGS = {
    "connection": "default",
    "module": "Leads",
    "job_id": "554023000000506003",
    "kind": "mass_update",  # the loop state always names the kind (zoho_watch.loop.loop_settings)
    "poll": {"min_seconds": 5, "max_seconds": 300},
    "deadline": "2030-01-01T00:00:00Z",
    "generation": 0,
    "max_polls": 1000,
    "resumes": 0,
}
# zoho-watch's own first start (zoho_watch.watches) carries a start_request: the start gate lets it through.
JOB = {**SETTINGS, "start_request": "5f0c4b7e2d8a4c1e9b3a6d2f1e0c9b8a"}
# What a caller's own start of the watch state machine gives it: what a user would try.
DIRECT = {"connection": "default", "module": "Leads", "job_id": "554023000000506003"}
Step = Callable[[dict[str, Any]], Any]


class TaskError(Exception):
    """A scripted handler error: Lambda reports `error_type` as the errorType."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def answer(status: str, **fields: Any) -> Step:
    """A scripted check_job answer: the loop state plus a job state in `status`."""

    def step(payload: dict[str, Any]) -> dict[str, Any]:
        terminal = status in ("COMPLETED", "FAILED")
        return {
            **payload["input"],
            "status": status,
            "terminal": terminal,
            "counts": {"total": 10, "updated": 7, "failed": 3, "not_updated": 0},
            "next_check_in": 0,
            "polls": payload["input"].get("polls", 0) + 1,
            "deadline_passed": False,
            "continue_as_new": False,
            **fields,
        }

    return step


def fails(error_type: str, message: str) -> Step:
    def step(payload: dict[str, Any]) -> Any:
        raise TaskError(error_type, message)

    return step


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[dict[str, Any], list[dict]]]]:
    """Run the state machine on a script; returns (describe_execution of g0, payloads CheckJob received)."""
    script: list[Step] = []
    payloads: list[dict[str, Any]] = []

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else event
        payloads.append(payload)
        try:
            return json.dumps(script.pop(0)(payload)), False, ""
        except TaskError as error:
            return json.dumps({"errorType": error.error_type, "errorMessage": str(error)}), True, ""

    # moto 5.2.5 hands the Task's Parameters (StateMachineArn, Name, Input) to boto3 unchanged, whose
    # StartExecution wants stateMachineArn, name, input: rename them as AWS's integration does.
    original = state_task_service_sfn.StateTaskServiceSfn._normalise_parameters

    def normalise(
        self: Any, parameters: dict, boto_service_name: Any = None, service_action_name: Any = None
    ):
        original(self, parameters, boto_service_name, service_action_name)
        if service_action_name is None and self._get_boto_service_action() == "start_execution":
            for key in list(parameters):
                parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
    monkeypatch.setattr(state_task_service_sfn.StateTaskServiceSfn, "_normalise_parameters", normalise)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="watch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "def lambda_handler(event, context): pass\n")
        function = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="check-job", Runtime="python3.13", Role=role, Handler="app.lambda_handler",
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]  # fmt: skip
        definition = (REPO_ROOT / "statemachine" / "watch_job.asl.json").read_text(encoding="utf-8")
        definition = definition.replace("${CheckJobFunctionArn}", function)
        definition = definition.replace("${WatchJobStateMachineArn}", MACHINE_ARN)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        sfn.create_state_machine(name=MACHINE, definition=definition, roleArn=role)

        def run(*steps: Step, watch: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict]]:
            script.extend(steps)
            arn = sfn.start_execution(
                stateMachineArn=MACHINE_ARN,
                name="Leads-554023000000506003-g0",
                input=json.dumps(watch or JOB),
            )["executionArn"]
            described = wait_until_done(sfn, arn)
            # A next generation (if any) runs on its own: wait for every execution.
            for execution in sfn.list_executions(stateMachineArn=MACHINE_ARN)["executions"]:
                wait_until_done(sfn, execution["executionArn"])
            assert script == [], "the state machine stopped before the script ended"
            return described, payloads

        yield run


def wait_until_done(sfn: Any, arn: str) -> dict[str, Any]:
    """The execution once it has ended (the test's time-out stops it if it never does)."""
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.01)
    return described


def test_running_then_completed_succeeds(machine) -> None:
    result, payloads = machine(answer("RUNNING"), answer("COMPLETED"))

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["status"] == "COMPLETED"
    first, second = payloads
    assert first["input"] == JOB
    assert first["execution_id"] == result["executionArn"]
    assert second["input"]["polls"] == 1  # the previous answer is the next input


def test_failed_job_fails_with_mass_update_failed(machine) -> None:
    result, _ = machine(answer("SCHEDULED"), answer("FAILED"))

    assert (result["status"], result["error"]) == ("FAILED", "MassUpdateFailed")
    assert "3 of 10 records failed" in result["cause"]


def test_a_failed_job_of_another_kind_fails_with_job_failed(machine) -> None:
    failed = answer("FAILED", kind="bulk_read", zoho_status="FAILURE")
    result, _ = machine(answer("RUNNING", kind="bulk_read", zoho_status="IN PROGRESS"), failed)

    assert (result["status"], result["error"]) == ("FAILED", "JobFailed")
    assert "Zoho bulk_read job 554023000000506003 on Leads ended FAILURE: 3 of 10" in result["cause"]


def test_passed_deadline_fails_with_deadline_exceeded(machine) -> None:
    result, _ = machine(answer("RUNNING", deadline_passed=True))

    assert (result["status"], result["error"]) == ("FAILED", "DeadlineExceeded")
    assert "still RUNNING" in result["cause"]


@pytest.mark.parametrize("error", ["JobNotFound", "ZohoAuthError", "InvalidInput", "ZohoRequestError"])
def test_permanent_errors_end_in_a_fail_state_named_after_them(machine, error: str) -> None:
    result, _ = machine(answer("RUNNING"), fails(error, f"{error} happened"))

    assert (result["status"], result["error"]) == ("FAILED", error)
    assert f"{error} happened" in result["cause"]


def test_continue_as_new_hands_the_watch_to_the_next_generation(machine) -> None:
    result, payloads = machine(answer("RUNNING", continue_as_new=True), answer("COMPLETED"))

    assert result["status"] == "SUCCEEDED"
    sfn = boto3.client("stepfunctions", region_name=REGION)
    executions = {e["name"]: e for e in sfn.list_executions(stateMachineArn=MACHINE_ARN)["executions"]}
    assert set(executions) == {"Leads-554023000000506003-g0", "Leads-554023000000506003-g1"}
    next_generation = sfn.describe_execution(
        executionArn=executions["Leads-554023000000506003-g1"]["executionArn"]
    )
    assert next_generation["status"] == "SUCCEEDED"
    carried = json.loads(next_generation["input"])
    assert carried == {
        **SETTINGS,
        "generation": 1,
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": result["executionArn"],
    }
    assert payloads[1]["input"] == carried  # a fresh loop state: polls start again


@pytest.mark.parametrize(
    "watch",
    [
        DIRECT,
        SETTINGS,
        # A caller's startExecution.sync names itself as AWS suggests: still not a continue-as-new start.
        {**DIRECT, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:aws:states:us-east-1:1:execution:m:e"},
        {**DIRECT, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:x", "generation": 0},
        {**DIRECT, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:x", "generation": "1"},
        {**DIRECT, "generation": 1},
    ],
    ids=["bare", "no-start-request", "started-by", "generation-0", "generation-text", "no-parent"],
)
def test_a_start_zoho_watch_did_not_make_is_refused_before_any_check(machine, watch: dict[str, Any]) -> None:
    result, payloads = machine(watch=watch)

    assert (result["status"], result["error"]) == ("FAILED", "StartedOutsideZohoWatch")
    assert "PUT /jobs/{module}/{job_id}/watch" in result["cause"]
    assert ".waitForTaskToken" in result["cause"] and "startExecution.sync" in result["cause"]
    assert payloads == []  # CheckJob never ran: nothing asked Zoho, nothing was recorded


@pytest.mark.parametrize(
    "watch",
    [
        # The sweep's resume (zoho_watch.watches.resume_watch) of an ended generation.
        {**DIRECT, "resumes": 1, "start_request": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "generation": 3},
        # A continue-as-new start (StartNextGeneration).
        {**SETTINGS, "generation": 1, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:x"},
    ],
    ids=["resume", "continue-as-new"],
)
def test_the_starts_of_zoho_watch_pass_the_gate(machine, watch: dict[str, Any]) -> None:
    result, payloads = machine(answer("COMPLETED"), watch=watch)

    assert result["status"] == "SUCCEEDED"
    assert [payload["input"] for payload in payloads] == [watch]
