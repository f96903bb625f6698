"""Least privilege: checkov passes on template.yaml, and every IAM grant names only the stack's own resources.

checkov runs offline from its own virtualenv (`.venv-checkov`, see requirements-checkov.txt), with a
`sitecustomize` that refuses every network connection and records the attempt, so the test proves nothing
phones out. Every suppression must carry a written reason.

The IAM part reads both the SAM template (`zoho_watch_local.template.project_template()`) and what
aws-sam-translator makes of it (the roles SAM generates, with its policy templates expanded), and classifies
every resource each statement names. Wildcard resources are allowed only where AWS offers nothing narrower,
listed in `STAR_RESOURCE_EXCEPTIONS` and `MANAGED_POLICY_EXCEPTIONS` with the reason.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.functions.test_stack_structure import STAR_RESOURCE_ACTIONS
from tools.gates import FAKE_ACCOUNT, FAKE_REGION
from zoho_watch_local.sam_transform import transform
from zoho_watch_local.template import REPO_ROOT, TEMPLATE_PATH, project_template

CHECKOV = Path(os.environ.get("CHECKOV", REPO_ROOT / ".venv-checkov" / "bin" / "checkov"))
CHECKOV_CONFIG = REPO_ROOT / ".checkov.yaml"
MIN_REASON = 30  # characters: a reason, not a placeholder

# Statements with Resource "*", by role and the exact actions, and why nothing narrower exists.
STAR_RESOURCE_EXCEPTIONS: dict[tuple[str, frozenset[str]], str] = {
    (
        "WatchJobStateMachineRole",
        STAR_RESOURCE_ACTIONS,
    ): "CloudWatch Logs delivery for Step Functions: these actions have no resource-level permissions, "
    "AWS documents Resource '*' for them (Step Functions logging to CloudWatch Logs).",
    **{
        (
            role,
            frozenset({"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}),
        ): "Answering a caller's waiting task, or telling it the job still runs (a task token from the "
        "caller's own state machine, which "
        "the stack cannot name): Step Functions identifies the task by its token alone."
        for role in (
            "CheckJobFunctionRole",
            "ApiFunctionRole",
            "SweepFunctionRole",
            "WatchRequestFunctionRole",
        )
    },
}
# AWS managed policies the roles may carry (SAM attaches them), and why.
MANAGED_POLICY_EXCEPTIONS: dict[str, str] = {
    "AWSLambdaSQSQueueExecutionRole": "SAM attaches it to a function reading an SQS queue (the watch "
    "requests): sqs:ReceiveMessage, DeleteMessage and GetQueueAttributes, which its event source mapping "
    "needs.",
    "AWSLambdaBasicExecutionRole": "SAM attaches it to every function role: logs:CreateLogGroup, "
    "CreateLogStream and PutLogEvents, which Lambda needs to write the function's own logs.",
}
# Which of the stack's resources each role may name: its job and nothing more.
CHECKER_KINDS = {"table", "table-index", "secrets-read", "token-secret-write", "bus"}
ALLOWED_KINDS: dict[str, set[str]] = {
    "CheckJobFunctionRole": CHECKER_KINDS,
    # The API starts and stops watches; the sweep resumes those whose execution ended before their job.
    "ApiFunctionRole": CHECKER_KINDS | {"state-machine", "executions"},
    "SweepFunctionRole": CHECKER_KINDS | {"state-machine", "executions"},
    # A caller's task starts a watch through it, as through the API.
    "WatchRequestFunctionRole": CHECKER_KINDS | {"state-machine", "executions", "dead-letter-queue"},
    "WatchJobStateMachineRole": {"check-function", "state-machine"},
}


def arn(service: str, rest: str) -> str:
    """An ARN of this account and region, as the template writes it."""
    return f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{rest}"


STATE_MACHINE_NAME = "${AWS::StackName}-watch-job"
RESOURCE_KINDS: dict[str, str] = {
    arn("dynamodb", "table/<JobsTable>"): "table",
    arn("dynamodb", "table/<JobsTable>/index/*"): "table-index",
    arn("secretsmanager", "secret:${SecretPrefix}/*"): "secrets-read",
    arn("secretsmanager", "secret:${SecretPrefix}/*/access-token-??????"): ("token-secret-write"),
    arn("events", "event-bus/<EventBus>"): "bus",
    arn("states", f"stateMachine:{STATE_MACHINE_NAME}"): "state-machine",
    arn("states", f"execution:{STATE_MACHINE_NAME}:*"): "executions",
    arn("lambda", "function:<CheckJobFunction>*"): "check-function",
    arn("sqs", "<WatchRequestDeadLetterQueue.QueueName>"): "dead-letter-queue",
}
# Which actions each kind of resource may be granted.
ACTIONS_BY_KIND: dict[str, set[str]] = {
    "table": {
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    },
    "secrets-read": {"secretsmanager:GetSecretValue"},
    "token-secret-write": {"secretsmanager:PutSecretValue"},
    "bus": {"events:PutEvents"},
    "state-machine": {"states:StartExecution"},
    "executions": {"states:StopExecution", "states:DescribeExecution"},
    "check-function": {"lambda:InvokeFunction"},
    "dead-letter-queue": {"sqs:SendMessage*"},
}
ACTIONS_BY_KIND["table-index"] = ACTIONS_BY_KIND["table"]


# ---- rendering CloudFormation expressions to comparable text ----------------------------------------------


def render(value: Any, resources: dict[str, Any], variables: dict[str, str] | None = None) -> str:
    """An ARN expression as text: `Ref X` is `<X>`, `GetAtt X.Attr` is `<X.Attr>`, parameters stay `${P}`.

    The state machine's Name renders as its `Name` expression, so both ways of naming it compare equal.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"${{{argument}}}" if argument not in resources else f"<{argument}>"
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            if (logical_id, attribute) == ("WatchJobStateMachine", "Name"):
                return render(resources[logical_id]["Properties"]["Name"], resources)
            return f"<{logical_id}.{attribute}>"
        if function == "Fn::Sub":
            text, extra = (argument, {}) if isinstance(argument, str) else argument
            names = {**(variables or {}), **{k: render(v, resources) for k, v in extra.items()}}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in names:
                    return names[name]
                if name == "WatchJobStateMachine.Name":
                    return render(resources["WatchJobStateMachine"]["Properties"]["Name"], resources)
                root = name.split(".", 1)[0]
                return f"<{name}>" if root in resources else match.group(0)

            return re.sub(r"\$\{([A-Za-z0-9_.:]+)\}", substitute, text)
    raise AssertionError(f"unexpected expression in a policy: {json.dumps(value)[:200]}")


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one value or a list, as a list."""
    return value if isinstance(value, list) else [value]


def transformed_template(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """What CloudFormation receives: the SAM transform applied offline (as `tools.gates` does)."""
    source = template if template is not None else project_template()
    return transform(source, TEMPLATE_PATH.parent, region=FAKE_REGION, account_id=FAKE_ACCOUNT).template


def privilege_problems(template: dict[str, Any] | None = None) -> list[str]:
    """Every grant of the transformed template that names something other than the stack's own resources."""
    sam_resources = (template if template is not None else project_template())["Resources"]
    output = transformed_template(template)["Resources"]
    problems: list[str] = []
    roles = {name: res for name, res in output.items() if res["Type"] == "AWS::IAM::Role"}
    if set(roles) != set(ALLOWED_KINDS):
        problems.append(f"roles are {sorted(roles)}, expected {sorted(ALLOWED_KINDS)}")
    for name, res in output.items():
        if res["Type"] in (
            "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy",
            "AWS::IAM::User",
            "AWS::IAM::Group",
        ):
            problems.append(f"{name}: a {res['Type']} outside the function and state machine roles")
    for role_name, role in sorted(roles.items()):
        props = role["Properties"]
        for arn in props.get("ManagedPolicyArns", []):
            policy = render(arn, sam_resources).rsplit("/", 1)[-1]
            if policy not in MANAGED_POLICY_EXCEPTIONS:
                problems.append(f"{role_name}: managed policy {policy} is not an accepted exception")
        if "PermissionsBoundary" in props:
            continue
        for policy in props.get("Policies", []):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                where = f"{role_name}/{policy['PolicyName']}/{statement.get('Sid', '-')}"
                if statement.get("Effect") != "Allow":
                    continue
                if "NotAction" in statement or "NotResource" in statement:
                    problems.append(f"{where}: NotAction/NotResource grants everything else")
                actions = {str(action) for action in as_list(statement.get("Action", []))}
                for action in actions:
                    if action == "*" or action.endswith(":*"):
                        problems.append(f"{where}: wildcard action {action}")
                resources = [render(r, sam_resources) for r in as_list(statement.get("Resource", []))]
                for resource in resources:
                    if resource == "*":
                        if (role_name, frozenset(actions)) not in STAR_RESOURCE_EXCEPTIONS:
                            problems.append(f"{where}: Resource '*' for {sorted(actions)}")
                        continue
                    kind = RESOURCE_KINDS.get(resource)
                    if kind is None:
                        problems.append(f"{where}: {resource} is not one of the stack's own resources")
                        continue
                    if kind not in ALLOWED_KINDS.get(role_name, set()):
                        problems.append(f"{where}: {role_name} must not be granted {kind} ({resource})")
                    extra = actions - ACTIONS_BY_KIND[kind]
                    if extra:
                        problems.append(f"{where}: {sorted(extra)} on {kind} ({resource})")
    return problems


