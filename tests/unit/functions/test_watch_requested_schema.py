"""The "Watch Requested" event: its JSON Schema (docs/) validates the samples in events/, says what the
library's parser accepts (the same patterns), and refuses what the parser refuses."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from zoho_watch.errors import InvalidInput
from zoho_watch.job_kinds import KINDS
from zoho_watch.jobs import CONNECTION_PATTERN, JOB_ID_PATTERN, MODULE_PATTERN
from zoho_watch.watch_requests import WATCH_REQUESTED, parse_watch_requested_event

from tests.unit.functions.conftest import REPO_ROOT

SCHEMA = json.loads((REPO_ROOT / "docs" / "watch-requested.schema.json").read_text(encoding="utf-8"))
SAMPLES = sorted((REPO_ROOT / "events").glob("watch_requested*.json"))


def validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_each_sample_is_valid_and_parsed(path: Any) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    validator().validate(event)
    request = parse_watch_requested_event(event)
    assert (request.job.module, request.job.job_id) == (event["detail"]["module"], event["detail"]["job_id"])
    assert request.options.task_token == event["detail"].get("task_token")


def test_the_schema_uses_the_librarys_patterns() -> None:
    detail = SCHEMA["properties"]["detail"]["properties"]
    assert SCHEMA["properties"]["detail-type"]["const"] == WATCH_REQUESTED
    assert (detail["module"]["pattern"], detail["job_id"]["pattern"], detail["connection"]["pattern"]) == (
        MODULE_PATTERN,
        JOB_ID_PATTERN,
        CONNECTION_PATTERN,
    )
    assert sorted(detail["kind"]["enum"]) == sorted(KINDS)  # every kind the library declares, no other


@pytest.mark.parametrize(
    "change",
    [
        {"job_id": None},
        {"module": "Leads/../x"},
        {"mode": "sometimes"},
        {"deadline": "tomorrow"},
        {"surprise": True},
        {"job_id": 42},
        {"heartbeat_seconds": 30},
        {"kind": "mass_explode"},
        {"heartbeat_seconds": "300"},
    ],
)
def test_what_the_schema_refuses_the_parser_refuses(change: dict[str, Any]) -> None:
    event = json.loads(SAMPLES[0].read_text(encoding="utf-8"))
    bad = copy.deepcopy(event)
    for key, value in change.items():
        if value is None:
            del bad["detail"][key]
        else:
            bad["detail"][key] = value
    assert not validator().is_valid(bad)
    with pytest.raises(InvalidInput):
        parse_watch_requested_event(bad)
