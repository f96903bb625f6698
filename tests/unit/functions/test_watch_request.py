"""The watch-request function on moto and the emulator: a direct request (events/watch_request.json) and a
batch of queued "Watch Requested" events, one served, one dead-lettered with its reason, one retried."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from zoho_watch import services
from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import JobKey

from fake_zoho import FakeZoho
from tests.fixtures.aws import AwsStack
from tests.unit.functions.conftest import FakeLambdaContext, load_event


@pytest.fixture
def dead_letter_queue(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> str:
    url = aws.sqs.create_queue(QueueName="watch-requests-dlq")["QueueUrl"]
    monkeypatch.setenv("WATCH_REQUEST_DLQ_URL", url)
    services.reset()
    return str(url)


def record(body: Any, message_id: str) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"messageId": message_id, "receiptHandle": message_id, "body": text, "eventSource": "aws:sqs"}


def test_a_direct_request_registers_its_waiter_and_starts_the_watch(
    watch_request_app: ModuleType, lambda_context: FakeLambdaContext, zoho: FakeZoho, zoho_connection: str
) -> None:
    event = load_event("watch_request")
    answer = watch_request_app.lambda_handler(event, lambda_context)
    assert answer["watching"] is True and answer["mode"] == "schedule" and answer["finished"] is False
    stored = services.get_services().store.record(JobKey("default", event["module"], event["job_id"]))
    assert stored is not None and stored["watcher"] == "schedule"
    assert [waiter["token"] for waiter in stored["waiters"].values()] == [event["task_token"]]
    with pytest.raises(InvalidInput, match="job_id"):
        watch_request_app.lambda_handler({"module": "Leads"}, lambda_context)


def test_a_batch_serves_each_event_dead_letters_the_bad_and_retries_the_passing_failures(
    watch_request_app: ModuleType,
    lambda_context: FakeLambdaContext,
    zoho: FakeZoho,
    zoho_connection: str,
    aws: AwsStack,
    dead_letter_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = load_event("watch_requested")
    good["detail"]["mode"] = "schedule"
    good["detail"].pop("deadline")
    bad = json.loads(json.dumps(good))
    bad["detail"]["mode"] = "sometimes"
    event = {"Records": [record(good, "1"), record(bad, "2"), record("not json", "3")]}
    answer = watch_request_app.lambda_handler(event, lambda_context)
    assert answer == {"batchItemFailures": []}
    store = services.get_services().store
    assert store.record(JobKey("default", "Leads", good["detail"]["job_id"]))["watcher"] == "schedule"
    letters = [
        json.loads(message["Body"])
        for message in aws.sqs.receive_message(QueueUrl=dead_letter_queue, MaxNumberOfMessages=10)["Messages"]
    ]
    assert sorted(letter["reason"].split(":")[0] for letter in letters) == ["INVALID_INPUT", "INVALID_INPUT"]
    assert any("mode" in letter["reason"] for letter in letters)
    assert {letter["request"] for letter in letters} == {json.dumps(bad), "not json"}

    # AWS failing in passing: the record is left to the queue's retry, nothing dead-lettered.
    def unavailable(*_: Any, **__: Any) -> Any:
        from zoho_watch.errors import AwsUnavailable

        raise AwsUnavailable("DynamoDB is throttling")

    monkeypatch.setattr(watch_request_app.watches, "start_watch", unavailable)
    half = watch_request_app.lambda_handler(
        {"Records": [record(good, "4"), record(bad, "5")]}, lambda_context
    )
    assert half == {"batchItemFailures": [{"itemIdentifier": "4"}]}
    with pytest.raises(BatchProcessingError):  # a batch that failed whole fails the invocation: all retried
        watch_request_app.lambda_handler({"Records": [record(good, "6")]}, lambda_context)
    [letter] = aws.sqs.receive_message(QueueUrl=dead_letter_queue).get("Messages", [])  # the bad one only
    assert json.loads(letter["Body"])["request"] == json.dumps(bad)


def test_a_submit_request_schedules_once_then_watches_with_its_waiter(
    watch_request_app: ModuleType, lambda_context: FakeLambdaContext, zoho: FakeZoho, zoho_connection: str
) -> None:
    event = load_event("watch_request_submit")
    first = watch_request_app.lambda_handler(event, lambda_context)
    again = watch_request_app.lambda_handler(event, lambda_context)
    assert first["job_id"] == again["job_id"] and (first["replayed"], again["replayed"]) == (False, True)
    assert first["watch"]["watching"] is True and first["watch"]["mode"] == "schedule"
    assert first["records"] is None
    posts = [entry for entry in zoho.request_log if entry["route"] == "create"]
    assert len(posts) == 1
    stored = services.get_services().store.record(JobKey("default", "Leads", first["job_id"]))
    assert stored is not None and stored["watcher"] == "schedule"
    assert [waiter["token"] for waiter in stored["waiters"].values()] == [event["task_token"]]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"extra": 1}, "unknown fields"),
        ({"submit": "Leads"}, "submit request"),
        ({"idempotency_key": "has space"}, "idempotency key"),
        (
            {"submit": {"module": "Leads", "data": [{"A": 1}], "cvid": "1", "watch": {"task_token": "t"}}},
            "watch",
        ),
        ({"submit": {"module": "Leads", "data": [{"A": 1}], "ids": ["1"]}}, "no job to watch"),
    ],
)
def test_a_bad_submit_request_is_refused_before_zoho(
    watch_request_app: ModuleType,
    lambda_context: FakeLambdaContext,
    zoho: FakeZoho,
    zoho_connection: str,
    change: dict[str, Any],
    words: str,
) -> None:
    event = {**load_event("watch_request_submit"), **change}
    with pytest.raises(InvalidInput, match=words):
        watch_request_app.lambda_handler(event, lambda_context)
    assert [entry for entry in zoho.request_log if entry["route"] == "create"] == []
