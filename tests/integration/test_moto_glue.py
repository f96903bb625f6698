"""The glue between moto and the embedded stack, pinned: a moto upgrade that changes it fails here, loudly.

The first tests pin the exact private names and signatures `zoho_watch_local/aws.py` patches or calls; the
others check the behaviour the stack relies on, with throwaway handlers (no template, no zoho_watch library).
"""

from __future__ import annotations

import inspect
import io
import json
import re
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import moto
import pytest
from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as moto_table
from moto.dynamodb.responses import DynamoHandler
from moto.logs.models import LogsBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatEndpoint
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from zoho_watch_local import aws as local_aws
from zoho_watch_local import clock as clock_module
from zoho_watch_local.aws import LocalAws
from zoho_watch_local.clock import VirtualClock
from zoho_watch_local.lambda_runtime import FunctionCode, LambdaRuntime

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UPGRADE_HINT = (
    "moto changed a private part zoho_watch_local/aws.py relies on: re-check the patch before upgrading moto"
)


# --- the pins ---------------------------------------------------------------------------------------------


def test_moto_is_the_pinned_version() -> None:
    pinned = re.search(r"^moto\[server\]==(\S+)$", (REPO / "requirements-dev.txt").read_text(), re.M)
    assert pinned is not None, "requirements-dev.txt must pin moto[server]"
    assert moto.__version__ == local_aws.MOTO_VERSION == pinned.group(1), UPGRADE_HINT


def test_lambda_invoke_goes_through_invoke_lambda_with_a_three_tuple() -> None:
    assert list(inspect.signature(LambdaFunction._invoke_lambda).parameters) == ["self", "event"], (
        UPGRADE_HINT
    )
    source = inspect.getsource(LambdaFunction.invoke)
    assert "res, errored, logs = self._invoke_lambda(event=body)" in source, UPGRADE_HINT
    assert 'response_headers["x-amz-function-error"] = "Handled"' in source, UPGRADE_HINT


def test_logs_backend_methods_used_to_save_function_output() -> None:
    assert list(inspect.signature(LogsBackend.ensure_log_group).parameters) == ["self", "log_group_name"]
    assert list(inspect.signature(LogsBackend.ensure_log_stream).parameters) == [
        "self",
        "log_group_name",
        "log_stream_name",
    ], UPGRADE_HINT
    assert list(inspect.signature(LogsBackend.put_log_events).parameters)[:4] == [
        "self",
        "log_group_name",
        "log_stream_name",
        "log_events",
    ], UPGRADE_HINT
    assert "logs_backend" in inspect.getsource(LambdaFunction), UPGRADE_HINT
    assert 'self.logs_group_name = f"/aws/lambda/{self.function_name}"' in inspect.getsource(LambdaFunction)


def test_wait_and_retry_sleep_where_the_time_scale_is_applied() -> None:
    assert list(inspect.signature(WaitFunction._wait_interval).parameters) == ["self", "env", "wait_seconds"]
    assert "env.program_state_event.wait(wait_seconds)" in inspect.getsource(WaitFunction._wait_interval)
    assert "self._wait_interval(env=env, wait_seconds=w_sec)" in inspect.getsource(WaitFunction._eval_body)
    body = inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert "time.sleep(interval_seconds)" in body, UPGRADE_HINT
    assert local_aws._glue.original_retrier_time in (None, time), UPGRADE_HINT


def test_a_task_token_wait_is_the_callback_endpoints_event_wait() -> None:
    # `_callback_wait_without_hold` lets go of the execution's hold around this wait, and nothing else waits.
    assert list(inspect.signature(CallbackEndpoint.wait).parameters) == ["self", "timeout"]
    assert "self._notify_event.wait(timeout=timeout)" in inspect.getsource(CallbackEndpoint.wait)


def test_a_heartbeat_wait_is_the_heartbeat_endpoints_event_wait() -> None:
    # `_clocked_heartbeat_wait` replaces this real-time wait with one on the stack's clock; `notify` sets the
    # event it reads, and the answers to a token notify the endpoint too.
    assert list(inspect.signature(HeartbeatEndpoint.clear_and_wait).parameters) == ["self"]
    wait = inspect.getsource(local_aws._glue.original_heartbeat_wait or HeartbeatEndpoint.clear_and_wait)
    assert "self._next_heartbeat_event.wait(timeout=self._heartbeat_seconds)" in wait, UPGRADE_HINT
    notify = inspect.getsource(local_aws._glue.original_heartbeat_notify or HeartbeatEndpoint.notify)
    assert "self._next_heartbeat_event.set()" in notify, UPGRADE_HINT
    assert "heartbeat_endpoint.notify()" in inspect.getsource(CallbackEndpoint), UPGRADE_HINT


