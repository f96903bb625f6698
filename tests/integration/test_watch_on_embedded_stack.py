"""The whole product on the embedded stack: the real template, `watch_job.asl.json` and handlers, driven
through the API, with what DynamoDB holds, the events published and the API's answers checked.

Time is the stack's virtual clock, `stack.clock` (tests/fixtures/stack.py), shared by the emulator, Step
Functions and the library: job durations, deadlines and poll bounds below are simulated seconds, and the
clock moves only while the test waits (`stack.wait_for`, `stack.sleep`). A test whose outcome depends on
what happens before a job ends holds the job's end back with the clock (frozen, or a job far longer than the
test, then `advance`), never with a race against real time.
"""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS, jobs_in_index
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

STATUS_CHANGED = "Mass Update Job Status Changed"
FINISHED = "Mass Update Job Finished"


# --- helpers ---------------------------------------------------------------------------------------------


def watch(stack: EmbeddedStack, module: str, job_id: str, **body: Any) -> requests.Response:
    """PUT .../watch through the local API gateway."""
    return requests.put(
        f"{stack.api_url}/jobs/{module}/{job_id}/watch", json=body, timeout=REQUEST_LIMIT_SECONDS
    )


def get_job(stack: EmbeddedStack, module: str, job_id: str) -> requests.Response:
    """GET the stored state through the API."""
    return requests.get(f"{stack.api_url}/jobs/{module}/{job_id}", timeout=REQUEST_LIMIT_SECONDS)


def execution(stack: EmbeddedStack, name: str) -> dict[str, Any] | None:
    """The execution with that name, if any."""
    return next((item for item in stack.executions() if item["name"] == name), None)


def wait_execution_end(stack: EmbeddedStack, name: str, timeout: float = 120) -> dict[str, Any]:
    """Wait until the execution `name` is no longer RUNNING; return its description."""
    found = stack.wait_for(
        lambda: (item := execution(stack, name)) is not None and item["status"] != "RUNNING" and item,
        timeout=timeout,
    )
    return stack.client("stepfunctions").describe_execution(executionArn=found["executionArn"])


def wait_in_wait_state(stack: EmbeddedStack, name: str) -> None:
    """Wait until the execution `name` sits in its Wait state (so moving the clock ends that wait)."""
    sfn = stack.client("stepfunctions")

    def waiting() -> bool:
        found = execution(stack, name)
        if found is None:
            return False
        events = sfn.get_execution_history(executionArn=found["executionArn"])["events"]
        return bool(events) and max(events, key=lambda event: event["id"])["type"] == "WaitStateEntered"

    stack.wait_for(waiting)


def job_events(stack: EmbeddedStack, job_id: str) -> list[dict[str, Any]]:
    """The events published about one job, oldest first."""
    return [event for event in stack.events() if event["detail"]["job_id"] == job_id]


def history_items(stack: EmbeddedStack, module: str, job_id: str) -> list[dict[str, Any]]:
    """The CHECK# items of one job in DynamoDB."""
    reply = stack.client("dynamodb").query(
        TableName=stack.table_name(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :check)",
        ExpressionAttributeValues={":pk": {"S": f"JOB#default#{module}#{job_id}"}, ":check": {"S": "CHECK#"}},
    )
    return reply["Items"]


def failure_names(stack: EmbeddedStack, execution_arn: str) -> list[str]:
    """The error names of the failed task attempts in an execution's history."""
    events = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [event["taskFailedEventDetails"]["error"] for event in events if event["type"] == "TaskFailed"]


