"""The per-org concurrency limit and 200 concurrent status requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from fake_zoho import FakeZoho

from .helpers import access_token, assert_error, refresh, status_call


def hold_replies(zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch, until: Callable[[], bool]) -> None:
    """Hold each reply at the emulator's latency step until `until()` has once been true (or a reset wakes
    it): how many requests overlap is then set by the test, not by how fast the machine serves them."""
    opened = threading.Event()

    def held(_seconds: float) -> None:
        wake = zoho.faults.wake  # the reset sets this one (and replaces it)
        while not opened.is_set() and not wake.is_set():
            if until():
                opened.set()
            else:
                wake.wait(0.01)

    monkeypatch.setattr(zoho, "sleep", held)


def _burst(zoho: FakeZoho, token: str, job_id: str, count: int) -> list[int]:
    """``count`` concurrent status requests, each on its own connection; their HTTP statuses."""

    def one(_: int) -> int:
        with requests.Session() as session:
            response = session.get(
                f"{zoho.url}/crm/v8/Leads/actions/mass_update",
                params={"job_id": job_id},
                headers={"Authorization": f"Zoho-oauthtoken {token}"},
                timeout=20,
            )
            if response.status_code == 200:
                assert response.json()["data"][0]["Total_Count"] == 10
            else:
                assert_error(response, 429, "TOO_MANY_REQUESTS")
            return response.status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_200_concurrent_requests_are_all_served_without_a_limit(
    zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoho.config.update(concurrency_limit=None)
    token, job_id = access_token(zoho), zoho.create_job("Leads", 10)
    hold_replies(zoho, monkeypatch, until=lambda: zoho.counters["in_flight"] >= 50)
    statuses = _burst(zoho, token, job_id, 200)
    assert statuses == [200] * 200
    counters = zoho.counters
    assert counters["calls"]["status"] == {"200": 200}
    assert counters["peak_concurrency"] >= 50
    assert counters["in_flight"] == 0


def test_past_the_limit_comes_429_and_nothing_else(zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch) -> None:
    zoho.config.update(concurrency_limit=10)
    token, job_id = access_token(zoho), zoho.create_job("Leads", 10)
    # The admitted requests are held until a request past the limit was refused.
    hold_replies(zoho, monkeypatch, until=lambda: "429" in zoho.counters["calls"].get("status", {}))
    statuses = _burst(zoho, token, job_id, 200)
    assert set(statuses) <= {200, 429}
    assert 10 <= statuses.count(200) < 200
    assert zoho.counters["peak_concurrency_by_org"] == {"org1": 10}


def test_limit_is_per_org(zoho: FakeZoho) -> None:
    zoho.config.update(concurrency_limit=1)
    zoho.set_latency(0.5)
    job_id = zoho.create_job("Leads", 10)
    first = access_token(zoho)
    other = refresh(zoho, zoho.credentials(org_id="org2")).json()["access_token"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(status_call, zoho, first, job_id)
        b = pool.submit(status_call, zoho, other, job_id)
        assert (a.result().status_code, b.result().status_code) == (200, 200)


def test_reset_during_requests_keeps_in_flight_counts_sane(
    zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replies held far longer than the test needs: the reset below wakes them, whatever the machine's speed.
    zoho.set_latency(60)
    token, job_id = access_token(zoho), zoho.create_job("Leads", 10)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(status_call, zoho, token, job_id) for _ in range(3)]
        while zoho.counters["in_flight"] < 3:  # all three held
            time.sleep(0.01)
        zoho.reset()  # wakes the sleeping requests; they finish after the reset
        for future in futures:
            future.result()
    counters = zoho.counters
    assert counters["in_flight"] == 0
    # Each org slot was given back: a limit of 1 still lets one request through.
    zoho.config.update(concurrency_limit=1)
    fresh = access_token(zoho)
    assert status_call(zoho, fresh, zoho.create_job("Leads", 1)).status_code == 200
