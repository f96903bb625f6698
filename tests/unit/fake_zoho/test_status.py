"""Get Mass Update Status: the seed's samples key for key and type for type, and every documented error."""

from __future__ import annotations

import pytest
import requests

from fake_zoho import FakeZoho, JobProfile

from .helpers import access_token, assert_error, refresh, status_call

SEED_KEYS = ["Status", "Failed_Count", "Updated_Count", "Not_Updated_Count", "Total_Count"]
# The four samples of Zoho's page for the status API, with the profile and time that reproduce each.
SEED_SAMPLES = [
    ({"queue_delay": 10, "duration": 10}, 5, ["SCHEDULED", 0, 0, 50, 50]),
    ({"queue_delay": 0, "duration": 50}, 30, ["RUNNING", 0, 30, 20, 50]),
    ({"queue_delay": 0, "duration": 50}, 50, ["COMPLETED", 0, 50, 0, 50]),
    (
        {"queue_delay": 0, "duration": 50, "final_status": "FAILED", "failure_share": 1.0},
        50,
        ["FAILED", 50, 0, 0, 50],
    ),
]


@pytest.mark.parametrize(("profile", "elapsed", "expected"), SEED_SAMPLES)
def test_replies_match_the_seed_samples(
    zoho: FakeZoho, profile: dict, elapsed: float, expected: list
) -> None:
    token = access_token(zoho)
    zoho.clock.freeze()
    job_id = zoho.create_job("Accounts", total=50, profile=JobProfile(**profile))
    zoho.clock.advance(elapsed)
    response = status_call(zoho, token, job_id, module="Accounts")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["data"] and len(body["data"]) == 1
    item = body["data"][0]
    assert list(item) == SEED_KEYS
    assert [item[key] for key in SEED_KEYS] == expected
    assert isinstance(item["Status"], str)
    assert all(type(item[key]) is int for key in SEED_KEYS[1:])
    assert item == zoho.job_truth(job_id)


@pytest.mark.parametrize("version", ["v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"])
def test_every_version_serves_the_same_reply(zoho: FakeZoho, version: str) -> None:
    token = access_token(zoho)
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=1))
    assert status_call(zoho, token, job_id, version=version).json() == {"data": [zoho.job_truth(job_id)]}


@pytest.mark.parametrize("version", ["v1", "v9", "v2.2", "latest"])
def test_unknown_version_is_invalid_url_pattern(zoho: FakeZoho, version: str) -> None:
    token = access_token(zoho)
    assert_error(status_call(zoho, token, "1", version=version), 404, "INVALID_URL_PATTERN")


def test_wrong_path_is_invalid_url_pattern(zoho: FakeZoho) -> None:
    token = access_token(zoho)
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}
    for path in ("/crm/v8/Leads/actions/mass_updates", "/crm/v8/Leads/mass_update", "/crm/v8/"):
        assert_error(requests.get(zoho.url + path, headers=headers, timeout=5), 404, "INVALID_URL_PATTERN")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_wrong_method_is_invalid_request_method(zoho: FakeZoho, method: str) -> None:
    token = access_token(zoho)
    assert_error(status_call(zoho, token, "1", method=method), 400, "INVALID_REQUEST_METHOD")


def test_missing_job_id_is_mandatory_not_found(zoho: FakeZoho) -> None:
    body = assert_error(status_call(zoho, access_token(zoho), None), 400, "MANDATORY_NOT_FOUND")
    assert body["details"] == {"param_name": "job_id"}
    assert_error(status_call(zoho, access_token(zoho), ""), 400, "MANDATORY_NOT_FOUND")


@pytest.mark.parametrize("job_id", ["554023000000506003", "12ab", "-1"])
def test_unknown_job_is_404_with_empty_body_by_default(zoho: FakeZoho, job_id: str) -> None:
    response = status_call(zoho, access_token(zoho), job_id)
    assert response.status_code == 404
    assert response.content == b""


def test_not_found_json_mode(zoho: FakeZoho) -> None:
    zoho.config.update(not_found_mode="json")
    assert_error(status_call(zoho, access_token(zoho), "554023000000506003"), 404, "NOT_FOUND")


def test_not_found_invalid_data_mode(zoho: FakeZoho) -> None:
    zoho.config.update(not_found_mode="invalid_data")
    body = assert_error(status_call(zoho, access_token(zoho), "554023000000506003"), 400, "INVALID_DATA")
    assert body["details"] == {"param_name": "job_id"}


