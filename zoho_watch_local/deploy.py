"""Deploy `template.yaml` to the embedded AWS as CloudFormation deploys it: from the SAM transform's output.

`deploy(aws, runtime, template, ...)` checks the parameter values against the template, runs the SAM transform
offline (`zoho_watch_local.sam_transform`, the same transform `make lint` checks), orders the resulting
CloudFormation resources by their references and `DependsOn`, resolves their intrinsic functions
(`zoho_watch_local.intrinsics`) and creates each one in moto, with CloudFormation's `Ref` and `GetAtt` values.
Function code is registered with the in-process Lambda runtime. What moto cannot run is handed to the embedded
stack: the REST API's routes (read from its OpenAPI body, for `zoho_watch_local.gateway`) and the schedule
rules that target a function (for `zoho_watch_local.scheduler`).

There is one handler per resource type that the transformed template uses. A type without one is refused
before anything is created, naming the type: a template change that adds a type adds its handler here.
IAM is recorded, not enforced (moto does not evaluate policies): roles keep their inline policies, and the
AWS managed policies SAM attaches are listed on the deployed role only.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoho_watch_local.aws import ACCOUNT_ID, REGION, LocalAws
from zoho_watch_local.deploy_monitoring import MonitoringDeployer
from zoho_watch_local.deploy_queues import QueueDeployer
from zoho_watch_local.intrinsics import Resolver, TemplateError, parameter_values, references
from zoho_watch_local.lambda_runtime import FunctionCode, LambdaRuntime
from zoho_watch_local.sam_transform import Transformed, transform
from zoho_watch_local.template import REPO_ROOT

logger = logging.getLogger(__name__)

_LAMBDA_INTEGRATION = "lambda:path/2015-03-31/functions/"
# API Gateway's method settings, as CloudFormation names them, and their stage patch paths.
_METHOD_SETTINGS = {
    "ThrottlingBurstLimit": "throttling/burstLimit",
    "ThrottlingRateLimit": "throttling/rateLimit",
    "MetricsEnabled": "metrics/enabled",
}


@dataclass(frozen=True)
class Route:
    """One API route: method and path template (`/jobs/{module}/{job_id}`) to a function."""

    api: str  # logical id of the REST API
    method: str  # upper case
    path: str
    function_name: str
    auth: str | None = None  # AWS_IAM or API_KEY, from the operation's security in the OpenAPI body


@dataclass(frozen=True)
class Schedule:
    """One EventBridge schedule rule of the template: its expression and the function it invokes."""

    name: str
    expression: str  # rate(...) or cron(...)
    function_name: str
    input: str | None  # the event to send, as JSON text; None for EventBridge's scheduled event
    enabled: bool


@dataclass
class DeployedResource:
    """One resource of the transformed template as deployed: its type, its Ref value and its attributes."""

    logical_id: str
    type: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Deployment:
    """What `deploy` created, and what the gateway and scheduler need."""

    stack_name: str
    parameters: dict[str, Any]
    resources: dict[str, DeployedResource] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    apis: dict[str, dict[str, str]] = field(default_factory=dict)  # REST API logical id -> {id, stage}
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> why it is not deployed

    def ref(self, logical_id: str) -> Any:
        """The Ref value of a deployed resource."""
        try:
            return self.resources[logical_id].ref
        except KeyError:
            raise KeyError(f"resource {logical_id} is not deployed") from None

    def of_type(self, resource_type: str) -> list[DeployedResource]:
        """Deployed resources of one type, in deployment order."""
        return [item for item in self.resources.values() if item.type == resource_type]


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def create_table(dynamodb: Any, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """Create a table from resolved `AWS::DynamoDB::Table` properties (TTL and PITR included).

    Returns the `TableDescription`. The deploy, the in-process test fixture and the benchmarks all build the
    stack's table through this one function, from template.yaml.
    """
    p = properties
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
    }
    for key in (
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "ProvisionedThroughput",
        "Tags",
        "DeletionProtectionEnabled",
    ):
        if key in p:
            request[key] = p[key]
    if "StreamSpecification" in p:
        request["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    if p.get("SSESpecification", {}).get("SSEEnabled"):
        request["SSESpecification"] = {"Enabled": True}
    table = dynamodb.create_table(**request)["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    return table


def _tag_map(properties: dict[str, Any]) -> dict[str, str]:
    return {str(tag["Key"]): str(tag["Value"]) for tag in properties.get("Tags") or []}


def _function_name(arn: str) -> str:
    """The function name in a Lambda function ARN (a version or alias suffix dropped)."""
    return arn.split(":function:", 1)[1].split(":", 1)[0]


def _auth(operation: dict[str, Any], body: dict[str, Any]) -> str | None:
    """AWS_IAM or API_KEY, from the security requirement of one operation of an OpenAPI body."""
    schemes = (body.get("components") or {}).get("securitySchemes") or body.get("securityDefinitions") or {}
    for requirement in operation.get("security") or body.get("security") or []:
        for scheme_name in requirement:
            scheme = schemes.get(scheme_name) or {}
            if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
                return "AWS_IAM"
            if scheme.get("in") == "header" and str(scheme.get("name", "")).lower() == "x-api-key":
                return "API_KEY"
    return None


def api_routes(api: str, body: dict[str, Any]) -> list[Route]:
    """The Lambda proxy routes of a resolved OpenAPI body (`x-amazon-apigateway-integration`)."""
    routes: list[Route] = []
    for path, operations in (body.get("paths") or {}).items():
        for method, operation in operations.items():
            integration = (
                operation.get("x-amazon-apigateway-integration") if isinstance(operation, dict) else None
            )
            if not integration:
                continue
            uri = str(integration.get("uri", ""))
            if integration.get("type") != "aws_proxy" or _LAMBDA_INTEGRATION not in uri:
                raise TemplateError(f"{method.upper()} {path}: only Lambda proxy integrations run locally")
            function_arn = uri.split(_LAMBDA_INTEGRATION, 1)[1].removesuffix("/invocations")
            routes.append(
                Route(api, method.upper(), path, _function_name(function_arn), _auth(operation, body))
            )
    return routes


class _Deployer:
    """Creates the resources of one transformed template, in order (see the module docstring)."""

    def __init__(
        self,
        transformed: Transformed,
        aws: LocalAws,
        runtime: LambdaRuntime,
        stack_name: str,
        parameters: dict[str, Any],
    ) -> None:
        self.template = transformed.template
        self.transformed = transformed
        self.aws = aws
        self.runtime = runtime
        self.resolver = Resolver(self.template, stack_name, parameters)
        self.deployment = Deployment(stack_name=stack_name, parameters=parameters)
        self.layer_paths: dict[str, Path] = {}  # layer version ARN -> Python root
        self._clients: dict[str, Any] = {}
        self.handlers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self.table,
            "AWS::SecretsManager::Secret": self.secret,
            "AWS::Events::EventBus": self.event_bus,
            "AWS::Events::Rule": self.rule,
            "AWS::Logs::LogGroup": self.log_group,
            "AWS::IAM::Role": self.role,
            "AWS::Lambda::LayerVersion": self.layer,
            "AWS::Lambda::Function": self.function,
            "AWS::Lambda::Permission": self.permission,
            "AWS::Lambda::EventInvokeConfig": self.event_invoke_config,
            "AWS::StepFunctions::StateMachine": self.state_machine,
            "AWS::ApiGateway::RestApi": self.rest_api,
            "AWS::ApiGateway::Deployment": self.api_deployment,
            "AWS::ApiGateway::Stage": self.api_stage,
            "AWS::ApiGateway::UsagePlan": self.usage_plan,
            "AWS::ApiGateway::ApiKey": self.api_key,
            "AWS::ApiGateway::UsagePlanKey": self.usage_plan_key,
            **MonitoringDeployer(self.client, self.record, self.generated_name).handlers(),
            **QueueDeployer(self.client, self.record, self.generated_name).handlers(),
        }

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    def generated_name(self, logical_id: str, limit: int = 64) -> str:
        """CloudFormation's name for an unnamed resource, minus the random suffix: local names are stable."""
        return f"{self.deployment.stack_name}-{logical_id}"[:limit]

    def order(self) -> list[str]:
        """The logical ids of the resources to create, each after every resource it refers to."""
        resources = self.template.get("Resources") or {}
        dependencies: dict[str, set[str]] = {}
        for logical_id, spec in resources.items():
            found = references(spec.get("Properties") or {})
            depends_on = spec.get("DependsOn") or []
            found |= set([depends_on] if isinstance(depends_on, str) else depends_on)
            dependencies[logical_id] = {name for name in found if name in resources and name != logical_id}
        ordered: list[str] = []
        visiting: set[str] = set()

        def visit(logical_id: str) -> None:
            if logical_id in ordered:
                return
            if logical_id in visiting:
                raise TemplateError(f"circular dependency through {logical_id}")
            visiting.add(logical_id)
            for dependency in sorted(dependencies[logical_id]):
                visit(dependency)
            visiting.discard(logical_id)
            ordered.append(logical_id)

        for logical_id in resources:
            visit(logical_id)
        return ordered

    def run(self) -> Deployment:
        resources = self.template.get("Resources") or {}
        planned: list[str] = []
        for logical_id in self.order():
            condition = resources[logical_id].get("Condition")
            if condition is not None and not self.resolver.condition(condition):
                self.deployment.skipped[logical_id] = f"condition {condition} is false"
                self.resolver.not_deployed[logical_id] = (
                    f"{logical_id} is not deployed (condition {condition})"
                )
                continue
            planned.append(logical_id)
        unsupported = sorted(
            {str(resources[logical_id].get("Type")) for logical_id in planned} - set(self.handlers)
        )
        if unsupported:
            raise TemplateError(
                f"the embedded stack cannot deploy resource type(s) {', '.join(unsupported)}: "
                "add a handler to zoho_watch_local/deploy.py"
            )
        for logical_id in planned:
            resource_type = resources[logical_id]["Type"]
            try:
                properties = self.resolver.resolve(resources[logical_id].get("Properties") or {})
                self.handlers[resource_type](logical_id, properties)
            except TemplateError:
                raise
            except Exception as error:
                raise TemplateError(f"cannot deploy {logical_id} ({resource_type}): {error}") from error
            self.deployment.resources[logical_id].type = resource_type
        for name, output in (self.template.get("Outputs") or {}).items():
            condition = output.get("Condition")
            if condition is None or self.resolver.condition(condition):
                self.deployment.outputs[name] = self.resolver.resolve(output.get("Value"))
        return self.deployment

    def record(self, logical_id: str, ref: Any, **attributes: Any) -> None:
        """A created resource's Ref value and GetAtt attributes, for the resources that refer to it."""
        self.resolver.add(logical_id, ref, attributes)
        self.deployment.resources[logical_id] = DeployedResource(logical_id, "", ref, attributes)

    # --- data and events ---------------------------------------------------------------------------------

    def table(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("TableName") or self.generated_name(logical_id, 255)
        table = create_table(self.client("dynamodb"), name, p)
        self.record(logical_id, name, Arn=table["TableArn"], StreamArn=table.get("LatestStreamArn", ""))

    def secret(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("Name") or self.generated_name(logical_id, 256)
        request = {key: p[key] for key in ("Description", "SecretString", "KmsKeyId", "Tags") if key in p}
        arn = self.client("secretsmanager").create_secret(Name=name, **request)["ARN"]
        self.record(logical_id, arn, Id=arn)

    def event_bus(self, logical_id: str, p: dict[str, Any]) -> None:
        arn = self.client("events").create_event_bus(Name=p["Name"])["EventBusArn"]
        self.record(logical_id, p["Name"], Arn=arn, Name=p["Name"])

    def rule(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("Name") or self.generated_name(logical_id)
        request: dict[str, Any] = {"Name": name, "State": p.get("State", "ENABLED")}
        for key in ("EventBusName", "ScheduleExpression", "Description"):
            if key in p:
                request[key] = p[key]
        if "EventPattern" in p:
            pattern = p["EventPattern"]
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        events = self.client("events")
        arn = events.put_rule(**request)["RuleArn"]
        targets = [
            {key: target[key] for key in ("Id", "Arn", "Input", "InputPath") if key in target}
            for target in p.get("Targets") or []
        ]
        if targets:
            events.put_targets(Rule=name, EventBusName=p.get("EventBusName", "default"), Targets=targets)
        for target in targets:
            if "ScheduleExpression" in p and ":lambda:" in target["Arn"]:
                self.deployment.schedules.append(
                    Schedule(
                        name=name,
                        expression=p["ScheduleExpression"],
                        function_name=_function_name(target["Arn"]),
                        input=target.get("Input"),
                        enabled=request["State"] == "ENABLED",
                    )
                )
        self.record(logical_id, name, Arn=arn)

    def log_group(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("LogGroupName") or self.generated_name(logical_id, 512)
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        self.record(logical_id, name, Arn=f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*")

    # --- IAM (recorded so that ARNs are real; moto does not enforce it) -------------------------------------

    def role(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("RoleName") or self.generated_name(logical_id)
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]),
            Tags=p.get("Tags") or [],
        )["Role"]
        for policy in p.get("Policies") or []:
            # IAM reads a document without a Version as the 2008 language; moto refuses it, so say 2012.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document)
            )
        # moto holds no AWS managed policy unless it loads them all (slow), so these are listed, not attached.
        managed = list(p.get("ManagedPolicyArns") or [])
        self.record(logical_id, name, Arn=role["Arn"], RoleId=role["RoleId"], ManagedPolicyArns=managed)

    def permission(self, logical_id: str, p: dict[str, Any]) -> None:
        request = {key: p[key] for key in ("Action", "Principal", "SourceArn", "SourceAccount") if key in p}
        self.client("lambda").add_permission(
            FunctionName=p["FunctionName"], StatementId=logical_id, **request
        )
        self.record(logical_id, logical_id)

    # --- compute -------------------------------------------------------------------------------------------

    def layer(self, logical_id: str, p: dict[str, Any]) -> None:
        python_root = self.transformed.artifact(p["Content"])
        request: dict[str, Any] = {
            "LayerName": p["LayerName"],
            "Content": {"ZipFile": _zip_folder(python_root)},
        }
        for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures"):
            if key in p:
                request[key] = p[key]
        arn = self.client("lambda").publish_layer_version(**request)["LayerVersionArn"]
        self.layer_paths[arn] = python_root
        self.record(logical_id, arn)

    def function(self, logical_id: str, p: dict[str, Any]) -> None:
        code_dir = self.transformed.artifact(p["Code"])
        name = p.get("FunctionName") or self.generated_name(logical_id)
        layers = list(p.get("Layers") or [])
        unknown_layers = [arn for arn in layers if arn not in self.layer_paths]
        if unknown_layers:
            raise TemplateError(
                f"{logical_id}: layers not in this template cannot run locally: {unknown_layers}"
            )
        request: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": p["Runtime"],
            "Role": p["Role"],
            "Handler": p["Handler"],
            "Code": {"ZipFile": _zip_folder(code_dir)},
            "Timeout": int(p.get("Timeout", 3)),
            "MemorySize": int(p.get("MemorySize", 128)),
            "Environment": {
                "Variables": {
                    key: str(value)
                    for key, value in ((p.get("Environment") or {}).get("Variables") or {}).items()
                }
            },
            "Layers": layers,
            "Tags": _tag_map(p),
        }
        for key in ("Description", "Architectures", "TracingConfig", "LoggingConfig"):
            if key in p:
                request[key] = p[key]
        function = self.client("lambda").create_function(**request)
        if "ReservedConcurrentExecutions" in p:
            self.client("lambda").put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=int(p["ReservedConcurrentExecutions"])
            )
        self.runtime.register(
            name,
            FunctionCode(
                code_dir=code_dir,
                layer_paths=tuple(self.layer_paths[arn] for arn in layers),
                log_group=(p.get("LoggingConfig") or {}).get("LogGroup"),
            ),
        )
        self.record(logical_id, name, Arn=function["FunctionArn"])

    def event_invoke_config(self, logical_id: str, p: dict[str, Any]) -> None:
        request = {
            key: int(p[key]) for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if key in p
        }
        self.client("lambda").put_function_event_invoke_config(
            FunctionName=p["FunctionName"], Qualifier=p["Qualifier"], **request
        )
        self.record(logical_id, f"{p['FunctionName']}:{p['Qualifier']}")

    def state_machine(self, logical_id: str, p: dict[str, Any]) -> None:
        text = p["DefinitionString"] if "DefinitionString" in p else json.dumps(p["Definition"])
        for key, value in (p.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", value if isinstance(value, str) else json.dumps(value))
        try:
            json.loads(text)
        except ValueError as error:
            raise TemplateError(
                f"{logical_id}: the definition is not JSON after substitution: {error}"
            ) from None
        name = p.get("StateMachineName") or self.generated_name(logical_id, 80)
        request: dict[str, Any] = {
            "name": name,
            "definition": text,
            "roleArn": p["RoleArn"],
            "type": p.get("StateMachineType", "STANDARD"),
            "tags": [{"key": key, "value": value} for key, value in _tag_map(p).items()],
        }
        if "LoggingConfiguration" in p:
            logging_configuration = p["LoggingConfiguration"]
            request["loggingConfiguration"] = {
                "level": logging_configuration.get("Level", "OFF"),
                "includeExecutionData": bool(logging_configuration.get("IncludeExecutionData", False)),
                "destinations": [
                    {"cloudWatchLogsLogGroup": {"logGroupArn": item["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                    for item in logging_configuration.get("Destinations") or []
                ],
            }
        if "TracingConfiguration" in p:
            request["tracingConfiguration"] = {"enabled": bool(p["TracingConfiguration"].get("Enabled"))}
        arn = self.client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
        self.record(logical_id, arn, Arn=arn, Name=name)

    # --- API Gateway ---------------------------------------------------------------------------------------

    def rest_api(self, logical_id: str, p: dict[str, Any]) -> None:
        body = p.get("Body")
        if not isinstance(body, dict):
            raise TemplateError(f"{logical_id}: only an inline OpenAPI Body can be deployed locally")
        name = p.get("Name") or str(body.get("info", {}).get("title") or self.generated_name(logical_id))
        apigateway = self.client("apigateway")
        request: dict[str, Any] = {"name": name}
        if "Description" in p:
            request["description"] = p["Description"]
        if "EndpointConfiguration" in p:
            request["endpointConfiguration"] = {"types": p["EndpointConfiguration"]["Types"]}
        api_id = apigateway.create_rest_api(**request)["id"]
        apigateway.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(body))
        self.deployment.routes += api_routes(logical_id, body)
        root = next(
            item["id"] for item in apigateway.get_resources(restApiId=api_id)["items"] if item["path"] == "/"
        )
        self.record(logical_id, api_id, RootResourceId=root)

    def api_deployment(self, logical_id: str, p: dict[str, Any]) -> None:
        request = {"restApiId": p["RestApiId"], "description": p.get("Description", "")}
        if "StageName" in p:
            request["stageName"] = p["StageName"]
        deployment_id = self.client("apigateway").create_deployment(**request)["id"]
        self.record(logical_id, deployment_id, DeploymentId=deployment_id)

    def api_stage(self, logical_id: str, p: dict[str, Any]) -> None:
        apigateway = self.client("apigateway")
        api_id, stage = p["RestApiId"], p["StageName"]
        apigateway.create_stage(
            restApiId=api_id,
            stageName=stage,
            deploymentId=p["DeploymentId"],
            tracingEnabled=bool(p.get("TracingEnabled", False)),
        )
        patches = []
        for setting in p.get("MethodSettings") or []:
            prefix = f"/{setting['ResourcePath'].replace('/', '~1')}/{setting['HttpMethod']}"
            if setting["ResourcePath"] == "/*":
                prefix = f"/*/{setting['HttpMethod']}"
            unknown = set(setting) - {"ResourcePath", "HttpMethod", *_METHOD_SETTINGS}
            if unknown:
                raise TemplateError(
                    f"{logical_id}: method settings {sorted(unknown)} are not deployed locally"
                )
            patches += [
                {"op": "replace", "path": f"{prefix}/{path}", "value": str(setting[key]).lower()}
                for key, path in _METHOD_SETTINGS.items()
                if key in setting
            ]
        if patches:
            apigateway.update_stage(restApiId=api_id, stageName=stage, patchOperations=patches)
        api = next(item.logical_id for item in self.deployment.resources.values() if item.ref == api_id)
        self.deployment.apis[api] = {"id": api_id, "stage": stage}
        self.record(logical_id, stage)

    def usage_plan(self, logical_id: str, p: dict[str, Any]) -> None:
        request: dict[str, Any] = {"name": p.get("UsagePlanName") or self.generated_name(logical_id)}
        if "Description" in p:
            request["description"] = p["Description"]
        if "ApiStages" in p:
            request["apiStages"] = [
                {"apiId": item["ApiId"], "stage": item["Stage"]} for item in p["ApiStages"]
            ]
        if "Throttle" in p:
            throttle = p["Throttle"]
            request["throttle"] = {
                "burstLimit": int(throttle["BurstLimit"]),
                "rateLimit": float(throttle["RateLimit"]),
            }
        plan_id = self.client("apigateway").create_usage_plan(**request)["id"]
        self.record(logical_id, plan_id, Id=plan_id)

    def api_key(self, logical_id: str, p: dict[str, Any]) -> None:
        key = self.client("apigateway").create_api_key(
            name=p.get("Name") or self.generated_name(logical_id),
            description=p.get("Description", ""),
            enabled=bool(p.get("Enabled", False)),
        )
        self.record(logical_id, key["id"], APIKeyId=key["id"])

    def usage_plan_key(self, logical_id: str, p: dict[str, Any]) -> None:
        self.client("apigateway").create_usage_plan_key(
            usagePlanId=p["UsagePlanId"], keyId=p["KeyId"], keyType=p["KeyType"]
        )
        self.record(logical_id, f"{p['UsagePlanId']}:{p['KeyId']}")


def deploy(
    aws: LocalAws,
    runtime: LambdaRuntime,
    template: dict[str, Any],
    stack_name: str,
    parameters: dict[str, Any] | None = None,
    template_dir: Path = REPO_ROOT,
) -> Deployment:
    """Deploy the SAM `template` (its paths relative to `template_dir`) to the embedded AWS.

    Bad parameter values, a template the SAM transform refuses and a resource type without a handler are
    reported (`TemplateError`, `TransformError`) before anything is created.
    """
    values = parameter_values(template, parameters)
    transformed = transform(template, template_dir, region=REGION, account_id=ACCOUNT_ID, parameters=values)
    return _Deployer(transformed, aws, runtime, stack_name, values).run()
