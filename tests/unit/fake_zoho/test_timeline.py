"""Job timelines: statuses and counts over emulated time, at a manual clock and at several time scales."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_zoho import FakeZoho, JobProfile
from fake_zoho import clock as clock_module
from fake_zoho.profile import JobTimeline

from .helpers import access_token, refresh, status_call


def _counts_add_up(body: dict) -> bool:
    return body["Updated_Count"] + body["Failed_Count"] + body["Not_Updated_Count"] == body["Total_Count"]


def test_scheduled_then_running_at_its_rate_then_completed(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=30, rate=10))
    assert zoho.job_truth(job_id)["Status"] == "SCHEDULED"
    zoho.clock.advance(29.9)
    assert zoho.job_truth(job_id) == {
        "Status": "SCHEDULED",
        "Failed_Count": 0,
        "Updated_Count": 0,
        "Not_Updated_Count": 500,
        "Total_Count": 500,
    }
    zoho.clock.advance(0.1 + 20)
    assert zoho.job_truth(job_id) == {
        "Status": "RUNNING",
        "Failed_Count": 0,
        "Updated_Count": 200,
        "Not_Updated_Count": 300,
        "Total_Count": 500,
    }
    assert zoho.job_finished_at(job_id) is None
    zoho.clock.advance(30)
    assert zoho.job_truth(job_id)["Status"] == "COMPLETED"
    assert zoho.job_truth(job_id)["Updated_Count"] == 500
    created = zoho.job(job_id).created_at
    assert zoho.job_finished_at(job_id) == pytest.approx(created + 80)


def test_failure_share_splits_processed_records(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", 100, JobProfile(queue_delay=0, duration=10, failure_share=0.25))
    zoho.clock.advance(4)
    assert zoho.job_truth(job_id) == {
        "Status": "RUNNING",
        "Failed_Count": 10,
        "Updated_Count": 30,
        "Not_Updated_Count": 60,
        "Total_Count": 100,
    }
    zoho.clock.advance(6)
    assert zoho.job_truth(job_id) == {
        "Status": "COMPLETED",
        "Failed_Count": 25,
        "Updated_Count": 75,
        "Not_Updated_Count": 0,
        "Total_Count": 100,
    }


def test_failed_midway_counts_the_rest_as_failed(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=5, duration=100, final_status="FAILED", fail_at=0.4)
    job_id = zoho.create_job("Leads", 1000, profile)
    zoho.clock.advance(5 + 39)
    assert zoho.job_truth(job_id)["Status"] == "RUNNING"
    zoho.clock.advance(1)
    assert zoho.job_truth(job_id) == {
        "Status": "FAILED",
        "Failed_Count": 600,
        "Updated_Count": 400,
        "Not_Updated_Count": 0,
        "Total_Count": 1000,
    }
    assert zoho.job_finished_at(job_id) == pytest.approx(zoho.job(job_id).created_at + 45)


def test_queued_and_suspended_statuses(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queued=10, queue_delay=10, duration=100, suspend_at=0.5, suspend_for=60)
    job_id = zoho.create_job("Leads", 100, profile)
    statuses = []
    for _ in range(20):
        statuses.append(zoho.job_truth(job_id)["Status"])
        zoho.clock.advance(10)
    # QUEUED 10 s, SCHEDULED 10 s, RUNNING 50 s, SUSPENDED 60 s, RUNNING 50 s, COMPLETED.
    assert statuses == ["QUEUED", "SCHEDULED"] + ["RUNNING"] * 5 + ["SUSPENDED"] * 6 + ["RUNNING"] * 5 + [
        "COMPLETED",
        "COMPLETED",
    ]
    assert zoho.job_finished_at(job_id) == pytest.approx(zoho.job(job_id).created_at + 180)


def test_suspended_for_ever_never_finishes(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", 100, JobProfile(queue_delay=0, duration=10, suspend_at=0.3))
    zoho.clock.advance(10_000)
    assert zoho.job_truth(job_id)["Status"] == "SUSPENDED"
    assert zoho.job_truth(job_id)["Updated_Count"] == 30
    assert zoho.job_finished_at(job_id) is None


def test_unknown_running_status_is_served_as_given(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job(
        "Leads", 10, JobProfile(queue_delay=0, duration=10, running_status="IN_PROGRESS")
    )
    zoho.clock.advance(5)
    assert status_call(zoho, access_token(zoho), job_id).json()["data"][0]["Status"] == "IN_PROGRESS"


def test_irregular_progress_differs_from_steady_but_ends_on_time(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    steady = zoho.create_job("Leads", 10_000, JobProfile(queue_delay=0, duration=100))
    bursty = zoho.create_job("Leads", 10_000, JobProfile(queue_delay=0, duration=100, irregular=1.0))
    differences = 0
    previous = -1
    for _ in range(10):
        zoho.clock.advance(10)
        steady_body, bursty_body = zoho.job_truth(steady), zoho.job_truth(bursty)
        differences += steady_body["Updated_Count"] != bursty_body["Updated_Count"]
        assert bursty_body["Updated_Count"] >= previous
        previous = bursty_body["Updated_Count"]
    assert differences >= 3
    assert zoho.job_truth(bursty)["Status"] == "COMPLETED"
    assert zoho.job_finished_at(bursty) == zoho.job_finished_at(steady)


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=50_000),
    failure_share=st.floats(min_value=0, max_value=1),
    irregular=st.floats(min_value=0, max_value=1),
    final_status=st.sampled_from(["COMPLETED", "FAILED"]),
    fail_at=st.floats(min_value=0, max_value=1),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_counts_always_add_up_and_never_go_backwards(
    total: int, failure_share: float, irregular: float, final_status: str, fail_at: float, seed: int
) -> None:
    profile = JobProfile(
        queue_delay=5,
        duration=100,
        failure_share=failure_share,
        irregular=irregular,
        final_status=final_status,
        fail_at=fail_at,
    )
    timeline = JobTimeline(total, profile, seed)
    previous_processed = 0
    for step in range(0, 121, 3):
        body = timeline.body(float(step))
        assert _counts_add_up(body)
        assert min(body["Updated_Count"], body["Failed_Count"], body["Not_Updated_Count"]) >= 0
        processed = body["Updated_Count"] + body["Failed_Count"]
        assert processed >= previous_processed
        previous_processed = processed
    assert timeline.body(200.0)["Status"] == final_status


@pytest.mark.parametrize("scale", [3600.0, 7200.0, 14400.0])
def test_two_hour_job_finishes_in_seconds_at_scale(
    zoho: FakeZoho, scale: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The clock's real time is the test's: 0.07 real seconds per look (never on the job's end exactly),
    # however busy the machine.
    ticks = {"count": 0}
    monkeypatch.setattr(
        clock_module, "time", SimpleNamespace(monotonic=lambda: ticks["count"] * 0.07, time=time.time)
    )
    zoho.clock.reset(scale)
    creds = zoho.credentials()
    token = refresh(zoho, creds).json()["access_token"]
    job_id = zoho.create_job("Leads", 5000, JobProfile(queue_delay=60, duration=7200 - 60))
    seen = []
    for _ in range(1_000):
        ticks["count"] += 1
        response = status_call(zoho, token, job_id)
        if response.status_code == 401:
            # Access tokens live one emulated hour: at this scale that is a second or less. A new token, and
            # the same look again (the clock has not moved).
            token = refresh(zoho, creds).json()["access_token"]
            response = status_call(zoho, token, job_id)
        body = response.json()["data"][0]
        assert _counts_add_up(body)
        if not seen or seen[-1] != body["Status"]:
            seen.append(body["Status"])
        if body["Status"] == "COMPLETED":
            break
    assert seen == ["RUNNING", "COMPLETED"]  # its minute in the queue is over by the first look
    # 7200 emulated seconds take 7200 / scale real seconds: seen at the first look at or after that.
    assert ticks["count"] == math.floor(7200 / scale / 0.07) + 1
    finished_at = zoho.job_finished_at(job_id)
    assert finished_at == pytest.approx(zoho.job(job_id).created_at + 7200)


def test_profile_rejects_bad_values() -> None:
    for bad in (
        {"queue_delay": -1},
        {"failure_share": 1.5},
        {"final_status": "DONE"},
        {"rate": 0},
        {"duration": float("nan")},
        {"irregular": "a lot"},
    ):
        with pytest.raises(ValueError):
            JobProfile(**bad)
    with pytest.raises(ValueError, match="unknown profile settings"):
        JobProfile.from_dict({"speed": 3})


def test_create_job_rejects_bad_input(zoho: FakeZoho) -> None:
    with pytest.raises(ValueError):
        zoho.create_job("Le-ads", 10)
    with pytest.raises(ValueError):
        zoho.create_job("Leads", -1)
    with pytest.raises(ValueError):
        zoho.create_job("Leads", 50_001)
    assert zoho.jobs.all() == []


def test_job_ids_are_zoho_like_digit_strings(zoho: FakeZoho) -> None:
    ids = [zoho.create_job("Leads", 1) for _ in range(20)]
    assert len(set(ids)) == 20
    assert all(job_id.isdigit() and 18 <= len(job_id) <= 19 for job_id in ids)
    assert ids == sorted(ids, key=int)
