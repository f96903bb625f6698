"""One simulated clock on the embedded stack: the library, Step Functions, the scheduler and the emulator
all read `stack.clock`, so what the polling policy observes and what it waits are in the same time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from local.api_client import ZohoWatchApi
from local.fake_zoho import JobProfile
from local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

A_DAY_IN_2031 = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()


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


def test_waits_and_executions_follow_the_stack_clock(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    stack.clock.freeze()
    job_id = stack.zoho.create_job("Deals", total=500, profile=JobProfile(queue_delay=0, duration=600))
    started = stack.clock.now()
    ZohoWatchApi(stack.api_url).start_watch("Deals", job_id)
    first = stack.wait_for(
        lambda: (state := stack.job_state("Deals", job_id)) and state.get("checks") and state
    )
    wait = first["next_check_in"]
    assert wait >= 5
    execution = next(item for item in stack.executions() if item["name"] == f"Deals-{job_id}-g0")
    assert execution["startDate"].timestamp() == pytest.approx(started, abs=0.01)  # $$.Execution.StartTime
    time.sleep(0.3)  # 180 simulated seconds at the stack's scale, were the clock running...
    assert stack.clock.now() == started
    assert stack.job_state("Deals", job_id)["checks"] == 1  # ...so the loop's Wait does not end
    stack.clock.advance(wait)
    second = stack.wait_for(lambda: (state := stack.job_state("Deals", job_id))["checks"] >= 2 and state)
    assert second["last_checked_at"] == datetime.fromtimestamp(started + wait, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


def test_the_sweep_ticks_on_the_stack_clock(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    assert stack.scheduler is not None
    stack.clock.freeze()
    stack.clock.set(A_DAY_IN_2031)
    stack.scheduler.start()
    time.sleep(0.3)  # three minutes at the stack's scale, were the clock running: a frozen one never passes
    assert stack.scheduler.history == []
    stack.clock.advance(60)  # the template's rate(1 minute)
    firing = stack.wait_for(lambda: stack.scheduler.history and stack.scheduler.history[0], timeout=10)
    assert firing.error is None
    assert firing.started_at.startswith("2031-03-04T05:07:07")
    assert len(stack.scheduler.history) == 1
