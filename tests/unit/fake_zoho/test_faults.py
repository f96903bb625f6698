"""Fault injection and latency: each fault kind's reply, scripts, shares, routes."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from fake_zoho import FakeZoho

from .helpers import access_token, assert_error, refresh, status_call


@pytest.fixture
def job(zoho: FakeZoho) -> tuple[str, str]:
    """(access token, job_id) on the reset emulator."""
    return access_token(zoho), zoho.create_job("Leads", 10)


def test_500_is_internal_error(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.faults.script(["500"])
    assert_error(status_call(zoho, *job), 500, "INTERNAL_ERROR")
    assert status_call(zoho, *job).status_code == 200


def test_429_with_and_without_retry_after(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.config.update(retry_after_seconds=7)
    zoho.faults.script(["429", "429_retry_after"])
    plain = status_call(zoho, *job)
    assert_error(plain, 429, "TOO_MANY_REQUESTS")
    assert "Retry-After" not in plain.headers
    with_header = status_call(zoho, *job)
    assert_error(with_header, 429, "TOO_MANY_REQUESTS")
    assert with_header.headers["Retry-After"] == "7"


def test_non_json_html_and_empty_502(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.faults.script(["non_json", "html", "502_empty"])
    non_json = status_call(zoho, *job)
    assert non_json.status_code == 200
    with pytest.raises(ValueError):
        non_json.json()
    html = status_call(zoho, *job)
    assert html.status_code == 503 and html.headers["Content-Type"].startswith("text/html")
    assert "<html>" in html.text
    empty = status_call(zoho, *job)
    assert empty.status_code == 502 and empty.content == b""


def test_reset_is_a_connection_error(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.faults.script(["reset"])
    with pytest.raises(requests.ConnectionError):
        status_call(zoho, *job)
    # Logged, and out of flight, before the client sees the reset: a retry at once comes after it.
    assert [e["status"] for e in zoho.request_log if e["route"] == "status"] == [0]
    assert zoho.counters["in_flight"] == 0
    assert status_call(zoho, *job).status_code == 200
    assert [e["status"] for e in zoho.request_log if e["route"] == "status"] == [0, 200]


def test_timeout_holds_the_reply_past_the_client_time_out(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.config.update(fault_timeout_seconds=1.0)
    zoho.faults.script(["timeout"])
    with pytest.raises(requests.ReadTimeout):  # the client gave up: the reply was held past its time-out
        status_call(zoho, *job, timeout=0.2)
    while zoho.counters["in_flight"]:  # the held request ends on its own
        time.sleep(0.01)
    assert status_call(zoho, *job).status_code == 200


def test_zoho_error_codes_are_fault_kinds(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.faults.script(["NO_PERMISSION", "INVALID_TOKEN", None, "AUTHORIZATION_FAILED"])
    assert_error(status_call(zoho, *job), 403, "NO_PERMISSION")
    assert_error(status_call(zoho, *job), 401, "INVALID_TOKEN")
    assert status_call(zoho, *job).status_code == 200
    assert_error(status_call(zoho, *job), 400, "AUTHORIZATION_FAILED")
    assert zoho.counters["faults_injected"] == {
        "NO_PERMISSION": 1,
        "INVALID_TOKEN": 1,
        "AUTHORIZATION_FAILED": 1,
    }


def test_share_is_repeatable_with_a_seed_and_cleared(zoho: FakeZoho, job: tuple[str, str]) -> None:
    def run() -> list[int]:
        return [status_call(zoho, *job).status_code for _ in range(40)]

    zoho.faults.seed(7)
    zoho.faults.inject("500", share=0.3)
    first = run()
    zoho.faults.seed(7)
    assert run() == first
    assert 4 <= first.count(500) <= 24
    assert set(first) == {200, 500}
    zoho.faults.clear()
    assert set(run()) == {200}


def test_faults_apply_only_to_their_routes(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.faults.inject("500", share=1.0, routes=("token",))
    assert status_call(zoho, *job).status_code == 200
    creds = zoho.credentials()
    assert refresh(zoho, creds).status_code == 500
    zoho.faults.clear()
    zoho.faults.script(["html"], routes="*")
    assert refresh(zoho, creds).status_code == 503


def test_bad_fault_requests_change_nothing(zoho: FakeZoho) -> None:
    with pytest.raises(ValueError):
        zoho.faults.inject("boom")
    with pytest.raises(ValueError):
        zoho.faults.inject("500", share=2)
    with pytest.raises(ValueError):
        zoho.faults.script(["500", "boom"])
    with pytest.raises(ValueError):
        zoho.faults.inject("500", routes=("nowhere",))
    assert zoho.faults.state() == {"rules": [], "script": [], "injected": {}}


def test_latency_is_added_to_crm_calls(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.set_latency(0.3)
    started = time.monotonic()
    assert status_call(zoho, *job).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(ValueError):
        zoho.set_latency(-1)
    assert zoho.latency == 0.3


def test_reset_wakes_sleeping_requests(zoho: FakeZoho, job: tuple[str, str]) -> None:
    zoho.set_latency(30)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(status_call(zoho, *job).status_code))
    worker.start()
    while zoho.counters["in_flight"] < 1:  # the request is held by the latency now
        time.sleep(0.01)
    zoho.faults.reset()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert results == [200]
