"""loop: the watch loop's settings, its next step (deadline, continue-as-new) and one task run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from zoho_watch import services
from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import JobKey
from zoho_watch.loop import (
    EVENTS_PER_CHECK,
    EVENTS_PER_RETRY,
    GENERATION_MAX_SECONDS,
    HANDOVER_EVENTS,
    HISTORY_EVENT_LIMIT,
    MAX_RETRIES_PER_CHECK,
    START_EVENTS,
    loop_settings,
    next_step,
    run_loop_check,
)

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack

NOW = datetime(2030, 1, 1, tzinfo=UTC)
BASE = {"connection": "default", "module": "Leads", "job_id": "42"}


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The settings loop_settings reads, without AWS."""
    for name, value in (("TABLE_NAME", "t"), ("EVENT_BUS_NAME", "b"), ("MAX_POLLS_PER_EXECUTION", "700")):
        monkeypatch.setenv(name, value)
    services.reset()
    yield
    services.reset()


def settings(**changes: Any) -> dict[str, Any]:
    return {
        **BASE,
        "poll": None,
        "deadline": None,
        "generation": 0,
        "polls": 0,
        "max_polls": 1000,
        "history_events": 3,
        "resumes": 0,
        **changes,
    }


def test_settings_are_validated_and_defaulted(settings_env: None) -> None:
    filled = loop_settings({**BASE, "poll": {"min_seconds": 30}, "deadline": "2030-01-01T01:00:00+01:00"})

    assert filled == {
        **BASE,
        "poll": {"min_seconds": 30, "max_seconds": 900},
        "deadline": "2030-01-01T00:00:00Z",
        "kind": "mass_update",  # carried to every next generation (the state machine passes it on)
        "generation": 0,
        "polls": 0,
        "max_polls": 700,  # MAX_POLLS_PER_EXECUTION
        "history_events": 3,  # ExecutionStarted, the start gate's Choice entered and exited
        "resumes": 0,
    }
    assert loop_settings(filled) == filled  # the answer is the next input: validating it changes nothing
    assert loop_settings({"module": "Leads", "job_id": 42})["connection"] == "default"


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [],
        {**BASE, "module": "Leads/../x"},
        {**BASE, "job_id": "12ab"},
        {**BASE, "connection": "Not Valid"},
        {**BASE, "kind": "mass_explode"},
        {**BASE, "kind": "mass_convert", "module": "Deals"},
        {**BASE, "poll": {"min_seconds": 600, "max_seconds": 60}},
        {**BASE, "deadline": "tomorrow"},
        {**BASE, "deadline": "2030-01-01T00:00:00"},
        {**BASE, "deadline": 1893456000},
        {**BASE, "generation": -1},
        {**BASE, "polls": True},
        {**BASE, "max_polls": 0},
    ],
)
def test_bad_settings_are_refused(settings_env: None, bad: Any) -> None:
    with pytest.raises(InvalidInput):
        loop_settings(bad)


def test_the_wait_is_capped_at_the_deadline() -> None:
    deadline = (NOW + timedelta(seconds=2.5)).isoformat()

    step = next_step({"next_check_in": 600}, settings(deadline=deadline), NOW, None)

    assert step == {
        "polls": 1,
        "history_events": 12,  # ExecutionStarted, the start gate and one check
        "next_check_in": 3,
        "deadline_passed": False,
        "continue_as_new": False,
    }
    # Far from the deadline the check's own wait stands; a zero wait is still one second.
    assert (
        next_step({"next_check_in": 600}, settings(deadline="2031-01-01T00:00:00Z"), NOW, None)[
            "next_check_in"
        ]
        == 600
    )
    assert next_step({"next_check_in": 0}, settings(), NOW, None)["next_check_in"] == 1


def test_a_passed_deadline_ends_the_loop_but_not_a_finished_job() -> None:
    at_deadline = settings(deadline=NOW.isoformat())

    assert next_step({"next_check_in": 60}, at_deadline, NOW, None)["deadline_passed"] is True
    finished = next_step({"terminal": True, "next_check_in": 0}, at_deadline, NOW, None)
    assert (finished["deadline_passed"], finished["continue_as_new"]) == (False, False)


def test_a_generation_hands_over_on_polls_or_age() -> None:
    assert (
        next_step({"next_check_in": 60}, settings(polls=8, max_polls=10), NOW, None)["continue_as_new"]
        is False
    )
    assert (
        next_step({"next_check_in": 60}, settings(polls=9, max_polls=10), NOW, None)["continue_as_new"]
        is True
    )
    old = NOW - timedelta(seconds=GENERATION_MAX_SECONDS - 30)
    assert next_step({"next_check_in": 20}, settings(), NOW, old)["continue_as_new"] is False
    assert next_step({"next_check_in": 60}, settings(), NOW, old)["continue_as_new"] is True
    assert (
        next_step({"terminal": True}, settings(polls=9, max_polls=10), NOW, old)["continue_as_new"] is False
    )


def asl() -> dict[str, Any]:
    """The watch loop, as statemachine/watch_job.asl.json declares it."""
    path = Path(__file__).resolve().parents[3] / "statemachine" / "watch_job.asl.json"
    return json.loads(path.read_text(encoding="utf-8"))


def asl_states() -> dict[str, Any]:
    """The watch loop's states."""
    return asl()["States"]


