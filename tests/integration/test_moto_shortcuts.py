"""moto's shortcuts (zoho_watch_local/moto_shortcuts.py), pinned: the names it replaces, and moto's own
answers.

A moto upgrade that moves a JSONPath parser, the backend listing, `boto_client_for`, an execution's parse
of its definition, the listing of a response class's methods or DynamoDB's reply writing fails here.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import boto3
import jsonpath_ng
import jsonpath_ng.ext
import jsonpath_ng.ext.parser
import moto.dynamodb.models
import pytest
from moto import backends, mock_aws
from moto.core import responses as core_responses
from moto.core import utils as core_utils
from moto.core.responses import ActionResult, BaseResponse
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.events.utils import EventTemplateParser
from moto.kms import models as kms_models
from moto.kms import utils as kms_utils
from moto.moto_server import werkzeug_app
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_events,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from tests.fixtures.aws import create_jobs_table
from zoho_watch_local import moto_shortcuts

pytestmark = pytest.mark.integration

UPGRADE_HINT = (
    "moto changed a private part zoho_watch_local/moto_shortcuts.py relies on: re-check it before upgrading"
    " moto"
)


@pytest.fixture
def memo() -> Iterator[None]:
    moto_shortcuts.install()
    try:
        yield
    finally:
        moto_shortcuts.uninstall()


def test_the_replaced_names_are_where_moto_calls_them() -> None:
    assert not moto_shortcuts.installed()
    # EventBridge imports the parser at each call, from the package: the package attribute is what it gets.
    assert "from jsonpath_ng.ext import parse" in inspect.getsource(EventTemplateParser.parse), UPGRADE_HINT
    assert jsonpath_ng.ext.parse is jsonpath_ng.ext.parser.parse
    assert json_path.parse is jsonpath_ng.ext.parse, UPGRADE_HINT
    assert result_path.parse is jsonpath_ng.parse, UPGRADE_HINT
    assert "backends.list_of_moto_modules()" in inspect.getsource(
        werkzeug_app.DomainDispatcherApplication.get_backend_for_host
    ), UPGRADE_HINT
    for module in (lambda_eval_utils, state_task_service_sfn, state_task_service_events):
        assert module.boto_client_for is boto_client.boto_client_for, (module.__name__, UPGRADE_HINT)
    # The client depends on the region, the service and the server only: `state_credentials` is unused.
    source = inspect.getsource(boto_client.boto_client_for)
    assert list(inspect.signature(boto_client.boto_client_for).parameters) == [
        "region",
        "service",
        "state_credentials",
    ], UPGRADE_HINT
    assert source.count("state_credentials") == 1, UPGRADE_HINT
    assert "moto_server_port()" in source and "botocore_stubber.enabled" in source, UPGRADE_HINT
    # An execution's program: its worker parses the definition it runs, and nothing else, each time.
    entrypoint = inspect.getsource(ExecutionWorker._get_evaluation_entrypoint)
    assert "AmazonStateLanguageParser.parse(" in entrypoint, UPGRADE_HINT
    assert "self._evaluation_details.state_machine_details.definition" in entrypoint, UPGRADE_HINT
    # A request's action: looked up among the response class's methods, listed by the name imported here.
    call_action = inspect.getsource(BaseResponse.call_action)
    assert "method_names_from_class(self.__class__)" in call_action, UPGRADE_HINT
    assert core_responses.method_names_from_class is core_utils.method_names_from_class, UPGRADE_HINT
    # A KMS key's private key: made by the name imported into the models, read by Sign, Verify, GetPublicKey.
    assert kms_models.generate_private_key is kms_utils.generate_private_key, UPGRADE_HINT
    assert "self.private_key = generate_private_key(self.key_spec)" in inspect.getsource(kms_models.Key), (
        UPGRADE_HINT
    )
    readers = [
        name
        for name, member in inspect.getmembers(kms_models.KmsBackend, inspect.isfunction)
        if "private_key" in inspect.getsource(member)
    ]
    assert readers == ["get_public_key", "sign", "verify"], (readers, UPGRADE_HINT)
    # A query's candidates: moto's Table.query reads every item through `all_items`, once.
    query_source = inspect.getsource(Table.query)
    assert query_source.count("self.all_items()") == 2, UPGRADE_HINT
    assert "possible_results = self.sorted_items(" in query_source, UPGRADE_HINT
    assert "possible_results.sort(key=lambda item: item.range_key)" in query_source, UPGRADE_HINT
    assert "hash_key" in inspect.signature(Table.query).parameters, UPGRADE_HINT
    assert "index_name" in inspect.signature(Table.query).parameters, UPGRADE_HINT
    # DynamoDB's replies: the item operations return a DynamoResult, written by ActionResult's serializer.
    assert DynamoResult.execute_result is ActionResult.execute_result, UPGRADE_HINT
    assert list(inspect.signature(ActionResult.execute_result).parameters) == ["self", "context"], (
        UPGRADE_HINT
    )
    for operation in ("get_item", "put_item", "update_item", "delete_item", "query", "scan"):
        assert "DynamoResult(" in inspect.getsource(getattr(DynamoHandler, operation)), (
            operation,
            UPGRADE_HINT,
        )


@pytest.mark.usefixtures("memo")
def test_a_path_is_parsed_once_and_finds_what_a_fresh_parse_finds() -> None:
    original = jsonpath_ng.ext.parser.parse  # moto's own, unmemoised
    event = {"detail": {"job_id": "7", "counts": [1, 2, 3]}, "time": "t"}
    for text in ("$.detail.job_id", "$.detail.counts[1]", "$.detail.counts[*]", "$"):
        assert jsonpath_ng.ext.parse(text) is jsonpath_ng.ext.parse(text)
        assert [m.value for m in jsonpath_ng.ext.parse(text).find(event)] == [
            m.value for m in original(text).find(event)
        ]
    assert json_path.extract_json("$.detail.counts[2]", event) == 3
    assert json_path.extract_json("$.detail", event) == event["detail"]


@pytest.mark.usefixtures("memo")
def test_a_result_path_update_leaves_the_parsed_path_as_it_was() -> None:
    first = result_path.parse("$.check")
    assert first.update_or_create({"a": 1}, {"status": "RUNNING"}) == {"a": 1, "check": {"status": "RUNNING"}}
    assert result_path.parse("$.check") is first
    updated = first.update_or_create({"b": 2}, {"status": "COMPLETED"})
    assert updated == {"b": 2, "check": {"status": "COMPLETED"}}


@pytest.mark.usefixtures("memo")
def test_the_backend_listing_is_moto_s_own_listed_once() -> None:
    listed = backends.list_of_moto_modules()
    assert listed is backends.list_of_moto_modules()
    assert list(listed) == list(moto_shortcuts._list_moto_modules())
    assert "dynamodb" in listed and "stepfunctions" in listed


@pytest.mark.usefixtures("memo")
def test_one_client_per_region_service_and_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_PORT", "45001")
    client = lambda_eval_utils.boto_client_for("us-east-1", "lambda", object())
    assert client is state_task_service_sfn.boto_client_for("us-east-1", "lambda", None)
    assert client.meta.endpoint_url == "http://localhost:45001"
    assert client.meta.config.retries["total_max_attempts"] == 1  # moto's own client settings
    assert state_task_service_events.boto_client_for("eu-west-1", "lambda") is not client
    assert lambda_eval_utils.boto_client_for("us-east-1", "stepfunctions") is not client
    monkeypatch.setenv("MOTO_PORT", "45002")
    moved = lambda_eval_utils.boto_client_for("us-east-1", "lambda")
    assert moved.meta.endpoint_url == "http://localhost:45002"


DEFINITION = json.dumps(
    {
        "StartAt": "Shape",
        "States": {
            "Shape": {"Type": "Pass", "Parameters": {"job.$": "$.job_id"}, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
)


class _Worker:
    """The part of an `ExecutionWorker` its entrypoint reads: the definition it runs."""

    def __init__(self, definition: str) -> None:
        self._evaluation_details = type(
            "Details", (), {"state_machine_details": type("Machine", (), {"definition": definition})}
        )


@pytest.mark.usefixtures("memo")
def test_a_definition_is_parsed_once_into_moto_s_own_program() -> None:
    program = ExecutionWorker._get_evaluation_entrypoint(_Worker(DEFINITION))  # type: ignore[arg-type]
    assert ExecutionWorker._get_evaluation_entrypoint(_Worker(DEFINITION)) is program  # type: ignore[arg-type]
    fresh = AmazonStateLanguageParser.parse(DEFINITION)[0]
    assert type(program) is type(fresh)
    assert program.start_at.start_at_name == fresh.start_at.start_at_name == "Shape"
    assert sorted(program.states.states) == sorted(fresh.states.states) == ["Done", "Shape"]
    other = DEFINITION.replace('"Done"', '"End"')
    assert ExecutionWorker._get_evaluation_entrypoint(_Worker(other)) is not program  # type: ignore[arg-type]


@pytest.mark.usefixtures("memo")
def test_a_response_class_s_methods_are_moto_s_own_listed_once() -> None:
    listed = core_responses.method_names_from_class(DynamoHandler)
    assert listed is core_responses.method_names_from_class(DynamoHandler)
    assert list(listed) == core_utils.method_names_from_class(DynamoHandler)
    assert "update_item" in listed and "call_action" in listed


@pytest.mark.usefixtures("memo")
def test_a_kms_key_pair_is_generated_when_first_used_and_works_as_moto_s() -> None:
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
        signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        keys = kms_models.kms_backends["123456789012"]["us-east-1"].keys
        assert all(keys[key].private_key._key is None for key in (symmetric, signing))  # none generated yet
        signed = kms.sign(KeyId=signing, Message=b"job", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
        assert keys[signing].private_key._key is not None and keys[symmetric].private_key._key is None
        assert kms.verify(
            KeyId=signing, Message=b"job", Signature=signed, SigningAlgorithm="RSASSA_PSS_SHA_256"
        )["SignatureValid"]
        public = kms.get_public_key(KeyId=signing)["PublicKey"]
        assert public == kms.get_public_key(KeyId=signing)["PublicKey"] and len(public) > 256
        ciphertext = kms.encrypt(KeyId=symmetric, Plaintext=b"secret")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"secret"
        assert keys[symmetric].private_key._key is None  # symmetric use never needs the pair


MAX_PAGES = 50  # far more than any paged read below takes


def _queries(dynamodb: Any) -> list[Any]:
    """Table and index queries, forward and back, paged and filtered: every page moto answers."""
    asked = [
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "JOB#7"}}},
        {
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :h)",
            "ExpressionAttributeValues": {":p": {"S": "JOB#7"}, ":h": {"S": "HISTORY#"}},
            "ScanIndexForward": False,
        },
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "JOB#none"}}},
        {
            "IndexName": "ActiveJobs",
            "KeyConditionExpression": "active = :a AND next_check_at < :d",
            "ExpressionAttributeValues": {":a": {"S": "ACTIVE"}, ":d": {"N": "30"}},
        },
        {
            "IndexName": "ActiveJobs",
            "KeyConditionExpression": "active = :a",
            "FilterExpression": "n > :n",
            "ExpressionAttributeValues": {":a": {"S": "ACTIVE"}, ":n": {"N": "3"}},
            "ScanIndexForward": False,
        },
        {
            "IndexName": "ActiveJobs",
            "KeyConditionExpression": "active = :a",
            "Select": "COUNT",
            "ExpressionAttributeValues": {":a": {"S": "ACTIVE"}},
        },
    ]
    pages = []
    for query in asked:
        pages.extend(_every_page(dynamodb.query, TableName="shortcuts", Limit=4, **query))
    return pages


def _every_page(call: Any, **request: Any) -> list[Any]:
    """Every page of a query or scan, following `LastEvaluatedKey` (at most MAX_PAGES pages)."""
    pages = []
    start: dict[str, Any] = {}
    for _ in range(MAX_PAGES):  # a wrong order could page for ever
        page = call(**request, **start)
        page.pop("ResponseMetadata")
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    pytest.fail(f"more than {MAX_PAGES} pages: the pages do not follow one order")


def _scans(dynamodb: Any) -> list[Any]:
    """Every page of plain, filtered and segmented scans, of the shortcuts table and a numbered one."""
    pages = []
    for table, extra in (
        ("shortcuts", {}),
        ("shortcuts", {"FilterExpression": "sk = :s", "ExpressionAttributeValues": {":s": {"S": "STATE"}}}),
        ("shortcuts", {"Segment": 1, "TotalSegments": 2}),
        ("numbered", {}),
    ):
        pages.extend(_every_page(dynamodb.scan, TableName=table, Limit=5, **extra))
    return pages


def test_a_query_reads_only_its_candidates_and_answers_as_moto_does() -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_jobs_table(dynamodb, "shortcuts")  # template.yaml's JobsTable: pk, sk and ActiveJobs
        for job in range(12):
            state = {"pk": {"S": f"JOB#{job}"}, "sk": {"S": "STATE"}, "n": {"N": str(job % 5)}}
            if job % 3:  # a sparse index: two jobs in three are active, some due at the same moment
                state |= {"active": {"S": "ACTIVE"}, "next_check_at": {"N": str(job % 4 * 10)}}
            dynamodb.put_item(TableName="shortcuts", Item=state)
            for check in range(job % 4 * 3):
                history = {"pk": {"S": f"JOB#{job}"}, "sk": {"S": f"HISTORY#{check:03d}"}, "n": {"N": "1"}}
                dynamodb.put_item(TableName="shortcuts", Item=history)
        # Numbers sort by value (2 before 10), not as text: the order a scan pages in.
        dynamodb.create_table(
            TableName="numbered",
            KeySchema=[
                {"AttributeName": "n", "KeyType": "HASH"},
                {"AttributeName": "at", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "n", "AttributeType": "N"},
                {"AttributeName": "at", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in (10, 2, 33, 4):
            for at in (100, 9, 55):
                dynamodb.put_item(TableName="numbered", Item={"n": {"N": str(n)}, "at": {"N": str(at)}})
        by_moto = _queries(dynamodb) + _scans(dynamodb)
        looked: list[int] = []
        all_items = moto_shortcuts._all_items
        moto_shortcuts.install()
        try:
            table = moto.dynamodb.models.dynamodb_backends["123456789012"]["us-east-1"].tables["shortcuts"]
            original_all = Table.all_items
            Table.all_items = lambda self: looked.append(len(original_all(self))) or original_all(self)  # type: ignore[method-assign]
            shortcut = _queries(dynamodb) + _scans(dynamodb)
        finally:
            Table.all_items = moto_shortcuts.candidate_items  # type: ignore[method-assign]
            moto_shortcuts.uninstall()
        assert shortcut == by_moto
        assert Table.all_items is all_items  # moto's own again
        assert len(table.all_items()) == 12 + sum(job % 4 * 3 for job in range(12))
        partition = 1 + 7 % 4 * 3  # JOB#7's state and history items
        assert looked[:3] == [partition] * 3  # each page: the partition, not the whole table
        assert 0 in looked  # the partition that does not exist


def test_install_and_uninstall_are_counted_and_restore_moto() -> None:
    originals = (jsonpath_ng.ext.parse, json_path.parse, backends.list_of_moto_modules)
    moto_shortcuts.install()
    moto_shortcuts.install()
    moto_shortcuts.uninstall()
    assert moto_shortcuts.installed() and json_path.parse is not originals[1]
    moto_shortcuts.uninstall()
    assert not moto_shortcuts.installed()
    assert (jsonpath_ng.ext.parse, json_path.parse, backends.list_of_moto_modules) == originals
    assert lambda_eval_utils.boto_client_for is boto_client.boto_client_for
    assert DynamoResult.execute_result is ActionResult.execute_result
    assert core_responses.method_names_from_class is core_utils.method_names_from_class
    assert kms_models.generate_private_key is kms_utils.generate_private_key
    assert ExecutionWorker._get_evaluation_entrypoint.__module__ == ExecutionWorker.__module__


def _both_replies(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Write every DynamoDB reply both ways, moto's serializer's answer sent on; what each gave, in order."""
    replies: list[dict[str, Any]] = []
    serialize = moto_shortcuts._serialize_reply  # moto's own
    fell_back: list[bool] = []

    def counted(result: DynamoResult, context: Any) -> Any:
        fell_back.append(True)
        return serialize(result, context)

    def compared(result: DynamoResult, context: Any) -> Any:
        fell_back.clear()
        short = moto_shortcuts.item_reply(result, context)
        status, headers, body = serialize(result, context)
        replies.append(
            {
                "operation": context.operation_model.name,
                "short": (short[0], dict(short[1]), json.loads(short[2])),
                "moto": (status, dict(headers), json.loads(body)),
                "shortcut": not fell_back,
            }
        )
        return status, headers, body

    monkeypatch.setattr(moto_shortcuts, "_serialize_reply", counted)
    monkeypatch.setattr(DynamoResult, "execute_result", compared)
    return replies


