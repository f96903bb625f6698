"""A mass update to submit: the request checked before any call, Zoho's body, and Zoho's replies parsed
strictly (the samples of Zoho's v8 specification and docs, and the emulator's own replies)."""

from __future__ import annotations

from typing import Any

import pytest
from zoho_watch.errors import (
    InvalidInput,
    JobAlreadyScheduled,
    ZohoAuthError,
    ZohoRequestError,
    ZohoUnavailable,
)
from zoho_watch.mass_updates import (
    MAX_IDS,
    MassUpdate,
    Territory,
    parse_mass_update,
    parse_mass_update_reply,
)
from zoho_watch.zoho import ZohoClient

from fake_zoho import FakeZoho

BY_VIEW = MassUpdate("default", "Leads", {"Lead_Status": "Contacted"}, cvid="4150868000000087011")
BY_IDS = MassUpdate("default", "Leads", {"Lead_Status": "Contacted"}, ids=("111", "222"))


def test_a_request_becomes_zohos_body() -> None:
    update = parse_mass_update(
        {
            "module": "Leads",
            "data": [{"Lead_Status": "Contacted", "Rating": None}],
            "territory": {"id": 4150868000000222001, "include_child": True},
            "over_write": True,
        }
    )
    assert update.connection == "default"
    assert update.territory == Territory("4150868000000222001", True)
    assert update.scheduled
    assert update.zoho_body() == {
        "data": [{"Lead_Status": "Contacted", "Rating": None}],
        "territory": {"id": "4150868000000222001", "include_child": True},
        "over_write": True,
    }
    assert parse_mass_update(update.to_dict()) == update
    by_ids = parse_mass_update({"module": "Deals", "data": [{"Stage": "Won"}], "ids": [1, "2"]})
    assert (by_ids.ids, by_ids.scheduled) == (("1", "2"), False)
    assert by_ids.zoho_body() == {"data": [{"Stage": "Won"}], "ids": ["1", "2"]}


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ([], "JSON object"),
        ({"module": "Leads", "data": [{"A": 1}], "cvid": "1", "extra": 1}, "unknown fields"),
        ({"module": "Leads", "data": {"A": 1}, "cvid": "1"}, "data must be a list"),
        ({"module": "Leads", "data": [{"A": 1}, {"B": 2}], "cvid": "1"}, "data must be a list"),
        ({"module": "Leads", "data": [{}], "cvid": "1"}, "data must hold"),
        ({"module": "Leads", "data": [{"bad name": 1}], "cvid": "1"}, "invalid field API name"),
        ({"module": "Leads", "data": [{"A": 1}]}, "exactly one of"),
        ({"module": "Leads", "data": [{"A": 1}], "cvid": "1", "ids": ["2"]}, "exactly one of"),
        ({"module": "Leads", "data": [{"A": 1}], "cvid": "12a"}, "cvid must be"),
        ({"module": "Leads", "data": [{"A": 1}], "ids": []}, "ids must hold"),
        (
            {"module": "Leads", "data": [{"A": 1}], "ids": [str(n) for n in range(MAX_IDS + 1)]},
            "ids must hold",
        ),
        ({"module": "Leads", "data": [{"A": 1}], "ids": ["1", "1"]}, "repeat"),
        ({"module": "Leads", "data": [{"A": 1}], "ids": "1"}, "ids must be a list"),
        ({"module": "Leads", "data": [{"A": 1}], "territory": {"id": "1", "x": 1}}, "territory must be"),
        (
            {"module": "Leads", "data": [{"A": 1}], "territory": {"id": "1", "include_child": 1}},
            "include_child",
        ),
        ({"module": "Leads", "data": [{"A": 1}], "cvid": "1", "over_write": "yes"}, "over_write"),
        ({"module": "Leads/x", "data": [{"A": 1}], "cvid": "1"}, "module"),
        ({"module": "Leads", "connection": "a b", "data": [{"A": 1}], "cvid": "1"}, "connection"),
    ],
)
def test_bad_requests_are_refused_with_what_is_wrong(payload: Any, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_mass_update(payload)


def test_zohos_scheduled_reply_gives_the_job() -> None:
    body = {
        "data": [
            {
                "code": "SUCCESS",
                "details": {"job_id": "554023000000506003"},
                "message": "mass update scheduled successfully",
                "status": "success",
            }
        ]
    }
    reply = parse_mass_update_reply(BY_VIEW, 200, body)
    assert (reply.job_id, reply.message) == ("554023000000506003", "mass update scheduled successfully")


@pytest.mark.parametrize("details", [{}, {"job_id": "554023000000506003"}])
def test_already_scheduled_is_its_own_error_naming_the_job_when_zoho_does(details: dict[str, str]) -> None:
    item = {
        "code": "ALREADY_SCHEDULED",
        "details": details,
        "message": "Already a Mass Action scheduler is running for the given cvid",
        "status": "error",
    }
    with pytest.raises(JobAlreadyScheduled) as caught:
        parse_mass_update_reply(BY_VIEW, 202, {"data": [item]})
    assert caught.value.running_job_id == details.get("job_id")
    assert caught.value.code == "ALREADY_SCHEDULED"
    assert caught.value.api_status == 409


def test_an_update_by_ids_gives_each_records_result() -> None:
    body = {
        "data": [
            {"code": "SUCCESS", "details": {"id": "111"}, "message": "record updated", "status": "success"},
            {
                "code": "INVALID_DATA",
                "details": {"id": "222"},
                "message": "the id given seems to be invalid",
                "status": "error",
            },
        ]
    }
    reply = parse_mass_update_reply(BY_IDS, 200, body)
    assert reply.job_id is None
    assert [(r.id, r.status, r.code) for r in reply.records] == [
        ("111", "success", "SUCCESS"),
        ("222", "error", "INVALID_DATA"),
    ]


@pytest.mark.parametrize(
    ("update", "status", "body", "error", "words"),
    [
        (
            BY_VIEW,
            400,
            {
                "code": "INVALID_DATA",
                "details": {"api_name": "cvid", "json_path": "$.cvid"},
                "message": "invalid data",
                "status": "error",
            },
            ZohoRequestError,
            r"\$\.cvid",
        ),
        (
            BY_VIEW,
            400,
            {
                "data": [
                    {
                        "code": "MANDATORY_NOT_FOUND",
                        "details": {"api_name": "data"},
                        "message": "required field not found",
                        "status": "error",
                    }
                ]
            },
            ZohoRequestError,
            "MANDATORY_NOT_FOUND",
        ),
        (
            BY_VIEW,
            401,
            {
                "code": "OAUTH_SCOPE_MISMATCH",
                "details": {},
                "message": "invalid oauth scope",
                "status": "error",
            },
            ZohoAuthError,
            "OAUTH_SCOPE_MISMATCH",
        ),
        (
            BY_VIEW,
            200,
            {"data": [{"code": "SUCCESS", "details": {}, "status": "success"}]},
            ZohoUnavailable,
            "job_id",
        ),
        (BY_VIEW, 200, {"data": []}, ZohoUnavailable, "data"),
        (BY_VIEW, 200, "<not json>", ZohoUnavailable, "data"),
        (BY_VIEW, 502, "<empty>", ZohoUnavailable, "502"),
        (
            BY_IDS,
            200,
            {"data": [{"code": "SUCCESS", "details": {}, "status": "success"}]},
            ZohoUnavailable,
            "id, status or code",
        ),
    ],
)
def test_refusals_and_malformed_replies_are_typed_errors(
    update: MassUpdate, status: int, body: Any, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        parse_mass_update_reply(update, status, body)


def access_token(zoho: FakeZoho, client: ZohoClient, scopes: list[str]) -> str:
    """An access token of a new emulator client with these scopes."""
    creds = zoho.credentials(scopes=scopes)
    args = (creds["accounts_url"], creds["client_id"], creds["client_secret"], creds["refresh_token"])
    return client.refresh_access_token(*args).access_token


def test_the_client_schedules_on_the_emulator_and_reads_its_refusals(zoho: FakeZoho) -> None:
    client = ZohoClient()
    token = access_token(zoho, client, ["ZohoCRM.mass_update.ALL"])
    zoho.define_view("Leads", "4150868000000087011", 300)
    reply = client.submit_mass_update(token, zoho.url, BY_VIEW)
    assert reply.job_id is not None and zoho.job_truth(reply.job_id)["Total_Count"] == 300
    with pytest.raises(JobAlreadyScheduled):
        client.submit_mass_update(token, zoho.url, BY_VIEW)
    records = client.submit_mass_update(token, zoho.url, BY_IDS).records
    assert [(r.id, r.status) for r in records] == [("111", "success"), ("222", "success")]
    read_only = access_token(zoho, client, ["ZohoCRM.mass_update.READ"])
    with pytest.raises(ZohoAuthError, match="OAUTH_SCOPE_MISMATCH"):
        client.submit_mass_update(read_only, zoho.url, BY_IDS)