def test_the_history_arithmetic_follows_the_state_machine() -> None:
    states = asl_states()
    # An execution starts (1 event) and passes the start gate, a Choice (2 events), once, before its checks.
    gate = states[asl()["StartAt"]]
    assert gate["Type"] == "Choice" and {rule["Next"] for rule in gate["Choices"]} == {"CheckJob"}
    assert START_EVENTS == 1 + 2
    assert sum(retrier["MaxAttempts"] for retrier in states["CheckJob"]["Retry"]) == MAX_RETRIES_PER_CHECK
    handover_retries = sum(retrier["MaxAttempts"] for retrier in states["StartNextGeneration"]["Retry"])
    assert 5 + handover_retries * EVENTS_PER_RETRY + 2 + 1 == HANDOVER_EVENTS
    # A check passes CheckJob, the Choice and the Wait: a Task writes 5 events, the others 2 each.
    check, choice = states["CheckJob"], states[states["CheckJob"]["Next"]]
    assert (choice["Type"], states[choice["Default"]]["Type"]) == ("Choice", "Wait")
    assert EVENTS_PER_CHECK == 5 + 2 + 2 and check["Type"] == "Task"


def template_max_polls() -> int:
    """MaxPollsPerExecution's largest allowed value in template.yaml."""
    template = (Path(__file__).resolve().parents[3] / "template.yaml").read_text(encoding="utf-8")
    section = template.split("MaxPollsPerExecution:", 1)[1]
    return int(section.split("MaxValue:", 1)[1].split()[0])


@pytest.mark.parametrize("retries_per_check", [0, 3, MAX_RETRIES_PER_CHECK])
def test_a_generation_hands_over_before_its_history_could_pass_the_limit(retries_per_check: int) -> None:
    loop = settings(max_polls=template_max_polls())
    written = loop["history_events"]
    while True:
        step = next_step({"next_check_in": 60}, loop, NOW, None, retries_per_check)
        written += EVENTS_PER_CHECK + EVENTS_PER_RETRY * retries_per_check
        assert step["history_events"] == written
        # Whatever happens next (a check with every retry, or the hand-over) stays within the limit.
        worst_next = EVENTS_PER_CHECK + EVENTS_PER_RETRY * MAX_RETRIES_PER_CHECK
        assert written + (HANDOVER_EVENTS if step["continue_as_new"] else worst_next) <= HISTORY_EVENT_LIMIT
        if step["continue_as_new"]:
            break
        loop = {**loop, "polls": step["polls"], "history_events": step["history_events"]}
    if retries_per_check == 0:
        assert step["polls"] == template_max_polls()  # 9 events a check: max_polls decides first
    else:
        assert step["polls"] < template_max_polls()  # the history budget decides


@pytest.fixture
def frozen(aws: AwsStack, zoho: FakeZoho, zoho_connection: str) -> FakeZoho:
    """The library on the emulator's frozen clock."""
    zoho.clock.freeze()
    services.set_services(services.Services(clock=zoho.clock.now))
    return zoho


def test_one_run_checks_records_and_caps_the_wait_by_the_library_clock(
    aws: AwsStack, frozen: FakeZoho
) -> None:
    job_id = frozen.create_job("Leads", total=1000, profile=JobProfile(queue_delay=600))
    now = datetime.fromtimestamp(frozen.clock.now(), UTC)
    loop_state = {**BASE, "job_id": job_id, "poll": {"min_seconds": 60, "max_seconds": 600}}
    loop_state["deadline"] = (now + timedelta(seconds=3)).isoformat()

    done = run_loop_check(loop_state, "arn:aws:states:us-east-1:1:execution:m:Leads-1-g0", now.isoformat())

    assert done.state["status"] == "SCHEDULED"
    assert done.step == {
        "polls": 1,
        "history_events": 12,  # ExecutionStarted, the start gate and one check
        "next_check_in": 3,
        "deadline_passed": False,
        "continue_as_new": False,
    }
    answer = done.answer()
    assert answer["poll"] == {"min_seconds": 60, "max_seconds": 600} and answer["polls"] == 1
    stored = services.get_services().store.get(JobKey("default", "Leads", job_id))
    assert stored["watcher"] == "stepfunctions:arn:aws:states:us-east-1:1:execution:m:Leads-1-g0"
    assert stored["watched"] is True


def test_a_run_past_the_deadline_records_the_check_and_unwatches(aws: AwsStack, frozen: FakeZoho) -> None:
    job_id = frozen.create_job("Leads", total=1000, profile=JobProfile(queue_delay=600))
    now = datetime.fromtimestamp(frozen.clock.now(), UTC)

    done = run_loop_check({**BASE, "job_id": job_id, "deadline": now.isoformat()}, "arn:x:execution:m:e")

    assert done.step["deadline_passed"] is True
    stored = services.get_services().store.get(JobKey("default", "Leads", job_id))
    assert (stored["checks"], stored["watched"], stored["watcher"]) == (1, False, None)


def test_bad_start_time_is_refused_before_any_call(aws: AwsStack, frozen: FakeZoho) -> None:
    with pytest.raises(InvalidInput):
        run_loop_check({**BASE}, "arn:x", execution_started_at="yesterday")

    assert frozen.counters["calls_total"] == 0
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0
