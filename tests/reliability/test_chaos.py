"""Chaos on both sides: 200 jobs, half watched through the real state machine and half by the scheduled
sweep, while the Zoho emulator turns 20% of the status calls into transient faults (500, 429, time-outs,
connection resets, non-JSON bodies) and the embedded AWS fails 10% of the AWS calls (the functions' DynamoDB,
Secrets Manager, EventBridge and Step Functions calls: throttling, 500, 503, read time-outs, no connection;
and the state machine's Lambda invocations: 429 and 500).

Every job's final state in DynamoDB must equal the emulator's truth; every job gets exactly one "finished"
event and an unbroken chain of "status changed" events; no job is left watched (every execution ended, the
active index is empty); no execution fails for a transient fault (the only failed executions are the jobs
that Zoho itself reports as FAILED, with the error `MassUpdateFailed`) and none had to be resumed; and no
token refresh is spent on an AWS fault.

AWS faults come as AWS sends them, to the SDK (botocore's retries see them first, then the library, then the
state machine's Retry), so most are absorbed by the SDK and those that get through exercise the library's
typed errors and the events' outbox; the counts of both are in the assertion messages.

Time is the stack's virtual clock: every job is created and every watch started at the same simulated
moment (the test holds the clock meanwhile), and each job is then checked at the simulated times its
execution's Waits and retries, or the sweep's schedule, say, on any machine. Kept as cheap as it can be while
the jobs are still watched through their run: jobs of 10 to 30 simulated minutes, polls 5 to 15 simulated
minutes apart, and a 0.3 s read time-out for the Lambda functions (a `timeout` fault holds the reply 0.6 real
seconds, so it is always a time-out: a socket's time-out can only be real time). Several minutes all the
same: every check runs the real handler on moto.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import requests
from zoho_watch.config import Settings

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS, jobs_in_index
from zoho_watch_local.aws_calls import AwsCall
from zoho_watch_local.aws_faults import FUNCTION_ROUTES, LAMBDA_REPLIES, STATE_MACHINE_ROUTE
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

JOBS = 200
ZOHO_FAULT_SHARE = 0.20
TRANSIENT_FAULTS = ("500", "429", "timeout", "reset", "non_json")
AWS_FAULT_SHARE = 0.10
# The passing faults of each AWS route (DynamoDB has its own throughput error besides).
AWS_TRANSIENT_FAULTS = {
    **{
        route: ("throttling", "internal_error", "service_unavailable", "read_timeout", "connection_error")
        for route in FUNCTION_ROUTES
    },
    "dynamodb": ("provisioned_throughput", "internal_error", "service_unavailable", "read_timeout"),
    STATE_MACHINE_ROUTE: tuple(LAMBDA_REPLIES),
}
SECRETS_OUTAGE = ["throttling"] * 5 + ["read_timeout"] * 5 + ["service_unavailable"] * 5
TOKEN_REFRESH_MARGIN = Settings.token_refresh_margin_seconds  # the stack's (the template does not set it)
READ_TIMEOUT = 0.3  # real seconds: the functions' Zoho read time-out in this test
POLL = {"min_seconds": 300, "max_seconds": 900}
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


def inject_faults(share: float, kinds: tuple[str, ...], inject: Any) -> None:
    """Rules tried in turn, one per kind, each on its own share, so that `share` of the calls fail in all."""
    each = 1 - (1 - share) ** (1 / len(kinds))
    for kind in kinds:
        inject(kind, each)


def start_watch(stack: EmbeddedStack, job_id: str, mode: str) -> str:
    """PUT .../watch (polls 5 to 15 simulated minutes apart); the execution's name (stepfunctions mode).

    The API meets the AWS faults too: a 503 (`AWS_UNAVAILABLE`, nothing started) is asked again, as a client
    would.
    """
    for _ in range(5):
        reply = requests.put(
            f"{stack.api_url}/jobs/Leads/{job_id}/watch",
            json={"mode": mode, "poll": POLL},
            timeout=REQUEST_LIMIT_SECONDS,
        )
        if reply.status_code != 503:
            break
    assert reply.status_code == 202, reply.text
    return reply.json().get("execution_name") or ""


def index_count(stack: EmbeddedStack) -> int:
    """Jobs still in a partition of the active index: watched, or with a "finished" event to publish."""
    return jobs_in_index(stack, "ACTIVE", "ACTIVE#stepfunctions", "ACTIVE#finished-event")


def wait_all_ended(stack: EmbeddedStack, jobs: list[str], timeout: float) -> None:
    """Let the clock run until every job ended in Zoho, left the active index and no execution runs.

    `timeout` (real seconds) only stops a hung test. The driver holds the clock while it looks, so it looks
    seldom (every real second), and the cheapest look first: the emulator's memory, then one running
    execution (the reset before the test stopped every other), then the index.
    """
    sfn = stack.client("stepfunctions")
    machine = stack.outputs["WatchJobStateMachineArn"]

    def ended() -> bool:
        return (
            all(stack.zoho.job_finished_at(job_id) is not None for job_id in jobs)
            and not sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)[
                "executions"
            ]
            and index_count(stack) == 0
        )

    try:
        stack.wait_for(ended, timeout=timeout, interval=1.0)
    except TimeoutError:
        running = [item["name"] for item in stack.executions("RUNNING")]
        pytest.fail(f"{len(running)} executions still running, {index_count(stack)} jobs in the index")


def route_of(call: AwsCall) -> str:
    """The fault route of a recorded AWS call: its service's (`stepfunctions` for `states:`)."""
    service = call.action.split(":", 1)[0]
    return "stepfunctions" if service == "states" else service


