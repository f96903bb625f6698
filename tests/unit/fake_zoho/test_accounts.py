"""Zoho Accounts: grant codes, refresh, replies, errors with HTTP 200, throttle, live-token limit, revoke."""

from __future__ import annotations

import re

import pytest
import requests

from fake_zoho import FakeZoho

from .helpers import TIMEOUT, assert_error, refresh, status_call, token_call

TOKEN_SHAPE = re.compile(r"^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$")


def test_refresh_reply_has_documented_keys_and_types(
    zoho: FakeZoho, zoho_credentials: dict[str, str]
) -> None:
    response = refresh(zoho, zoho_credentials)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["access_token", "api_domain", "token_type", "expires_in"]
    assert TOKEN_SHAPE.match(body["access_token"])
    assert body["api_domain"] == zoho.url == zoho_credentials["api_domain"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600 and isinstance(body["expires_in"], int)
    assert zoho.counters["token_refreshes"] == 1


def test_parameters_in_the_query_string_work_too(zoho: FakeZoho, zoho_credentials: dict[str, str]) -> None:
    params = {"grant_type": "refresh_token", **zoho_credentials}
    response = requests.post(f"{zoho.url}/oauth/v2/token", params=params, timeout=TIMEOUT)
    assert "access_token" in response.json()


def test_legacy_reply_gives_milliseconds_and_expires_in_sec(
    zoho: FakeZoho, zoho_credentials: dict[str, str]
) -> None:
    zoho.config.update(legacy_token_reply=True)
    body = refresh(zoho, zoho_credentials).json()
    assert body["expires_in"] == 3_600_000
    assert body["expires_in_sec"] == 3600
    assert set(body) == {"access_token", "expires_in_sec", "api_domain", "token_type", "expires_in"}


def test_grant_code_exchange_is_single_use(zoho: FakeZoho) -> None:
    client = zoho.add_client()
    code = zoho.issue_grant_code(client.client_id)
    fields = {
        "grant_type": "authorization_code",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "code": code,
    }
    first = token_call(zoho, **fields)
    body = first.json()
    assert list(body) == ["access_token", "refresh_token", "api_domain", "token_type", "expires_in"]
    assert TOKEN_SHAPE.match(body["refresh_token"])
    again = token_call(zoho, **fields)
    assert again.status_code == 200
    assert again.json() == {"error": "invalid_code"}
    assert zoho.counters["grants"] == 1
    # The refresh token it gave works.
    creds = {"client_id": client.client_id, "client_secret": client.client_secret}
    assert "access_token" in refresh(zoho, {**creds, "refresh_token": body["refresh_token"]}).json()


def test_grant_code_expires_on_the_emulator_clock(zoho: FakeZoho) -> None:
    client = zoho.add_client()
    zoho.clock.freeze()
    code = zoho.issue_grant_code(client.client_id, ttl=180)
    zoho.clock.advance(181)
    reply = token_call(
        zoho,
        grant_type="authorization_code",
        client_id=client.client_id,
        client_secret=client.client_secret,
        code=code,
    )
    assert reply.json() == {"error": "invalid_code"}


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
def test_wrong_client_or_secret_is_invalid_client_with_http_200(
    zoho: FakeZoho, zoho_credentials: dict[str, str], field: str
) -> None:
    response = refresh(zoho, {**zoho_credentials, field: zoho_credentials[field] + "x"})
    assert response.status_code == 200
    assert response.json() == {"error": "invalid_client"}
    assert zoho.counters["token_refreshes"] == 0


def test_client_of_another_data_centre_is_invalid_client(zoho: FakeZoho) -> None:
    client = zoho.add_client(dc="eu")
    refresh_token = zoho.issue_refresh_token(client.client_id)
    creds = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "refresh_token": refresh_token,
    }
    assert refresh(zoho, creds).json() == {"error": "invalid_client"}


def test_unknown_grant_type_is_refused(zoho: FakeZoho, zoho_credentials: dict[str, str]) -> None:
    response = token_call(zoho, grant_type="password", **zoho_credentials)
    assert "access_token" not in response.json()


def test_revoked_refresh_token_is_invalid_code_and_kills_its_access_tokens(
    zoho: FakeZoho, zoho_credentials: dict[str, str]
) -> None:
    access = refresh(zoho, zoho_credentials).json()["access_token"]
    job_id = zoho.create_job("Leads", 10)
    assert status_call(zoho, access, job_id).status_code == 200
    revoke = requests.post(
        f"{zoho.url}/oauth/v2/token/revoke",
        params={"token": zoho_credentials["refresh_token"]},
        timeout=TIMEOUT,
    )
    assert revoke.status_code == 200 and revoke.json() == {"status": "success"}
    assert refresh(zoho, zoho_credentials).json() == {"error": "invalid_code"}
    assert_error(status_call(zoho, access, job_id), 401, "INVALID_TOKEN")


