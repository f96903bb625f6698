"""A "status changed" event is never lost: it stays pending in the job's STATE item until it is on the bus.

A failed publication fails the check (retryable `EventPublishError`) and the next check that writes publishes
it; a job that finished meanwhile has it published with its finished event, by the check or by the sweep.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from zoho_watch import services
from zoho_watch.check import check_job
from zoho_watch.errors import EventPublishError
from zoho_watch.events import changed_event_id
from zoho_watch.jobs import JobKey
from zoho_watch.store import FINISHED_EVENT_LEASE_SECONDS
from zoho_watch.sweep import run_sweep

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack

CHANGED = "Mass Update Job Status Changed"
FINISHED = "Mass Update Job Finished"


class Bus:
    """The library's events, refused while `down` (as EventBridge refuses a put); counts the refusals."""

    def __init__(self, library: services.Services, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = False
        self.refused: list[str] = []
        original = library.events._put

        def put(detail_type: str, detail: dict[str, Any]) -> None:
            if self.down:
                self.refused.append(detail_type)
                raise RuntimeError("EventBridge is unreachable")
            original(detail_type, detail)

        monkeypatch.setattr(library.events, "_put", put)


def moves(aws: AwsStack) -> list[tuple[str | None, str]]:
    return [(event["detail"]["previous_status"], event["detail"]["status"]) for event in aws.events(CHANGED)]


def raw_state(aws: AwsStack, job: JobKey) -> dict[str, Any]:
    key = {"pk": {"S": f"JOB#{job.connection}#{job.module}#{job.job_id}"}, "sk": {"S": "STATE"}}
    return aws.dynamodb.get_item(TableName=aws.table_name, Key=key, ConsistentRead=True)["Item"]


def test_a_refused_changed_event_is_published_by_the_next_check(
    library: services.Services, aws: AwsStack, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=100, profile=JobProfile(100, 1000)))
    bus = Bus(library, monkeypatch)
    bus.down = True
    with pytest.raises(EventPublishError, match="status changed event"):
        check_job(job, watcher="schedule")
    stored = library.store.get(job)
    assert stored is not None and stored["status"] == "SCHEDULED"  # the check itself is recorded
    assert raw_state(aws, job)["changed_event_pending"] == {"BOOL": True}
    assert "changed_claimed_until" not in raw_state(aws, job)  # given back: the next check need not wait
    assert aws.events(CHANGED) == [] and bus.refused == [CHANGED]
    bus.down = False
    zoho.clock.advance(5)
    result = check_job(job)  # no new status, but the pending event goes out
    assert result["status"] == "SCHEDULED" and result["changed"] is False
    assert moves(aws) == [(None, "SCHEDULED")]
    assert "changed_event_pending" not in raw_state(aws, job)
    zoho.clock.advance(5)
    check_job(job)
    assert moves(aws) == [(None, "SCHEDULED")]  # published once


def test_changes_that_pile_up_are_told_as_one_move(
    library: services.Services, aws: AwsStack, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=100, profile=JobProfile(10, 1000)))
    bus = Bus(library, monkeypatch)
    check_job(job, watcher="schedule")
    bus.down = True
    zoho.clock.advance(20)
    with pytest.raises(EventPublishError):
        check_job(job)  # SCHEDULED -> RUNNING, not published
    bus.down = False
    zoho.clock.advance(2000)
    result = check_job(job)  # RUNNING -> COMPLETED
    assert result["terminal"]
    assert moves(aws) == [(None, "SCHEDULED"), ("SCHEDULED", "COMPLETED")]
    [finished] = aws.events(FINISHED)
    assert finished["detail"]["previous_status"] == "RUNNING"  # the finished event tells the last check's
    ids = [event["detail"]["event_id"] for event in aws.events(CHANGED)]
    assert ids == [
        changed_event_id(job, None, "SCHEDULED"),
        changed_event_id(job, "SCHEDULED", "COMPLETED"),
    ]


