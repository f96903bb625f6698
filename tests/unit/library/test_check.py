"""check_job end to end on moto and the emulator: six steps, events, errors, bad input, no secret leaks."""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from zoho_watch import check as check_module
from zoho_watch import services
from zoho_watch.check import check_job
from zoho_watch.errors import (
    EventPublishError,
    InvalidInput,
    JobNotFound,
    ZohoAuthError,
    ZohoRequestError,
    ZohoWatchError,
)
from zoho_watch.events import finished_event_id
from zoho_watch.job_kinds import ORG_MODULE, JobKind, KindReply
from zoho_watch.jobs import JobKey, Snapshot
from zoho_watch.polling import PollPolicy
from zoho_watch.priors import RatePrior
from zoho_watch.store import FINISHED_EVENT_LEASE_SECONDS

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack

CHANGED = "Mass Update Job Status Changed"
FINISHED = "Mass Update Job Finished"


def test_a_job_from_start_to_finish(library: services.Services, aws: AwsStack, zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=10, duration=100))
    first = check_job(JobKey("default", "Leads", job_id), watcher="schedule")
    assert first["status"] == "SCHEDULED" and first["changed"] and first["watched"]
    assert first["next_check_in"] >= 5
    assert set(first) == {
        "connection", "module", "job_id", "status", "counts", "progress", "terminal", "changed", "checked_at",
        "first_seen_at", "finished_at", "checks", "next_check_in", "last_error", "watched",
    }  # fmt: skip
    zoho.clock.advance(5)
    assert check_job(JobKey("default", "Leads", job_id))["changed"] is False
    zoho.clock.advance(55)
    middle = check_job(JobKey("default", "Leads", job_id))
    assert middle["status"] == "RUNNING" and 0.4 < middle["progress"] < 0.6 and middle["changed"]
    zoho.clock.advance(60)
    last = check_job(JobKey("default", "Leads", job_id))
    assert last["status"] == "COMPLETED" and last["terminal"] and last["next_check_in"] == 0
    assert last["finished_at"] == last["checked_at"] and last["checks"] == 4
    assert last["counts"]["total"] == 100 and last["progress"] == 1.0
    zoho.clock.advance(60)
    again = check_job(JobKey("default", "Leads", job_id))
    assert again["status"] == "COMPLETED" and again["changed"] is False

    statuses = [event["detail"]["status"] for event in aws.events(CHANGED)]
    assert statuses == ["SCHEDULED", "RUNNING", "COMPLETED"]
    finished = aws.events(FINISHED)
    assert len(finished) == 1
    detail = finished[0]["detail"]
    assert finished[0]["source"] == "zoho-watch"
    assert (detail["connection"], detail["module"], detail["job_id"], detail["status"]) == (
        "default",
        "Leads",
        job_id,
        "COMPLETED",
    )
    assert detail["counts"] == {"total": 100, "updated": 100, "failed": 0, "not_updated": 0}
    assert detail["checked_at"] == last["checked_at"]
    assert detail["event_id"] == finished_event_id(JobKey("default", "Leads", job_id))
    assert library.store.due_jobs(zoho.clock.now() + 10**6) == []
    assert zoho.counters["token_refreshes"] == 1


def test_many_checkers_seeing_the_end_publish_one_finished_event(
    library: services.Services, aws: AwsStack, zoho: FakeZoho
) -> None:
    job_id = zoho.create_job(
        "Deals", total=20, profile=JobProfile(queue_delay=0, duration=10, final_status="FAILED")
    )
    check_job(JobKey("default", "Deals", job_id))
    zoho.clock.advance(30)
    results: list[dict] = []
    barrier = threading.Barrier(8)

    def check() -> None:
        barrier.wait()
        results.append(check_job(JobKey("default", "Deals", job_id)))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(result["status"] == "FAILED" for result in results)
    assert sum(result["changed"] for result in results) == 1
    assert len(aws.events(FINISHED)) == 1
    assert [event["detail"]["status"] for event in aws.events(CHANGED)] == ["RUNNING", "FAILED"]