def assert_finished_as(
    stack: EmbeddedStack, module: str, job_id: str, status: str, *, aws_faults: bool = False
) -> dict[str, Any]:
    """DynamoDB, the events and the API all say the job ended with `status`, with Zoho's final counts.

    One history item per recorded check, each status move published once. With `aws_faults` (DynamoDB
    failed during the watch), as the store is built to behave then: a check that failed after writing its
    history item (Zoho's answer, a real observation) and before its state keeps that item, and a move whose
    publication failed to be recorded is published again under its `event_id` (events are at least once)."""
    truth = stack.zoho.job_truth(job_id)
    state = stack.job_state(module, job_id)
    assert state is not None
    assert state["status"] == status == truth["Status"]
    assert (state["total"], state["updated"], state["failed"]) == (
        truth["Total_Count"],
        truth["Updated_Count"],
        truth["Failed_Count"],
    )
    assert state.get("finished_at")
    assert "active" not in state and "next_check_at" not in state  # out of the sparse index
    observed = [item["checked_at"]["S"] for item in history_items(stack, module, job_id)]
    assert len(set(observed)) == len(observed)  # each a check of its own
    assert state["checks"] >= 1
    assert len(observed) == state["checks"] or (aws_faults and len(observed) > state["checks"])
    events = job_events(stack, job_id)
    finished = [event for event in events if event["detail-type"] == FINISHED]
    assert len(finished) == 1
    assert finished[0]["source"] == "zoho-watch"
    assert finished[0]["detail"]["status"] == status
    assert finished[0]["detail"]["counts"]["total"] == truth["Total_Count"]
    copies: dict[str, list[tuple[str | None, str]]] = {}  # by event_id, in order of first publication
    for event in events:
        if event["detail-type"] == STATUS_CHANGED:
            detail = event["detail"]
            copies.setdefault(detail["event_id"], []).append((detail["previous_status"], detail["status"]))
    assert all(len(set(moves)) == 1 for moves in copies.values()), "an event_id names one move"
    assert aws_faults or all(len(moves) == 1 for moves in copies.values()), "each move published once"
    changes = [moves[0][1] for moves in copies.values()]
    assert changes[-1] == status
    assert all(a != b for a, b in itertools.pairwise(changes)), "an event per change only"
    answer = get_job(stack, module, job_id)
    assert answer.status_code == 200
    assert answer.json()["status"] == status
    assert answer.json()["terminal"] is True
    return state


# --- the watch cases ----------------------------------------------------------------------------------------


def test_a_job_that_completes(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=2_000, profile=JobProfile(queue_delay=120, duration=1_800))
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    name = reply.json()["execution_name"]
    assert name == f"Leads-{job_id}-g0"
    described = wait_execution_end(stack, name)
    assert described["status"] == "SUCCEEDED"
    state = assert_finished_as(stack, "Leads", job_id, "COMPLETED")
    assert state["watcher"] == f"stepfunctions:{described['executionArn']}"
    statuses = [event["detail"]["status"] for event in job_events(stack, job_id)]
    assert statuses[0] in ("SCHEDULED", "RUNNING")
    # A second watch of a finished job starts nothing and says so.
    again = watch(stack, "Leads", job_id)
    assert (again.status_code, again.json()["already"], again.json()["watching"]) == (200, True, False)
    assert len([item for item in stack.executions() if job_id in item["name"]]) == 1


