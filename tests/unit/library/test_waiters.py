"""Waiters answered by the library: what they are told, tokens Step Functions no longer knows, a claimer that
dies while answering, and bad tokens. Step Functions is a recording stand-in here (moto drops a failure's
cause); tests/integration/test_task_tokens.py runs callers' real state machines on the embedded stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from zoho_watch import services
from zoho_watch.check import check_job
from zoho_watch.errors import InvalidInput, WatchConflict
from zoho_watch.jobs import JobKey
from zoho_watch.sweep import run_sweep
from zoho_watch.waiters import validate_task_token, waiter_id
from zoho_watch.watches import start_watch, stop_watch

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack


class ContainerDied(BaseException):
    """The Lambda container stopped mid-answer: nothing in the library gets to handle it."""


class StepFunctions:
    """Records SendTaskSuccess and SendTaskFailure; tokens in `gone` answer as Step Functions does for a task
    that timed out; `die_once` stops the first answer as a dying container would."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.answers: list[tuple[str, str, dict[str, Any]]] = []
        self.gone: set[str] = set()
        self.die_once = False

    def _answer(self, kind: str, token: str, **fields: Any) -> dict[str, Any]:
        if self.die_once:
            self.die_once = False
            raise ContainerDied
        if token in self.gone:
            error = {"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}
            raise ClientError(error, kind)
        self.answers.append((kind, token, fields))
        return {}

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        return self._answer("success", taskToken, output=json.loads(output))

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> dict[str, Any]:
        return self._answer("failure", taskToken, error=error, cause=cause)

    def send_task_heartbeat(self, taskToken: str) -> dict[str, Any]:
        return self._answer("heartbeat", taskToken)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def stepfunctions(library: services.Services, monkeypatch: pytest.MonkeyPatch) -> StepFunctions:
    recorder = StepFunctions(library.stepfunctions)
    monkeypatch.setattr(type(library), "stepfunctions", property(lambda _: recorder))
    return recorder


def waiting(library: services.Services, job: JobKey, *tokens: str) -> None:
    for token in tokens:
        library.store.add_waiter(job, waiter_id(token), token)


def test_a_failed_job_tells_its_waiters_the_counts(
    library: services.Services, zoho: FakeZoho, stepfunctions: StepFunctions
) -> None:
    profile = JobProfile(queue_delay=0, duration=100, final_status="FAILED", fail_at=0.5)
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=80, profile=profile))
    check_job(job, watcher="schedule")
    waiting(library, job, "token-a", "token-b")
    zoho.clock.advance(100)
    check_job(job)
    assert sorted(token for _, token, _ in stepfunctions.answers) == ["token-a", "token-b"]
    kind, _, fields = stepfunctions.answers[0]
    assert (kind, fields["error"]) == ("failure", "MassUpdateFailed")
    truth = zoho.job_truth(job.job_id)
    assert json.loads(fields["cause"]) == {
        "job": {"connection": "default", "module": "Leads", "job_id": job.job_id},
        "status": "FAILED",
        "counts": {
            "total": 80,
            "updated": truth["Updated_Count"],
            "failed": truth["Failed_Count"],
            "not_updated": truth["Not_Updated_Count"],
        },
    }
    assert library.store.record(job)["waiters"] == {}


def test_a_token_nobody_waits_on_is_dropped_and_the_others_answered(
    library: services.Services, zoho: FakeZoho, stepfunctions: StepFunctions
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 10)))
    check_job(job, watcher="schedule")
    waiting(library, job, "timed-out", "alive")
    stepfunctions.gone.add("timed-out")
    zoho.clock.advance(10)
    assert check_job(job)["terminal"]
    assert [(kind, token) for kind, token, _ in stepfunctions.answers] == [("success", "alive")]
    assert stepfunctions.answers[0][2]["output"]["status"] == "COMPLETED"
    assert library.store.record(job)["waiters"] == {}


def test_a_claimer_that_dies_while_answering_leaves_the_answer_to_the_sweep(
    library: services.Services, zoho: FakeZoho, stepfunctions: StepFunctions, aws: AwsStack
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 10)))
    check_job(job, watcher="schedule")
    waiting(library, job, "token-a")
    zoho.clock.advance(10)
    stepfunctions.die_once = True
    with pytest.raises(ContainerDied):
        check_job(job)
    assert stepfunctions.answers == []
    assert len(aws.events("Mass Update Job Finished")) == 1  # the event went out before the answer
    zoho.clock.advance(30)  # the dead claimer's lease runs out
    run_sweep(2, 100, time_left_ms=lambda: 60_000, reserve_ms=1_000)
    assert [token for _, token, _ in stepfunctions.answers] == ["token-a"]
    assert len(aws.events("Mass Update Job Finished")) == 1  # not published again
    assert library.store.record(job)["waiters"] == {}
    assert "active" not in library.store.record(job)


