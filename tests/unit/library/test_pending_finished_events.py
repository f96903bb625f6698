"""A "finished" event left pending by a check that died is published by the next sweep run, without Zoho.

The job's STATE item sits in the ActiveJobs index's `ACTIVE#finished-event` partition from its terminal write
until the event is on the bus; each sweep run queries that partition first and publishes through the claim.
"Dies" is a `BaseException` no handler of the library catches, as in tests/reliability/test_crash_safety.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from zoho_watch import services
from zoho_watch.check import check_job, publish_pending_finished
from zoho_watch.errors import InvalidInput, JobNotFound
from zoho_watch.events import finished_event_id
from zoho_watch.jobs import JobKey, Snapshot
from zoho_watch.store import FINISHED_EVENT_PARTITION, JobStore, index_partition
from zoho_watch.sweep import run_sweep

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack

FINISHED = "Mass Update Job Finished"
T0 = 1_800_000_000.0


class ContainerDied(BaseException):
    """The Lambda container stopped mid-check: nothing in the library gets to handle it."""


def raw_state(aws: AwsStack, job_id: str, module: str = "Leads") -> dict[str, Any]:
    key = {"pk": {"S": f"JOB#default#{module}#{job_id}"}, "sk": {"S": "STATE"}}
    return aws.dynamodb.get_item(TableName=aws.table_name, Key=key, ConsistentRead=True)["Item"]


def status_calls(zoho: FakeZoho) -> int:
    return sum(zoho.counters["calls"].get("status", {}).values())


def sweep() -> Any:
    return run_sweep(2, 100, time_left_ms=lambda: 60_000, reserve_ms=1_000)


def a_job_whose_check_died_before_publishing(
    library: services.Services,
    zoho: FakeZoho,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """A watched job seen RUNNING, then ended by a check that dies right after the terminal write."""
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=20))
    zoho.clock.advance(10)
    assert check_job(JobKey("default", "Leads", job_id), watcher="schedule")["status"] == "RUNNING"
    zoho.clock.advance(20)

    def dies(*args: Any, **kwargs: Any) -> bool:
        raise ContainerDied

    monkeypatch.setattr(library.store, "claim_finished_event", dies)  # the first step after the write
    with pytest.raises(ContainerDied):
        check_job(JobKey("default", "Leads", job_id))
    monkeypatch.undo()
    return job_id


def test_the_next_sweep_publishes_a_finished_event_a_dead_check_left_pending(
    library: services.Services,
    aws: AwsStack,
    zoho: FakeZoho,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = a_job_whose_check_died_before_publishing(library, zoho, monkeypatch)
    state = library.store.get(JobKey("default", "Leads", job_id))
    assert state["status"] == "COMPLETED" and state["watched"] is False  # type: ignore[index]
    assert library.store.finished_event_pending(JobKey("default", "Leads", job_id))
    assert aws.events(FINISHED) == []
    assert [item["job_id"] for item in library.store.pending_finished_events()] == [job_id]
    assert library.store.due_jobs(zoho.clock.now() + 10**6) == []  # not a job to check
    calls = status_calls(zoho)

    report = sweep()

    assert (report.pending, report.published, report.errors) == (1, 1, 0)
    assert report.as_dict()["due"] == 0 and status_calls(zoho) == calls  # Zoho was not asked
    [event] = aws.events(FINISHED)
    detail = event["detail"]
    assert (detail["job_id"], detail["status"], detail["previous_status"]) == (job_id, "COMPLETED", "RUNNING")
    assert detail["event_id"] == finished_event_id(JobKey("default", "Leads", job_id))
    assert detail["counts"] == {"total": 10, "updated": 10, "failed": 0, "not_updated": 0}
    item = raw_state(aws, job_id)
    assert not {"active", "next_check_at", "finished_event_pending"} & set(item)
    assert library.store.pending_finished_events(zoho.clock.now() + 10**6) == []
    # Nothing more: another sweep run, and a late check of the job, publish no second event.
    zoho.clock.advance(60)
    assert (sweep().published, check_job(JobKey("default", "Leads", job_id))["terminal"]) == (0, True)
    assert len(aws.events(FINISHED)) == 1


def test_a_normal_terminal_check_leaves_nothing_in_the_pending_partition(
    library: services.Services,
    aws: AwsStack,
    zoho: FakeZoho,
) -> None:
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=20))
    check_job(JobKey("default", "Leads", job_id), watcher="schedule")
    zoho.clock.advance(30)
    assert check_job(JobKey("default", "Leads", job_id))["terminal"]

    assert library.store.pending_finished_events(zoho.clock.now() + 10**6) == []
    assert "active" not in raw_state(aws, job_id)
    assert sweep().published == 0
    assert len(aws.events(FINISHED)) == 1


def test_a_publication_that_fails_in_the_sweep_stays_pending_for_the_next_run(
    library: services.Services,
    aws: AwsStack,
    zoho: FakeZoho,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = a_job_whose_check_died_before_publishing(library, zoho, monkeypatch)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("EventBridge is down")

    monkeypatch.setattr(library.events, "finished", refused)
    report = sweep()
    assert (report.published, report.errors) == (0, 1)
    assert [item["job_id"] for item in library.store.pending_finished_events()] == [job_id]  # due again now
    monkeypatch.undo()

    assert sweep().published == 1
    assert len(aws.events(FINISHED)) == 1
    assert library.store.pending_finished_events(zoho.clock.now() + 10**6) == []


def test_the_sweep_does_not_wait_for_a_claim_someone_holds(
    library: services.Services,
    aws: AwsStack,
    zoho: FakeZoho,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = a_job_whose_check_died_before_publishing(library, zoho, monkeypatch)
    [item] = library.store.pending_finished_events()
    assert library.store.claim_finished_event(JobKey("default", "Leads", job_id))  # a live checker holds it

    assert publish_pending_finished(library, item) is False  # no wait, no event
    assert library.store.pending_finished_events() == []  # not due until the claim's lease ends
    assert aws.events(FINISHED) == []
    with pytest.raises(InvalidInput):
        publish_pending_finished(library, {**item, "status": "RUNNING"})


@pytest.fixture
def store(aws: AwsStack) -> JobStore:
    now = [T0]
    store = JobStore(aws.dynamodb, aws.table_name, clock=lambda: now[0])
    store.now = now  # type: ignore[attr-defined]
    return store


def test_the_pending_partition_follows_the_claim(store: JobStore, aws: AwsStack) -> None:
    store.watch(JobKey("default", "Leads", "71"), "schedule", next_check_at=T0)
    store.record_check(JobKey("default", "Leads", "71"), Snapshot("RUNNING", 4, 1, 0, 3), T0)
    store.record_check(JobKey("default", "Leads", "71"), Snapshot("FAILED", 4, 1, 3, 0), T0 + 10)
    assert [item["job_id"] for item in store.pending_finished_events(T0 + 10)] == ["71"]
    assert store.pending_finished_events(T0 + 9) == []  # due from the terminal write on

    assert store.claim_finished_event(JobKey("default", "Leads", "71"), lease_seconds=8)
    assert raw_state(aws, "71")["active"]["S"] == FINISHED_EVENT_PARTITION
    assert store.pending_finished_events(T0 + 7.9) == []  # the claimer has until its lease ends
    assert [item["job_id"] for item in store.pending_finished_events(T0 + 8)] == ["71"]
    store.release_finished_event(JobKey("default", "Leads", "71"))  # its publication failed: due again now
    assert [item["job_id"] for item in store.pending_finished_events(T0)] == ["71"]
    with pytest.raises(InvalidInput):
        store.pending_finished_events(limit=0)


def test_unwatching_or_an_error_keeps_a_pending_event_in_its_partition(
    store: JobStore, aws: AwsStack
) -> None:
    store.watch(JobKey("default", "Leads", "72"), "schedule", next_check_at=T0)
    store.record_check(JobKey("default", "Leads", "72"), Snapshot("COMPLETED", 1, 1, 0, 0), T0)

    unwatched = store.unwatch(JobKey("default", "Leads", "72"))
    assert unwatched is not None and unwatched["watcher"] is None
    store.record_error(JobKey("default", "Leads", "72"), JobNotFound("gone"), T0 + 1)
    assert raw_state(aws, "72")["active"]["S"] == FINISHED_EVENT_PARTITION
    assert [item["job_id"] for item in store.pending_finished_events(T0)] == ["72"]
    assert store.unwatch(JobKey("default", "Leads", "73")) is None  # unknown job: nothing written
    assert store.record_error(JobKey("default", "Leads", "73"), JobNotFound("x"), known_only=True) is None
    # A watched, unfinished job still leaves its watcher's partition.
    store.watch(JobKey("default", "Leads", "74"), "schedule", next_check_at=T0)
    store.record_error(JobKey("default", "Leads", "74"), JobNotFound("gone"), T0 + 1)
    assert "active" not in raw_state(aws, "74") and store.get(JobKey("default", "Leads", "73")) is None


def test_no_watcher_can_use_the_pending_events_partition(store: JobStore) -> None:
    assert index_partition("finished-event:anything") == "ACTIVE#other"
    assert index_partition("stepfunctions:arn") == "ACTIVE#stepfunctions"
    with pytest.raises(InvalidInput):
        store.due_jobs(kind="finished-event")
