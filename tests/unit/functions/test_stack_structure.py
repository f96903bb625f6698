"""Structure of the serverless stack: the state machine's shape and the template's functions, IAM, API."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.functions.conftest import (
    EVENTS_DIR,
    FUNCTIONS_DIR,
    REPO_ROOT,
    library_errors,
    load_event,
    load_handler,
)
from zoho_watch_local.template import project_template, resource

ASL_PATH = REPO_ROOT / "statemachine" / "watch_job.asl.json"
FUNCTIONS = {
    "CheckJobFunction": "check_job",
    "ApiFunction": "api",
    "SweepFunction": "sweep",
    "WatchRequestFunction": "watch_request",
}
# Actions AWS documents without resource-level permissions (Step Functions log delivery needs them on "*").
# The least-privilege test allows Resource "*" for exactly these, on the state machine's role.
STAR_RESOURCE_ACTIONS = frozenset(
    {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text(encoding="utf-8"))


def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return asl["States"]


def transitions(state: dict[str, Any]) -> Iterator[str]:
    """Every state name a state can go to."""
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


# ---- state machine ----------------------------------------------------------------------------------------


def test_no_dangling_transition_and_every_state_reachable(asl: dict[str, Any]) -> None:
    names = set(states(asl))
    assert asl["StartAt"] in names
    for name, state in states(asl).items():
        for target in transitions(state):
            assert target in names, f"{name} goes to missing state {target}"
    reached, todo = set(), [asl["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(transitions(states(asl)[name]))
    assert reached == names, f"unreachable: {names - reached}"


def test_the_first_state_refuses_a_start_zoho_watch_did_not_make(asl: dict[str, Any]) -> None:
    gate = states(asl)[asl["StartAt"]]
    assert gate["Type"] == "Choice"
    assert {rule["Next"] for rule in gate["Choices"]} == {"CheckJob"}
    assert not any(asl["StartAt"] in transitions(state) for state in states(asl).values())  # once, at start
    refused = states(asl)[gate["Default"]]
    assert (refused["Type"], refused["Error"]) == ("Fail", "StartedOutsideZohoWatch")
    assert "PUT /jobs/{module}/{job_id}/watch" in refused["Cause"]
    assert ".waitForTaskToken" in refused["Cause"] and "startExecution.sync" in refused["Cause"]
    # A continue-as-new start passes it with what StartNextGeneration writes into the next input.
    carried = states(asl)["StartNextGeneration"]["Parameters"]["Input"]
    assert carried["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] == "$$.Execution.Id"
    assert carried["generation.$"] == "States.MathAdd($.generation, 1)"


def test_jsonpath_only_and_bounded_in_time(asl: dict[str, Any]) -> None:
    assert asl.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert all(state.get("QueryLanguage", "JSONPath") == "JSONPath" for state in states(asl).values())
    assert 0 < asl["TimeoutSeconds"] <= 31_536_000


def test_every_choice_has_a_default(asl: dict[str, Any]) -> None:
    choices = [state for state in states(asl).values() if state["Type"] == "Choice"]
    assert choices
    assert all("Default" in state for state in choices)


def test_every_task_has_retry_and_catch_all(asl: dict[str, Any]) -> None:
    tasks = {name: state for name, state in states(asl).items() if state["Type"] == "Task"}
    assert set(tasks) == {"CheckJob", "StartNextGeneration"}
    for name, task in tasks.items():
        assert task.get("Retry"), name
        assert task.get("Catch"), name
        assert task["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
        for retrier in task["Retry"]:
            assert retrier["BackoffRate"] > 1
            assert retrier["MaxDelaySeconds"] >= retrier["IntervalSeconds"]
            assert retrier["JitterStrategy"] == "FULL"


def test_check_job_retries_transient_zoho_and_lambda_errors_only(asl: dict[str, Any]) -> None:
    check = states(asl)["CheckJob"]
    retried = {error for retrier in check["Retry"] for error in retrier["ErrorEquals"]}
    assert {"ZohoUnavailable", "ZohoRateLimited", "AwsUnavailable"} | LAMBDA_SERVICE_ERRORS <= retried
    assert not retried & {"JobNotFound", "ZohoAuthError", "ZohoRequestError", "InvalidInput", "States.ALL"}
    # The library's own word on it: what it calls retryable is retried, and nothing else of its errors.
    library = library_errors()
    ours = {name for name in retried if "." not in name}  # dotted names are Lambda's and Step Functions'
    assert {kind.__name__ for kind in library if kind.retryable} == ours
    assert check["Resource"] == "arn:aws:states:::lambda:invoke"
    assert check["Parameters"]["FunctionName"] == "${CheckJobFunctionArn}"
    assert check["Parameters"]["Payload"]["execution_id.$"] == "$$.Execution.Id"
    assert check["OutputPath"] == "$.Payload"


def test_outcomes_end_where_they_should(asl: dict[str, Any]) -> None:
    choice = states(asl)[states(asl)["CheckJob"]["Next"]]
    by_status = {c["StringEquals"]: c["Next"] for c in choice["Choices"] if "StringEquals" in c}
    assert states(asl)[by_status["COMPLETED"]]["Type"] == "Succeed"
    # Zoho's FAILED: MassUpdateFailed for a mass update (the rule before), JobFailed for any other kind.
    [mass_update] = [c for c in choice["Choices"] if "And" in c]
    assert mass_update["And"] == [
        {"Variable": "$.status", "StringEquals": "FAILED"},
        {"Variable": "$.kind", "StringEquals": "mass_update"},
    ]
    assert choice["Choices"].index(mass_update) < [c.get("Next") for c in choice["Choices"]].index(
        by_status["FAILED"]
    )
    for target, error in ((mass_update["Next"], "MassUpdateFailed"), (by_status["FAILED"], "JobFailed")):
        assert (states(asl)[target]["Type"], states(asl)[target]["Error"]) == ("Fail", error)
    by_flag = {c["Variable"]: c["Next"] for c in choice["Choices"] if "BooleanEquals" in c}
    assert states(asl)[by_flag["$.deadline_passed"]]["Error"] == "DeadlineExceeded"
    wait = states(asl)[choice["Default"]]
    assert (wait["Type"], wait["SecondsPath"], wait["Next"]) == ("Wait", "$.next_check_in", "CheckJob")
    for state in states(asl).values():
        if state["Type"] == "Fail":
            assert "Error" in state or "ErrorPath" in state
            assert "Cause" in state or "CausePath" in state


def test_continue_as_new_starts_the_next_named_generation(asl: dict[str, Any]) -> None:
    choice = states(asl)[states(asl)["CheckJob"]["Next"]]
    target = next(c["Next"] for c in choice["Choices"] if c.get("Variable") == "$.continue_as_new")
    task = states(asl)[target]
    assert task["Resource"] == "arn:aws:states:::states:startExecution"
    params = task["Parameters"]
    assert params["StateMachineArn"] == "${WatchJobStateMachineArn}"
    assert (
        params["Name.$"] == "States.Format('{}-{}-g{}', $.module, $.job_id, States.MathAdd($.generation, 1))"
    )
    carried = {key.removesuffix(".$") for key in params["Input"]}
    assert {
        "connection",
        "module",
        "job_id",
        "kind",
        "poll",
        "deadline",
        "generation",
        "max_polls",
        "resumes",
    } <= carried
    assert states(asl)[task["Next"]]["Type"] == "Succeed"


# ---- template ---------------------------------------------------------------------------------------


def test_state_machine_resource_wires_every_substitution() -> None:
    machine = resource(project_template(), "WatchJobStateMachine")["Properties"]
    assert machine["DefinitionUri"] == "statemachine/watch_job.asl.json"
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text(encoding="utf-8")))
    assert placeholders == set(machine["DefinitionSubstitutions"])
    # Its own ARN is built from the explicit name (a !Ref would be a circular dependency).
    own_arn = machine["DefinitionSubstitutions"]["WatchJobStateMachineArn"]["Fn::Sub"]
    assert own_arn.endswith(":stateMachine:" + machine["Name"]["Fn::Sub"])
    assert "Tracing" not in machine  # zoho-watch traces nothing (README, Monitoring)
    assert machine["Logging"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["WatchJobStateMachineLogGroup", "Arn"]
    }


@pytest.mark.parametrize(("logical_id", "folder"), FUNCTIONS.items())
def test_functions_are_thin_handlers_on_the_layer_with_their_log_group(logical_id: str, folder: str) -> None:
    template = project_template()
    props = resource(template, logical_id)["Properties"]
    assert props["CodeUri"] == f"functions/{folder}/"
    assert props["Handler"] == "app.lambda_handler"
    assert (FUNCTIONS_DIR / folder / "app.py").is_file()
    assert props["Layers"] == [{"Ref": "ZohoWatchLayer"}]
    group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert resource(template, group)["Type"] == "AWS::Logs::LogGroup"
    assert resource(template, group)["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert callable(load_handler(folder).lambda_handler)


def test_globals_run_python313_without_tracing() -> None:
    function_globals = project_template()["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert "Tracing" not in function_globals  # no X-Ray anywhere, so no half-traced functions
    assert "TracingEnabled" not in resource(project_template(), "ZohoWatchApi")["Properties"]


def statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every inline IAM statement of the template's functions, state machines and roles."""
    for logical_id, res in project_template()["Resources"].items():
        for policy in (res.get("Properties") or {}).get("Policies") or []:
            if isinstance(policy, dict) and "Statement" in policy:
                for statement in policy["Statement"]:
                    yield logical_id, statement
            elif isinstance(policy, dict) and "PolicyDocument" in policy:  # an AWS::IAM::Role's
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Answering a caller's waiting task: the token comes from the caller's own state machine, which the stack
# cannot name, so the functions that answer waiters hold these on "*".
TASK_CALLBACK_ACTIONS = frozenset(
    {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
)


def test_no_statement_grants_star_actions_or_needless_star_resources() -> None:
    found = list(statements())
    assert found
    for logical_id, statement in found:
        actions = as_list(statement["Action"])
        assert all(action != "*" and not action.endswith(":*") for action in actions), (logical_id, actions)
        if "*" in as_list(statement["Resource"]):
            allowed = TASK_CALLBACK_ACTIONS if logical_id in FUNCTIONS else STAR_RESOURCE_ACTIONS
            assert set(actions) <= allowed, (logical_id, statement)


def test_only_the_access_token_secrets_are_writable() -> None:
    writers = [(lid, s) for lid, s in statements() if "secretsmanager:PutSecretValue" in as_list(s["Action"])]
    assert {lid for lid, _ in writers} == set(FUNCTIONS)
    for _, statement in writers:
        assert as_list(statement["Action"]) == ["secretsmanager:PutSecretValue"]
        resource_arn = statement["Resource"]["Fn::Sub"]
        assert resource_arn.endswith(":secret:${SecretPrefix}/*/access-token-??????")
    for logical_id, statement in statements():
        actions = as_list(statement["Action"])
        secret_writes = [
            a for a in actions if a.startswith("secretsmanager:") and a != "secretsmanager:GetSecretValue"
        ]
        assert secret_writes in ([], ["secretsmanager:PutSecretValue"]), (logical_id, actions)


def test_api_routes_match_handler_events_and_samples() -> None:
    template = project_template()
    events = resource(template, "ApiFunction")["Properties"]["Events"]
    routes = {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in events.values()}
    assert all(e["Properties"]["RestApiId"] == {"Ref": "ZohoWatchApi"} for e in events.values())
    body = resource(template, "ZohoWatchApi")["Properties"]["DefinitionBody"]
    defined = {(path, method) for path, methods in body["paths"].items() for method in methods}
    assert routes == defined
    for path, method in defined:
        operation = body["paths"][path][method]
        # IAM unless the ApiAuth parameter asks for API keys.
        assert operation["security"] == {"Fn::If": ["UseApiKey", [{"api_key": []}], [{"sigv4": []}]]}
        assert operation["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    samples = [json.loads(p.read_text()) for p in sorted(EVENTS_DIR.glob("api_*.json"))]
    assert {(s["resource"], s["httpMethod"].lower()) for s in samples} == routes
    assert template["Parameters"]["ApiAuth"]["Default"] == "AWS_IAM"
    # The OpenAPI document the API serves names the same stage and the same two security schemes.
    load_handler("api")  # puts the function's folder on the path, as Lambda does, for its own modules
    api_models = importlib.import_module("api_models")
    assert resource(template, "ZohoWatchApi")["Properties"]["StageName"] == api_models.API_STAGE
    schemes = body["components"]["securitySchemes"]
    assert {name: (s["in"], s["name"]) for name, s in schemes.items()} == {
        name: (s.model_dump(mode="json", by_alias=True)["in"], s.name)
        for name, s in api_models.api_security_schemes().items()
    }


def test_the_sweep_runs_on_the_schedule_parameter_with_its_budget() -> None:
    props = resource(project_template(), "SweepFunction")["Properties"]
    assert props["Events"]["Sweep"]["Type"] == "Schedule"
    assert props["Events"]["Sweep"]["Properties"]["Schedule"] == {"Ref": "SweepSchedule"}
    assert props["Environment"]["Variables"]["SWEEP_CONCURRENCY"] == {"Ref": "SweepConcurrency"}
    # It must end before the next run (the fastest schedule is 1 minute).
    assert props["Timeout"] < 60
    assert load_event("sweep")["detail-type"] == "Scheduled Event"


def test_outputs_name_what_users_need() -> None:
    outputs = project_template()["Outputs"]
    expected = {"ApiUrl", "WatchJobStateMachineArn", "JobsTableName", "CredentialsSecretArn"}
    assert expected | {"AccessTokenSecretArn", "EventBusName"} <= set(outputs)