def test_an_execution_stops_running_only_through_the_environment_endings_that_nudge_the_clock() -> None:
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    assert "isinstance(self._program_state, ProgramRunning)" in inspect.getsource(Environment.is_running)
    # Every assignment of the program state is in __init__ (None), the setter that starts the next state
    # (ProgramRunning), a frame's copy of its parent's, or one of the endings the glue wraps.
    source = inspect.getsource(Environment)
    assignments = re.findall(r"(\w+)\._program_state = (\w+)", source)
    endings = {"ProgramEnded", "ProgramError", "ProgramTimedOut", "ProgramStopped"}
    assert sorted(assignments) == sorted(
        [("self", "None"), ("frame", "copy"), ("self", "ProgramRunning")] + [("self", e) for e in endings]
    ), (assignments, UPGRADE_HINT)
    for name in local_aws.ENVIRONMENT_ENDINGS:
        assert "self._program_state = Program" in inspect.getsource(getattr(Environment, name)), name


def test_executions_run_in_the_worker_thread_the_clock_hold_is_given_to() -> None:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.stepfunctions.parser.asl.component.program import program
    from moto.stepfunctions.parser.backend import execution_worker

    start = inspect.getsource(execution_worker.ExecutionWorker.start)
    assert "Thread(target=self._execution_logic, daemon=True)" in start, UPGRADE_HINT
    assert "TMP_THREADS.append(execution_logic_thread)" in start, UPGRADE_HINT
    assert "self._execution_communication.terminated()" in inspect.getsource(
        execution_worker.ExecutionWorker._execution_logic
    ), UPGRADE_HINT
    # The states run in a thread the execution's thread starts: it inherits the hold
    # (zoho_watch_local/thread_context.py).
    assert "threading.Thread(target=super().eval" in inspect.getsource(program.Program.eval), UPGRADE_HINT
    # The server's WSGI app is wrapped so that a request holds the clock.
    assert "self._server = make_server(" in inspect.getsource(ThreadedMotoServer._server_entry), UPGRADE_HINT


def test_executions_are_dated_where_the_simulated_clock_is_applied() -> None:
    from moto.stepfunctions.parser import models as sfn_models
    from moto.stepfunctions.parser.backend import execution as sfn_execution

    start = inspect.getsource(StepFunctionsParserBackend.start_execution)
    assert "start_date=datetime.datetime.now(tz=datetime.timezone.utc)" in start, UPGRADE_HINT
    stop = inspect.getsource(sfn_execution)
    assert "self.execution.stop_date = datetime.datetime.now(tz=datetime.timezone.utc)" in stop, UPGRADE_HINT
    assert (sfn_models, sfn_execution) == local_aws._DATED_MODULES


def test_step_functions_maps_error_type_of_a_lambda_error_payload_to_the_error_name() -> None:
    for source in (
        inspect.getsource(StateTaskServiceLambda._from_error),
        inspect.getsource(
            __import__(
                "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda",
                fromlist=["StateTaskLambda"],
            ).StateTaskLambda._from_error
        ),
    ):
        assert 'error = cause_object["errorType"]' in source, UPGRADE_HINT
    assert 'invocation_response.get("FunctionError")' in inspect.getsource(
        lambda_eval_utils.execute_lambda_function_integration
    ), UPGRADE_HINT


def test_start_execution_integration_parameters_are_mapped_with_moto_helpers() -> None:
    normalise = StateTaskServiceSfn._normalise_parameters
    assert list(inspect.signature(normalise).parameters) == [
        "self",
        "parameters",
        "boto_service_name",
        "service_action_name",
    ], UPGRADE_HINT
    assert list(inspect.signature(StateTaskServiceSfn._to_boto_request).parameters) == [
        "self",
        "parameters",
        "structure_shape",
    ], UPGRADE_HINT
    assert callable(StateTaskServiceSfn._get_boto_service_name)