@pytest.mark.usefixtures("memo")
def test_dynamodb_replies_written_the_short_way_are_moto_s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    replies = _both_replies(monkeypatch)
    key = {"pk": {"S": "JOB#a"}, "sk": {"S": "STATE"}}
    item = {
        **key,
        "active": {"S": "ACTIVE"},
        "next_check_at": {"N": "1.5"},
        "counts": {"M": {"done": {"N": "3"}, "list": {"L": [{"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
        "tags": {"SS": ["a", "b"]},
        "empty": {"L": []},
        "nothing": {"M": {}},
    }
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="jobs",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in (("pk", "S"), ("sk", "S"), ("active", "S"), ("next_check_at", "N"))
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ActiveJobs",
                    "KeySchema": [
                        {"AttributeName": "active", "KeyType": "HASH"},
                        {"AttributeName": "next_check_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="jobs", Item=item)
        dynamodb.put_item(TableName="jobs", Item={**item, "sk": {"S": "CHECK#1"}}, ReturnValues="ALL_OLD")
        dynamodb.put_item(TableName="jobs", Item=item, ReturnValues="ALL_OLD")
        dynamodb.get_item(TableName="jobs", Key=key)
        dynamodb.get_item(TableName="jobs", Key={**key, "sk": {"S": "none"}})
        dynamodb.update_item(
            TableName="jobs",
            Key=key,
            UpdateExpression="SET version = :v",
            ExpressionAttributeValues={":v": {"N": "2"}},
            ReturnValues="ALL_NEW",
        )
        dynamodb.update_item(TableName="jobs", Key=key, UpdateExpression="REMOVE tags")
        by_partition = {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "JOB#a"}},
        }
        dynamodb.query(TableName="jobs", **by_partition)
        dynamodb.query(TableName="jobs", Limit=1, **by_partition)  # LastEvaluatedKey
        dynamodb.query(
            TableName="jobs", **{**by_partition, "ExpressionAttributeValues": {":p": {"S": "none"}}}
        )
        dynamodb.query(
            TableName="jobs",
            IndexName="ActiveJobs",
            KeyConditionExpression="active = :a",
            ExpressionAttributeValues={":a": {"S": "ACTIVE"}},
            Select="COUNT",
        )
        dynamodb.scan(TableName="jobs")
        dynamodb.delete_item(TableName="jobs", Key={**key, "sk": {"S": "CHECK#1"}}, ReturnValues="ALL_OLD")
        # A binary attribute, a capacity by index and a reply that is not an item's take moto's way.
        dynamodb.put_item(TableName="jobs", Item={**key, "sk": {"S": "BIN"}, "blob": {"B": b"\x00\x01"}})
        dynamodb.get_item(TableName="jobs", Key={**key, "sk": {"S": "BIN"}})
        dynamodb.get_item(TableName="jobs", Key=key, ReturnConsumedCapacity="TOTAL")
        dynamodb.get_item(TableName="jobs", Key=key, ReturnConsumedCapacity="INDEXES")
        dynamodb.describe_table(TableName="jobs")
    assert [reply for reply in replies if reply["short"] != reply["moto"]] == []
    taken = [reply["operation"] for reply in replies if reply["shortcut"]]
    assert taken == ["PutItem", "PutItem", "PutItem", "GetItem", "GetItem", "UpdateItem", "UpdateItem"] + [
        "Query"
    ] * 4 + ["Scan", "DeleteItem", "PutItem", "GetItem"], taken
    assert [reply["operation"] for reply in replies if not reply["shortcut"]] == [
        "CreateTable",
        "GetItem",
        "GetItem",
        "DescribeTable",
    ]
