"""Chaos: 200 jobs watched through the real state machine while the Zoho emulator turns 20% of the status
calls into transient faults (500, 429, time-outs, connection resets, non-JSON bodies).

Every job's final state in DynamoDB must equal the emulator's truth, every job gets exactly one "finished"
event, and no execution fails for a transient fault (the only failed executions are the jobs that Zoho
itself reports as FAILED, with the error `MassUpdateFailed`).

Time is the stack's virtual clock: every job is created and every watch started at the same simulated
moment (the test holds the clock meanwhile), and each job is then checked at the simulated times its
execution's Waits and retries say, on any machine. Kept as cheap as it can be while the jobs are still
watched through their run: jobs of 10 to 30 simulated minutes, polls 5 to 15 simulated minutes apart (a
simulated hour costs only the CPU of its checks: about 1,400 status calls in all), and a 0.3 s read time-out
for the Lambda functions (a `timeout` fault holds the reply 0.6 real seconds, so it is always a time-out: a
socket's time-out can only be real time). Several minutes all the same: every check runs the real handler
on moto.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

JOBS = 200
FAULT_SHARE = 0.20
TRANSIENT_FAULTS = ("500", "429", "timeout", "reset", "non_json")
READ_TIMEOUT = 0.3  # real seconds: the functions' Zoho read time-out in this test
CHANGED = "Mass Update Job Status Changed"
FINISHED = "Mass Update Job Finished"
TERMINAL = ("COMPLETED", "FAILED")


@contextmanager
def function_environment(stack: EmbeddedStack, output: str, variables: dict[str, str]) -> Iterator[None]:
    """Add `variables` to a deployed function's environment for the block (as an operator would set them)."""
    lambda_client = stack.client("lambda")
    name = stack.outputs[output]
    before = lambda_client.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {**before, **variables}}
    )
    from zoho_watch import services  # the functions' library, in this process: read the new settings

    services.reset()
    try:
        yield
    finally:
        lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": before})
        services.reset()


def profiles(count: int, seed: int = 8) -> list[tuple[int, JobProfile]]:
    """Short jobs of several shapes: (total records, profile); about one in ten ends FAILED."""
    rng = random.Random(seed)
    jobs = []
    for index in range(count):
        failed = index % 10 == 9
        jobs.append(
            (
                rng.randrange(50, 2_000),
                JobProfile(
                    queue_delay=rng.randrange(300, 900),
                    duration=rng.randrange(300, 900),
                    irregular=rng.choice([0, 0.5]),
                    failure_share=rng.choice([0, 0, 0.1]),
                    final_status="FAILED" if failed else "COMPLETED",
                    fail_at=0.6,
                ),
            )
        )
    return jobs


def start_watch(stack: EmbeddedStack, job_id: str) -> str:
    """PUT .../watch (polls 5 to 15 simulated minutes apart); the execution's name."""
    body = {"poll": {"min_seconds": 300, "max_seconds": 900}}
    reply = requests.put(
        f"{stack.api_url}/jobs/Leads/{job_id}/watch", json=body, timeout=REQUEST_LIMIT_SECONDS
    )
    assert reply.status_code == 202, reply.text
    return reply.json()["execution_name"]