@pytest.mark.parametrize(
    ("fault", "kind", "code"),
    [
        ("NOT_FOUND", JobNotFound, "JOB_NOT_FOUND"),
        ("NO_PERMISSION", ZohoAuthError, "ZOHO_AUTH_ERROR"),
        ("OAUTH_SCOPE_MISMATCH", ZohoAuthError, "ZOHO_AUTH_ERROR"),
        ("INVALID_MODULE", ZohoRequestError, "ZOHO_REQUEST_ERROR"),
    ],
)
def test_permanent_errors_are_recorded_before_they_are_raised(
    library: services.Services, zoho: FakeZoho, fault: str, kind: type, code: str
) -> None:
    job_id = zoho.create_job("Leads", total=10)
    library.store.watch(JobKey("default", "Leads", job_id), "schedule")
    zoho.faults.script([fault])
    with pytest.raises(kind):
        check_job(JobKey("default", "Leads", job_id))
    state = library.store.get(JobKey("default", "Leads", job_id))
    assert state["last_error"]["code"] == code
    assert state["last_error"]["zoho_code"] == fault
    assert state["watched"] is False  # no more sweeps of a job that needs a human


@pytest.mark.parametrize("fault", ["500", "timeout", "reset", "html", "non_json", "502_empty", "429"])
def test_transient_errors_leave_no_last_error(
    library: services.Services, zoho: FakeZoho, fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoho.config.update(fault_timeout_seconds=1.0)
    monkeypatch.setenv("ZOHO_READ_TIMEOUT", "0.3")  # read by the services on first use
    job_id = zoho.create_job("Leads", total=10)
    library.store.watch(JobKey("default", "Leads", job_id), "schedule")
    zoho.faults.script([fault])
    with pytest.raises(ZohoWatchError) as caught:
        check_job(JobKey("default", "Leads", job_id))
    assert caught.value.retryable
    state = library.store.get(JobKey("default", "Leads", job_id))
    assert state["last_error"] is None and state["watched"] is True


def test_invalid_token_refreshes_once_and_retries_once(library: services.Services, zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Leads", total=10)
    check_job(JobKey("default", "Leads", job_id))
    zoho.clock.advance(120)
    zoho.expire_access_tokens()
    assert check_job(JobKey("default", "Leads", job_id))["checks"] == 2
    assert zoho.counters["token_refreshes"] == 2
    assert zoho.counters["calls"]["status"] == {"200": 2, "401": 1}
    zoho.clock.advance(120)
    zoho.faults.script(["INVALID_TOKEN", "INVALID_TOKEN"])  # rejected again after the refresh: give up
    with pytest.raises(ZohoAuthError):
        check_job(JobKey("default", "Leads", job_id))
    assert zoho.counters["token_refreshes"] == 3
    assert library.store.get(JobKey("default", "Leads", job_id))["last_error"]["zoho_code"] == "INVALID_TOKEN"


BAD_INPUTS = [
    ("default", "../Leads", "1"),
    ("default", "Leads?x=1", "1"),
    ("default", "Leads&a=b", "1"),
    ("default", "Leads%2F", "1"),
    ("default", "Le ads", "1"),
    ("default", "L" * 10_000, "1"),
    ("default", "Leads", "../1"),
    ("default", "Leads", "1?x"),
    ("default", "Leads", "1&job_id=2"),
    ("default", "Leads", "1%2F2"),
    ("default", "Leads", "1 2"),
    ("default", "Leads", "1" * 10_000),
    ("../default", "Leads", "1"),
    ("Default", "Leads", "1"),
]


def test_bad_input_is_refused_before_any_request(
    library: services.Services, aws: AwsStack, zoho: FakeZoho
) -> None:
    for connection, module, job_id in BAD_INPUTS:
        with pytest.raises(InvalidInput):
            check_job(JobKey(connection, module, job_id))
    assert zoho.counters["calls_total"] == 0
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0


def test_bad_poll_and_watcher_are_refused(library: services.Services, zoho: FakeZoho) -> None:
    for poll, watcher in (({"min_seconds": 0}, None), ({"max_seconds": "x"}, None), (None, ""), (None, 5)):
        with pytest.raises(InvalidInput):
            check_job(JobKey("default", "Leads", "1"), poll=poll, watcher=watcher)  # type: ignore[arg-type]
    assert zoho.counters["calls_total"] == 0


def test_poll_bounds_are_honoured(library: services.Services, zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Leads", total=1000, profile=JobProfile(queue_delay=0, duration=5000))
    for _ in range(4):
        result = check_job(JobKey("default", "Leads", job_id), poll={"min_seconds": 20, "max_seconds": 25})
        assert 20 <= result["next_check_in"] <= 25
        zoho.clock.advance(result["next_check_in"])


def test_finished_event_survives_an_eventbridge_failure(
    library: services.Services, aws: AwsStack, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=5))
    zoho.clock.advance(10)
    original = library.events._put

    def failing(detail_type: str, detail: dict) -> None:
        if detail_type == FINISHED:
            raise EventPublishError("EventBridge refused it")
        original(detail_type, detail)

    monkeypatch.setattr(library.events, "_put", failing)
    with pytest.raises(EventPublishError):
        check_job(JobKey("default", "Leads", job_id))
    assert library.store.finished_event_pending(JobKey("default", "Leads", job_id))
    monkeypatch.setattr(library.events, "_put", original)
    result = check_job(JobKey("default", "Leads", job_id))  # the retry publishes it
    assert result["terminal"] and result["changed"] is False
    assert len(aws.events(FINISHED)) == 1
    check_job(JobKey("default", "Leads", job_id))
    assert len(aws.events(FINISHED)) == 1


def test_a_claim_left_by_a_dead_checker_is_taken_over_once_its_lease_ends(
    library: services.Services, aws: AwsStack, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=5))
    zoho.clock.advance(10)
    library.store.record_check(
        JobKey("default", "Leads", job_id), Snapshot("COMPLETED", 10, 10, 0, 0), zoho.clock.now() - 1
    )
    assert library.store.claim_finished_event(JobKey("default", "Leads", job_id))  # then the claimer died
    zoho.clock.advance(FINISHED_EVENT_LEASE_SECONDS - 1)  # a retry soon after: it waits for the lease
    polls: list[float] = []

    def poll(seconds: float) -> None:  # the lease ends while the retry waits for the claimer
        polls.append(seconds)
        zoho.clock.advance(1)

    monkeypatch.setattr(check_module, "time", SimpleNamespace(sleep=poll, monotonic=time.monotonic))
    result = check_job(JobKey("default", "Leads", job_id))
    assert polls, "the retry did not wait for the claim"
    assert result["terminal"]
    finished = aws.events(FINISHED)
    assert len(finished) == 1
    assert not library.store.finished_event_pending(JobKey("default", "Leads", job_id))
    check_job(JobKey("default", "Leads", job_id))
    assert len(aws.events(FINISHED)) == 1


def test_a_kind_without_counts_teaches_how_long_its_jobs_ran(
    library: services.Services, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit log export counts no records: once one completes, the prior of its (connection, module, kind)
    learns 1 / how long it ran, and the next one is polled with it; a FAILED export teaches nothing, and no
    other kind's or connection's prior moves."""
    library.store.learn_rate("default", ORG_MODULE, 5.0)  # a mass update's prior, in the same module
    mass_update = library.store.rate_prior("default", ORG_MODULE)
    exports: dict[str, tuple[float, float, str]] = {}  # job id -> (starts, ends, its last status word)

    def answer(token: str, domain: str, kind: JobKind, module: str, job_id: str) -> KindReply:
        starts, ends, last = exports[job_id]
        now = zoho.clock.now()
        word = "Scheduled" if now < starts else "Progress" if now < ends else last
        return kind.read({"audit_log_export": [{"id": job_id, "status": word}]})

    monkeypatch.setattr(library.zoho, "get_job_status", answer)

    def export(job_id: str, run: float, last: str = "Finished") -> tuple[float, list[int]]:
        """Watch an export that queues 60 s and runs `run` s to its end: the lag, and each wait."""
        now = zoho.clock.now()
        exports[job_id] = (now + 60, now + 60 + run, last)
        job = JobKey("default", ORG_MODULE, job_id, "audit_log_export")
        waits = []
        while not (result := check_job(job, watcher="schedule"))["terminal"]:
            waits.append(result["next_check_in"])
            zoho.clock.advance(result["next_check_in"])
        return zoho.clock.now() - (now + 60 + run), waits

    def learnt() -> RatePrior | None:
        return library.store.rate_prior("default", ORG_MODULE, "audit_log_export")

    export("1", 600)
    first = learnt()
    assert first is not None and first.per_run and first.samples == 1
    # From the first check that saw it running (5 s waits then) to halfway through the last wait (25 s).
    assert 600 - 5 - 13 < 1 / first.typical_rate() < 600 + 13
    export("2", 900, last="Failed")
    assert learnt() == first
    export("3", 1200)
    second = learnt()
    assert second is not None and second.samples == 2
    assert 1 / second.typical_rate() == pytest.approx(math.sqrt(600 * 1200), rel=0.05)  # geometric mean
    # Once it rests on enough runs, the queue wait is bounded by the kind's shortest plausible run, not by a
    # back-off from 5 s.
    for _ in range(PollPolicy().run_prior_min_samples - second.samples):
        library.store.learn_rate("default", ORG_MODULE, 1 / 900, "audit_log_export")
    lag, waits = export("4", 900)
    assert waits[0] > 100 and lag <= 0.05 * 900
    assert library.store.rate_prior("default", ORG_MODULE) == mass_update
    assert library.store.rate_prior("default", ORG_MODULE, "transfer_and_delete") is None
    assert library.store.rate_prior("other", ORG_MODULE, "audit_log_export") is None


def test_the_finished_event_carries_a_stable_id() -> None:
    first = finished_event_id(JobKey("default", "Leads", "42"))
    assert first == finished_event_id(JobKey("default", "Leads", "42"))
    assert str(uuid.UUID(first)) == first
    others = {
        finished_event_id(JobKey("default", "Leads", "43")),
        finished_event_id(JobKey("other", "Leads", "42")),
    }
    assert first not in others and len(others) == 2


def test_no_secret_in_logs_or_errors(
    library: services.Services,
    aws: AwsStack,
    zoho: FakeZoho,
    zoho_credentials: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The library logs at DEBUG; the AWS SDK at INFO, as in Lambda (botocore's own DEBUG output prints request
    # and response bodies, secrets included, and must never be switched on in production).
    caplog.set_level(logging.INFO)
    for name in ("zoho-watch", "zoho_watch", "aws_lambda_powertools"):
        caplog.set_level(logging.DEBUG, logger=name)
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=5))
    errors: list[str] = []
    check_job(JobKey("default", "Leads", job_id), watcher="schedule")
    zoho.clock.advance(120)
    zoho.expire_access_tokens()
    check_job(JobKey("default", "Leads", job_id))
    for fault in ("INVALID_TOKEN", "NO_PERMISSION", "500", "html"):
        zoho.clock.advance(120)
        zoho.faults.script([fault, fault])
        with pytest.raises(Exception) as caught:
            check_job(JobKey("default", "Leads", job_id))
        errors.append(str(caught.value))
    zoho.revoke_refresh_token(zoho_credentials["refresh_token"])
    zoho.expire_access_tokens()
    zoho.clock.advance(4000)
    with pytest.raises(ZohoAuthError) as caught:
        check_job(JobKey("default", "Leads", job_id))
    errors.append(str(caught.value))

    access_tokens = {
        event["access_token"] for event in [aws.read_secret("zoho-watch/default/access-token") or {}]
    }
    secrets = {zoho_credentials["client_secret"], zoho_credentials["refresh_token"], *access_tokens}
    secrets.discard(None)  # type: ignore[arg-type]
    assert len(secrets) >= 3
    captured = capfd.readouterr()
    state = library.store.get(JobKey("default", "Leads", job_id))
    text = "\n".join([caplog.text, captured.out, captured.err, *errors, str(state), str(aws.events())])
    assert "zoho access token refreshed" in caplog.text  # the log capture did capture the library
    for secret in secrets:
        assert secret not in text
