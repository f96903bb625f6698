"""The embedded deploy of the template's monitoring: the alarm topic and its email subscription, the log
metric filter, the alarms and the dashboard, created in moto as CloudFormation creates them.

moto keeps them as SNS, CloudWatch Logs and CloudWatch would (names, ARNs, each alarm's metric or metric math
and its actions, the dashboard's body); it evaluates none of them: no alarm changes state, no email is sent.
`zoho_watch_local.deploy` adds these handlers to its own.
"""

from __future__ import annotations

import json
from typing import Any

from zoho_watch_local.aws import ACCOUNT_ID, REGION
from zoho_watch_local.deploy_handlers import Handler, ResourceHandlers

# The properties of AWS::CloudWatch::Alarm that PutMetricAlarm takes under the same name.
_ALARM_PROPERTIES = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
)


class MonitoringDeployer(ResourceHandlers):
    """Creates the monitoring resources of one deployment (see the module docstring)."""

    def handlers(self) -> dict[str, Handler]:
        """The handler of each resource type, by type."""
        return {
            "AWS::SNS::Topic": self.topic,
            "AWS::SNS::Subscription": self.subscription,
            "AWS::Logs::MetricFilter": self.metric_filter,
            "AWS::CloudWatch::Alarm": self.alarm,
            "AWS::CloudWatch::Dashboard": self.dashboard,
        }

    def topic(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("TopicName") or self._generated_name(logical_id, 256)
        attributes = {key: str(p[key]) for key in ("DisplayName", "KmsMasterKeyId") if key in p}
        arn = self._client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self._record(logical_id, arn, TopicArn=arn, TopicName=name)

    def subscription(self, logical_id: str, p: dict[str, Any]) -> None:
        reply = self._client("sns").subscribe(
            TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"], ReturnSubscriptionArn=True
        )
        self._record(logical_id, reply["SubscriptionArn"])

    def metric_filter(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("FilterName") or self._generated_name(logical_id, 512)
        transformations = [
            {
                "metricNamespace": item["MetricNamespace"],
                "metricName": item["MetricName"],
                "metricValue": str(item["MetricValue"]),
                **({"unit": item["Unit"]} if "Unit" in item else {}),
            }
            for item in p["MetricTransformations"]
        ]
        self._client("logs").put_metric_filter(
            logGroupName=p["LogGroupName"],
            filterName=name,
            filterPattern=p["FilterPattern"],
            metricTransformations=transformations,
        )
        self._record(logical_id, name)

    def alarm(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("AlarmName") or self._generated_name(logical_id, 255)
        request: dict[str, Any] = {key: p[key] for key in _ALARM_PROPERTIES if key in p}
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in request:
                request[key] = int(request[key])
        request["Threshold"] = float(request["Threshold"])
        for query in request.get("Metrics") or []:
            if "MetricStat" in query:
                query["MetricStat"]["Period"] = int(query["MetricStat"]["Period"])
        self._client("cloudwatch").put_metric_alarm(AlarmName=name, **request)
        self._record(logical_id, name, Arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}")

    def dashboard(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("DashboardName") or self._generated_name(logical_id, 255)
        body = p["DashboardBody"]
        json.loads(body)  # CloudWatch refuses a body that is not JSON; so does the embedded deploy
        self._client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
        self._record(logical_id, name)