# ---- the template's own least-privilege shape -------------------------------------------------------------


def test_state_machine_name_used_in_policies_is_the_state_machines_own() -> None:
    resources = project_template()["Resources"]
    assert render(resources["WatchJobStateMachine"]["Properties"]["Name"], resources) == STATE_MACHINE_NAME


def test_every_grant_names_only_the_stacks_own_table_secrets_bus_state_machine_and_function() -> None:
    assert privilege_problems() == []


def test_the_state_machines_own_role_trusts_only_step_functions_of_this_account() -> None:
    resources = project_template()["Resources"]
    machine = resources["WatchJobStateMachine"]["Properties"]
    assert machine["Role"] == {"Fn::GetAtt": ["WatchJobStateMachineRole", "Arn"]}
    assert "Policies" not in machine  # its grants are the role's, checked with every other role's above
    [trust] = resources["WatchJobStateMachineRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Effect"], trust["Principal"], trust["Action"]) == (
        "Allow",
        {"Service": "states.amazonaws.com"},
        "sts:AssumeRole",
    )
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_functions_use_no_role_of_their_own_and_only_sam_policy_templates_on_own_resources() -> None:
    resources = project_template()["Resources"]
    allowed_templates = {
        "DynamoDBCrudPolicy": ("TableName", {"Ref": "JobsTable"}),
        "EventBridgePutEventsPolicy": ("EventBusName", {"Ref": "EventBus"}),
        "StepFunctionsExecutionPolicy": ("StateMachineName", None),
        "LambdaInvokePolicy": ("FunctionName", {"Ref": "CheckJobFunction"}),
        "SQSSendMessagePolicy": ("QueueName", {"Fn::GetAtt": ["WatchRequestDeadLetterQueue", "QueueName"]}),
    }
    checked = 0
    for name, res in resources.items():
        if res["Type"] not in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            continue
        props = res["Properties"]
        if name == "WatchJobStateMachine":
            continue  # its own role, for the trust condition SAM cannot write (the test above)
        assert "Role" not in props, f"{name}: an explicit Role bypasses the reviewed Policies"
        for entry in as_list(props.get("Policies", [])):
            assert isinstance(entry, dict), f"{name}: managed policy {entry!r} by name"
            ((template_name, argument),) = entry.items()
            if template_name == "Statement":
                continue
            assert template_name in allowed_templates, f"{name}: policy template {template_name}"
            key, expected = allowed_templates[template_name]
            assert set(argument) == {key}, f"{name}: {template_name} arguments {argument}"
            if expected is not None:
                assert argument[key] == expected, f"{name}: {template_name} on {argument[key]}"
            else:
                assert render(argument[key], resources) == STATE_MACHINE_NAME, f"{name}: {template_name}"
            checked += 1
    assert checked >= 7  # three functions with table and bus, the API with executions


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, "wildcard action s3:*"),
        ({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}, "Resource '*'"),
        (
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:*:*:secret:*"},
            },
            "is not one of the stack's own resources",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "secretsmanager:PutSecretValue",
                "Resource": {
                    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:"
                    "secret:${SecretPrefix}/*"
                },
            },
            "['secretsmanager:PutSecretValue'] on secrets-read",
        ),
        (
            {
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": {
                    "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
                    "stateMachine:${AWS::StackName}-watch-job"
                },
            },
            "must not be granted state-machine",
        ),
    ],
)
def test_the_check_catches_a_planted_excess_grant(statement: dict[str, Any], expected: str) -> None:
    template = copy.deepcopy(project_template())
    policies = template["Resources"]["CheckJobFunction"]["Properties"]["Policies"]
    policies.append({"Statement": [statement]})
    problems = privilege_problems(template)
    assert any(expected in problem for problem in problems), problems


