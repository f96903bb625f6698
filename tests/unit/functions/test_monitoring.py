"""The template's monitoring: every alarm notifies the alarm topic, watches metrics the code really emits (in
the stack's own namespace, with the emitting function's service name), and is listed in the README with every
metric; the failed-watch filter counts the right Step Functions log records; AlarmEmail is checked.

Read from template.yaml, the code and README.md, never from a copy of them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.unit.functions.conftest import REPO_ROOT
from zoho_watch_local.template import project_template, resource

NAMESPACE = {"Fn::Sub": "ZohoWatch/${AWS::StackName}"}
CODE = [*REPO_ROOT.glob("layers/zoho_watch/zoho_watch/**/*.py"), *REPO_ROOT.glob("functions/*/app.py")]


def emitted_metrics() -> set[str]:
    """The metric names the layer and the functions add (Powertools' `add_metric`, and the sweep's table)."""
    names: set[str] = set()
    for path in CODE:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'add_metric\(name="(\w+)"', text))
        names |= set(re.findall(r'\("(\w+)", report\.\w+\)', text))
    return names


def alarms() -> dict[str, dict[str, Any]]:
    template = project_template()
    return {
        logical_id: spec["Properties"]
        for logical_id, spec in template["Resources"].items()
        if spec["Type"] == "AWS::CloudWatch::Alarm"
    }


def watched_metrics(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric math."""
    if "MetricName" in properties:
        return [properties]
    return [query["MetricStat"]["Metric"] for query in properties["Metrics"] if "MetricStat" in query]


def service_names() -> set[str]:
    template = project_template()
    return {
        spec["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Serverless::Function"
    }


def readme_monitoring() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Monitoring\n", 1)[1].split("\n## ", 1)[0]


def test_the_code_emits_metrics_in_the_stacks_own_namespace() -> None:
    variables = project_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
    assert {"ZohoChecks", "JobsFinished", "TokenRefreshes", "FinishDetectionLagSeconds"} <= emitted_metrics()


def test_every_alarm_notifies_the_topic_and_stays_quiet_without_data() -> None:
    found = alarms()
    assert len(found) >= 13
    for logical_id, properties in found.items():
        assert properties["AlarmActions"] == properties["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert properties["TreatMissingData"] == "notBreaching", logical_id
        assert properties.get("AlarmDescription"), logical_id


def test_alarms_watch_metrics_that_exist() -> None:
    emitted = emitted_metrics()
    filtered = {
        item["MetricName"]
        for item in resource(project_template(), "WatchExecutionsFailedMetricFilter")["Properties"][
            "MetricTransformations"
        ]
    }
    services = service_names()
    for logical_id, properties in alarms().items():
        for metric in watched_metrics(properties):
            if metric["Namespace"] != NAMESPACE:
                assert metric["Namespace"].startswith("AWS/"), logical_id
                continue
            assert metric["MetricName"] in emitted | filtered, (logical_id, metric["MetricName"])
            dimensions = {item["Name"]: item["Value"] for item in metric.get("Dimensions", [])}
            if metric["MetricName"] in emitted:  # Powertools adds the function's service name
                assert set(dimensions) == {"service"} and dimensions["service"] in services, logical_id


def test_the_readme_lists_every_alarm_and_every_metric() -> None:
    section = readme_monitoring()
    missing_alarms = [logical_id for logical_id in alarms() if f"`{logical_id}`" not in section]
    missing_metrics = [name for name in sorted(emitted_metrics()) if f"`{name}`" not in section]
    assert (missing_alarms, missing_metrics) == ([], [])


def test_the_dashboard_shows_every_alarm_and_the_metrics_that_matter() -> None:
    body = resource(project_template(), "Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    [alarm_widget] = [widget for widget in widgets if widget["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(f"${{{name}.Arn}}" for name in alarms())
    for name in ("ZohoChecks", "TransientErrors", "PermanentErrors", "JobsFinished", "TokenRefreshes"):
        assert f'MetricName=\\"{name}\\"' in body, name
    assert '"FinishDetectionLagSeconds"' in body


# ---- the failed-watch filter -------------------------------------------------------------------------------

_TERM = re.compile(r'\$\.([\w.]+)\s*(=|!=)\s*"([^"]*)"')


def json_filter_matches(pattern: str, record: dict[str, Any]) -> bool:
    """CloudWatch Logs' JSON filter pattern, in the form the template uses: `{ $.a = "x" && $.b != "y" }`."""
    inner = pattern.strip()
    assert inner.startswith("{") and inner.endswith("}"), pattern
    terms = [term.strip() for term in inner[1:-1].split("&&")]
    for term in terms:
        match = _TERM.fullmatch(term)
        assert match is not None, f"not a term this test reads: {term!r}"
        path, operator, value = match.groups()
        found: Any = record
        for part in path.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if (found == value) != (operator == "="):
            return False
    return True


def step_functions_log(event_type: str, error: str | None = None) -> dict[str, Any]:
    """A record of a state machine's CloudWatch log (Step Functions' documented shape)."""
    record: dict[str, Any] = {
        "id": "12",
        "type": event_type,
        "details": {},
        "previous_event_id": "11",
        "event_timestamp": "1800000000000",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:zw-watch-job:Leads-1-g0",
    }
    if error is not None:
        record["details"] = {"error": error, "cause": "..."}
    return record


@pytest.mark.parametrize(
    ("record", "counted"),
    [
        (step_functions_log("ExecutionFailed", "JobNotFound"), True),
        (step_functions_log("ExecutionFailed", "ContinueAsNewFailed"), True),
        (step_functions_log("ExecutionFailed", "States.Runtime"), True),
        (step_functions_log("ExecutionFailed", "MassUpdateFailed"), False),  # Zoho's own FAILED job
        (step_functions_log("ExecutionFailed", "JobFailed"), False),  # another kind's, FAILED by Zoho
        (step_functions_log("TaskFailed", "ZohoUnavailable"), False),  # a retried task
        (step_functions_log("ExecutionAborted"), False),
    ],
)
def test_the_failed_watch_filter_counts_failures_other_than_zohos_own(
    record: dict[str, Any], counted: bool
) -> None:
    pattern = resource(project_template(), "WatchExecutionsFailedMetricFilter")["Properties"]["FilterPattern"]
    assert json_filter_matches(pattern, record) is counted


def test_the_alarm_email_is_optional_and_checked() -> None:
    parameter = project_template()["Parameters"]["AlarmEmail"]
    allowed = re.compile(parameter["AllowedPattern"])
    assert parameter["Default"] == ""
    for good in ("", "ops@example.com", "first.last+zoho@sub.example.co.uk"):
        assert allowed.fullmatch(good), good
    for bad in ("ops", "ops@", "@example.com", "ops@example", "two words@example.com"):
        assert not allowed.fullmatch(bad), bad
    subscription = resource(project_template(), "AlarmEmailSubscription")
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
