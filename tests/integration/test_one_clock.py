"""One virtual clock on the embedded stack (zoho_watch_local/clock.py): the library, Step Functions, the
scheduler and the emulator all read `stack.clock`. It jumps to the earliest wake-up when everything waits,
never while work runs, so what the polling policy observes and what it waits are exact, whatever the machine's
speed."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from fake_zoho import JobProfile
from zoho_watch_cli.api_client import ZohoWatchApi
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

A_DAY_IN_2031 = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()


def iso(epoch: float) -> str:
    """A time as the store writes it."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checked(stack: EmbeddedStack, module: str, job_id: str, checks: int) -> dict[str, Any]:
    """Let the clock run until the job has been checked `checks` times; its state then."""
    return stack.wait_for(
        lambda: (state := stack.job_state(module, job_id)) and state.get("checks", 0) >= checks and state
    )


def test_the_library_dates_checks_and_tokens_with_the_stack_clock(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    stack.clock.freeze()
    stack.clock.set(A_DAY_IN_2031)
    stack.connect_emulator()  # a token valid for Zoho's hour from that day on
    job_id = stack.zoho.create_job("Leads", total=1_000, profile=JobProfile(queue_delay=0, duration=1_000))
    stack.clock.advance(400)
    state = ZohoWatchApi(stack.api_url).job("Leads", job_id, live=True)
    assert state["checked_at"] == "2031-03-04T05:12:47.000000Z"  # 400 s after the job was created
    assert state["counts"]["updated"] == stack.zoho.job_truth(job_id)["Updated_Count"] == 400
    # An hour and a half later on the stack's clock the token has expired for the library as for Zoho:
    # the library refreshes it before calling, and Zoho never sees the expired token.
    refreshes = stack.zoho.counters["token_refreshes"]
    stack.clock.advance(5_400)
    later = ZohoWatchApi(stack.api_url).job("Leads", job_id, live=True)
    assert (later["status"], later["checked_at"]) == ("COMPLETED", "2031-03-04T06:42:47.000000Z")
    assert stack.zoho.counters["token_refreshes"] == refreshes + 1
    assert stack.zoho.counters["calls"]["status"].get(401, 0) == 0


def test_the_clock_jumps_to_each_wait_end_and_stands_still_while_the_driver_works(
    embedded_stack: EmbeddedStack,
) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Deals", total=500, profile=JobProfile(queue_delay=0, duration=600))
    started = stack.clock.now()
    ZohoWatchApi(stack.api_url).start_watch("Deals", job_id)
    execution = next(item for item in stack.executions() if item["name"] == f"Deals-{job_id}-g0")
    assert execution["startDate"].timestamp() == pytest.approx(started, abs=1e-3)  # $$.Execution.StartTime
    # The test holds the clock while it works: the first check is done, the loop waits, nothing moves.
    first = checked(stack, "Deals", job_id, 1)
    assert first["last_checked_at"] == iso(started)
    assert stack.clock.now() == started
    wait = first["next_check_in"]
    assert wait >= 5
    # Letting it run: the next wake-up is the loop's Wait, and the second check comes exactly then.
    second = checked(stack, "Deals", job_id, 2)
    assert second["last_checked_at"] == iso(started + wait)


def test_no_jump_while_an_invocation_runs(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    api = ZohoWatchApi(stack.api_url)
    waiting = stack.zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=3_600))
    api.start_watch("Leads", waiting)
    checked(stack, "Leads", waiting, 1)  # its loop now waits: a wake-up the clock could jump to
    started = stack.clock.now()
    # A job that ends one second from now, asked about live through a Zoho that takes half a real second:
    # had the clock jumped to the other loop's wake-up during the call, Zoho would answer COMPLETED.
    short = stack.zoho.create_job("Contacts", total=100, profile=JobProfile(queue_delay=0, duration=1))
    stack.zoho.set_latency(0.5)
    answers: list[dict[str, Any]] = []
    asking = threading.Thread(target=lambda: answers.append(api.job("Contacts", short, live=True)))
    asking.start()
    # The test keeps its hold until the call has reached Zoho (the call then holds the clock: the gateway's
    # request and the invocation), and only then lets go: before, the clock could jump with nobody working.
    deadline = time.monotonic() + 60  # only stops a hung test
    while stack.zoho.counters["in_flight"] < 1:
        assert time.monotonic() < deadline, "the live check never reached Zoho"
        time.sleep(0.001)
    with stack.clock_running():
        asking.join(timeout=60)
    stack.zoho.set_latency(0)
    assert answers, "the live check never answered"
    assert (answers[0]["status"], answers[0]["checked_at"]) == ("RUNNING", iso(started))
    assert answers[0]["counts"]["updated"] == 0