def wait_all_ended(stack: EmbeddedStack, names: set[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Let the clock run until none of the named executions is RUNNING; their list entries by name.

    `timeout` (real seconds) only stops a hung test. The driver holds the clock while it looks, so it looks
    seldom (every real second), and a look asks for one running execution: the stack runs no execution but
    the named ones (the reset before the test stopped every other), so none running means none of them.
    """
    sfn = stack.client("stepfunctions")
    machine = stack.outputs["WatchJobStateMachineArn"]

    def running() -> list[str]:
        return [item["name"] for item in stack.executions("RUNNING") if item["name"] in names]

    def any_running() -> bool:
        return bool(
            sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]
        )

    try:
        stack.wait_for(lambda: not any_running(), timeout=timeout, interval=1.0)
    except TimeoutError:
        still = running()
        pytest.fail(f"{len(still)} of {len(names)} executions still running, e.g. {still[:3]}")
    listed = {item["name"]: item for item in stack.executions() if item["name"] in names}
    assert set(listed) == names, names - set(listed)
    return listed


@pytest.mark.long_running
@pytest.mark.timeout(1800)  # real seconds, a hung test's limit: it takes several minutes
def test_two_hundred_watches_under_twenty_percent_transient_faults(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    zoho = stack.zoho
    zoho.config.update(fault_timeout_seconds=READ_TIMEOUT * 2, concurrency_limit=None)
    zoho.faults.seed(8)
    # Five rules tried in turn, each on its own share, make 20% of status calls fail in all.
    share = 1 - (1 - FAULT_SHARE) ** (1 / len(TRANSIENT_FAULTS))
    for kind in TRANSIENT_FAULTS:
        zoho.faults.inject(kind, share=share, routes=("status",))
    jobs = [zoho.create_job("Leads", total=total, profile=profile) for total, profile in profiles(JOBS)]

    with function_environment(stack, "CheckJobFunctionName", {"ZOHO_READ_TIMEOUT": str(READ_TIMEOUT)}):
        # The test holds the clock: every watch starts, and checks its job first, at the jobs' creation time.
        with ThreadPoolExecutor(max_workers=8) as pool:
            names = dict(zip(pool.map(lambda job_id: start_watch(stack, job_id), jobs), jobs, strict=True))
        ended = wait_all_ended(stack, set(names), timeout=1500)

    # No execution failed for a transient fault: only Zoho's own FAILED jobs end in Fail.
    outcomes = Counter((item["status"], names[name]) for name, item in ended.items())
    sfn = stack.client("stepfunctions")
    for name, item in ended.items():
        job_id = names[name]
        expected = "SUCCEEDED" if zoho.job_truth(job_id)["Status"] == "COMPLETED" else "FAILED"
        if item["status"] != expected or expected == "FAILED":
            described = sfn.describe_execution(executionArn=item["executionArn"])
            assert (described["status"], described.get("error")) == (
                expected,
                None if expected == "SUCCEEDED" else "MassUpdateFailed",
            ), described
    assert len(outcomes) == JOBS

    # Faults really happened, of every kind.
    injected = zoho.counters["faults_injected"]
    status_calls = sum(zoho.counters["calls"]["status"].values())
    assert set(injected) == set(TRANSIENT_FAULTS), injected
    # A statistical bound, not a timing one: each status call draws its fault at random (20% in all), and
    # which call gets which draw depends on the order the executions' calls arrive in.
    assert 0.12 < sum(injected.values()) / status_calls < 0.28, (injected, status_calls)

    # DynamoDB holds the truth for every job; one finished event per job, saying the same.
    finished = Counter(
        event["detail"]["job_id"] for event in stack.events() if event["detail-type"] == FINISHED
    )
    finished_status = {
        event["detail"]["job_id"]: event["detail"]["status"]
        for event in stack.events()
        if event["detail-type"] == FINISHED
    }
    wrong = []
    for job_id in jobs:
        truth = zoho.job_truth(job_id)
        state = stack.job_state("Leads", job_id) or {}
        seen = (
            state.get("status"),
            state.get("total"),
            state.get("updated"),
            state.get("failed"),
            state.get("not_updated"),
        )
        real = (
            truth["Status"],
            truth["Total_Count"],
            truth["Updated_Count"],
            truth["Failed_Count"],
            truth["Not_Updated_Count"],
        )
        if seen != real or truth["Status"] not in TERMINAL:
            wrong.append((job_id, seen, real))
    assert wrong == []
    # The jobs were really watched through their run, not seen once at the end: each was first checked when
    # its watch started, queued for 5 minutes at least. To miss it, its status calls would have to fail
    # until its end, 10 minutes at least later: seven or more in a row, with back-offs near their maximum.
    seen_unfinished = {
        event["detail"]["job_id"]
        for event in stack.events()
        if event["detail-type"] == CHANGED and event["detail"]["status"] not in TERMINAL
    }
    assert seen_unfinished == set(jobs), len(seen_unfinished)
    # Exactly one finished event per job: no container died here (a duplicate needs one to die between
    # publishing the event and recording it).
    assert {job_id: n for job_id, n in finished.items() if n != 1} == {}
    assert set(finished) == set(jobs)
    assert all(finished_status[job_id] == zoho.job_truth(job_id)["Status"] for job_id in jobs)
