"""The embedded deploy creates what CloudFormation would from the SAM transform's output, and refuses early.

One stack with `ApiAuth=API_KEY` and an `AlarmEmail`, so the conditional resources (usage plan, key, the
alarm topic's email subscription) are deployed too. Each
check compares what moto holds with the transformed template (`zoho_watch_local.sam_transform`) or with
template.yaml, never with a copy of either.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from zoho_watch_local.aws import ACCOUNT_ID, REGION
from zoho_watch_local.deploy import api_routes, deploy
from zoho_watch_local.intrinsics import TemplateError
from zoho_watch_local.sam_transform import TransformError, transform
from zoho_watch_local.stack import EmbeddedStack
from zoho_watch_local.template import REPO_ROOT, project_template

pytestmark = pytest.mark.integration

STACK = "zw-deploy"
PARAMETERS = {"ApiAuth": "API_KEY", "AlarmEmail": "ops@example.com"}


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    stack = EmbeddedStack(stack_name=STACK, parameters=PARAMETERS, run_schedules=False).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transform(
        project_template(), REPO_ROOT, region=REGION, account_id=ACCOUNT_ID, parameters=PARAMETERS
    ).template


def test_every_resource_of_the_transformed_template_is_deployed_with_its_type(
    stack: EmbeddedStack, transformed: dict[str, Any]
) -> None:
    assert stack.deployment is not None
    deployed = {_stable(item.logical_id): item.type for item in stack.deployment.resources.values()}
    expected = {_stable(logical_id): spec["Type"] for logical_id, spec in transformed["Resources"].items()}
    assert deployed == expected
    assert stack.deployment.skipped == {}
    # SAM's own resources, which template.yaml does not write: roles, permissions, API deployment and stage.
    assert {
        "CheckJobFunctionRole",
        "WatchJobStateMachineRole",
        "SweepFunctionSweep",
        "ZohoWatchApiv1Stage",
    } <= set(deployed)


def test_functions_carry_the_globals_their_role_and_the_layer(stack: EmbeddedStack) -> None:
    assert stack.deployment is not None
    functions = stack.client("lambda")
    layer_arn = stack.deployment.outputs["LayerArn"]
    assert layer_arn.startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{STACK}-zoho-watch:")
    timeouts = {}
    for logical_id in ("CheckJobFunction", "ApiFunction", "SweepFunction"):
        config = functions.get_function_configuration(FunctionName=stack.deployment.ref(logical_id))
        timeouts[logical_id] = config["Timeout"]
        assert (config["Runtime"], config["Architectures"], config["MemorySize"]) == (
            "python3.13",
            ["arm64"],
            256,
        )
        assert config.get("TracingConfig", {"Mode": "PassThrough"}) == {"Mode": "PassThrough"}  # no X-Ray
        assert [layer["Arn"] for layer in config["Layers"]] == [layer_arn]
        assert config["Role"] == stack.deployment.resources[f"{logical_id}Role"].attributes["Arn"]
        variables = config["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == stack.table_name()
        assert variables["EVENT_BUS_NAME"] == f"{STACK}-events"
        assert variables["POLL_MAX_SECONDS"] == "900"
    assert timeouts == {"CheckJobFunction": 30, "ApiFunction": 28, "SweepFunction": 55}
    sweep = stack.deployment.ref("SweepFunction")
    assert functions.get_function_concurrency(FunctionName=sweep)["ReservedConcurrentExecutions"] == 1
    invoke_config = functions.get_function_event_invoke_config(FunctionName=sweep, Qualifier="$LATEST")
    assert (invoke_config["MaximumRetryAttempts"], invoke_config["MaximumEventAgeInSeconds"]) == (0, 60)
    table = stack.client("dynamodb").describe_table(TableName=stack.table_name())["Table"]
    assert table["DeletionProtectionEnabled"] is True


def test_roles_keep_sams_inline_policies(stack: EmbeddedStack) -> None:
    assert stack.deployment is not None
    role = stack.deployment.resources["CheckJobFunctionRole"]
    iam = stack.client("iam")
    names = iam.list_role_policies(RoleName=role.ref)["PolicyNames"]
    documents = [
        iam.get_role_policy(RoleName=role.ref, PolicyName=name)["PolicyDocument"]["Statement"]
        for name in names
    ]
    actions = {
        action
        for statements in documents
        for statement in statements
        for action in _list(statement["Action"])
    }
    assert {"dynamodb:UpdateItem", "events:PutEvents", "secretsmanager:GetSecretValue"} <= actions
    assert (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        in role.attributes["ManagedPolicyArns"]
    )


def test_the_state_machine_gets_its_substitutions_and_logging_and_no_tracing(stack: EmbeddedStack) -> None:
    assert stack.deployment is not None
    machine = stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.deployment.ref("WatchJobStateMachine")
    )
    assert "${" not in machine["definition"]
    definition = json.loads(machine["definition"])
    check = definition["States"]["CheckJob"]
    assert (
        check["Parameters"]["FunctionName"]
        == stack.deployment.resources["CheckJobFunction"].attributes["Arn"]
    )
    assert machine["name"] == f"{STACK}-watch-job"
    assert machine["loggingConfiguration"]["level"] == "ERROR"
    assert machine["loggingConfiguration"]["destinations"] == [
        {
            "cloudWatchLogsLogGroup": {
                "logGroupArn": stack.deployment.resources["WatchJobStateMachineLogGroup"].attributes["Arn"]
            }
        }
    ]
    assert machine.get("tracingConfiguration", {"enabled": False}) == {"enabled": False}


def test_the_api_routes_are_the_api_functions_events_with_the_chosen_auth(stack: EmbeddedStack) -> None:
    assert stack.deployment is not None
    events = project_template()["Resources"]["ApiFunction"]["Properties"]["Events"]
    expected = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"]) for event in events.values()
    }
    routes = stack.deployment.routes
    assert {(route.method, route.path) for route in routes} == expected
    assert {(route.api, route.function_name, route.auth) for route in routes} == {
        ("ZohoWatchApi", stack.deployment.ref("ApiFunction"), "API_KEY")
    }
    policy = json.loads(
        stack.client("lambda").get_policy(FunctionName=stack.deployment.ref("ApiFunction"))["Policy"]
    )
    assert len(policy["Statement"]) == len(expected)
    assert {statement["Principal"]["Service"] for statement in policy["Statement"]} == {
        "apigateway.amazonaws.com"
    }


def test_the_rest_api_its_stage_usage_plan_and_key_exist_in_api_gateway(stack: EmbeddedStack) -> None:
    assert stack.deployment is not None
    apigateway = stack.client("apigateway")
    api_id = stack.deployment.ref("ZohoWatchApi")
    methods = {
        (method, item["path"])
        for item in apigateway.get_resources(restApiId=api_id)["items"]
        for method in item.get("resourceMethods") or {}
    }
    assert {(route.method, route.path) for route in stack.deployment.routes} == methods
    assert stack.deployment.apis["ZohoWatchApi"] == {"id": api_id, "stage": "v1"}
    assert [item["stageName"] for item in apigateway.get_stages(restApiId=api_id)["item"]] == ["v1"]
    stage = apigateway.get_stage(restApiId=api_id, stageName="v1")
    assert stage.get("tracingEnabled", False) is False
    settings = stage["methodSettings"]["*/*"]
    assert (
        settings["throttlingBurstLimit"],
        settings["throttlingRateLimit"],
        settings["metricsEnabled"],
    ) == (
        50,
        25.0,
        True,
    )
    plan = apigateway.get_usage_plan(usagePlanId=stack.deployment.ref("ApiUsagePlan"))
    assert plan["apiStages"] == [{"apiId": api_id, "stage": "v1"}]
    assert plan["throttle"] == {"burstLimit": 20, "rateLimit": 10.0}
    key_id = stack.deployment.outputs["ApiKeyId"]
    assert apigateway.get_api_key(apiKey=key_id)["enabled"] is True
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    assert [key["id"] for key in keys] == [key_id]


def test_the_sweep_schedule_is_a_rule_targeting_the_sweep_function(stack: EmbeddedStack) -> None:
    assert stack.deployment is not None
    [schedule] = stack.deployment.schedules
    sweep = stack.deployment.ref("SweepFunction")
    assert (schedule.expression, schedule.function_name, schedule.enabled, schedule.input) == (
        "rate(1 minute)",
        sweep,
        True,
        None,
    )
    events = stack.client("events")
    assert events.describe_rule(Name=schedule.name)["ScheduleExpression"] == "rate(1 minute)"
    [target] = events.list_targets_by_rule(Rule=schedule.name)["Targets"]
    assert target["Arn"] == stack.deployment.resources["SweepFunction"].attributes["Arn"]


def test_the_default_auth_is_sigv4_and_only_lambda_proxies_are_routed() -> None:
    body: dict[str, Any] = {
        "components": {"securitySchemes": {"sigv4": {"x-amazon-apigateway-authtype": "awsSigv4"}}},
        "paths": {
            "/jobs": {
                "get": {
                    "security": [{"sigv4": []}],
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                        "arn:aws:lambda:us-east-1:123456789012:function:zw-api/invocations",
                    },
                }
            }
        },
    }
    [route] = api_routes("Api", body)
    assert (route.method, route.path, route.function_name, route.auth) == (
        "GET",
        "/jobs",
        "zw-api",
        "AWS_IAM",
    )
    body["paths"]["/jobs"]["get"]["x-amazon-apigateway-integration"] = {
        "type": "http",
        "uri": "https://example.com",
    }
    with pytest.raises(TemplateError, match="only Lambda proxy integrations"):
        api_routes("Api", body)


# --- refused before anything is created ---------------------------------------------------------------------


def _created(stack: EmbeddedStack) -> dict[str, list[str]]:
    """Names of what a deploy creates first, in the stack's moto."""
    return {
        "tables": stack.client("dynamodb").list_tables()["TableNames"],
        "secrets": [item["Name"] for item in stack.client("secretsmanager").list_secrets()["SecretList"]],
        "roles": [item["RoleName"] for item in stack.client("iam").list_roles()["Roles"]],
        "buses": [item["Name"] for item in stack.client("events").list_event_buses()["EventBuses"]],
    }


