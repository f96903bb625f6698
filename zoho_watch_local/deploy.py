"""Deploy `template.yaml` to the embedded AWS: the template is the only description of the stack.

`deploy(template, aws, runtime)` reads every resource, orders them by their references (Ref, GetAtt, Sub,
DependsOn, SAM Globals), resolves intrinsic functions (`zoho_watch_local.intrinsics`) and creates each one in
moto: DynamoDB tables, secrets, event buses and rules, layers, functions (SAM Globals merged; code registered
with the in-process runtime), state machines (`DefinitionUri` read and `DefinitionSubstitutions` applied),
REST APIs, log groups, queues, topics, IAM roles and alarms. What moto cannot run is collected for the
embedded stack instead: API routes (for `zoho_watch_local.gateway`) and schedules (for
`zoho_watch_local.scheduler`).

IAM is not enforced locally: policies and Lambda permissions are recorded as deployed without effect.
A resource type this module does not know is listed in `Deployment.skipped`; referring to it fails with
a clear error.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoho_watch_local.aws import ACCOUNT_ID, REGION, LocalAws
from zoho_watch_local.intrinsics import Resolver, TemplateError, parameter_values, references
from zoho_watch_local.lambda_runtime import FunctionCode, LambdaRuntime
from zoho_watch_local.template import REPO_ROOT

logger = logging.getLogger(__name__)

IMPLICIT_API = "ServerlessRestApi"  # the API SAM creates for Api events without RestApiId
IMPLICIT_STAGE = "Prod"
_GLOBALS_SECTIONS = {
    "AWS::Serverless::Function": "Function",
    "AWS::Serverless::Api": "Api",
    "AWS::Serverless::StateMachine": "StateMachine",
    "AWS::Serverless::LayerVersion": "LayerVersion",
    "AWS::Serverless::SimpleTable": "SimpleTable",
}
_NOT_ENFORCED = {
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::Lambda::Permission",
    "AWS::Events::EventBusPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
}


@dataclass(frozen=True)
class Route:
    """One API route: method and path template (`/jobs/{module}/{job_id}`) to a function."""

    api: str  # logical id of the API
    method: str  # upper case, or ANY
    path: str
    function_name: str
    auth: str | None = None  # authorizer name (AWS_IAM, NONE...), when the template says


@dataclass(frozen=True)
class Schedule:
    """One schedule of the template: an expression and the function it invokes."""

    name: str
    expression: str  # rate(...) or cron(...)
    function_name: str
    input: str | None  # the event to send, as JSON text; None for the default scheduled event
    enabled: bool
    kind: str  # "rule" (EventBridge rule) or "scheduler" (EventBridge Scheduler)


@dataclass
class DeployedResource:
    """One resource of the template as deployed: its type, its Ref value and its attributes."""

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
    apis: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {id, stage, auth}
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


def merge_globals(globals_section: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge (recursively), lists are appended to, scalars are overridden."""
    merged: dict[str, Any] = dict(globals_section)
    for key, value in properties.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge_globals(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            merged[key] = current + value
        else:
            merged[key] = value
    return merged


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    tags = properties.get("Tags") or []
    if isinstance(tags, dict):  # SAM writes tags as a map
        return [{"Key": str(key), "Value": str(value)} for key, value in tags.items()]
    return [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in tags]


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
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
        if key in p:
            request[key] = p[key]
    if "StreamSpecification" in p:
        request["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
    if p.get("SSESpecification", {}).get("SSEEnabled"):
        request["SSESpecification"] = {"Enabled": True}
    if _tags(p):
        request["Tags"] = _tags(p)
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


class _Deployer:
    def __init__(
        self,
        template: dict[str, Any],
        aws: LocalAws,
        runtime: LambdaRuntime,
        stack_name: str,
        parameters: dict[str, Any] | None,
        template_dir: Path,
    ) -> None:
        self.template = template
        self.aws = aws
        self.runtime = runtime
        self.template_dir = template_dir
        values = parameter_values(template, parameters)
        self.resolver = Resolver(template, stack_name, values)
        self.deployment = Deployment(stack_name=stack_name, parameters=values)
        self.layer_paths: dict[str, Path] = {}  # layer version ARN -> Python root
        self._clients: dict[str, Any] = {}
        self.api_bodies: dict[str, dict[str, Any]] = {}
        self.pending_events: list[tuple[str, str, str, dict[str, Any]]] = []

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    @property
    def stack_name(self) -> str:
        return self.deployment.stack_name

    def generated_name(self, logical_id: str, limit: int = 64) -> str:
        """CloudFormation's name for an unnamed resource, minus the random suffix: local names are stable."""
        return f"{self.stack_name}-{logical_id}"[:limit]

    def properties(self, logical_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        properties = spec.get("Properties") or {}
        section = _GLOBALS_SECTIONS.get(spec.get("Type", ""))
        if section:
            properties = merge_globals((self.template.get("Globals") or {}).get(section) or {}, properties)
        return properties

    def order(self) -> list[str]:
        resources = self.template.get("Resources") or {}
        dependencies: dict[str, set[str]] = {}
        for logical_id, spec in resources.items():
            # A function's events are wired after every resource exists (SAM does the same: an Api event
            # makes no dependency of the function on its API, whose definition may name the function).
            properties = {
                key: value for key, value in self.properties(logical_id, spec).items() if key != "Events"
            }
            found = references(properties)
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
        needs_implicit_api = any(
            event.get("Type") == "Api" and "RestApiId" not in (event.get("Properties") or {})
            for spec in resources.values()
            if spec.get("Type") == "AWS::Serverless::Function"
            for event in ((self.properties("", spec).get("Events")) or {}).values()
        )
        if needs_implicit_api and IMPLICIT_API not in resources:
            self.deploy_api(IMPLICIT_API, {"StageName": IMPLICIT_STAGE}, implicit=True)
        for logical_id in self.order():
            spec = resources[logical_id]
            condition = spec.get("Condition")
            if condition is not None and not self.resolver.condition(condition):
                self.skip(logical_id, f"condition {condition} is false")
                continue
            self.deploy_one(logical_id, spec)
        for logical_id, name, event_id, event in self.pending_events:
            self.deploy_function_event(logical_id, name, event_id, event)
        for name, output in (self.template.get("Outputs") or {}).items():
            condition = output.get("Condition")
            if condition is not None and not self.resolver.condition(condition):
                continue
            try:
                self.deployment.outputs[name] = self.resolver.resolve(output.get("Value"))
            except TemplateError as error:
                self.deployment.outputs[name] = None
                logger.warning("output %s has no local value: %s", name, error)
        return self.deployment

    def skip(self, logical_id: str, reason: str) -> None:
        self.deployment.skipped[logical_id] = reason
        self.resolver.not_deployed[logical_id] = f"{logical_id} is not deployed locally ({reason})"

    def record(self, logical_id: str, resource_type: str, ref: Any, **attributes: Any) -> None:
        self.resolver.add(logical_id, ref, attributes)
        self.deployment.resources[logical_id] = DeployedResource(logical_id, resource_type, ref, attributes)

    def deploy_one(self, logical_id: str, spec: dict[str, Any]) -> None:
        resource_type = spec.get("Type", "")
        properties = self.properties(logical_id, spec)
        handler = {
            "AWS::DynamoDB::Table": self.deploy_table,
            "AWS::SecretsManager::Secret": self.deploy_secret,
            "AWS::Events::EventBus": self.deploy_event_bus,
            "AWS::Events::Rule": self.deploy_rule,
            "AWS::Serverless::LayerVersion": self.deploy_layer,
            "AWS::Lambda::LayerVersion": self.deploy_layer,
            "AWS::Serverless::Function": self.deploy_function,
            "AWS::Serverless::StateMachine": self.deploy_state_machine,
            "AWS::StepFunctions::StateMachine": self.deploy_state_machine,
            "AWS::Serverless::Api": self.deploy_api,
            "AWS::ApiGateway::RestApi": self.deploy_api,
            "AWS::Logs::LogGroup": self.deploy_log_group,
            "AWS::SQS::Queue": self.deploy_queue,
            "AWS::SNS::Topic": self.deploy_topic,
            "AWS::IAM::Role": self.deploy_role,
            "AWS::CloudWatch::Alarm": self.deploy_alarm,
            "AWS::Scheduler::Schedule": self.deploy_scheduler_schedule,
        }.get(resource_type)
        if resource_type in _NOT_ENFORCED:
            self.record(logical_id, resource_type, f"{self.stack_name}-{logical_id}")
            return
        if handler is None:
            self.skip(logical_id, f"type {resource_type} is not supported by the embedded stack")
            logger.warning("not deployed locally: %s (%s)", logical_id, resource_type)
            return
        try:
            handler(logical_id, properties)
        except TemplateError:
            raise
        except Exception as error:
            raise TemplateError(f"cannot deploy {logical_id} ({resource_type}): {error}") from error
        self.deployment.resources[logical_id].type = resource_type

    # --- data and messaging -------------------------------------------------------------------------

    def deploy_table(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        name = p.get("TableName") or self.generated_name(logical_id, 255)
        table = create_table(self.client("dynamodb"), name, p)
        self.record(logical_id, "", name, Arn=table["TableArn"], StreamArn=table.get("LatestStreamArn", ""))

    def deploy_secret(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        name = p.get("Name") or self.generated_name(logical_id, 256)
        request: dict[str, Any] = {"Name": name}
        if "Description" in p:
            request["Description"] = p["Description"]
        if "SecretString" in p:
            request["SecretString"] = p["SecretString"]
        elif "GenerateSecretString" in p:
            generate = p["GenerateSecretString"]
            options = {key: value for key, value in generate.items() if key not in ("SecretStringTemplate",)}
            options.pop("GenerateStringKey", None)
            password = self.client("secretsmanager").get_random_password(**options)["RandomPassword"]
            if "SecretStringTemplate" in generate:
                document = json.loads(generate["SecretStringTemplate"])
                document[generate["GenerateStringKey"]] = password
                request["SecretString"] = json.dumps(document)
            else:
                request["SecretString"] = password
        if _tags(p):
            request["Tags"] = _tags(p)
        arn = self.client("secretsmanager").create_secret(**request)["ARN"]
        self.record(logical_id, "", arn, Id=arn, Name=name)

    def deploy_event_bus(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        name = p["Name"]
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        self.record(logical_id, "", name, Arn=arn, Name=name)

    def deploy_rule(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
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
        delivered = []
        for target in p.get("Targets") or []:
            if ":lambda:" in target["Arn"]:
                if "ScheduleExpression" in p:
                    self.deployment.schedules.append(
                        Schedule(
                            name=name,
                            expression=p["ScheduleExpression"],
                            function_name=target["Arn"].rsplit(":", 1)[-1],
                            input=target.get("Input"),
                            enabled=request["State"] == "ENABLED",
                            kind="rule",
                        )
                    )
                else:
                    logger.warning("rule %s: Lambda targets of event patterns are not invoked locally", name)
                continue
            delivered.append(
                {key: target[key] for key in ("Id", "Arn", "Input", "InputPath") if key in target}
            )
        if delivered:
            events.put_targets(Rule=name, EventBusName=p.get("EventBusName", "default"), Targets=delivered)
        self.record(logical_id, "", name, Arn=arn)

    def deploy_log_group(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        name = p.get("LogGroupName") or self.generated_name(logical_id, 512)
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        self.record(logical_id, "", name, Arn=f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*")

    def deploy_queue(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        name = p.get("QueueName") or self.generated_name(logical_id, 80)
        attributes = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in p.items()
            if key not in ("QueueName", "Tags")
        }
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.record(logical_id, "", url, Arn=arn, QueueName=name, QueueUrl=url)

    def deploy_topic(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        name = p.get("TopicName") or self.generated_name(logical_id, 256)
        arn = self.client("sns").create_topic(Name=name)["TopicArn"]
        self.record(logical_id, "", arn, TopicArn=arn, TopicName=name)

    def deploy_alarm(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        request = {key: value for key, value in p.items() if key not in ("Tags",)}
        request.setdefault("AlarmName", self.generated_name(logical_id, 255))
        self.client("cloudwatch").put_metric_alarm(**request)
        arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{request['AlarmName']}"
        self.record(logical_id, "", request["AlarmName"], Arn=arn)

    # --- IAM (created so ARNs are real; not enforced by moto) --------------------------------------

    def create_role(self, name: str, service: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        return self.client("iam").create_role(RoleName=name[:64], AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]

    def deploy_role(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        name = p.get("RoleName") or self.generated_name(logical_id)
        document = p.get("AssumeRolePolicyDocument") or {}
        iam = self.client("iam")
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=document if isinstance(document, str) else json.dumps(document),
        )["Role"]["Arn"]
        for policy in p.get("Policies") or []:
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        self.record(logical_id, "", name, Arn=arn)

    # --- compute -------------------------------------------------------------------------------------

    def deploy_layer(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        content = p.get("ContentUri") or p.get("Content")
        if not isinstance(content, str):
            raise TemplateError(f"{logical_id}: only a local ContentUri folder can be deployed locally")
        folder = (self.template_dir / content).resolve()
        build_method = str(
            ((self.template.get("Resources") or {}).get(logical_id, {}).get("Metadata") or {}).get(
                "BuildMethod", ""
            )
        )
        # `sam build` with a python BuildMethod puts the folder under python/; otherwise it must have one.
        python_root = folder if build_method.startswith("python") else folder / "python"
        name = p.get("LayerName") or self.generated_name(logical_id, 140)
        request: dict[str, Any] = {"LayerName": name, "Content": {"ZipFile": _zip_folder(folder)}}
        if "CompatibleRuntimes" in p:
            request["CompatibleRuntimes"] = p["CompatibleRuntimes"]
        if "Description" in p:
            request["Description"] = p["Description"]
        arn = self.client("lambda").publish_layer_version(**request)["LayerVersionArn"]
        self.layer_paths[arn] = python_root
        self.record(logical_id, "", arn)

    def deploy_function(self, logical_id: str, raw: dict[str, Any]) -> None:
        events_spec = raw.get("Events") or {}
        p = self.resolver.resolve({key: value for key, value in raw.items() if key != "Events"})
        code_uri = p.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: only a local CodeUri folder can be deployed locally")
        code_dir = (self.template_dir / code_uri).resolve()
        name = p.get("FunctionName") or self.generated_name(logical_id)
        role = p.get("Role") or self.create_role(f"{name}-Role", "lambda.amazonaws.com")
        layers = list(p.get("Layers") or [])
        unknown_layers = [arn for arn in layers if arn not in self.layer_paths]
        if unknown_layers:
            raise TemplateError(
                f"{logical_id}: layers not in this template cannot run locally: {unknown_layers}"
            )
        request: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": p.get("Runtime", "python3.13"),
            "Role": role,
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
        }
        for key in ("Description", "Architectures"):
            if key in p:
                request[key] = p[key]
        if "Tracing" in p:
            request["TracingConfig"] = {"Mode": p["Tracing"]}
        function = self.client("lambda").create_function(**request)
        self.runtime.register(
            name,
            FunctionCode(
                code_dir=code_dir,
                layer_paths=tuple(self.layer_paths[arn] for arn in layers),
                log_group=(p.get("LoggingConfig") or {}).get("LogGroup"),
            ),
        )
        self.record(logical_id, "", name, Arn=function["FunctionArn"])
        self.resolver.add(f"{logical_id}Role", role.rsplit("/", 1)[-1], {"Arn": role})
        for event_id, event in events_spec.items():
            self.pending_events.append((logical_id, name, event_id, event))

    def deploy_function_event(
        self, logical_id: str, function_name: str, event_id: str, event: dict[str, Any]
    ):
        kind = event.get("Type")
        p = self.resolver.resolve(event.get("Properties") or {})
        if kind == "Api":
            api = IMPLICIT_API
            if "RestApiId" in event.get("Properties", {}):
                api = next(iter(references(event["Properties"]["RestApiId"])))
            auth = (
                (p.get("Auth") or {}).get("Authorizer")
                or self.definition_auth(api, p["Path"], p["Method"])
                or self.deployment.apis.get(api, {}).get("auth")
                or None
            )
            self.deployment.routes.append(Route(api, p["Method"].upper(), p["Path"], function_name, auth))
        elif kind in ("Schedule", "ScheduleV2"):
            expression = p.get("Schedule") or p.get("ScheduleExpression")
            enabled = p.get("Enabled", True) is not False and p.get("State", "ENABLED") == "ENABLED"
            name = p.get("Name") or f"{function_name}-{event_id}"[:64]
            if kind == "Schedule":
                self.client("events").put_rule(
                    Name=name, ScheduleExpression=expression, State="ENABLED" if enabled else "DISABLED"
                )
            else:
                self.client("scheduler").create_schedule(
                    Name=name,
                    ScheduleExpression=expression,
                    FlexibleTimeWindow={"Mode": "OFF"},
                    State="ENABLED" if enabled else "DISABLED",
                    Target={
                        "Arn": self.resolver.attributes[logical_id]["Arn"],
                        "RoleArn": self._scheduler_role(),
                    },
                )
            payload = p.get("Input")
            self.deployment.schedules.append(
                Schedule(
                    name=name,
                    expression=expression,
                    function_name=function_name,
                    input=payload if payload is None or isinstance(payload, str) else json.dumps(payload),
                    enabled=enabled,
                    kind="rule" if kind == "Schedule" else "scheduler",
                )
            )
        else:
            logger.warning("%s event %s of type %s is not invoked locally", logical_id, event_id, kind)

    def definition_auth(self, api: str, path: str, method: str) -> str | None:
        """AWS_IAM or API_KEY, from the security of the operation in the API's OpenAPI DefinitionBody."""
        body = self.api_bodies.get(api) or {}
        operation = ((body.get("paths") or {}).get(path) or {}).get(method.lower()) or {}
        schemes = ((body.get("components") or {}).get("securitySchemes")) or (
            body.get("securityDefinitions") or {}
        )
        for requirement in operation.get("security") or body.get("security") or []:
            for scheme_name in requirement:
                scheme = schemes.get(scheme_name) or {}
                if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
                    return "AWS_IAM"
                if scheme.get("in") == "header" and str(scheme.get("name", "")).lower() == "x-api-key":
                    return "API_KEY"
        return None

    def _scheduler_role(self) -> str:
        if "scheduler-role" not in self._clients:
            self._clients["scheduler-role"] = self.create_role(
                f"{self.stack_name}-scheduler", "scheduler.amazonaws.com"
            )
        return self._clients["scheduler-role"]

    def deploy_scheduler_schedule(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve(raw)
        name = p.get("Name") or self.generated_name(logical_id)
        target = p["Target"]
        enabled = p.get("State", "ENABLED") == "ENABLED"
        self.client("scheduler").create_schedule(
            Name=name,
            ScheduleExpression=p["ScheduleExpression"],
            FlexibleTimeWindow=p.get("FlexibleTimeWindow") or {"Mode": "OFF"},
            State="ENABLED" if enabled else "DISABLED",
            Target={"Arn": target["Arn"], "RoleArn": target.get("RoleArn") or self._scheduler_role()},
        )
        if ":lambda:" in target["Arn"]:
            self.deployment.schedules.append(
                Schedule(
                    name,
                    p["ScheduleExpression"],
                    target["Arn"].rsplit(":", 1)[-1],
                    target.get("Input"),
                    enabled,
                    "scheduler",
                )
            )
        self.record(
            logical_id, "", name, Arn=f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{name}"
        )

    def deploy_state_machine(self, logical_id: str, raw: dict[str, Any]) -> None:
        p = self.resolver.resolve({key: value for key, value in raw.items() if key != "Events"})
        definition = self.state_machine_definition(logical_id, p)
        name = p.get("Name") or p.get("StateMachineName") or self.generated_name(logical_id, 80)
        role = p.get("Role") or p.get("RoleArn") or self.create_role(f"{name}-Role", "states.amazonaws.com")
        request: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": role,
            "type": p.get("Type") or p.get("StateMachineType") or "STANDARD",
        }
        arn = self.client("stepfunctions").create_state_machine(**request)["stateMachineArn"]
        self.record(logical_id, "", arn, Arn=arn, Name=name)
        self.resolver.add(f"{logical_id}Role", role.rsplit("/", 1)[-1], {"Arn": role})

    def state_machine_definition(self, logical_id: str, p: dict[str, Any]) -> str:
        """The definition text with `DefinitionSubstitutions` applied (every `${Key}` must have a value)."""
        if "DefinitionUri" in p or "DefinitionS3Location" in p:
            uri = p.get("DefinitionUri", p.get("DefinitionS3Location"))
            if not isinstance(uri, str):
                raise TemplateError(f"{logical_id}: only a local DefinitionUri file can be deployed locally")
            text = (self.template_dir / uri).read_text(encoding="utf-8")
        elif "Definition" in p:
            text = json.dumps(p["Definition"])
        elif "DefinitionString" in p:
            text = p["DefinitionString"]
        else:
            raise TemplateError(f"{logical_id}: a state machine needs a definition")
        for key, value in (p.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", value if isinstance(value, str) else json.dumps(value))
        try:
            json.loads(text)
        except ValueError as error:
            raise TemplateError(
                f"{logical_id}: the definition is not JSON after substitution: {error}"
            ) from None
        return text

    def deploy_api(self, logical_id: str, raw: dict[str, Any], implicit: bool = False) -> None:
        p = raw if implicit else self.resolver.resolve(raw)
        name = p.get("Name") or (self.stack_name if implicit else self.generated_name(logical_id, 1024))
        api_id = self.client("apigateway").create_rest_api(name=name)["id"]
        stage = str(p.get("StageName") or IMPLICIT_STAGE)
        auth = (p.get("Auth") or {}).get("DefaultAuthorizer")
        if isinstance(p.get("DefinitionBody"), dict):
            self.api_bodies[logical_id] = p["DefinitionBody"]
        self.deployment.apis[logical_id] = {"id": api_id, "stage": stage, "auth": auth or ""}
        root = self.client("apigateway").get_resources(restApiId=api_id)["items"][0]["id"]
        self.record(logical_id, "AWS::Serverless::Api", api_id, RootResourceId=root, Stage=stage)
        self.resolver.add(f"{logical_id}Stage", stage, {})


def deploy(
    aws: LocalAws,
    runtime: LambdaRuntime,
    template: dict[str, Any],
    stack_name: str,
    parameters: dict[str, Any] | None = None,
    template_dir: Path = REPO_ROOT,
) -> Deployment:
    """Create every resource of `template` in the embedded AWS (see the module docstring)."""
    return _Deployer(template, aws, runtime, stack_name, parameters, template_dir).run()