def test_start_execution_and_moto_config_names() -> None:
    parameters = list(inspect.signature(StepFunctionsParserBackend.start_execution).parameters)
    assert parameters[:4] == ["self", "state_machine_arn", "name", "execution_input"], UPGRADE_HINT
    assert "_handle_name_input_idempotency" in inspect.getsource(StepFunctionsParserBackend.start_execution)
    assert "execute_state_machine" in default_user_config["stepfunctions"], UPGRADE_HINT
    # moto's own Step Functions clients find the server through MOTO_PORT.
    assert "moto_server_port()" in inspect.getsource(boto_client.boto_client_for), UPGRADE_HINT


# --- the behaviour ------------------------------------------------------------------------------------------

HANDLER = textwrap.dedent(
    """
    import os
    import threading

    class FlakyError(Exception):
        pass

    class PermanentError(Exception):
        pass

    CALLS = {"n": 0}

    def lambda_handler(event, context):
        if "router_event" in event:
            # Powertools' resolver sets the current event on its class, then routes on it.
            from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
            from tests.integration.test_moto_glue import ROUTER_BARRIER

            BaseRouter.current_event = event["router_event"]
            ROUTER_BARRIER.wait()  # both invocations have set theirs
            return {"router_event": BaseRouter.current_event}
        print("secret-free log line from", context.function_name)
        CALLS["n"] += 1
        if event.get("fail_times", 0) >= CALLS["n"]:
            raise FlakyError(f"failure {CALLS['n']}")
        if event.get("permanent"):
            raise PermanentError("no way")
        seen = {}
        worker = threading.Thread(target=lambda: seen.update(colour=os.environ.get("COLOUR")))
        worker.start()
        worker.join()
        return {
            "colour": os.environ.get("COLOUR"),
            "thread_colour": seen["colour"],
            "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            "remaining_ms": context.get_remaining_time_in_millis(),
            "request_id": context.aws_request_id,
            "calls": CALLS["n"],
            "input": event,
        }
    """
)