def _deploy(stack: EmbeddedStack, template: dict[str, Any], **parameters: Any) -> None:
    assert stack.aws is not None and stack.runtime is not None
    deploy(stack.aws, stack.runtime, template, "zw-refused", parameters)


def test_a_resource_type_without_a_handler_is_refused_by_name_and_nothing_is_created(
    stack: EmbeddedStack,
) -> None:
    template = copy.deepcopy(project_template())
    template["Resources"]["Uploads"] = {"Type": "AWS::S3::Bucket", "Properties": {}}
    before = _created(stack)
    with pytest.raises(TemplateError, match=r"cannot deploy resource type\(s\) AWS::S3::Bucket"):
        _deploy(stack, template)
    assert _created(stack) == before


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"ApiAuth": "COGNITO"}, r"ApiAuth='COGNITO' is not one of"),
        ({"PollMinSeconds": "0"}, r"PollMinSeconds=0 is below its minimum 1"),
        ({"Region": "eu"}, r"unknown template parameter\(s\): Region"),
    ],
)
def test_bad_parameters_are_refused_and_nothing_is_created(
    stack: EmbeddedStack, parameters: dict[str, str], message: str
) -> None:
    before = _created(stack)
    with pytest.raises(TemplateError, match=message):
        _deploy(stack, copy.deepcopy(project_template()), **parameters)
    assert _created(stack) == before


