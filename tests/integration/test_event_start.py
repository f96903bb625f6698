"""Event-driven starts on the embedded stack: a "Watch Requested" event on zoho-watch's bus starts a watch
(the rule queues it, the watch-request function serves the queue), a caller's state machine waits through
`events:putEvents.waitForTaskToken`, and an event that can never be served lands in the dead-letter queue
with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fake_zoho import JobProfile
from tests.integration.test_task_tokens import caller_role, ended
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

FINISHED = "Mass Update Job Finished"


def request_watch(stack: EmbeddedStack, **detail: Any) -> None:
    stack.client("events").put_events(
        Entries=[
            {
                "Source": "com.example.integration",
                "DetailType": "Watch Requested",
                "Detail": json.dumps(detail),
                "EventBusName": stack.outputs["EventBusName"],
            }
        ]
    )


def dead_letters(stack: EmbeddedStack) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    url = stack.outputs["WatchRequestDeadLetterQueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in found]


def test_a_watch_requested_event_starts_a_watch_that_ends_with_the_job(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=40, profile=JobProfile(queue_delay=10, duration=120))
    request_watch(stack, module="Leads", job_id=job_id)
    state = stack.job_state("Leads", job_id) or {}
    assert state.get("watcher", "").endswith(f"Leads-{job_id}-g0"), (
        state
    )  # started before put_events returned
    stack.wait_for(lambda: (stack.job_state("Leads", job_id) or {}).get("status") == "COMPLETED", timeout=120)
    stack.wait_for(
        lambda: any(
            event["detail"]["job_id"] == job_id
            for event in stack.events()
            if event["detail-type"] == FINISHED
        ),
        timeout=60,
    )
    assert dead_letters(stack) == []


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"module": "Leads"}, "job_id"),
        ({"module": "Leads", "job_id": "1", "mode": "sometimes"}, "mode"),
        ({"module": "Leads", "job_id": "1", "connection": "nobody"}, "CONNECTION_NOT_CONFIGURED"),
    ],
)
def test_an_event_that_cannot_be_served_is_dead_lettered_with_its_reason(
    embedded_stack: EmbeddedStack, detail: dict[str, Any], reason: str
) -> None:
    stack = embedded_stack
    request_watch(stack, **detail)
    [letter] = dead_letters(stack)
    assert reason in letter["reason"]
    assert json.loads(letter["request"])["detail"] == detail
    assert stack.executions("RUNNING") == []


def test_a_caller_waits_through_put_events_with_a_task_token(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=60, profile=JobProfile(queue_delay=30, duration=300))
    sfn = stack.client("stepfunctions")
    definition = {
        "StartAt": "AskForAWatch",
        "States": {
            "AskForAWatch": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                "Parameters": {
                    "Entries": [
                        {
                            "Source": "com.example.workflow",
                            "DetailType": "Watch Requested",
                            "EventBusName": stack.outputs["EventBusName"],
                            "Detail": {
                                "module": "Leads",
                                "job_id.$": "$.job_id",
                                "task_token.$": "$$.Task.Token",
                            },
                        }
                    ]
                },
                "End": True,
            }
        },
    }
    machines = {item["name"]: item["stateMachineArn"] for item in sfn.list_state_machines()["stateMachines"]}
    machine = (
        machines.get("caller-events")
        or sfn.create_state_machine(
            name="caller-events",
            definition=json.dumps(definition),
            roleArn=caller_role(stack, "caller-events"),
        )["stateMachineArn"]
    )
    arn = sfn.start_execution(
        stateMachineArn=machine, name=f"caller-{job_id}", input=json.dumps({"job_id": job_id})
    )["executionArn"]
    [outcome] = ended(stack, [arn])
    assert outcome["status"] == "SUCCEEDED", outcome
    output = json.loads(outcome["output"])
    assert (output["job_id"], output["status"]) == (job_id, "COMPLETED")
    assert output["counts"]["total"] == 60
