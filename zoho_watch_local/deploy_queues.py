"""The embedded deploy of the template's queues: SQS queues (with their redrive policy), their access policy,
and the event source mapping that feeds a queue to a function, created in moto as CloudFormation creates them.

moto delivers a queue's messages to a mapped function as soon as they are sent (it does not poll), in the
sender's call; `zoho_watch_local.deploy` adds these handlers to its own.
"""

from __future__ import annotations

import json
from typing import Any

from zoho_watch_local.deploy_handlers import Handler, ResourceHandlers

# AWS::SQS::Queue properties that are queue attributes under the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
)


class QueueDeployer(ResourceHandlers):
    """Creates the queues of one deployment (see the module docstring)."""

    def handlers(self) -> dict[str, Handler]:
        """The handler of each resource type, by type."""
        return {
            "AWS::SQS::Queue": self.queue,
            "AWS::SQS::QueuePolicy": self.queue_policy,
            "AWS::Lambda::EventSourceMapping": self.event_source_mapping,
        }

    def queue(self, logical_id: str, p: dict[str, Any]) -> None:
        name = p.get("QueueName") or self._generated_name(logical_id, 80)
        attributes = {key: _text(p[key]) for key in _QUEUE_ATTRIBUTES if key in p}
        if "RedrivePolicy" in p:
            attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        sqs = self._client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._record(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def queue_policy(self, logical_id: str, p: dict[str, Any]) -> None:
        for url in p["Queues"]:
            self._client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
            )
        self._record(logical_id, logical_id)

    def event_source_mapping(self, logical_id: str, p: dict[str, Any]) -> None:
        request = {
            key: p[key]
            for key in ("EventSourceArn", "FunctionName", "BatchSize", "Enabled", "FunctionResponseTypes")
            if key in p
        }
        mapping = self._client("lambda").create_event_source_mapping(**request)
        self._record(logical_id, mapping["UUID"])


def _text(value: Any) -> str:
    """A property as the text SQS's attributes take (booleans in lower case)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
