"""The examples of `examples/`, deployed on the embedded stack next to zoho-watch and run end to end: the
caller's workflow submits a mass update, waits with a task token and publishes or notifies its outcome (a
COMPLETED job, a FAILED job, a watch that reached its deadline); the rule queues every finished event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fake_zoho import JobProfile
from zoho_watch_local.deploy import Deployment
from zoho_watch_local.stack import REPO_ROOT, EmbeddedStack

pytestmark = pytest.mark.integration

CVID_DONE, CVID_FAILING, CVID_LONG = "4150868000000087011", "4150868000000087012", "4150868000000087013"


@pytest.fixture(scope="module")
def examples(embedded_stack_server: EmbeddedStack) -> dict[str, Deployment]:
    """Both examples deployed once, with zoho-watch's outputs as their parameters."""
    stack = embedded_stack_server
    outputs = stack.outputs
    return {
        "workflow": stack.deploy_example(
            REPO_ROOT / "examples" / "caller-workflow" / "template.yaml",
            {"WatchRequestFunctionArn": outputs["WatchRequestFunctionArn"]},
        ),
        "queue": stack.deploy_example(
            REPO_ROOT / "examples" / "finished-to-sqs" / "template.yaml",
            {"EventBusName": outputs["EventBusName"]},
        ),
    }


@pytest.fixture
def outcomes(embedded_stack: EmbeddedStack, examples: dict[str, Deployment]) -> str:
    """An SQS queue subscribed to the workflow's outcome topic (what a person's email would get); the finished
    jobs' queue emptied of what earlier tests left there."""
    received(embedded_stack, examples["queue"].outputs["FinishedJobsQueueUrl"])
    sqs, sns = embedded_stack.client("sqs"), embedded_stack.client("sns")
    url = sqs.create_queue(QueueName=f"outcomes-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = examples["workflow"].outputs["OutcomeTopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"})
    return str(url)


def received(stack: EmbeddedStack, url: str) -> list[dict[str, Any]]:
    """Every message waiting in the queue (read once, then deleted)."""
    sqs = stack.client("sqs")
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def run_workflow(stack: EmbeddedStack, examples: dict[str, Deployment], request: dict[str, Any]) -> dict:
    """Start the example workflow with `request` as its input; its description once it has ended."""
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=examples["workflow"].outputs["MassUpdateWorkflowArn"],
        name=f"nightly-{uuid.uuid4().hex[:12]}",
        input=json.dumps(request),
    )["executionArn"]
    return dict(
        stack.wait_for(
            lambda: (found := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and found,
            timeout=300,
            interval=0.05,
        )
    )


def update(cvid: str, **extra: Any) -> dict[str, Any]:
    return {"module": "Leads", "data": [{"Lead_Status": "Contacted"}], "cvid": cvid, **extra}


def test_a_completed_job_is_published_with_its_counts(
    embedded_stack: EmbeddedStack, examples: dict[str, Deployment], outcomes: str
) -> None:
    stack = embedded_stack
    stack.zoho.define_view("Leads", CVID_DONE, 420, JobProfile(queue_delay=60, duration=1200))
    ended = run_workflow(stack, examples, update(CVID_DONE))
    assert ended["status"] == "SUCCEEDED", ended
    job = json.loads(ended["output"])
    truth = stack.zoho.job_truth(job["job_id"])
    assert (job["status"], job["counts"]["total"], job["counts"]["updated"]) == (
        "COMPLETED",
        420,
        truth["Updated_Count"],
    )
    [note] = stack.wait_for(lambda: received(stack, outcomes))
    assert note["Subject"] == "Zoho CRM mass update completed"
    assert json.loads(note["Message"])["job_id"] == job["job_id"]
    # The rule of the other example queued the job's finished event, once.
    queue = examples["queue"].outputs["FinishedJobsQueueUrl"]
    events = stack.wait_for(lambda: received(stack, queue))
    assert [(e["detail-type"], e["detail"]["job_id"]) for e in events] == [
        ("Mass Update Job Finished", job["job_id"])
    ]


def test_a_failed_job_is_notified_and_fails_the_workflow(
    embedded_stack: EmbeddedStack, examples: dict[str, Deployment], outcomes: str
) -> None:
    stack = embedded_stack
    profile = JobProfile(duration=600, final_status="FAILED", fail_at=0.5)
    stack.zoho.define_view("Leads", CVID_FAILING, 300, profile)
    ended = run_workflow(stack, examples, update(CVID_FAILING))
    assert (ended["status"], ended.get("error")) == ("FAILED", "MassUpdateFailed")
    [note] = stack.wait_for(lambda: received(stack, outcomes))
    assert note["Subject"] == "Zoho CRM mass update FAILED"
    assert json.loads(note["Message"])["Error"] == "MassUpdateFailed"
    queue = examples["queue"].outputs["FinishedJobsQueueUrl"]
    [event] = stack.wait_for(lambda: received(stack, queue))
    assert event["detail"]["status"] == "FAILED"


def test_a_watch_past_its_deadline_is_notified_as_not_followed(
    embedded_stack: EmbeddedStack, examples: dict[str, Deployment], outcomes: str
) -> None:
    stack = embedded_stack
    stack.zoho.define_view("Leads", CVID_LONG, 5000, JobProfile(duration=6 * 3600))
    deadline = datetime.fromtimestamp(stack.clock.now(), UTC) + timedelta(minutes=30)
    request = update(CVID_LONG, watch={"deadline": deadline.isoformat().replace("+00:00", "Z")})
    ended = run_workflow(stack, examples, request)
    assert (ended["status"], ended.get("error")) == ("FAILED", "MassUpdateNotFollowed")
    [note] = stack.wait_for(lambda: received(stack, outcomes))
    assert note["Subject"] == "Zoho CRM mass update not followed to its end"
    assert json.loads(note["Message"])["Error"] == "DeadlineExceeded"
    # The job runs on in Zoho: nobody announced an end.
    assert received(stack, examples["queue"].outputs["FinishedJobsQueueUrl"]) == []


def test_a_retried_submission_of_one_execution_schedules_once(
    embedded_stack: EmbeddedStack, examples: dict[str, Deployment], outcomes: str
) -> None:
    # The workflow's idempotency key is its execution's name: what a retried task sends again.
    stack = embedded_stack
    stack.zoho.define_view("Leads", CVID_DONE, 100, JobProfile(duration=600))
    lam = stack.client("lambda")
    payload = {"submit": update(CVID_DONE), "idempotency_key": "nightly-2026-12-02"}
    answers = [
        json.loads(
            lam.invoke(
                FunctionName=stack.outputs["WatchRequestFunctionArn"], Payload=json.dumps(payload).encode()
            )["Payload"].read()
        )
        for _ in range(2)
    ]
    assert answers[0]["job_id"] == answers[1]["job_id"] and [a["replayed"] for a in answers] == [False, True]
    posts = [e for e in stack.zoho.request_log if e["method"] == "POST" and "mass_update" in e["path"]]
    assert len(posts) == 1