def test_the_last_change_of_a_dead_check_goes_out_with_the_finished_event_from_the_sweep(
    library: services.Services, aws: AwsStack, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 5)))
    bus = Bus(library, monkeypatch)
    check_job(job, watcher="schedule")
    zoho.clock.advance(10)
    bus.down = True
    with pytest.raises(EventPublishError):
        check_job(job)  # COMPLETED: neither event goes out
    assert bus.refused == [CHANGED]
    assert moves(aws) == [(None, "RUNNING")] and aws.events(FINISHED) == []
    bus.down = False
    calls = sum(zoho.counters["calls"]["status"].values())
    report = run_sweep(2, 100, time_left_ms=lambda: 60_000, reserve_ms=1_000)
    assert report.published == 1
    assert sum(zoho.counters["calls"]["status"].values()) == calls  # no Zoho call for it
    assert moves(aws) == [(None, "RUNNING"), ("RUNNING", "COMPLETED")]
    order = [event["detail-type"] for event in aws.events()]
    assert order[-2:] == [CHANGED, FINISHED]
    assert {"changed_event_pending", "finished_event_pending"}.isdisjoint(raw_state(aws, job))
    run_sweep(2, 100, time_left_ms=lambda: 60_000, reserve_ms=1_000)
    assert len(aws.events(CHANGED)) == 2 and len(aws.events(FINISHED)) == 1


def test_the_changed_event_id_is_stable_and_names_the_move() -> None:
    job = JobKey("default", "Leads", "42")
    first = changed_event_id(job, "SCHEDULED", "RUNNING")
    assert first == changed_event_id(job, "SCHEDULED", "RUNNING") and str(uuid.UUID(first)) == first
    others = {
        changed_event_id(job, None, "RUNNING"),
        changed_event_id(job, "RUNNING", "COMPLETED"),
        changed_event_id(JobKey("default", "Leads", "43"), "SCHEDULED", "RUNNING"),
    }
    assert first not in others and len(others) == 3


def test_recording_a_published_event_is_tried_again_so_it_is_not_published_twice(
    library: services.Services, aws: AwsStack, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 5)))
    check_job(job, watcher="schedule")
    zoho.clock.advance(10)
    throttled = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
    for name in ("finished_event_sent", "changed_event_published"):
        real, failures = getattr(library.store, name), iter([True, True])

        def flaky(*args: Any, real: Any = real, failures: Any = failures) -> Any:
            if next(failures, False):  # the write fails twice in passing, after the SDK's own retries
                raise ClientError(throttled, "UpdateItem")
            return real(*args)

        monkeypatch.setattr(library.store, name, flaky)
    assert check_job(job)["terminal"]
    assert len(aws.events(FINISHED)) == 1 and moves(aws) == [(None, "RUNNING"), ("RUNNING", "COMPLETED")]
    zoho.clock.advance(60)
    check_job(job)
    run_sweep(2, 100, time_left_ms=lambda: 60_000, reserve_ms=1_000)
    assert len(aws.events(FINISHED)) == 1 and len(aws.events(CHANGED)) == 2


class CheckDied(BaseException):
    """A Lambda that stops between writing a move and publishing it (no handler runs)."""


def test_a_move_is_published_by_the_check_that_wrote_it_and_by_another_only_once_its_claim_ran_out(
    library: services.Services, aws: AwsStack, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=100, profile=JobProfile(0, 1000)))
    real = library.events.status_changed

    def die(*args: Any) -> None:
        raise CheckDied

    monkeypatch.setattr(library.events, "status_changed", die)
    with pytest.raises(CheckDied):
        check_job(job, watcher="schedule")  # wrote None -> RUNNING, claimed it, died before publishing
    claimed_until = float(raw_state(aws, job)["changed_claimed_until"]["N"])
    assert claimed_until == pytest.approx(library.clock() + FINISHED_EVENT_LEASE_SECONDS)
    monkeypatch.setattr(library.events, "status_changed", real)
    zoho.clock.advance(FINISHED_EVENT_LEASE_SECONDS / 2)
    assert check_job(job)["changed"] is False  # another check while the claim lasts: the writer's to publish
    assert moves(aws) == [] and raw_state(aws, job)["changed_event_pending"] == {"BOOL": True}
    zoho.clock.advance(FINISHED_EVENT_LEASE_SECONDS)
    check_job(job)  # the claim ran out: this check publishes it
    assert moves(aws) == [(None, "RUNNING")]
    assert {"changed_event_pending", "changed_claimed_until"}.isdisjoint(raw_state(aws, job))
    zoho.clock.advance(FINISHED_EVENT_LEASE_SECONDS * 2)
    check_job(job)
    assert moves(aws) == [(None, "RUNNING")]