# ---- checkov ----------------------------------------------------------------------------------------------

NETWORK_GUARD = """
import os
import socket


def _refuse(*args, **kwargs):
    with open(os.environ["NETWORK_ATTEMPTS_LOG"], "a", encoding="utf-8") as log:
        log.write(repr(args[1:] or args)[:200] + "\\n")
    raise OSError("network access refused by tests/reliability/test_least_privilege.py")


socket.socket.connect = lambda self, address: _refuse(self, address)
socket.socket.connect_ex = lambda self, address: _refuse(self, address)
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
"""


def skip_check_reasons(config_text: str) -> dict[str, str]:
    """`skip-check` ids of .checkov.yaml and the comment written on each one's line ('' if none)."""
    config = yaml.safe_load(config_text) or {}
    reasons = {}
    for check_id in config.get("skip-check") or []:
        match = re.search(rf"^\s*-\s*{re.escape(check_id)}\s*(?:#\s*(.*))?$", config_text, re.M)
        reasons[check_id] = (match.group(1) or "").strip() if match else ""
    return reasons


def template_skip_reasons() -> dict[tuple[str, str], str]:
    """(resource, check id) -> comment, for every `Metadata: checkov: skip:` entry of template.yaml."""
    reasons = {}
    for name, res in project_template()["Resources"].items():
        for entry in ((res.get("Metadata") or {}).get("checkov") or {}).get("skip") or []:
            reasons[(name, str(entry.get("id")))] = str(entry.get("comment") or "").strip()
    return reasons