def test_a_job_that_fails(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    profile = JobProfile(queue_delay=30, duration=900, final_status="FAILED", fail_at=0.5)
    job_id = stack.zoho.create_job("Deals", total=1_000, profile=profile)
    reply = watch(stack, "Deals", job_id)
    assert reply.status_code == 202, reply.text
    described = wait_execution_end(stack, reply.json()["execution_name"])
    assert (described["status"], described["error"]) == ("FAILED", "MassUpdateFailed")
    assert job_id in described["cause"]
    state = assert_finished_as(stack, "Deals", job_id, "FAILED")
    assert state["failed"] > 0


def test_an_unknown_job_id(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = "4150868000000000001"  # never created on the emulator
    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    described = wait_execution_end(stack, reply.json()["execution_name"])
    assert (described["status"], described["error"]) == ("FAILED", "JobNotFound")
    state = stack.job_state("Leads", job_id)
    assert state is not None and state.get("status") is None
    assert state["last_error"]["code"]  # recorded before the error was raised
    assert job_events(stack, job_id) == []
    answer = get_job(stack, "Leads", job_id).json()
    assert answer["last_error"]["code"] == state["last_error"]["code"]
    assert answer["terminal"] is False
    # Bad input never reaches Zoho or Step Functions.
    calls_before = stack.zoho.counters["calls_total"]
    bad = watch(stack, "Leads", "12ab")
    assert bad.status_code == 400
    assert stack.zoho.counters["calls_total"] == calls_before
    assert execution(stack, "Leads-12ab-g0") is None


def test_a_token_that_expires_in_the_middle_of_a_watch(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Contacts", total=3_000, profile=JobProfile(queue_delay=0, duration=2_400))
    stack.clock.freeze()  # the first check happens, the next waits until the clock moves: nothing can end
    reply = watch(stack, "Contacts", job_id)
    assert reply.status_code == 202, reply.text
    first = stack.wait_for(
        lambda: (state := stack.job_state("Contacts", job_id)) and state.get("checks", 0) >= 1 and state
    )
    assert first["status"] == "RUNNING"
    wait_in_wait_state(stack, reply.json()["execution_name"])
    refreshes_before = stack.zoho.counters["token_refreshes"]
    stack.zoho.expire_access_tokens()
    stack.clock.advance(first["next_check_in"])  # the second check, with the token Zoho no longer knows
    second = stack.wait_for(
        lambda: (state := stack.job_state("Contacts", job_id)) and state.get("checks", 0) >= 2 and state
    )
    assert second["status"] == "RUNNING" and second.get("last_error") is None
    assert stack.zoho.counters["token_refreshes"] == refreshes_before + 1
    stack.clock.resume()  # the new token outlives the job (Zoho's hour against 40 simulated minutes)
    described = wait_execution_end(stack, reply.json()["execution_name"])
    assert described["status"] == "SUCCEEDED"
    assert_finished_as(stack, "Contacts", job_id, "COMPLETED")
    counters = stack.zoho.counters
    assert counters["token_refreshes"] == refreshes_before + 1  # refreshed once, for everyone
    assert counters["calls"]["status"].get(401, counters["calls"]["status"].get("401", 0)) == 1
    assert failure_names(stack, described["executionArn"]) == []  # handled inside one check
    secret = stack.client("secretsmanager").get_secret_value(SecretId="zoho-watch/default/access-token")
    assert json.loads(secret["SecretString"])["access_token"]  # the new token, shared through the secret


def test_bursts_of_500_and_429_are_absorbed_by_retry(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    # A 3-day job: it cannot end while the faults are met, and it ends within the default deadline (7 days)
    # when the clock is moved on.
    days = 3 * 86_400
    job_id = stack.zoho.create_job("Accounts", total=800, profile=JobProfile(queue_delay=0, duration=days))
    stack.zoho.faults.script(["500", "500", "429", None, "500", "429", "429"], routes=("status",))
    reply = watch(stack, "Accounts", job_id)
    assert reply.status_code == 202, reply.text

    def statuses() -> dict[Any, int]:
        return stack.zoho.counters["calls"].get("status", {})

    def count(status: int) -> int:
        return statuses().get(status, statuses().get(str(status), 0))

    # Every scripted fault met, and a check after the last one went through.
    stack.wait_for(lambda: count(500) == 3 and count(429) == 3 and count(200) >= 2)
    assert stack.zoho.job_truth(job_id)["Status"] == "RUNNING"
    stack.clock.advance(days)  # the job ends; the loop's pending wait is over too
    described = wait_execution_end(stack, reply.json()["execution_name"])
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    names = failure_names(stack, described["executionArn"])
    assert names.count("ZohoUnavailable") == 3
    assert names.count("ZohoRateLimited") == 3
    assert_finished_as(stack, "Accounts", job_id, "COMPLETED")
    assert (count(500), count(429)) == (3, 3)


def test_a_deadline_reached(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    # A 10-hour job; the deadline is 20 simulated minutes away.
    job_id = stack.zoho.create_job("Leads", total=10_000, profile=JobProfile(queue_delay=0, duration=36_000))
    deadline_at = datetime.fromtimestamp(stack.clock.now(), UTC) + timedelta(minutes=20)
    deadline = deadline_at.isoformat().replace("+00:00", "Z")
    reply = watch(stack, "Leads", job_id, deadline=deadline)
    assert reply.status_code == 202, reply.text
    described = wait_execution_end(stack, reply.json()["execution_name"])
    assert (described["status"], described["error"]) == ("FAILED", "DeadlineExceeded")
    # Not before the deadline, on the stack's clock, compared as the deadline was given: to the microsecond (a
    # float timestamp of that microsecond may differ from it in the last binary digit).
    assert datetime.fromtimestamp(stack.clock.now(), UTC) >= deadline_at
    state = stack.job_state("Leads", job_id)
    assert state is not None and state["status"] == "RUNNING"
    assert "active" not in state  # no longer watched...
    answer = get_job(stack, "Leads", job_id).json()
    assert (answer["watched"], answer["terminal"]) == (False, False)
    assert not [event for event in job_events(stack, job_id) if event["detail-type"] == FINISHED]
    checks = state["checks"]
    stack.sleep(3_600)
    assert stack.job_state("Leads", job_id)["checks"] == checks  # ...and nobody checks it any more


def test_continue_as_new_follows_the_job_across_generations(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    lam = stack.client("lambda")
    function = stack.deployment.ref("ApiFunction")
    variables = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=function, Environment={"Variables": {**variables, "MAX_POLLS_PER_EXECUTION": "3"}}
    )
    try:
        job_id = stack.zoho.create_job(
            "Leads", total=5_000, profile=JobProfile(queue_delay=0, duration=2_400)
        )
        reply = watch(stack, "Leads", job_id, poll={"min_seconds": 60, "max_seconds": 120})
        assert reply.status_code == 202, reply.text
        state = stack.wait_for(
            lambda: (item := stack.job_state("Leads", job_id)) and item.get("status") == "COMPLETED" and item
        )
    finally:
        lam.update_function_configuration(FunctionName=function, Environment={"Variables": variables})

    def generations() -> list[dict[str, Any]]:
        mine = [item for item in stack.executions() if item["name"].startswith(f"Leads-{job_id}-g")]
        return sorted(mine, key=lambda item: int(item["name"].rsplit("-g", 1)[1]))

    last = wait_execution_end(stack, generations()[-1]["name"])
    assert last["status"] == "SUCCEEDED"
    generations = generations()
    assert len(generations) >= 3
    assert [int(item["name"].rsplit("-g", 1)[1]) for item in generations] == list(range(len(generations)))
    assert all(item["status"] == "SUCCEEDED" for item in generations)
    sfn = stack.client("stepfunctions")
    for item in generations[:-1]:
        events = sfn.get_execution_history(executionArn=item["executionArn"])["events"]
        polls = [event for event in events if event["type"] == "TaskSucceeded"]
        assert len(polls) <= 4  # three checks, then the start of the next generation
    second_input = json.loads(sfn.describe_execution(executionArn=generations[1]["executionArn"])["input"])
    assert (second_input["generation"], second_input["max_polls"], second_input["job_id"]) == (1, 3, job_id)
    assert second_input["poll"] == {"min_seconds": 60, "max_seconds": 120}
    assert state["watcher"].endswith(generations[-1]["name"])
    assert_finished_as(stack, "Leads", job_id, "COMPLETED")


def test_twenty_simultaneous_starts_of_one_watch_give_one_execution(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    job_id = stack.zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=1_200))
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: watch(stack, "Leads", job_id), range(20)))
    assert [reply.status_code for reply in replies] == [202] * 20, [
        r.text for r in replies if r.status_code != 202
    ]
    arns = {reply.json()["execution_arn"] for reply in replies}
    assert len(arns) == 1
    assert sum(1 for reply in replies if not reply.json()["already"]) == 1
    assert [item["name"] for item in stack.executions() if job_id in item["name"]] == [f"Leads-{job_id}-g0"]
    wait_execution_end(stack, f"Leads-{job_id}-g0")
    assert_finished_as(stack, "Leads", job_id, "COMPLETED")


@pytest.mark.long_running
def test_schedule_mode_with_200_jobs_finished_by_the_sweep(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    modules = ("Leads", "Contacts", "Deals", "Accounts")
    jobs = []
    for number in range(200):
        module = modules[number % len(modules)]
        # 2 to 7 simulated minutes: every check costs its real CPU, and a few sweeps per job are enough.
        profile = JobProfile(queue_delay=number % 4 * 30, duration=120 + number)
        jobs.append((module, stack.zoho.create_job(module, total=100 + number, profile=profile)))
    # The stack's default poll bounds and sweep schedule, in simulated time like `next_check_at`.
    stack.scheduler.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda job: watch(stack, job[0], job[1], mode="schedule"), jobs))
    assert {reply.status_code for reply in replies} == {202}
    try:

        def none_left() -> bool:
            # The driver holds the clock while it looks, so a look is cheap: a count of the jobs still in
            # the sweep's partitions of the sparse index (a job leaves them once finished and announced).
            return jobs_in_index(stack, "ACTIVE", "ACTIVE#finished-event") == 0

        def ended_in_zoho() -> bool:
            # In the emulator's memory: far cheaper than the index query, which only then needs asking.
            return all(stack.zoho.job_finished_at(job_id) is not None for _, job_id in jobs)

        stack.wait_for(lambda: ended_in_zoho() and none_left(), interval=0.5)
    finally:
        stack.scheduler.stop()
    assert len(stack.scheduler.history) > 1, "the sweep ran, more than once"
    states = {job: stack.job_state(*job) for job in jobs}
    assert [job for job, state in states.items() if state is None] == [], "watched (202) but no state stored"
    checks = [states[job]["checks"] for job in jobs]
    assert max(checks) > 1  # some jobs were still running at a sweep and checked again
    assert all(firing.error is None for firing in stack.scheduler.history)
    for module, job_id in jobs[::20]:
        assert_finished_as(stack, module, job_id, "COMPLETED")
    finished = [event for event in stack.events() if event["detail-type"] == FINISHED]
    assert sorted(event["detail"]["job_id"] for event in finished) == sorted(job_id for _, job_id in jobs)
    watched = {job_id for _, job_id in jobs}
    assert not [item for item in stack.executions() if item["name"].split("-")[1] in watched]  # no SFN
    budget = int(stack.deployment_parameter("SweepConcurrency", "5"))
    assert stack.zoho.counters["peak_concurrency"] <= budget
    listed = requests.get(
        f"{stack.api_url}/jobs", params={"status": "COMPLETED", "limit": 100}, timeout=REQUEST_LIMIT_SECONDS
    )
    assert listed.status_code == 200 and len(listed.json()["items"]) == 100