def failed_attempts(stack: EmbeddedStack, names: set[str]) -> Counter[str]:
    """The errors the state machine's Retry caught in the named executions, by name."""
    sfn = stack.client("stepfunctions")
    errors: Counter[str] = Counter()
    for item in stack.executions():
        if item["name"] not in names:
            continue
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=item["executionArn"])
        for page in pages:
            for event in page["events"]:
                failure = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails")
                if failure:
                    errors[failure.get("error", "?")] += 1
    return errors


@pytest.mark.long_running
@pytest.mark.timeout(1800)  # real seconds, a hung test's limit: it takes several minutes
def test_two_hundred_watches_under_zoho_and_aws_faults_at_once(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    zoho = stack.zoho
    zoho.config.update(fault_timeout_seconds=READ_TIMEOUT * 2, concurrency_limit=None)
    zoho.faults.seed(8)
    inject_faults(
        ZOHO_FAULT_SHARE,
        TRANSIENT_FAULTS,
        lambda kind, share: zoho.faults.inject(kind, share=share, routes=("status",)),
    )
    for route, kinds in AWS_TRANSIENT_FAULTS.items():
        inject_faults(
            AWS_FAULT_SHARE,
            kinds,
            lambda kind, share, route=route: stack.aws_faults.inject(kind, share, routes=route),
        )
    # The functions start cold: their first token reads meet a Secrets Manager outage longer than the SDK's
    # retries (5 attempts each), which must cost no refresh (the stored token is still good).
    stack.aws_faults.script(SECRETS_OUTAGE, routes="secretsmanager")
    jobs = [zoho.create_job("Leads", total=total, profile=profile) for total, profile in profiles(JOBS)]
    # Half each way, Zoho's FAILED jobs (one in ten) too.
    modes = {job_id: "stepfunctions" if index % 4 < 2 else "schedule" for index, job_id in enumerate(jobs)}
    refreshes_before = zoho.counters["token_refreshes"]
    started_at = stack.clock.now()
    calls_before = len(stack.aws_calls.calls())

    with ExitStack() as settings:
        for function in ("CheckJobFunctionName", "SweepFunctionName"):
            settings.enter_context(
                function_environment(stack, function, {"ZOHO_READ_TIMEOUT": str(READ_TIMEOUT)})
            )
        scheduler = stack.scheduler
        assert scheduler is not None
        scheduler.start()
        settings.callback(scheduler.stop)
        # The test holds the clock: every watch starts at the jobs' creation time.
        with ThreadPoolExecutor(max_workers=8) as pool:
            started = list(pool.map(lambda job_id: (job_id, start_watch(stack, job_id, modes[job_id])), jobs))
        names = {name: job_id for job_id, name in started if name}
        wait_all_ended(stack, jobs, timeout=1500)
    stack.aws_faults.clear()
    zoho.faults.clear()
    span = stack.clock.now() - started_at

    # Faults really happened, on both sides and of every kind.
    injected = zoho.counters["faults_injected"]
    status_calls = sum(zoho.counters["calls"]["status"].values())
    assert set(injected) == set(TRANSIENT_FAULTS), injected
    # Statistical bounds, not timing ones: each call draws its fault at random, and which call gets which
    # draw depends on the order the calls arrive in.
    assert 0.12 < sum(injected.values()) / status_calls < 0.28, (injected, status_calls)
    aws_injected = stack.aws_faults.injected()
    aws_calls = Counter(
        route
        for route in map(route_of, stack.aws_calls.calls()[calls_before:])
        if route in AWS_TRANSIENT_FAULTS
    )
    # Every route met faults, every kind happened (some routes see few calls: kinds are counted together).
    assert set(aws_injected) == set(AWS_TRANSIENT_FAULTS), aws_injected
    kinds_seen = {kind for counts in aws_injected.values() for kind in counts}
    assert kinds_seen == {kind for kinds in AWS_TRANSIENT_FAULTS.values() for kind in kinds}, aws_injected
    aws_faults = sum(sum(counts.values()) for counts in aws_injected.values())
    assert 0.07 < aws_faults / sum(aws_calls.values()) < 0.13, (aws_injected, aws_calls)

    # Each execution ended as its job did: only Zoho's own FAILED jobs end in Fail, none was resumed.
    sfn = stack.client("stepfunctions")
    executions = [item for item in stack.executions() if item["name"].split("-")[1] in modes]
    assert sorted(item["name"] for item in executions) == sorted(names), "an execution was resumed, or more"
    for item in executions:
        expected = "SUCCEEDED" if zoho.job_truth(names[item["name"]])["Status"] == "COMPLETED" else "FAILED"
        if item["status"] != expected or expected == "FAILED":
            described = sfn.describe_execution(executionArn=item["executionArn"])
            assert (described["status"], described.get("error")) == (
                expected,
                None if expected == "SUCCEEDED" else "MassUpdateFailed",
            ), described

    # DynamoDB holds the truth for every job, and none is left watched or with an error.
    wrong = []
    for job_id in jobs:
        truth = zoho.job_truth(job_id)
        state = stack.job_state("Leads", job_id) or {}
        seen = tuple(state.get(name) for name in ("status", "total", "updated", "failed", "not_updated"))
        real = tuple(
            truth[name]
            for name in ("Status", "Total_Count", "Updated_Count", "Failed_Count", "Not_Updated_Count")
        )
        if seen != real or truth["Status"] not in TERMINAL or "active" in state or state.get("last_error"):
            wrong.append((job_id, seen, real, state.get("active"), state.get("last_error")))
    assert wrong == []

    # One "finished" event per job, saying the same; each job's "status changed" events, once each, link
    # its first status to its last with no move missing.
    events = stack.events()
    finished = Counter(event["detail"]["job_id"] for event in events if event["detail-type"] == FINISHED)
    assert {job_id: n for job_id, n in finished.items() if n != 1} == {} and set(finished) == set(jobs)
    for event in events:
        if event["detail-type"] == FINISHED:
            assert event["detail"]["status"] == zoho.job_truth(event["detail"]["job_id"])["Status"]
    changes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event["detail-type"] == CHANGED:
            changes[event["detail"]["job_id"]].append(event["detail"])
    broken = {}
    for job_id in jobs:
        chain = changes[job_id]
        ids = [detail["event_id"] for detail in chain]
        moves = [(detail["previous_status"], detail["status"]) for detail in chain]
        linked = all(before[1] == after[0] for before, after in itertools.pairwise(moves))
        whole = bool(moves) and moves[0][0] is None and moves[-1][1] == zoho.job_truth(job_id)["Status"]
        if len(set(ids)) != len(ids) or not whole or not linked:
            broken[job_id] = moves
    assert broken == {}
    # The jobs were really watched through their run, not seen once at the end: each was first checked when
    # its watch started (or at the sweep's next run), queued for 5 minutes at least.
    assert all(changes[job_id][0]["status"] not in TERMINAL for job_id in jobs)

    # No token refresh for an AWS fault: a refresh only once the token before it had run to its last
    # TOKEN_REFRESH_MARGIN seconds (the functions' clocks and the emulator's are the stack's one clock).
    times = zoho.counters["token_refresh_times"]
    refreshes = len(times) - refreshes_before
    lifetime = zoho.config.access_token_ttl - TOKEN_REFRESH_MARGIN
    early = [
        (earlier, later) for earlier, later in itertools.pairwise(times) if later - earlier < lifetime - 1
    ]
    assert early == [], (early, times)
    # What reached the state machine's Retry (the SDK's retries absorbed the rest): shown if anything fails.
    caught = failed_attempts(stack, set(names))
    assert set(caught) <= {
        "ZohoUnavailable",
        "ZohoRateLimited",
        "AwsUnavailable",
        "EventPublishError",
        "StoreConflict",
        *(f"Lambda.{reply.code}" for reply in LAMBDA_REPLIES.values()),
    }, caught
    sides = f"{len(names)} by executions, {JOBS - len(names)} by the sweep"
    print(
        f"chaos: {JOBS} jobs ({sides}) in {span / 60:.0f} simulated minutes;"
        f" Zoho faults {sum(injected.values())} of {status_calls} status calls {dict(injected)};"
        f" AWS faults {aws_injected} of {dict(aws_calls)} calls; caught by the state machine {dict(caught)};"
        f" wrong states {len(wrong)}; left watched {index_count(stack)}; token refreshes {refreshes}"
    )
