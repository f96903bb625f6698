"""template.yaml is safe to update and to run at every value its parameters accept.

Each guarantee is read from template.yaml, samconfig.toml or the SAM transform's output (what CloudFormation
creates), never from a copy of them.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zoho_watch.config import Settings
from zoho_watch.errors import ConfigError

from tests.unit.functions.conftest import REPO_ROOT
from zoho_watch_local.aws import ACCOUNT_ID, REGION
from zoho_watch_local.sam_transform import transform
from zoho_watch_local.scheduler import rate_seconds
from zoho_watch_local.template import project_template, resource

API_GATEWAY_TIMEOUT_SECONDS = 29


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transform(project_template(), REPO_ROOT, region=REGION, account_id=ACCOUNT_ID).template[
        "Resources"
    ]


@pytest.mark.parametrize("logical_id", ["CredentialsSecret", "AccessTokenSecret"])
def test_secrets_hold_no_value_of_the_stack_and_outlive_it(logical_id: str) -> None:
    secret = resource(project_template(), logical_id)
    # A value written by CloudFormation would be written again by an update (the credentials of
    # `zoho-watch connect` lost); the data centre is the DataCentre parameter, read by the functions.
    assert not {"SecretString", "GenerateSecretString"} & set(secret["Properties"])
    assert (secret["DeletionPolicy"], secret["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_jobs_table_is_protected_from_deletion() -> None:
    table = resource(project_template(), "JobsTable")
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_every_samconfig_environment_has_its_own_secret_prefix() -> None:
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    prefixes = {}
    for environment, commands in config.items():
        if not isinstance(commands, dict) or "deploy" not in commands:
            continue
        overrides = commands["deploy"]["parameters"]["parameter_overrides"]
        found = re.search(r'SecretPrefix=\\?"?([^"\s\\]+)', overrides)
        assert found, f"{environment}: no SecretPrefix in {overrides}"
        prefixes[environment] = found.group(1)
    assert len(prefixes) >= 2 and len(set(prefixes.values())) == len(prefixes), prefixes


def test_every_update_reaches_the_live_stage_and_there_is_no_extra_stage(transformed: dict[str, Any]) -> None:
    api = resource(project_template(), "ZohoWatchApi")["Properties"]
    assert api["AlwaysDeploy"] is True
    assert api["OpenApiVersion"].startswith("3.")
    stages = [spec for spec in transformed.values() if spec["Type"] == "AWS::ApiGateway::Stage"]
    assert [stage["Properties"]["StageName"] for stage in stages] == ["v1"]
    [deployment] = [spec for spec in transformed.values() if spec["Type"] == "AWS::ApiGateway::Deployment"]
    assert "StageName" not in deployment["Properties"]  # SAM's unthrottled "Stage" stage


def test_the_api_function_ends_before_api_gateway_gives_up(transformed: dict[str, Any]) -> None:
    assert transformed["ApiFunction"]["Properties"]["Timeout"] < API_GATEWAY_TIMEOUT_SECONDS


def test_two_sweeps_never_overlap(transformed: dict[str, Any]) -> None:
    sweep = transformed["SweepFunction"]["Properties"]
    assert sweep["ReservedConcurrentExecutions"] == 1
    fastest = rate_seconds("rate(1 minute)") or 0  # the fastest SweepSchedule allows (tests below)
    assert SWEEP_PATTERN.fullmatch("rate(1 minute)")
    assert sweep["Timeout"] < fastest
    [invoke_config] = [
        spec["Properties"]
        for spec in transformed.values()
        if spec["Type"] == "AWS::Lambda::EventInvokeConfig"
        and spec["Properties"]["FunctionName"] == {"Ref": "SweepFunction"}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 0  # a failed run is not run again beside the next
    assert invoke_config["MaximumEventAgeInSeconds"] <= fastest  # a run that waited is dropped


# ---- parameters: what they accept deploys and runs --------------------------------------------------------


def _parameters() -> dict[str, dict[str, Any]]:
    return project_template()["Parameters"]


def _environment_of_parameters() -> dict[str, str]:
    """Function environment variable -> the template parameter it is set from (Globals and functions)."""
    template = project_template()
    sections = [template["Globals"]["Function"]] + [
        spec["Properties"]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Serverless::Function"
    ]
    found = {}
    for section in sections:
        for name, value in ((section.get("Environment") or {}).get("Variables") or {}).items():
            if isinstance(value, dict) and value.get("Ref") in _parameters():
                found[name] = value["Ref"]
    return found


def test_every_number_parameter_is_bounded() -> None:
    for name, spec in _parameters().items():
        if spec["Type"] == "Number" and "AllowedValues" not in spec:
            assert "MinValue" in spec and "MaxValue" in spec, name
            assert spec["MinValue"] <= spec["Default"] <= spec["MaxValue"], name


@pytest.mark.parametrize("corner", ["MinValue", "MaxValue", "Default", "low-high", "high-low"])
def test_the_functions_accept_every_corner_of_the_parameters(
    corner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = _environment_of_parameters()
    assert {"POLL_MIN_SECONDS", "POLL_MAX_SECONDS", "STATE_TTL_DAYS", "SWEEP_CONCURRENCY"} <= set(environment)
    for variable, parameter in environment.items():
        spec = _parameters()[parameter]
        if spec["Type"] != "Number":
            value = spec["Default"]
        elif corner in ("MinValue", "MaxValue", "Default"):
            value = spec[corner]
        else:
            # Every parameter at one end and the next at the other: pairs that depend on each other meet.
            low_first = corner == "low-high"
            index = sorted(environment).index(variable)
            value = spec["MinValue"] if (index % 2 == 0) == low_first else spec["MaxValue"]
        monkeypatch.setenv(variable, str(value))
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("EVENT_BUS_NAME", "b")
    try:
        Settings.from_env()
    except ConfigError as error:
        pytest.fail(f"{corner}: the template accepts what the functions refuse: {error}")


def test_the_poll_bounds_accepted_can_never_cross() -> None:
    low, high = _parameters()["PollMinSeconds"], _parameters()["PollMaxSeconds"]
    assert low["MaxValue"] <= high["MinValue"]


SWEEP_PATTERN = re.compile(_parameters()["SweepSchedule"]["AllowedPattern"])


@settings(max_examples=200, deadline=None)
@given(st.from_regex(SWEEP_PATTERN, fullmatch=True))
def test_every_schedule_the_pattern_accepts_is_one_eventbridge_accepts(expression: str) -> None:
    count, unit = re.fullmatch(r"rate\((\d+) (\w+)\)", expression).groups()  # type: ignore[union-attr]
    # EventBridge: a positive whole number, the singular unit for 1 and the plural above.
    assert int(count) >= 1 and not count.startswith("0")
    assert unit.endswith("s") == (int(count) > 1)
    assert rate_seconds(expression) == int(count) * (60 if unit.startswith("minute") else 3600)


@pytest.mark.parametrize(
    "expression", ["rate(1 minutes)", "rate(2 minute)", "rate(0 minutes)", "rate(01 minute)", "rate(5 days)"]
)
def test_schedules_eventbridge_refuses_are_refused_by_the_pattern(expression: str) -> None:
    assert not SWEEP_PATTERN.fullmatch(expression)
