"""The loopback (zoho_watch_local/loopback.py): boto3 calls to the embedded AWS are served in-process, with
the answers the server gives over the network; botocore's part of it pinned."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore import endpoint as botocore_endpoint
from botocore.awsrequest import AWSPreparedRequest
from botocore.endpoint import Endpoint
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session

from zoho_watch_local import loopback
from zoho_watch_local.aws import LocalAws
from zoho_watch_local.clock import VirtualClock

pytestmark = pytest.mark.integration

TABLE = "loopback-test"


@pytest.fixture(scope="module")
def local() -> Iterator[dict[str, Any]]:
    """A bare embedded AWS; `socket_requests` counts the requests that reached it over the network."""
    aws = LocalAws(VirtualClock()).start()
    server = aws._server._server
    assert server is not None
    served = server.app
    seen: dict[str, Any] = {"aws": aws, "socket_requests": 0}

    def counted(environ: dict[str, Any], start_response: Any) -> Any:
        seen["socket_requests"] += 1
        return served(environ, start_response)

    server.app = counted  # the loopback keeps the application it was given: only the socket's come here
    try:
        yield seen
    finally:
        aws.stop()


def _calls(aws: LocalAws) -> dict[str, Any]:
    """A table written and read, and two errors: what a boto3 client gets back."""
    dynamodb = boto3.client("dynamodb", **aws.client_kwargs())
    name = f"{TABLE}-{len(dynamodb.list_tables()['TableNames'])}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\xff"}})
    answers: dict[str, Any] = {"item": dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]}
    for call, kwargs in (
        ("get_item", {"TableName": "missing", "Key": {"pk": {"S": "a"}}}),
        (
            "put_item",
            {
                "TableName": name,
                "Item": {"pk": {"S": "a"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            },
        ),
    ):
        with pytest.raises(ClientError) as error:
            getattr(dynamodb, call)(**kwargs)
        answers[call] = (
            error.value.response["Error"],
            error.value.response["ResponseMetadata"]["HTTPStatusCode"],
        )
    queue = boto3.client("sqs", **aws.client_kwargs())  # the query protocol: a form-encoded body
    url = queue.create_queue(QueueName=name)["QueueUrl"]
    queue.send_message(QueueUrl=url, MessageBody="héllo")
    answers["message"] = queue.receive_message(QueueUrl=url)["Messages"][0]["Body"]
    return answers


def test_botocore_sends_every_request_through_urllib3_session_send() -> None:
    """What the loopback wraps: a moto or botocore upgrade that moves it fails here."""
    assert "self.http_session.send(request)" in inspect.getsource(Endpoint._send)
    assert list(inspect.signature(URLLib3Session.send).parameters) == ["self", "request"]


def test_boto3_calls_are_served_in_process_with_the_servers_answers(local: dict[str, Any]) -> None:
    aws = local["aws"]
    assert loopback.installed()
    before = local["socket_requests"]
    in_process = _calls(aws)
    assert local["socket_requests"] == before  # not one request went through a socket
    assert loopback._server is not None
    assert in_process["item"] == {"pk": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\xff"}}
    assert (
        in_process["get_item"][1] == 400 and in_process["get_item"][0]["Code"] == "ResourceNotFoundException"
    )
    assert in_process["put_item"][0]["Code"] == "ConditionalCheckFailedException"
    assert in_process["message"] == "héllo"

    served = loopback._server.app  # what `LocalAws.start` gave it
    loopback.uninstall()
    try:
        over_the_network = _calls(aws)
    finally:
        loopback.install(aws.port, served)
    assert local["socket_requests"] > before
    assert over_the_network == in_process


def test_other_addresses_and_plain_http_clients_go_over_the_network(local: dict[str, Any]) -> None:
    aws = local["aws"]
    server = loopback._server
    assert server is not None
    assert server.serves(f"http://127.0.0.1:{aws.port}/") and server.serves(f"http://localhost:{aws.port}/x")
    assert not server.serves(f"http://127.0.0.1:{aws.port + 1}/")
    assert not server.serves(f"http://10.0.0.1:{aws.port}/")
    before = local["socket_requests"]
    requests.post(f"{aws.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
    assert local["socket_requests"] == before + 1


def test_an_application_error_is_a_500_as_the_server_sends_it() -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> Any:
        raise RuntimeError("boom")

    request = AWSPreparedRequest("POST", "http://127.0.0.1:1/", {"X-Amz-Target": b"Any.Thing"}, b"{}", False)
    reply = loopback.serve(broken, request)
    assert reply.status_code == 500
    assert b"Internal Server Error" in reply.content
    assert reply.headers["Content-Type"].startswith("text/html")


def test_uninstall_puts_botocore_back_and_install_wraps_it_again(local: dict[str, Any]) -> None:
    assert loopback._server is not None
    served, wrapped = loopback._server.app, URLLib3Session.send
    loopback.uninstall()
    try:
        assert not loopback.installed()
        assert URLLib3Session.send is not wrapped and URLLib3Session.send.__module__ == "botocore.httpsession"
    finally:
        loopback.install(local["aws"].port, served)
    assert URLLib3Session.send is wrapped and loopback.installed()


def test_botocore_sleeps_a_retry_back_off_with_its_endpoint_modules_time() -> None:
    assert "time.sleep(handler_response)" in inspect.getsource(Endpoint._needs_retry)


def test_a_fault_hook_answers_first_and_a_retry_after_it_is_not_slept(
    local: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def throttle_twice(request: AWSPreparedRequest) -> Any:
        seen.append(request.url)
        if len(seen) > 2:
            return None
        body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
        return loopback.reply(
            request, 400, {"x-amzn-RequestId": "r", "x-amzn-ErrorType": "ThrottlingException"}, body
        )

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    loopback.set_faults(throttle_twice)
    try:
        dynamodb = boto3.client("dynamodb", **local["aws"].client_kwargs())
        assert isinstance(dynamodb.list_tables()["TableNames"], list)  # the SDK's third attempt
    finally:
        loopback.set_faults(None)
    assert len(seen) == 3 and slept == []
    loopback._last_request.served = False  # after a request elsewhere, a back-off is slept for real
    botocore_endpoint.time.sleep(0.25)
    assert slept == [0.25]
