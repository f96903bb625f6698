"""moto's memoised work (zoho_watch_local/moto_memo.py), pinned: the names it replaces, and moto's own
answers.

A moto upgrade that moves a JSONPath parser, the backend listing or `boto_client_for` fails here.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import jsonpath_ng
import jsonpath_ng.ext
import jsonpath_ng.ext.parser
import pytest
from moto import backends
from moto.events.utils import EventTemplateParser
from moto.moto_server import werkzeug_app
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_events,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.utils import boto_client, json_path

from zoho_watch_local import moto_memo

pytestmark = pytest.mark.integration

UPGRADE_HINT = (
    "moto changed a private part zoho_watch_local/moto_memo.py relies on: re-check it before upgrading moto"
)


@pytest.fixture
def memo() -> Iterator[None]:
    moto_memo.install()
    try:
        yield
    finally:
        moto_memo.uninstall()


def test_the_replaced_names_are_where_moto_calls_them() -> None:
    assert not moto_memo.installed()
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
    assert list(listed) == list(moto_memo._list_moto_modules())
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


def test_install_and_uninstall_are_counted_and_restore_moto() -> None:
    originals = (jsonpath_ng.ext.parse, json_path.parse, backends.list_of_moto_modules)
    moto_memo.install()
    moto_memo.install()
    moto_memo.uninstall()
    assert moto_memo.installed() and json_path.parse is not originals[1]
    moto_memo.uninstall()
    assert not moto_memo.installed()
    assert (jsonpath_ng.ext.parse, json_path.parse, backends.list_of_moto_modules) == originals
    assert lambda_eval_utils.boto_client_for is boto_client.boto_client_for