def test_every_checkov_suppression_carries_a_reason() -> None:
    suppressions = {
        **{(".checkov.yaml", k): v for k, v in skip_check_reasons(CHECKOV_CONFIG.read_text()).items()},
        **template_skip_reasons(),
    }
    assert suppressions, "no suppressions found: if none are needed, delete this test's expectations"
    short = {key: reason for key, reason in suppressions.items() if len(reason) < MIN_REASON}
    assert short == {}, "each suppression needs a written reason"


def test_the_reason_check_sees_a_skip_without_a_comment() -> None:
    text = "skip-check:\n  - CKV_AWS_1  # a reason that is long enough to count\n  - CKV_AWS_2\n"
    assert skip_check_reasons(text) == {"CKV_AWS_1": "a reason that is long enough to count", "CKV_AWS_2": ""}


def test_checkov_passes_on_the_template_offline(tmp_path: Path) -> None:
    assert CHECKOV.exists(), (
        f"checkov not found at {CHECKOV}: make .venv-checkov/.installed-stamp installs it"
    )
    (tmp_path / "sitecustomize.py").write_text(NETWORK_GUARD, encoding="utf-8")
    attempts = tmp_path / "network-attempts.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(tmp_path),
        "NETWORK_ATTEMPTS_LOG": str(attempts),
        "BC_SKIP_MAPPING": "TRUE",  # no mapping of checks to guidelines: that would be a download
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",  # else it asks PyPI for a newer checkov once an hour
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(CHECKOV_CONFIG), "--output", "json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert not attempts.exists(), f"checkov tried the network: {attempts.read_text()}"
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [], result.stdout[-3000:]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 10
    assert summary["resource_count"] >= 15  # it really read the whole template
    for skipped in report["results"].get("skipped_checks", []):
        assert len((skipped["check_result"].get("suppress_comment") or "").strip()) >= MIN_REASON, skipped
    assert result.returncode == 0, result.stderr[-2000:]
