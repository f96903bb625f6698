"""Crash safety: a check that dies after Zoho answered and before DynamoDB was written is repeated by the
next check, with nothing lost and nothing duplicated.

"Dies" means the container stops in the middle (a Lambda time-out or a killed process): no `except` or
`finally` of the library runs. On the library it is simulated by an exception that is not an `Exception`
(`ContainerDied`, a `BaseException`), raised at the chosen point; on the embedded stack by a task that fails
the way Lambda reports a time-out (`Sandbox.Timedout`) or a crashed runtime (`Runtime.ExitError`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from zoho_watch.check import check_job
from zoho_watch.jobs import JobKey
from zoho_watch.store import JobStore

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack
from tests.integration.test_watch_on_embedded_stack import (
    assert_finished_as,
    failure_names,
    history_items,
    wait_execution_end,
    watch,
)
from zoho_watch_local.stack import EmbeddedStack

CHANGED = "Mass Update Job Status Changed"
FINISHED = "Mass Update Job Finished"


class ContainerDied(BaseException):
    """The Lambda container stopped mid-check: nothing in the library gets to handle it."""


def dies_once(original: Callable[..., Any], after: bool = False) -> Callable[..., Any]:
    """`original`, except that its first call dies (before it runs, or right `after` it ran)."""
    calls = {"n": 0}

    def replacement(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1 and not after:
            raise ContainerDied
        result = original(*args, **kwargs)
        if calls["n"] == 1:
            raise ContainerDied
        return result

    return replacement


def history(library, job_id: str) -> list[dict[str, Any]]:
    """Every check history item of the job, newest first."""
    return library.store.history(JobKey("default", "Leads", job_id), limit=1000)[0]


def test_dying_after_zoho_answered_and_before_the_write_is_repeated_by_the_next_check(
    library,
    aws: AwsStack,
    zoho: FakeZoho,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=0, duration=100))
    zoho.clock.advance(20)
    monkeypatch.setattr(library.store, "record_check", dies_once(library.store.record_check))
    calls = zoho.counters["calls"].get("status", {}).get("200", 0)

    with pytest.raises(ContainerDied):
        check_job(JobKey("default", "Leads", job_id), watcher="schedule")

    assert zoho.counters["calls"]["status"]["200"] == calls + 1  # Zoho did answer
    assert library.store.get(JobKey("default", "Leads", job_id)) is None and aws.events() == []
    zoho.clock.advance(10)
    again = check_job(JobKey("default", "Leads", job_id), watcher="schedule")
    assert (again["status"], again["checks"], again["changed"]) == ("RUNNING", 1, True)
    assert again["counts"]["updated"] == zoho.job_truth(job_id)["Updated_Count"]
    assert [e["detail"]["status"] for e in aws.events(CHANGED)] == ["RUNNING"]
    assert len(history(library, job_id)) == 1

    # The check that sees the end dies too: the next one records the end, once, and announces it once.
    zoho.clock.advance(100)
    monkeypatch.setattr(
        library.store, "record_check", dies_once(JobStore.record_check.__get__(library.store))
    )
    with pytest.raises(ContainerDied):
        check_job(JobKey("default", "Leads", job_id))
    assert library.store.get(JobKey("default", "Leads", job_id))["status"] == "RUNNING"
    zoho.clock.advance(10)
    done = check_job(JobKey("default", "Leads", job_id))
    assert (done["status"], done["checks"], done["terminal"]) == ("COMPLETED", 2, True)
    zoho.clock.advance(10)
    late = check_job(JobKey("default", "Leads", job_id))  # a late repeat: one more observation, no change
    assert (late["checks"], late["changed"]) == (2, False)
    assert [e["detail"]["status"] for e in aws.events(CHANGED)] == ["RUNNING", "COMPLETED"]
    assert len(aws.events(FINISHED)) == 1
    assert [item["status"] for item in history(library, job_id)] == ["COMPLETED", "COMPLETED", "RUNNING"]


def test_dying_between_the_history_item_and_the_state_keeps_the_observation_once(
    library,
    aws: AwsStack,
    zoho: FakeZoho,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=0, duration=100))
    zoho.clock.advance(20)
    monkeypatch.setattr(library.store, "_put_history", dies_once(library.store._put_history, after=True))

    with pytest.raises(ContainerDied):
        check_job(JobKey("default", "Leads", job_id), watcher="schedule")
    assert library.store.get(JobKey("default", "Leads", job_id)) is None
    zoho.clock.advance(10)
    again = check_job(JobKey("default", "Leads", job_id), watcher="schedule")

    assert (again["status"], again["checks"]) == ("RUNNING", 1)
    items = history(library, job_id)
    assert len(items) == 2 and len({item["checked_at"] for item in items}) == 2  # two real observations
    assert [e["detail"]["status"] for e in aws.events(CHANGED)] == ["RUNNING"]


def test_dying_while_publishing_the_finished_event_does_not_lose_it(
    library,
    aws: AwsStack,
    zoho: FakeZoho,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=5))
    zoho.clock.advance(10)
    monkeypatch.setattr(library.events, "finished", dies_once(library.events.finished))

    with pytest.raises(ContainerDied):
        check_job(JobKey("default", "Leads", job_id))
    zoho.clock.advance(10)
    check_job(JobKey("default", "Leads", job_id))

    assert len(aws.events(FINISHED)) == 1


# ---- the watch on the embedded stack --------------------------------------------------------------------


def failing_once_as(monkeypatch: pytest.MonkeyPatch, error_name: str) -> None:
    """Make the functions' first `record_check` fail with an error Step Functions sees as `error_name`.

    The stack runs the handlers in this process, on this same `zoho_watch` library: patching its class
    reaches every container.
    """
    died = type(error_name, (Exception,), {"__doc__": "What Lambda reports for a check that died."})
    original = JobStore.record_check
    calls = {"n": 0}

    def record_check(self: JobStore, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise died(f"the check died after Zoho answered ({error_name})")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JobStore, "record_check", record_check)


def watch_through_a_dead_check(stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch, error_name: str) -> str:
    """Watch a short job whose first check dies; return the job id once the execution ended successfully."""
    failing_once_as(monkeypatch, error_name)
    job_id = stack.zoho.create_job("Leads", total=400, profile=JobProfile(queue_delay=0, duration=300))
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    described = wait_execution_end(stack, reply.json()["execution_name"])
    assert described["status"] == "SUCCEEDED", described
    assert failure_names(stack, described["executionArn"]) == [error_name]
    return job_id


@pytest.mark.integration
def test_a_check_that_times_out_after_zoho_answered_is_repeated(
    embedded_stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = embedded_stack
    job_id = watch_through_a_dead_check(stack, monkeypatch, "Sandbox.Timedout")
    state = assert_finished_as(stack, "Leads", job_id, "COMPLETED")  # one finished event, one per change
    # The dead check wrote nothing; every later check wrote one history item.
    assert len(history_items(stack, "Leads", job_id)) == state["checks"]


@pytest.mark.integration
def test_a_check_whose_runtime_crashed_after_zoho_answered_is_repeated(
    embedded_stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = embedded_stack
    job_id = watch_through_a_dead_check(stack, monkeypatch, "Runtime.ExitError")
    assert_finished_as(stack, "Leads", job_id, "COMPLETED")