def test_job_of_another_module_is_not_found(zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Deals", 10)
    token = access_token(zoho)
    assert status_call(zoho, token, job_id, module="Leads").status_code == 404
    assert status_call(zoho, token, job_id, module="Deals").status_code == 200


@pytest.mark.parametrize("module", ["Leads", "leads", "Price_Books", "Tasks", "CustomModule1", "Projects_X"])
def test_documented_and_custom_modules_are_accepted(zoho: FakeZoho, module: str) -> None:
    job_id = zoho.create_job(module, 5)
    assert status_call(zoho, access_token(zoho), job_id, module=module).status_code == 200


@pytest.mark.parametrize("module", ["Foo", "Lead", "Custom-Module"])
def test_unknown_module_is_invalid_module(zoho: FakeZoho, module: str) -> None:
    body = assert_error(status_call(zoho, access_token(zoho), "1", module=module), 400, "INVALID_MODULE")
    assert body["message"] == "The module name given seems to be invalid"


@pytest.mark.parametrize("module", ["Documents", "Projects"])
def test_unsupported_module_has_its_own_message(zoho: FakeZoho, module: str) -> None:
    body = assert_error(status_call(zoho, access_token(zoho), "1", module=module), 400, "INVALID_MODULE")
    assert body["message"] == "The given module is not supported in API"


def test_modules_are_configurable(zoho: FakeZoho) -> None:
    token = access_token(zoho)
    zoho.config.update(allow_custom_modules=False, extra_modules=["Foo"])
    assert_error(status_call(zoho, token, "1", module="CustomModule1"), 400, "INVALID_MODULE")
    assert status_call(zoho, token, zoho.create_job("Foo", 1), module="Foo").status_code == 200


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["ZohoCRM.mass_update.READ"], True),
        (["ZohoCRM.mass_update.Leads.READ"], True),
        (["zohocrm.mass_update.leads.read"], True),
        (["ZohoCRM.mass_update.ALL"], True),
        (["ZohoCRM.mass_update.Leads.ALL"], True),
        (["ZohoCRM.mass_update.Deals.READ"], False),
        (["ZohoCRM.mass_update.UPDATE"], False),
        (["ZohoCRM.modules.ALL"], False),
    ],
)
def test_scope_check(zoho: FakeZoho, scopes: list[str], allowed: bool) -> None:
    job_id = zoho.create_job("Leads", 5)
    response = status_call(zoho, access_token(zoho, scopes), job_id)
    if allowed:
        assert response.status_code == 200
    else:
        assert_error(response, 401, "OAUTH_SCOPE_MISMATCH")


def test_scope_names_use_the_docs_module_form(zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Price_Books", 5)
    token = access_token(zoho, "ZohoCRM.mass_update.pricebooks.READ")
    assert status_call(zoho, token, job_id, module="Price_Books").status_code == 200


def test_no_permission_and_authorization_failed(zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Leads", 5)
    creds = zoho.credentials(permission="no_permission")
    token = refresh(zoho, creds).json()["access_token"]
    assert_error(status_call(zoho, token, job_id), 403, "NO_PERMISSION")
    zoho.set_permission(creds["client_id"], "authorization_failed")
    assert_error(status_call(zoho, token, job_id), 400, "AUTHORIZATION_FAILED")
    zoho.set_permission(creds["client_id"], "ok")
    assert status_call(zoho, token, job_id).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer abc", "Zoho-oauthtoken"])
def test_missing_or_malformed_authorization(zoho: FakeZoho, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    url = f"{zoho.url}/crm/v8/Leads/actions/mass_update?job_id=1"
    assert_error(requests.get(url, headers=headers, timeout=5), 401, "AUTHENTICATION_FAILURE")


def test_unknown_token_is_invalid_token(zoho: FakeZoho) -> None:
    assert_error(status_call(zoho, "1000.abc.def", "1"), 401, "INVALID_TOKEN")


def test_token_of_another_data_centre_is_invalid_token(zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Leads", 5)
    assert_error(status_call(zoho, zoho.foreign_access_token("eu"), job_id), 401, "INVALID_TOKEN")


def test_token_from_a_second_emulator_is_invalid_token(zoho: FakeZoho) -> None:
    with FakeZoho(dc="eu") as europe:
        token = access_token(europe)
        assert status_call(europe, token, europe.create_job("Leads", 1)).status_code == 200
        assert_error(status_call(zoho, token, zoho.create_job("Leads", 1)), 401, "INVALID_TOKEN")


def test_counters_count_calls_by_route_and_status(zoho: FakeZoho) -> None:
    token = access_token(zoho)
    job_id = zoho.create_job("Leads", 5)
    status_call(zoho, token, job_id)
    status_call(zoho, token, job_id)
    status_call(zoho, token, "1")
    counters = zoho.counters
    assert counters["calls"]["status"] == {"200": 2, "404": 1}
    assert counters["calls"]["token"] == {"200": 1}
    assert counters["calls_total"] == 4
    log = zoho.request_log
    assert [(e["route"], e["status"]) for e in log] == [
        ("token", 200),
        ("status", 200),
        ("status", 200),
        ("status", 404),
    ]
    assert log[1]["job_id"] == job_id and log[1]["method"] == "GET"
    assert log[1]["path"] == "/crm/v8/Leads/actions/mass_update"