def test_a_template_the_transform_refuses_is_reported_with_its_cause(stack: EmbeddedStack) -> None:
    template = copy.deepcopy(project_template())
    template["Resources"]["SweepFunction"]["Properties"]["Events"]["Sweep"]["Properties"]["Schedule"] = None
    before = _created(stack)
    with pytest.raises(TransformError, match="SweepFunction"):
        _deploy(stack, template)
    assert _created(stack) == before


def _stable(logical_id: str) -> str:
    """A logical id without the hash AlwaysDeploy gives the API's deployment anew on every transform."""
    return re.sub(r"^(ZohoWatchApiDeployment)[0-9a-f]{10}$", r"\1", logical_id)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_alarm_notifies_the_alarm_topic_with_the_email_subscribed(
    stack: EmbeddedStack, transformed: dict[str, Any]
) -> None:
    assert stack.deployment is not None
    topic = stack.deployment.outputs["AlarmTopicArn"]
    subscriptions = stack.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(item["Protocol"], item["Endpoint"]) for item in subscriptions] == [("email", "ops@example.com")]
    names = [item.ref for item in stack.deployment.of_type("AWS::CloudWatch::Alarm")]
    expected = [
        logical_id for logical_id, spec in transformed["Resources"].items() if spec["Type"].endswith("Alarm")
    ]
    assert len(names) == len(expected) >= 13
    cloudwatch = stack.client("cloudwatch")
    alarms = {
        alarm["AlarmName"]: alarm for alarm in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    }
    assert set(alarms) == set(names)
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic], alarm["AlarmName"]
        namespaces = {alarm.get("Namespace")} | {
            query["MetricStat"]["Metric"]["Namespace"]
            for query in alarm.get("Metrics", [])
            if "MetricStat" in query
        }
        assert namespaces - {None} <= {
            f"ZohoWatch/{STACK}",
            "AWS/States",
            "AWS/Lambda",
            "AWS/DynamoDB",
            "AWS/ApiGateway",
        }


def test_the_failed_watches_filter_reads_the_state_machine_log(stack: EmbeddedStack) -> None:
    assert stack.deployment is not None
    group = stack.deployment.ref("WatchJobStateMachineLogGroup")
    [found] = stack.client("logs").describe_metric_filters(logGroupName=group)["metricFilters"]
    assert found["metricTransformations"][0]["metricName"] == "WatchExecutionsFailed"
    assert found["metricTransformations"][0]["metricNamespace"] == f"ZohoWatch/{STACK}"


def test_the_dashboard_is_json_and_shows_every_alarm(stack: EmbeddedStack) -> None:
    assert stack.deployment is not None
    name = stack.deployment.outputs["DashboardName"]
    body = json.loads(stack.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    [alarm_widget] = [widget for widget in body["widgets"] if widget["type"] == "alarm"]
    alarms = {item.attributes["Arn"] for item in stack.deployment.of_type("AWS::CloudWatch::Alarm")}
    assert set(alarm_widget["properties"]["alarms"]) == alarms
    assert "${" not in json.dumps(body)