@pytest.fixture(scope="module")
def glue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A bare LocalAws + LambdaRuntime with two functions of the throwaway handler (red and blue)."""
    folder = tmp_path_factory.mktemp("handler")
    (folder / "app.py").write_text(HANDLER)
    clock = VirtualClock()
    runtime = LambdaRuntime(clock)
    local = LocalAws(clock, runtime).start()
    lam, iam = local.client("lambda"), local.client("iam")
    role = iam.create_role(RoleName="glue-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", HANDLER)
    arns = {}
    for colour in ("red", "blue"):
        arns[colour] = lam.create_function(
            FunctionName=f"glue-{colour}",
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": archive.getvalue()},
            Timeout=30,
            Environment={"Variables": {"COLOUR": colour}},
        )["FunctionArn"]
        runtime.register(f"glue-{colour}", FunctionCode(code_dir=folder))
    try:
        yield {"aws": local, "runtime": runtime, "role": role, "arns": arns}
    finally:
        local.stop()
        runtime.close()


def _invoke(glue: dict[str, Any], name: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    reply = glue["aws"].client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    return json.loads(reply["Payload"].read()), reply.get("FunctionError")


def test_handler_runs_in_process_with_its_own_environment_and_context(glue: dict[str, Any]) -> None:
    payload, error = _invoke(glue, "glue-red", {"hello": 1})
    assert error is None
    assert payload["colour"] == payload["thread_colour"] == "red"
    assert payload["name"] == "glue-red"
    assert payload["input"] == {"hello": 1}
    assert 0 < payload["remaining_ms"] <= 30_000
    assert re.fullmatch(r"[0-9a-f-]{36}", payload["request_id"])


def test_concurrent_invocations_never_see_each_others_environment(glue: dict[str, Any]) -> None:
    names = ["glue-red", "glue-blue"] * 12
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda name: (name, _invoke(glue, name, {})[0]), names))
    for name, payload in results:
        colour = name.split("-")[1]
        assert (payload["colour"], payload["thread_colour"], payload["name"]) == (colour, colour, name)


# Met by two concurrent invocations of the throwaway handler (it imports this module by name).
ROUTER_BARRIER = threading.Barrier(2, timeout=30)


def test_concurrent_invocations_each_keep_their_own_powertools_state(glue: dict[str, Any]) -> None:
    # Two containers of one function, as in one process: see zoho_watch_local.powertools_scope.
    with ThreadPoolExecutor(max_workers=2) as pool:
        payloads = list(pool.map(lambda name: _invoke(glue, "glue-red", {"router_event": name})[0], "ab"))
    assert payloads == [{"router_event": "a"}, {"router_event": "b"}]


def test_exception_becomes_lambda_error_payload_and_output_goes_to_the_log_group(
    glue: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    payload, error = _invoke(glue, "glue-blue", {"permanent": True})
    assert error == "Handled"
    assert payload["errorType"] == "PermanentError"
    assert payload["errorMessage"] == "no way"
    assert "secret-free log line" not in capsys.readouterr().out  # not on the process' stdout...
    logs = glue["aws"].client("logs")
    messages = [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/glue-blue")["events"]]
    assert any("secret-free log line from glue-blue" in message for message in messages)  # ...but here
    assert any("[ERROR] PermanentError: no way" in message for message in messages)


def _run(
    glue: dict[str, Any], definition: dict[str, Any], name: str, payload: dict[str, Any]
) -> dict[str, Any]:
    sfn = glue["aws"].client("stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=glue["role"])
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], name=f"{name}-1", input=json.dumps(payload)
    )["executionArn"]
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not finish"
        time.sleep(0.02)
    return sfn.describe_execution(executionArn=execution)


def _seconds_run(execution: dict[str, Any]) -> float:
    return (execution["stopDate"] - execution["startDate"]).total_seconds()


def test_retry_and_catch_match_the_exception_class_names_on_the_virtual_clock(glue: dict[str, Any]) -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": glue["arns"]["red"], "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "Retry": [
            {"ErrorEquals": ["FlakyError"], "IntervalSeconds": 600, "MaxAttempts": 5, "BackoffRate": 1}
        ],
        "Catch": [{"ErrorEquals": ["PermanentError"], "ResultPath": "$.error", "Next": "Caught"}],
        "Next": "Pause",
    }
    definition = {
        "StartAt": "Task",
        "States": {
            "Task": task,
            "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "Caught": {"Type": "Fail", "Error": "Caught", "Cause": "permanent"},
        },
    }
    flaky = _run(glue, definition, "glue-retry", {"fail_times": 100_000})  # fails until retries run out
    assert flaky["status"] == "FAILED"
    assert flaky["error"] == "FlakyError"
    assert _seconds_run(flaky) == 5 * 600  # five back-offs, and no time at all for the six invocations
    caught = _run(glue, definition, "glue-catch", {"permanent": True})
    assert (caught["status"], caught["error"]) == ("FAILED", "Caught")
    assert _seconds_run(caught) == 0
    done = _run(glue, definition, "glue-wait", {})
    assert done["status"] == "SUCCEEDED"
    assert _seconds_run(done) == 3600


def test_concurrent_starts_of_one_name_and_input_give_one_execution(glue: dict[str, Any]) -> None:
    sfn = glue["aws"].client("stepfunctions")
    # The test holds the clock while it starts: the execution waits 100 simulated hours, RUNNING all along.
    definition = {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 360_000, "End": True}}}
    machine = sfn.create_state_machine(
        name="glue-once", definition=json.dumps(definition), roleArn=glue["role"]
    )
    barrier = threading.Barrier(20)

    def start(_: int) -> str:
        barrier.wait()
        return sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="once", input="{}")[
            "executionArn"
        ]

    with glue["aws"].clock.busy(), ThreadPoolExecutor(max_workers=20) as pool:
        arns = set(pool.map(start, range(20)))
        assert len(arns) == 1
        assert len(sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]) == 1
        sfn.stop_execution(executionArn=arns.pop())


def test_stopping_an_execution_ends_its_wait_at_once_and_wakes_no_other(
    glue: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock_module, "_BACKSTOP_SECONDS", 3600.0)  # only a nudge can end a Wait early
    sfn = glue["aws"].client("stepfunctions")
    clock = glue["aws"].clock
    definition = {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 360_000, "End": True}}}
    machine = sfn.create_state_machine(
        name="glue-stop", definition=json.dumps(definition), roleArn=glue["role"]
    )["stateMachineArn"]
    looks: list[str] = []
    is_running = local_aws.Environment.is_running

    def counted(env: Any) -> bool:
        looks.append(env.states.context_object.context_object_data["Execution"]["Name"])
        return is_running(env)

    monkeypatch.setattr(local_aws.Environment, "is_running", counted)
    with clock.busy():  # the clock stands still: a Wait can only end early
        before = clock.state()["waiters"]
        arns = [sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"] for name in "ab"]
        deadline = time.monotonic() + 30
        while clock.state()["waiters"] < before + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert clock.state()["waiters"] == before + 2
        looked_before = looks.count("b")
        sfn.stop_execution(executionArn=arns[0])
        while clock.state()["waiters"] > before + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert clock.state()["waiters"] == before + 1  # a's Wait ended
        # moto records the status in the execution's own thread once its program has stopped, a moment after
        # the Wait returns: wait for that thread, not for the clock (which stands still here).
        status = sfn.describe_execution(executionArn=arns[0])["status"]
        while status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.01)
            status = sfn.describe_execution(executionArn=arns[0])["status"]
        assert status == "ABORTED"
        assert sfn.describe_execution(executionArn=arns[1])["status"] == "RUNNING"
        assert looks.count("b") == looked_before  # b's Wait was not woken to look
        sfn.stop_execution(executionArn=arns[1])


def test_dynamodb_item_operations_that_are_made_atomic_exist() -> None:
    for owner, name in local_aws.ATOMIC_DYNAMODB:
        operation = getattr(owner, name, None)
        assert callable(operation), f"{UPGRADE_HINT}: {owner.__name__}.{name}"
        assert next(iter(inspect.signature(operation).parameters)) == "self", UPGRADE_HINT
    # The request handlers read what the backend returns after it returned: why whole requests are atomic.
    assert "copy.deepcopy(self.dynamodb_backend.get_item(" in inspect.getsource(DynamoHandler.update_item), (
        UPGRADE_HINT
    )


def _conditional_claims(dynamodb: Any, table: str, rounds: int = 5, writers: int = 6) -> list[int]:
    """How many of `writers` simultaneous `attribute_not_exists` puts of one new item succeed, per round."""
    winners = []
    for round_number in range(rounds):
        barrier = threading.Barrier(writers)

        def claim(
            writer: int, key: str = f"item-{round_number}", barrier: threading.Barrier = barrier
        ) -> bool:
            barrier.wait()
            try:
                dynamodb.put_item(
                    TableName=table,
                    Item={"pk": {"S": key}, "writer": {"N": str(writer)}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except dynamodb.exceptions.ConditionalCheckFailedException:
                return False
            return True

        with ThreadPoolExecutor(max_workers=writers) as pool:
            winners.append(sum(pool.map(claim, range(writers))))
    return winners


@pytest.fixture
def slow_conditions(glue: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A table, and moto's condition evaluation slowed down: it widens the gap between check and write."""
    original = moto_table.get_filter_expression

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)
        return original(*args, **kwargs)

    monkeypatch.setattr(moto_table, "get_filter_expression", slow)
    dynamodb = glue["aws"].client("dynamodb")
    table = f"glue-atomic-{time.monotonic_ns()}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb, table