def test_a_waiter_on_a_finished_job_is_answered_by_start_watch(
    library: services.Services, zoho: FakeZoho, stepfunctions: StepFunctions
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 10)))
    zoho.clock.advance(10)
    check_job(job)
    outcome = start_watch(job, task_token="late")
    assert outcome.finished and [token for _, token, _ in stepfunctions.answers] == ["late"]
    assert library.store.record(job)["waiters"] == {}


def test_a_permanent_error_tells_the_waiters(
    library: services.Services, zoho: FakeZoho, stepfunctions: StepFunctions
) -> None:
    job = JobKey("default", "Leads", "554023000000999999")  # no such job on Zoho
    waiting(library, job, "token-a")
    with pytest.raises(Exception, match="job"):
        check_job(job, watcher="schedule")
    [(kind, token, fields)] = stepfunctions.answers
    assert (kind, token, fields["error"]) == ("failure", "token-a", "JobNotFound")
    assert "no such job" in fields["cause"]


@pytest.mark.parametrize("token", ["", "x" * 2049, "line\nbreak", 42, None])
def test_a_bad_token_is_refused(token: Any) -> None:
    with pytest.raises(InvalidInput, match="task_token"):
        validate_task_token(token)


def test_a_refused_watch_request_registers_no_waiter(library: services.Services, zoho: FakeZoho) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 1000)))
    start_watch(job, mode="schedule")
    with pytest.raises(WatchConflict):
        start_watch(job, mode="stepfunctions", task_token="token-a")  # watched by the sweep already
    with pytest.raises(InvalidInput, match="deadline"):
        start_watch(job, mode="schedule", deadline=datetime.now(UTC), task_token="token-b")
    assert library.store.record(job)["waiters"] == {}
    start_watch(job, mode="schedule", task_token="token-c")  # joins the sweep's watch
    assert [waiter["token"] for waiter in library.store.record(job)["waiters"].values()] == ["token-c"]


def test_a_stopped_watch_tells_its_waiters(
    library: services.Services, zoho: FakeZoho, stepfunctions: StepFunctions
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 1000)))
    start_watch(job, mode="schedule", task_token="token-a")
    stop_watch(job)
    [(kind, token, fields)] = stepfunctions.answers
    assert (kind, token, fields["error"]) == ("failure", "token-a", "WatchStopped")
    record = library.store.record(job)
    assert record["waiters"] == {} and "active" not in record  # answered, and nobody watches the job


def test_a_waiter_with_heartbeats_gets_one_at_each_check_and_the_job_is_checked_often_enough(
    library: services.Services, zoho: FakeZoho, stepfunctions: StepFunctions
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=900, profile=JobProfile(60, 3600)))
    check_job(job, watcher="schedule")
    library.store.add_waiter(job, waiter_id("beating"), "beating", 300)
    waiting(library, job, "quiet")
    zoho.clock.advance(1)  # a check at the very moment of the last one would change nothing (stale)
    checks = 0
    while not (result := check_job(job))["terminal"]:
        checks += 1
        assert 0 < result["next_check_in"] <= 150  # half the heartbeat interval, whatever the policy wanted
        zoho.clock.advance(result["next_check_in"])
    beats = [token for kind, token, _ in stepfunctions.answers if kind == "heartbeat"]
    assert beats == ["beating"] * checks and checks >= 3600 // 150
    # The end: an answer to each waiter, no heartbeat.
    assert sorted((kind, token) for kind, token, _ in stepfunctions.answers if kind != "heartbeat") == [
        ("success", "beating"),
        ("success", "quiet"),
    ]


def test_a_heartbeat_to_a_gone_task_drops_it_and_a_failing_one_never_fails_the_check(
    library: services.Services, zoho: FakeZoho, stepfunctions: StepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=900, profile=JobProfile(0, 3600)))
    check_job(job, watcher="schedule")
    library.store.add_waiter(job, waiter_id("gone"), "gone", 120)
    library.store.add_waiter(job, waiter_id("flaky"), "flaky", 120)
    stepfunctions.gone.add("gone")
    real = stepfunctions.send_task_heartbeat

    def throttled(taskToken: str) -> dict[str, Any]:
        if taskToken == "flaky":
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "SendTaskHeartbeat"
            )
        return real(taskToken=taskToken)

    monkeypatch.setattr(stepfunctions, "send_task_heartbeat", throttled)
    zoho.clock.advance(60)
    assert check_job(job)["next_check_in"] <= 60
    assert list(library.store.record(job)["waiters"]) == [waiter_id("flaky")]


@pytest.mark.parametrize(
    ("token", "heartbeat", "words"),
    [(None, 300, "goes with a task_token"), ("t", 30, "heartbeat_seconds must be"), ("t", True, "must be")],
)
def test_a_bad_heartbeat_is_refused_before_anything_is_written(
    library: services.Services, zoho: FakeZoho, token: str | None, heartbeat: Any, words: str
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10))
    with pytest.raises(InvalidInput, match=words):
        start_watch(job, mode="schedule", task_token=token, heartbeat_seconds=heartbeat)
    assert library.store.record(job) is None