def test_a_retry_back_off_waits_on_the_clock(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Accounts", total=800, profile=JobProfile(queue_delay=0, duration=86_400))
    stack.zoho.faults.script(["500", "429"], routes=("status",))
    started = stack.clock.now()
    ZohoWatchApi(stack.api_url).start_watch("Accounts", job_id)
    state = checked(stack, "Accounts", job_id, 1)
    calls = [entry for entry in stack.zoho.request_log if entry["route"] == "status"]
    assert [entry["status"] for entry in calls[:3]] == [500, 429, 200]
    times = [entry["time"] for entry in calls[:3]]
    assert times[0] == started
    # Each retry came after a back-off on the stack's clock (the state machine's full jitter picks it), and
    # the check that went through is dated at the moment its call was sent.
    assert times[0] < times[1] < times[2]
    assert state["last_checked_at"] == iso(times[2])


def test_the_sweep_ticks_on_the_stack_clock(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    assert stack.scheduler is not None
    stack.clock.set(A_DAY_IN_2031)
    stack.scheduler.start()
    assert stack.scheduler.history == []  # the driver holds the clock: no tick yet
    firing = stack.wait_for(lambda: stack.scheduler.history and stack.scheduler.history[0])
    assert firing.error is None
    assert firing.started_at.startswith("2031-03-04T05:07:07")  # the template's rate(1 minute), exactly
    stack.scheduler.stop()
    assert len(stack.scheduler.history) >= 1


def test_a_wait_of_several_hours_ends_with_the_record_equal_to_zohos_truth(
    embedded_stack: EmbeddedStack,
) -> None:
    stack = embedded_stack
    hours = 3_600
    job_id = stack.zoho.create_job(
        "Deals", total=8_000, profile=JobProfile(queue_delay=0, duration=8 * hours, failure_share=0.01)
    )
    started = stack.clock.now()
    poll = {"min_seconds": 3 * hours, "max_seconds": 3 * hours}
    ZohoWatchApi(stack.api_url).start_watch("Deals", job_id, poll=poll)
    name = f"Deals-{job_id}-g0"
    sfn = stack.client("stepfunctions")
    done = stack.wait_for(
        lambda: (
            (item := next((e for e in stack.executions() if e["name"] == name), None))
            and item["status"] != "RUNNING"
            and sfn.describe_execution(executionArn=item["executionArn"])
        )
    )
    assert done["status"] == "SUCCEEDED"
    assert (done["stopDate"] - done["startDate"]).total_seconds() == 9 * hours  # checks at 0, 3, 6 and 9 h
    state = stack.job_state("Deals", job_id)
    truth = stack.zoho.job_truth(job_id)
    assert state is not None and state["checks"] == 4
    assert state["last_checked_at"] == iso(started + 9 * hours)
    assert (state["status"], state["total"], state["updated"], state["failed"]) == (
        truth["Status"],
        truth["Total_Count"],
        truth["Updated_Count"],
        truth["Failed_Count"],
    )
    assert truth["Status"] == "COMPLETED" and truth["Failed_Count"] > 0


def test_a_reset_waits_for_the_check_a_stopped_execution_was_making(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=3_600))
    stack.zoho.set_latency(1.0)  # real seconds: the watch's first check is still waiting for Zoho below
    ZohoWatchApi(stack.api_url).start_watch("Leads", job_id)
    deadline = time.monotonic() + 60  # only stops a hung test
    while stack.zoho.counters["in_flight"] < 1:
        assert time.monotonic() < deadline, "the first check never reached Zoho"
        time.sleep(0.001)
    stack.reset()
    # The check ended before the slate was cleaned: nothing of it lands in the next test's table or log.
    assert stack.table_items() == []
    assert [entry["route"] for entry in stack.zoho.request_log] == ["token"]  # the reset's own connection
    assert stack.executions("RUNNING") == []
    assert stack.runtime is not None and stack.runtime.drain(0)
