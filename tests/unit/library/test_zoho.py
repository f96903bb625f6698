"""Zoho client: strict parsing; every documented error and transport fault is a typed error."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from zoho_watch.errors import (
    InvalidInput,
    JobNotFound,
    ZohoAuthError,
    ZohoRateLimited,
    ZohoRequestError,
    ZohoUnavailable,
)
from zoho_watch.zoho import DATA_CENTRES, ZohoClient, data_centre_urls, parse_status_reply, parse_token_reply

from fake_zoho import FakeZoho, JobProfile

GOOD_ROW = {
    "Status": "RUNNING",
    "Failed_Count": 0,
    "Updated_Count": 30,
    "Not_Updated_Count": 20,
    "Total_Count": 50,
}

# Every documented error of the status call: (code, typed error, HTTP status).
DOCUMENTED = [
    ("NOT_FOUND", JobNotFound, 404),
    ("INVALID_DATA", JobNotFound, 400),
    ("MANDATORY_NOT_FOUND", ZohoRequestError, 400),
    ("INVALID_URL_PATTERN", ZohoRequestError, 404),
    ("OAUTH_SCOPE_MISMATCH", ZohoAuthError, 401),
    ("INVALID_TOKEN", ZohoAuthError, 401),
    ("AUTHENTICATION_FAILURE", ZohoAuthError, 401),
    ("NO_PERMISSION", ZohoAuthError, 403),
    ("AUTHORIZATION_FAILED", ZohoAuthError, 400),
    ("INVALID_MODULE", ZohoRequestError, 400),
    ("INVALID_REQUEST_METHOD", ZohoRequestError, 400),
    ("UNABLE_TO_PARSE_DATA_TYPE", ZohoRequestError, 400),
    ("INTERNAL_ERROR", ZohoUnavailable, 500),
    ("TOO_MANY_REQUESTS", ZohoRateLimited, 429),
]

# Transport faults of the emulator: (kind, typed error, HTTP status kept or None).
TRANSPORT = [
    ("500", ZohoUnavailable, 500),
    ("429", ZohoRateLimited, 429),
    ("429_retry_after", ZohoRateLimited, 429),
    ("timeout", ZohoUnavailable, None),
    ("reset", ZohoUnavailable, None),
    ("non_json", ZohoUnavailable, 200),
    ("html", ZohoUnavailable, 503),
    ("502_empty", ZohoUnavailable, 502),
]


@pytest.fixture
def client() -> ZohoClient:
    return ZohoClient("v8", connect_timeout=1.0, read_timeout=0.5)


@pytest.fixture
def token(zoho: FakeZoho, zoho_credentials: dict[str, str], client: ZohoClient) -> str:
    creds = zoho_credentials
    grant = client.refresh_access_token(
        creds["accounts_url"], creds["client_id"], creds["client_secret"], creds["refresh_token"]
    )
    return grant.access_token


def test_data_centre_table() -> None:
    assert set(DATA_CENTRES) == {"us", "eu", "in", "au", "jp", "cn", "ca", "sa"}
    assert data_centre_urls("eu") == ("https://accounts.zoho.eu", "https://www.zohoapis.eu")
    assert data_centre_urls("CA") == ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca")
    with pytest.raises(ZohoRequestError):
        data_centre_urls("mars")


def test_documented_reply_is_parsed() -> None:
    snapshot = parse_status_reply(200, {"data": [GOOD_ROW]})
    assert (snapshot.status, snapshot.total, snapshot.updated, snapshot.failed, snapshot.not_updated) == (
        "RUNNING",
        50,
        30,
        0,
        20,
    )
    assert parse_status_reply(200, {"data": [{**GOOD_ROW, "Status": "BRAND_NEW"}]}).status == "BRAND_NEW"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": []},
        {"data": [GOOD_ROW, GOOD_ROW]},
        {"data": [GOOD_ROW], "info": {}},
        {"data": [{**GOOD_ROW, "Extra": 1}]},
        {"data": [{k: v for k, v in GOOD_ROW.items() if k != "Total_Count"}]},
        {"data": [{**GOOD_ROW, "Updated_Count": "30"}]},
        {"data": [{**GOOD_ROW, "Updated_Count": -1}]},
        {"data": [{**GOOD_ROW, "Failed_Count": True}]},
        {"data": [{**GOOD_ROW, "Status": ""}]},
        {"data": [{**GOOD_ROW, "Status": None}]},
        {"data": "x"},
        [GOOD_ROW],
        "<empty>",
        "<not json>",
    ],
)
def test_undocumented_shapes_are_typed_errors(body: object) -> None:
    with pytest.raises(ZohoUnavailable) as caught:
        parse_status_reply(200, body)
    assert caught.value.zoho_http_status == 200
    assert caught.value.retryable


def test_204_and_empty_404_mean_job_not_found() -> None:
    for status in (204, 404):
        with pytest.raises(JobNotFound) as caught:
            parse_status_reply(status, "<empty>")
        assert caught.value.zoho_http_status == status


def test_unknown_codes_fall_back_on_http_status() -> None:
    cases = [(503, ZohoUnavailable), (429, ZohoRateLimited), (403, ZohoAuthError), (400, ZohoRequestError)]
    for status, kind in cases:
        with pytest.raises(kind) as caught:
            parse_status_reply(
                status, {"code": "SOMETHING_NEW", "details": {}, "message": "x", "status": "error"}
            )
        assert caught.value.zoho_code == "SOMETHING_NEW"


def test_retry_after_header_is_kept() -> None:
    with pytest.raises(ZohoRateLimited) as caught:
        parse_status_reply(429, "<empty>", {"Retry-After": "7"})
    assert caught.value.retry_after == 7.0
    with pytest.raises(ZohoRateLimited) as caught:
        parse_status_reply(429, "<empty>", {})
    assert caught.value.retry_after is None


def test_token_reply_parsing() -> None:
    grant = parse_token_reply(
        200, {"access_token": "1000.a.b", "api_domain": "https://x.example", "expires_in": 3600}
    )
    assert (grant.access_token, grant.api_domain, grant.expires_in) == (
        "1000.a.b",
        "https://x.example",
        3600.0,
    )
    legacy = parse_token_reply(200, {"access_token": "t", "expires_in": 3600000, "expires_in_sec": 3600})
    assert legacy.expires_in == 3600.0
    assert "1000.a.b" not in repr(grant)
    with pytest.raises(ZohoAuthError) as caught:
        parse_token_reply(200, {"error": "invalid_client"})
    assert caught.value.zoho_code == "invalid_client" and caught.value.zoho_http_status == 200
    with pytest.raises(ZohoAuthError):
        parse_token_reply(200, {"error": "invalid_code"})
    with pytest.raises(ZohoRateLimited):
        parse_token_reply(
            200, {"error": "Access Denied", "status": "failure", "error_description": "too many"}
        )
    for status, body in (
        (200, {}),
        (200, {"access_token": ""}),
        (500, "<not json>"),
        (200, {"token_type": "x"}),
    ):
        with pytest.raises((ZohoUnavailable, ZohoAuthError)):
            parse_token_reply(status, body)


@pytest.mark.parametrize(("code", "kind", "http_status"), DOCUMENTED)
def test_each_documented_error_from_the_emulator(
    zoho: FakeZoho, client: ZohoClient, token: str, code: str, kind: type, http_status: int
) -> None:
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=5))
    zoho.faults.script([code])
    with pytest.raises(kind) as caught:
        client.get_mass_update_status(token, zoho.url, "Leads", job_id)
    assert caught.value.zoho_http_status == http_status
    assert caught.value.zoho_code == code
    assert token not in str(caught.value)


@pytest.mark.parametrize(("fault", "kind", "http_status"), TRANSPORT)
def test_each_transport_fault_from_the_emulator(
    zoho: FakeZoho, client: ZohoClient, token: str, fault: str, kind: type, http_status: int | None
) -> None:
    zoho.config.update(fault_timeout_seconds=1.0, retry_after_seconds=3)
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=5))
    zoho.faults.script([fault])
    with pytest.raises(kind) as caught:
        client.get_mass_update_status(token, zoho.url, "Leads", job_id)
    assert caught.value.zoho_http_status == http_status
    assert caught.value.retryable
    if fault == "429_retry_after":
        assert caught.value.retry_after == 3.0


@pytest.mark.parametrize("mode", ["empty", "json", "invalid_data"])
def test_unknown_job_is_job_not_found_in_every_mode(
    zoho: FakeZoho, client: ZohoClient, token: str, mode: str
) -> None:
    zoho.config.update(not_found_mode=mode)
    with pytest.raises(JobNotFound):
        client.get_mass_update_status(token, zoho.url, "Leads", "123456789")


def test_real_status_and_api_versions(zoho: FakeZoho, token: str) -> None:
    job_id = zoho.create_job("Deals", total=40, profile=JobProfile(queue_delay=0, duration=4))
    zoho.clock.freeze()
    zoho.clock.advance(2)
    truth = zoho.job_truth(job_id)
    for version in ("v8", "v2", "v2.1"):
        snapshot = ZohoClient(version).get_mass_update_status(token, zoho.url, "Deals", job_id)
        assert snapshot.status == truth["Status"] == "RUNNING"
        assert snapshot.updated + snapshot.failed == truth["Updated_Count"] + truth["Failed_Count"]
        assert snapshot.total == 40
    assert zoho.counters["calls"]["status"] == {"200": 3}


def test_unknown_module_and_expired_token(zoho: FakeZoho, client: ZohoClient, token: str) -> None:
    with pytest.raises(ZohoRequestError) as caught:
        client.get_mass_update_status(token, zoho.url, "NoSuchThing", "1")
    assert caught.value.zoho_code == "INVALID_MODULE"
    zoho.expire_access_tokens()
    with pytest.raises(ZohoAuthError) as caught:
        client.get_mass_update_status(token, zoho.url, "Leads", "1")
    assert caught.value.zoho_code == "INVALID_TOKEN"


@pytest.mark.parametrize(
    ("module", "job_id"),
    [
        ("../Leads", "1"),
        ("Leads?x=1", "1"),
        ("Leads&job_id=2", "1"),
        ("Leads%2F..", "1"),
        ("Le ads", "1"),
        ("L" * 10_000, "1"),
        ("Leads", "1&job_id=2"),
        ("Leads", "../1"),
        ("Leads", "1%2F"),
        ("Leads", "1 2"),
        ("Leads", "1?"),
        ("Leads", "9" * 10_000),
    ],
)
def test_bad_input_never_leaves_the_process(
    zoho: FakeZoho, client: ZohoClient, module: str, job_id: str
) -> None:
    with pytest.raises(InvalidInput):
        client.get_mass_update_status("not-a-token", zoho.url, module, job_id)
    assert zoho.counters["calls_total"] == 0


def test_accounts_errors_from_the_emulator(zoho: FakeZoho, zoho_credentials: dict[str, str]) -> None:
    client = ZohoClient()
    creds = zoho_credentials
    with pytest.raises(ZohoAuthError) as caught:
        client.refresh_access_token(
            creds["accounts_url"], creds["client_id"], "wrong", creds["refresh_token"]
        )
    assert caught.value.zoho_code == "invalid_client"
    zoho.revoke_refresh_token(creds["refresh_token"])
    with pytest.raises(ZohoAuthError) as caught:
        client.refresh_access_token(
            creds["accounts_url"], creds["client_id"], creds["client_secret"], creds["refresh_token"]
        )
    assert caught.value.zoho_code == "invalid_code"
    assert creds["client_secret"] not in str(caught.value)
    assert creds["refresh_token"] not in str(caught.value)


def test_legacy_token_reply_and_throttle_from_the_emulator(
    zoho: FakeZoho, zoho_credentials: dict[str, str]
) -> None:
    client = ZohoClient()
    creds = zoho_credentials
    args = (creds["accounts_url"], creds["client_id"], creds["client_secret"], creds["refresh_token"])
    zoho.config.update(legacy_token_reply=True)
    assert client.refresh_access_token(*args).expires_in == 3600.0
    zoho.config.update(legacy_token_reply=False)
    for _ in range(9):
        client.refresh_access_token(*args)
    with pytest.raises(ZohoRateLimited):
        client.refresh_access_token(*args)  # the 11th in 10 minutes


def test_grant_reply_keeps_the_refresh_token_hidden() -> None:
    grant = parse_token_reply(
        200, {"access_token": "1000.a.b", "refresh_token": "1000.c.d", "expires_in": 3600}, "the grant code"
    )
    assert (grant.access_token, grant.refresh_token) == ("1000.a.b", "1000.c.d")
    assert "1000.c.d" not in repr(grant) and "1000.a.b" not in repr(grant)
    with pytest.raises(ZohoUnavailable):
        parse_token_reply(200, {"access_token": "1000.a.b", "refresh_token": 7}, "the grant code")
    with pytest.raises(ZohoAuthError) as caught:
        parse_token_reply(200, {"error": "invalid_code"}, "the grant code")
    assert str(caught.value) == "Zoho Accounts refused the grant code: invalid_code"


def test_grant_code_exchange_on_the_emulator(zoho: FakeZoho) -> None:
    client = ZohoClient()
    app = zoho.add_client()
    code = zoho.issue_grant_code(app.client_id)
    grant = client.exchange_grant_code(zoho.url, app.client_id, app.client_secret, code)
    assert grant.access_token and grant.refresh_token and grant.api_domain == zoho.url.rstrip("/")
    # The refresh token it gave works for the refresh, on the same client.
    refreshed = client.refresh_access_token(zoho.url, app.client_id, app.client_secret, grant.refresh_token)
    assert refreshed.access_token and refreshed.refresh_token is None
    # A grant code works once; a wrong client secret is invalid_client. Neither error holds a secret.
    with pytest.raises(ZohoAuthError) as used:
        client.exchange_grant_code(zoho.url, app.client_id, app.client_secret, code)
    assert used.value.zoho_code == "invalid_code" and used.value.zoho_http_status == 200
    with pytest.raises(ZohoAuthError) as wrong:
        client.exchange_grant_code(zoho.url, app.client_id, "wrong", zoho.issue_grant_code(app.client_id))
    assert wrong.value.zoho_code == "invalid_client"
    for error in (used.value, wrong.value):
        assert app.client_secret not in str(error) and code not in str(error)


def test_the_zoho_session_keeps_a_connection_for_every_call_of_the_sweep_at_once(
    zoho: FakeZoho, caplog: pytest.LogCaptureFixture
) -> None:
    budget = 25  # the template's largest SweepConcurrency
    client = ZohoClient(connect_timeout=5, read_timeout=30, pool_size=budget)
    adapter = client.session.get_adapter(zoho.url)
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == budget
    job_id = zoho.create_job("Leads", total=10)
    start = threading.Barrier(budget)

    def call(_: int) -> object:
        start.wait()
        try:
            return client.get_mass_update_status("not-a-token", zoho.url, "Leads", job_id)
        except Exception as error:  # Zoho's INVALID_TOKEN is an answer too: the connection was used
            return error

    with (
        caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"),
        ThreadPoolExecutor(max_workers=budget) as pool,
    ):
        answers = list(pool.map(call, range(budget)))
    assert len(answers) == budget
    assert not [record for record in caplog.records if "Connection pool is full" in record.getMessage()]