def test_moto_alone_lets_concurrent_conditional_writes_through(
    slow_conditions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why the patch exists; if moto ever checks and writes atomically, this fails and the patch can go.
    for (owner, name), operation in (local_aws._glue.original_dynamodb or {}).items():
        monkeypatch.setattr(owner, name, operation)
    assert max(_conditional_claims(*slow_conditions)) > 1


def test_concurrent_conditional_writes_to_one_item_let_exactly_one_through(slow_conditions: Any) -> None:
    assert getattr(DynamoDBBackend.put_item, "__zoho_watch_atomic__", False) is True
    assert _conditional_claims(*slow_conditions) == [1] * 5


def test_step_functions_execution_is_on(glue: dict[str, Any]) -> None:
    assert default_user_config["stepfunctions"]["execute_state_machine"] is True


def test_a_state_machine_starts_another_execution_with_the_task_parameter_names(glue: dict[str, Any]) -> None:
    sfn = glue["aws"].client("stepfunctions")
    child = sfn.create_state_machine(
        name="glue-child",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=glue["role"],
    )["stateMachineArn"]
    parent = {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": child, "Name": "child-1", "Input": {"from.$": "$.who"}},
                # As in watch_job.asl.json. (moto 5.2.5 cannot describe an execution whose output holds
                # StartExecution's startDate, a datetime.)
                "ResultPath": None,
                "End": True,
            }
        },
    }
    described = _run(glue, parent, "glue-parent", {"who": "parent"})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    started = sfn.list_executions(stateMachineArn=child)["executions"]
    assert [item["name"] for item in started] == ["child-1"]
    assert json.loads(sfn.describe_execution(executionArn=started[0]["executionArn"])["input"]) == {
        "from": "parent"
    }
