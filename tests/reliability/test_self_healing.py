"""No watch is abandoned: a job whose execution ended before it did is resumed by the sweep, and ends right.

Each way an execution ends early is made on the embedded stack: stopped outside zoho-watch (the console, or
Step Functions' own time-out), failed on an error the state machine does not retry away, and a hand-over to
the next generation that fails. The sweep (fired by the test) finds the job overdue, sees its execution
ended, and starts the next generation with the same settings; the job then ends equal to Zoho's truth with
one finished event. A watch stopped through zoho-watch is not resumed, and one that keeps ending is given up
with a clear error after `MAX_RESUMES` resumes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from zoho_watch.healing import MAX_RESUMES, RESUME_GRACE_SECONDS

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS
from tests.integration.test_watch_on_embedded_stack import (
    assert_finished_as,
    execution,
    failure_names,
    job_events,
    wait_execution_end,
    wait_in_wait_state,
    watch,
)
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

FINISHED = "Mass Update Job Finished"
# Past any job's next check (PollMaxSeconds) by more than the grace: the job is overdue.
OVERDUE_SECONDS = 900 + RESUME_GRACE_SECONDS + 60


def sweep(stack: EmbeddedStack) -> dict[str, Any]:
    """Run the sweep once, now; its answer."""
    assert stack.deployment is not None and stack.scheduler is not None
    [schedule] = stack.deployment.schedules
    firing = stack.scheduler.fire(schedule.name)
    assert firing.error is None, firing.error
    return firing.payload


def start_long_watch(stack: EmbeddedStack, duration: float = 3_600) -> tuple[str, dict[str, Any]]:
    """A job of `duration` seconds, watched through the API; the job id and its first execution, in its Wait.

    The clock is left frozen (the Wait cannot end): the caller resumes it.
    """
    stack.clock.freeze()
    job_id = stack.zoho.create_job("Leads", total=1_000, profile=JobProfile(queue_delay=0, duration=duration))
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    name = reply.json()["execution_name"]
    wait_in_wait_state(stack, name)
    found = execution(stack, name)
    assert found is not None
    return job_id, found


def assert_resumed_and_finished(stack: EmbeddedStack, job_id: str, generation: int) -> None:
    """The sweep resumes the job with `generation`, which watches it to its end."""
    stack.clock.resume()
    stack.sleep(OVERDUE_SECONDS)
    report = sweep(stack)
    assert (report["resumed"], report["abandoned"]) == (1, 0), report
    state = stack.job_state("Leads", job_id)
    assert state is not None and state["watcher"].endswith(f":Leads-{job_id}-g{generation}")
    described = wait_execution_end(stack, f"Leads-{job_id}-g{generation}")
    assert described["status"] == "SUCCEEDED"
    final = assert_finished_as(stack, "Leads", job_id, "COMPLETED")
    assert final.get("last_error") is None
    assert json.loads(described["input"])["resumes"] == 1  # counted on the watch, for the next resume
    assert [event["detail-type"] for event in job_events(stack, job_id)].count(FINISHED) == 1


def test_an_execution_stopped_outside_zoho_watch_is_resumed(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id, first = start_long_watch(stack)
    stack.client("stepfunctions").stop_execution(executionArn=first["executionArn"], cause="console")
    assert_resumed_and_finished(stack, job_id, generation=1)


def test_an_execution_failed_on_an_error_not_retried_away_is_resumed(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id, first = start_long_watch(stack)
    # One more than CheckJob's retries of Lambda's throttling: the execution fails (CheckJobFailed).
    stack.aws_faults.script(["too_many_requests"] * 7, routes="lambda")
    stack.clock.resume()  # the next check, and its retries
    assert wait_execution_end(stack, first["name"])["status"] == "FAILED"
    assert_resumed_and_finished(stack, job_id, generation=1)


def test_a_failed_hand_over_to_the_next_generation_is_resumed(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    sfn = stack.client("stepfunctions")
    machine = stack.deployment.ref("WatchJobStateMachine") if stack.deployment else ""
    job_id = stack.zoho.create_job("Leads", total=1_000, profile=JobProfile(queue_delay=0, duration=600))
    # The next generation's name is taken by an execution that has ended: the hand-over cannot start it.
    taken = sfn.start_execution(
        stateMachineArn=machine,
        name=f"Leads-{job_id}-g1",
        input=json.dumps({"module": "Leads", "job_id": "1", "max_polls": 1}),
    )
    wait_execution_end(stack, f"Leads-{job_id}-g1")
    assert sfn.describe_execution(executionArn=taken["executionArn"])["status"] == "FAILED"  # JobNotFound
    # A generation of one check: it hands over at once.
    watch_input = {
        "module": "Leads",
        "job_id": job_id,
        "deadline": None,
        "generation": 0,
        "max_polls": 1,
        "start_request": "test",  # as zoho-watch's own start gives it (the state machine refuses others)
    }
    sfn.start_execution(stateMachineArn=machine, name=f"Leads-{job_id}-g0", input=json.dumps(watch_input))
    ended = wait_execution_end(stack, f"Leads-{job_id}-g0")
    # The state machine takes ExecutionAlreadyExists for a hand-over done already (a retried start): the
    # execution succeeds, and nothing watches the job any more.
    assert ended["status"] == "SUCCEEDED"
    assert "StepFunctions.ExecutionAlreadyExistsException" in failure_names(stack, ended["executionArn"])
    stack.sleep(OVERDUE_SECONDS)
    report = sweep(stack)
    assert report["resumed"] == 1, report
    # g1 is taken: the resumed watch is g2, on the ended execution's settings (one check a generation).
    described = wait_execution_end(stack, f"Leads-{job_id}-g2")
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["input"])["max_polls"] == 1
    assert_finished_as(stack, "Leads", job_id, "COMPLETED")
    assert [event["detail-type"] for event in job_events(stack, job_id)].count(FINISHED) == 1


def test_a_watch_stopped_through_zoho_watch_is_not_resumed(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id, _ = start_long_watch(stack)
    reply = requests.delete(f"{stack.api_url}/jobs/Leads/{job_id}/watch", timeout=REQUEST_LIMIT_SECONDS)
    assert reply.status_code == 200, reply.text
    stack.clock.resume()
    stack.sleep(OVERDUE_SECONDS)
    report = sweep(stack)
    assert (report["resumed"], report["abandoned"]) == (0, 0)
    assert execution(stack, f"Leads-{job_id}-g1") is None


def test_a_watch_that_keeps_ending_is_given_up_with_a_clear_error(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    sfn = stack.client("stepfunctions")
    # Long enough to run through every resume (each comes after OVERDUE_SECONDS).
    job_id, running = start_long_watch(stack, duration=(MAX_RESUMES + 2) * OVERDUE_SECONDS)
    for generation in range(1, MAX_RESUMES + 1):
        sfn.stop_execution(executionArn=running["executionArn"], cause="console")
        stack.clock.resume()
        stack.sleep(OVERDUE_SECONDS)
        stack.clock.freeze()  # the resumed execution's first Wait does not end
        assert sweep(stack)["resumed"] == 1
        name = f"Leads-{job_id}-g{generation}"
        wait_in_wait_state(stack, name)
        running = execution(stack, name) or {}
    sfn.stop_execution(executionArn=running["executionArn"], cause="console")
    stack.clock.resume()
    stack.sleep(OVERDUE_SECONDS)
    report = sweep(stack)
    assert (report["resumed"], report["abandoned"]) == (0, 1)
    state = stack.job_state("Leads", job_id)
    assert state is not None and "active" not in state  # out of the index: nobody looks again
    error = state["last_error"]
    assert (error["error"], error["code"], error["retryable"]) == ("WatchAbandoned", "WATCH_ABANDONED", False)
    assert "ABORTED" in error["message"] and "PUT .../watch" in error["message"]