def test_revoke_of_an_unknown_token_says_so(zoho: FakeZoho) -> None:
    revoke = requests.post(f"{zoho.url}/oauth/v2/token/revoke", params={"token": "1000.x.y"}, timeout=TIMEOUT)
    assert "error" in revoke.json()


def test_ten_tokens_per_ten_minutes_then_throttled_then_free_again(
    zoho: FakeZoho, zoho_credentials: dict[str, str]
) -> None:
    zoho.clock.freeze()
    for _ in range(10):
        assert "access_token" in refresh(zoho, zoho_credentials).json()
        zoho.clock.advance(30)
    throttled = refresh(zoho, zoho_credentials)
    assert throttled.status_code == 200
    assert throttled.json() == {
        "error_description": (
            "You have made too many requests continuously. Please try again after some time."
        ),
        "error": "Access Denied",
        "status": "failure",
    }
    # The first token was issued 300 s ago: 300 more and it leaves the 600 s window.
    zoho.clock.advance(299)
    assert "access_token" not in refresh(zoho, zoho_credentials).json()
    zoho.clock.advance(2)
    assert "access_token" in refresh(zoho, zoho_credentials).json()
    counters = zoho.counters
    assert counters["token_refreshes"] == 11
    assert counters["token_throttled"] == 2
    assert len(counters["token_refresh_times"]) == 11


def test_limit_is_per_refresh_token(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    first, second = zoho.credentials(), zoho.credentials()
    for _ in range(10):
        refresh(zoho, first)
    assert "access_token" not in refresh(zoho, first).json()
    assert "access_token" in refresh(zoho, second).json()


def test_sixteenth_live_token_evicts_the_oldest(zoho: FakeZoho, zoho_credentials: dict[str, str]) -> None:
    zoho.config.update(refresh_limit=100)
    job_id = zoho.create_job("Leads", 10)
    tokens = [refresh(zoho, zoho_credentials).json()["access_token"] for _ in range(16)]
    assert_error(status_call(zoho, tokens[0], job_id), 401, "INVALID_TOKEN")
    for token in tokens[1:]:
        assert status_call(zoho, token, job_id).status_code == 200


def test_access_token_expires_after_an_hour(zoho: FakeZoho, zoho_credentials: dict[str, str]) -> None:
    zoho.clock.freeze()
    token = refresh(zoho, zoho_credentials).json()["access_token"]
    job_id = zoho.create_job("Leads", 10)
    zoho.clock.advance(3599)
    assert status_call(zoho, token, job_id).status_code == 200
    zoho.clock.advance(1)
    body = assert_error(status_call(zoho, token, job_id), 401, "INVALID_TOKEN")
    assert body == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }


def test_expire_access_tokens_control(zoho: FakeZoho, zoho_credentials: dict[str, str]) -> None:
    token = refresh(zoho, zoho_credentials).json()["access_token"]
    job_id = zoho.create_job("Leads", 10)
    assert zoho.expire_access_tokens() == 1
    assert_error(status_call(zoho, token, job_id), 401, "INVALID_TOKEN")
    fresh = refresh(zoho, zoho_credentials).json()["access_token"]
    assert status_call(zoho, fresh, job_id).status_code == 200


def test_a_day_of_refreshes_runs_in_no_time_at_scale(
    zoho: FakeZoho, zoho_credentials: dict[str, str]
) -> None:
    zoho.clock.freeze()
    # One refresh every 55 minutes for 24 hours never trips the limit.
    for _ in range(27):
        assert "access_token" in refresh(zoho, zoho_credentials).json()
        zoho.clock.advance(55 * 60)
    assert zoho.counters["token_throttled"] == 0


def test_request_log_holds_no_secrets(zoho: FakeZoho, zoho_credentials: dict[str, str]) -> None:
    token = refresh(zoho, zoho_credentials).json()["access_token"]
    requests.post(
        f"{zoho.url}/oauth/v2/token",
        params={"grant_type": "refresh_token", **zoho_credentials},
        timeout=TIMEOUT,
    )
    status_call(zoho, token, zoho.create_job("Leads", 1))
    text = repr(zoho.request_log) + repr(zoho.counters)
    for secret in (zoho_credentials["client_secret"], zoho_credentials["refresh_token"], token):
        assert secret not in text
    assert [entry["route"] for entry in zoho.request_log] == ["token", "token", "status"]
