"""Cost of watching one job for one hour on AWS: zoho-watch's Step Functions loop against a fixed 30 s loop.

zoho-watch's side is counted, not assumed: the real check_job handler (`functions/check_job/app.py`) runs on
moto against the emulator for a job that runs one hour, the emulator's clock frozen and moved by each wait the
handler asks for (plus the check's own time). It is a simulation and gives the same figures on any machine
under any load: the clock starts at `SIMULATION_EPOCH` and moves only by those amounts, the job is always the
same one (`BENCH_JOB_ID`: the emulator seeds a job's irregular progress with its id and the store seeds the
policy's jitter with it, and the emulator draws ids at random), and Powertools' secret cache ages on the
simulated clock (`bench.stack.simulated_secrets`). A botocore hook counts every DynamoDB, Secrets Manager and
EventBridge call the library makes; the states entered are counted by walking the real
`statemachine/watch_job.asl.json` with each check's output. The fixed loop is the AWS SAM quick-start's shape
(Task -> Choice -> Wait 30 s), walked the same way over the same job; its Lambda only reads a cached token
secret (Powertools' default 5-minute cache) and asks Zoho, and records nothing.

Billed Lambda time per check is an assumption (stated in the output), the same model as bench.polling's.
Prices: public list prices, us-east-1 (`bench.pricing`).
"""

from __future__ import annotations

import collections
import json
import math
from datetime import UTC, datetime
from typing import Any

from zoho_watch.jobs import JobKey

from bench import REPO_ROOT
from bench.pricing import Usage
from bench.stack import Stack, invoke, lambda_context, load_handler, local_stack, start_simulated_clock
from bench.table import Row
from bench.transitions import retry_transitions, transitions_by_type, transitions_detail
from bench.write_units import WriteMeter
from fake_zoho import FakeZoho, JobProfile
from zoho_watch_local.template import project_template

ASL_PATH = REPO_ROOT / "statemachine" / "watch_job.asl.json"
# Billed Lambda milliseconds per check (assumed, the same Zoho reply for both): Zoho ~300 ms, and for
# zoho-watch ~100 ms more of DynamoDB writes and events.
ZOHO_WATCH_CHECK_MS = 400
FIXED_CHECK_MS = 300
SECRET_CACHE_SECONDS = 300  # Powertools Parameters' default max_age
# Seconds between a check's start and its reply being recorded, and the Wait -> Task transition.
CHECK_SECONDS = 0.5
TRANSITION_SECONDS = 0.05
# Share of Task attempts that fail transiently and are retried (Lambda's or Zoho's), for both loops: each
# retry is one more transition. Stated, not measured: the Retry rules' errors are rare on AWS.
FAULT_RATE = 0.01
# The watched job's id, the same in every run (Zoho-like: 18 digits).
BENCH_JOB_ID = "554023000000612007"
# The module's jobs watched before it, for the steady-state figures: (id, records) of the same one-hour
# profile, so the rate prior they leave is of about 4.2, 5.6 and 7.1 records a second.
EARLIER_JOBS = (
    ("554023000000612001", 15_000),
    ("554023000000612003", 20_000),
    ("554023000000612005", 25_000),
)

FIXED_LOOP_ASL: dict[str, Any] = {
    "StartAt": "CheckJob",
    "States": {
        "CheckJob": {"Type": "Task", "Next": "Done?"},
        "Done?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.status", "StringEquals": "COMPLETED", "Next": "Succeeded"},
                {"Variable": "$.status", "StringEquals": "FAILED", "Next": "Failed"},
            ],
            "Default": "Wait30",
        },
        "Wait30": {"Type": "Wait", "Seconds": 30, "Next": "CheckJob"},
        "Succeeded": {"Type": "Succeed"},
        "Failed": {"Type": "Fail"},
    },
}


def one_hour_job() -> JobProfile:
    """The job watched: a minute in the queue, then 59 minutes of irregular progress, COMPLETED."""
    return JobProfile(queue_delay=60, duration=3540, irregular=0.5)


def create_job_with_id(zoho: FakeZoho, job_id: str, module: str, total: int, profile: JobProfile) -> str:
    """Have the emulator schedule a job under `job_id` instead of an id drawn at random; returns it.

    The emulator draws every id with `secrets` (`fake_zoho.jobs.JobBook._next_id`) and has no way to
    name one; this replaces that draw, on this emulator only, for one job, and checks the job got the id.
    """
    jobs = zoho.jobs
    jobs._next_id = lambda: job_id  # type: ignore[method-assign]
    try:
        created = zoho.create_job(module, total=total, profile=profile)
    finally:
        del jobs._next_id
    if created != job_id:
        raise RuntimeError(f"the emulator named the job {created}, not {job_id}: see create_job_with_id")
    return created


def memory_mb() -> int:
    """The check_job function's memory (its own MemorySize, else the template's Globals)."""
    template = project_template()
    own = template["Resources"]["CheckJobFunction"]["Properties"].get("MemorySize")
    return int(own or template["Globals"]["Function"]["MemorySize"])


def zoho_watch_usage(after_earlier_jobs: bool = False) -> tuple[Usage, float]:
    """Replay the watch through the real handler; its usage and the detection lag (seconds).

    `after_earlier_jobs`: the module's `EARLIER_JOBS` are watched to their end first (not counted), so the
    job is watched as in a deployment that has watched this module before: with the rate prior they left.
    Without, it is the first job of its module (no prior: its queue is watched by back-off).
    """
    handler = load_handler("check_job").lambda_handler
    asl = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    with FakeZoho() as zoho:
        start_simulated_clock(zoho)
        with local_stack(zoho, simulated=True) as stack:
            for job_id, total in EARLIER_JOBS if after_earlier_jobs else ():
                earlier = create_job_with_id(zoho, job_id, "Leads", total, one_hour_job())
                _follow(stack, zoho, handler, earlier)
            stack.calls.reset()
            return _watch(stack, zoho, handler, asl, WriteMeter())


def _watch(
    stack: Stack, zoho: FakeZoho, handler: Any, asl: dict[str, Any], meter: WriteMeter
) -> tuple[Usage, float]:
    """`zoho_watch_usage` on its stack."""
    meter.install(stack.services.dynamodb)
    job_id = create_job_with_id(zoho, BENCH_JOB_ID, "Leads", 20_000, one_hour_job())
    outputs = _follow(stack, zoho, handler, job_id)
    lag = zoho.clock.now() - (zoho.job_finished_at(job_id) or math.inf)
    calls = stack.calls.snapshot()
    secrets_calls = sum(count for name, count in calls.items() if name.startswith("secretsmanager."))
    states = transitions_by_type(asl, outputs)
    usage = Usage(
        checks=len(outputs),
        transitions=sum(states.values()),
        lambda_ms=ZOHO_WATCH_CHECK_MS,
        memory_mb=memory_mb(),
        write_units=meter.write_units,
        read_units=meter.read_units,
        secrets_calls=secrets_calls,
        events=calls.get("events.PutEvents", 0),
        detail=calls,
        retry_transitions=retry_transitions(len(outputs), FAULT_RATE),
        states=dict(states),
    )
    return usage, lag


def _follow(stack: Stack, zoho: FakeZoho, handler: Any, job_id: str) -> list[dict[str, Any]]:
    """Watch `job_id` as the state machine does (the API's watch, then check and wait until it ends); the
    outputs of its checks."""
    services = stack.services
    started = zoho.clock.now()
    execution = f"arn:aws:states:us-east-1:123456789012:execution:watch-job:Leads-{job_id}-g0"
    # The API's PUT .../watch: records the watcher, then starts the execution.
    services.store.watch(JobKey(stack.connection, "Leads", job_id), f"stepfunctions:{execution}")
    loop_state: dict[str, Any] = {"connection": stack.connection, "module": "Leads", "job_id": job_id}
    outputs = []
    while True:
        zoho.clock.advance(CHECK_SECONDS)
        event = {
            "input": loop_state,
            "execution_id": execution,
            "execution_started_at": datetime.fromtimestamp(started, UTC).isoformat(),
        }
        output = invoke(handler, event, lambda_context("check-job", 120, memory_mb()))
        outputs.append(output)
        if output["terminal"] or len(outputs) > 10_000:
            break
        loop_state = output
        zoho.clock.advance(output["next_check_in"] + TRANSITION_SECONDS)
    return outputs


def fixed_loop_usage(interval: float = 30.0) -> tuple[Usage, float]:
    """The fixed 30 s loop over the same job: its checks come from the emulator's timeline of that job."""
    from fake_zoho.profile import JobTimeline

    timeline = JobTimeline(20_000, one_hour_job(), seed=1)
    end = timeline.finishes_after() or math.inf
    outputs, now = [], 0.0
    while True:
        now += CHECK_SECONDS
        outputs.append({"status": timeline.body(now)["Status"]})
        if outputs[-1]["status"] in ("COMPLETED", "FAILED"):
            break
        now += interval + TRANSITION_SECONDS
    # A warm container re-reads its cached token secret every 5 minutes; one event announces the end.
    secrets_calls = math.ceil(now / SECRET_CACHE_SECONDS)
    states = transitions_by_type(FIXED_LOOP_ASL, outputs)
    usage = Usage(
        checks=len(outputs),
        transitions=sum(states.values()),
        lambda_ms=FIXED_CHECK_MS,
        memory_mb=memory_mb(),
        write_units=0,
        read_units=0,
        secrets_calls=secrets_calls,
        events=1,
        retry_transitions=retry_transitions(len(outputs), FAULT_RATE),
        states=dict(states),
    )
    return usage, now - end


def arithmetic(ours: Usage, fixed: Usage) -> str:
    """The cost arithmetic of both, as a markdown table."""
    lines = [
        "| item | zoho-watch | $ | fixed 30 s loop | $ |",
        "|---|---|---|---|---|",
    ]
    for (item, ours_text, ours_price), (_, fixed_text, fixed_price) in zip(
        ours.lines(), fixed.lines(), strict=True
    ):
        lines.append(f"| {item} | {ours_text} | {ours_price:.7f} | {fixed_text} | {fixed_price:.7f} |")
    lines.append(f"| **total** | | **{ours.dollars:.7f}** | | **{fixed.dollars:.7f}** |")
    return "\n".join(lines)


# Cost goals, as shares of the fixed 30 s loop's cost for the same job.
STATE_MACHINE_GOAL = 0.30
# The two cases of the state machine mode's rows: no rate prior yet, and the prior of the module's jobs.
FIRST_JOB = "first job of its module"
LATER_JOB = f"after {len(EARLIER_JOBS)} jobs of its module"
SCHEDULE_GOAL = 0.05
# Jobs watched at once in the schedule-mode figures: 1 (the goal's: a sweep's cost per job only falls as it
# watches more), 10 (counted too), 10,000 (computed from the 10: the scale item's load).
SCHEDULE_JOBS = (1, 10)
SCHEDULE_COMPUTED_JOBS = 10_000


def max_checks_for(goal: float, ours: Usage, fixed: Usage) -> int:
    """The most checks of the job the state machine mode may make and stay within `goal` x the fixed loop."""
    per_check = ours.dollars / ours.checks
    return int(goal * fixed.dollars / per_check)


def measure() -> tuple[list[Row], str]:
    """Rows (checks, dollars of both modes) and the arithmetic."""
    from bench.schedule_cost import count_sweeps

    try:
        ours, lag = zoho_watch_usage()
        steady, steady_lag = zoho_watch_usage(after_earlier_jobs=True)
        sweeps = [count_sweeps(jobs) for jobs in SCHEDULE_JOBS]
    except FileNotFoundError as error:
        from bench.table import not_measured

        return [not_measured("6. cost of watching one 1-hour job", str(error))], ""
    fixed, fixed_lag = fixed_loop_usage()
    rows = [
        Row(
            f"6. one 1-hour job: Zoho calls (checks), {which}",
            f"{usage.checks} (lag {job_lag:.1f} s)",
            f"fixed 30 s: {fixed.checks} (lag {fixed_lag:.1f} s)",
            f"{fixed.checks / usage.checks:.1f}x fewer",
        )
        for which, usage, job_lag in ((FIRST_JOB, ours, lag), (LATER_JOB, steady, steady_lag))
    ]
    rows.append(
        Row(
            "6. one 1-hour job: state transitions per check (Task, Choice, Wait; retries at 1% faults)",
            f"{(ours.transitions + ours.retry_transitions) / ours.checks:.2f}",
            f"fixed 30 s: {(fixed.transitions + fixed.retry_transitions) / fixed.checks:.2f}",
            "3 per check is the floor without moving a branch into Catch or the wait into Lambda",
        )
    )
    for which, usage in ((FIRST_JOB, ours), (LATER_JOB, steady)):
        ratio = usage.dollars / fixed.dollars
        rows.append(
            Row(
                f"6. one 1-hour job, state machine mode: AWS cost (us-east-1 list prices), {which}",
                f"${usage.dollars:.6f}",
                f"fixed 30 s: ${fixed.dollars:.6f}",
                f"{ratio:.2f}x the fixed loop's cost",
                f"<= {STATE_MACHINE_GOAL:.2f}x",
                ratio <= STATE_MACHINE_GOAL,
            )
        )
    memory = memory_mb()
    schedule = [(count, count.per_job(memory)) for count in sweeps]
    computed = sweeps[-1].computed_for(SCHEDULE_COMPUTED_JOBS)
    schedule.append((computed, computed.per_job(memory)))
    for count, usage in schedule:
        share = usage.dollars / fixed.dollars
        how = "computed" if count.jobs == SCHEDULE_COMPUTED_JOBS else "counted"
        rows.append(
            Row(
                f"6. one 1-hour job, schedule mode, {count.jobs:,} job(s) per sweep ({how})",
                f"${usage.dollars:.6f} ({count.checks / count.jobs:.0f} checks, lag {count.lag:.0f} s)",
                f"fixed 30 s: ${fixed.dollars:.6f}",
                f"{share:.3f}x the fixed loop's cost",
                f"<= {SCHEDULE_GOAL:.2f}x" if count.jobs == 1 else "",
                share <= SCHEDULE_GOAL if count.jobs == 1 else None,
            )
        )
    return rows, _notes(ours, fixed, schedule)


def _notes(ours: Usage, fixed: Usage, schedule: list[tuple[Any, Usage]]) -> str:
    """The arithmetic of both modes and the fixed loop, and what the figures assume."""
    counted = ", ".join(f"{name} {count}" for name, count in sorted(ours.detail.items()))
    header = " | ".join(f"schedule, {count.jobs:,} jobs | $" for count, _ in schedule)
    lines = [
        f"| item | state machine | $ | fixed 30 s loop | $ | {header} |",
        "|---|---|---|---|---|" + "---|---|" * len(schedule),
    ]
    columns = [ours.lines(), fixed.lines(), *(usage.lines() for _, usage in schedule)]
    for row in zip(*columns, strict=True):
        cells = " | ".join(f"{text} | {price:.7f}" for _, text, price in row)
        lines.append(f"| {row[0][0]} | {cells} |")
    totals = " | ".join(f"| **{usage.dollars:.7f}**" for usage in (ours, fixed, *(u for _, u in schedule)))
    lines.append(f"| **total** {totals} |")
    detail = transitions_detail(collections.Counter(ours.states), ours.checks, FAULT_RATE)
    fixed_detail = transitions_detail(collections.Counter(fixed.states), fixed.checks, FAULT_RATE)
    sweep = schedule[0][0]
    return (
        "\n".join(lines) + "\n\n"
        f"State machine mode, states entered: {detail}. Fixed loop: {fixed_detail}. At "
        f"{(ours.transitions + ours.retry_transitions) / ours.checks:.2f} transitions a check, the "
        f"transitions are {ours.lines()[0][2] / ours.dollars:.0%} of the mode's cost: "
        f"{STATE_MACHINE_GOAL:.2f}x needs at most {max_checks_for(STATE_MACHINE_GOAL, ours, fixed)} "
        f"checks of this job (it made {ours.checks}).\n"
        f"zoho-watch's AWS calls, counted (state machine mode): {counted}. Schedule mode, 1 job "
        f"(counted): {sweep.runs} sweep runs, {sweep.checks} checks; calls "
        + ", ".join(f"{name} {count}" for name, count in sorted(sweep.detail.items()))
        + f". Lambda billed time assumed {ZOHO_WATCH_CHECK_MS} ms per zoho-watch check and {FIXED_CHECK_MS} "
        f"ms per fixed-loop check, at {ours.memory_mb} MB (template.yaml); a sweep run bills 100 ms of its "
        "own plus 400 ms per wave of SweepConcurrency (5) checks. The schedule's events are priced as "
        "custom events ($1.00/M, an upper bound). DynamoDB on-demand: $0.625 per million write request "
        "units, $0.125 per million read request units (us-east-1); a write costs its item's size in 1 KB "
        "units plus its index copies (ActiveJobs projects ALL), a Query 0.5 per 4 KB returned. The fixed "
        "loop records nothing in DynamoDB, re-reads its token secret every 5 minutes and publishes one event "
        f"at the end. The 10,000-job column is computed from the 10-job count (shared parts per run as "
        "counted, the rest x 1,000); checking that many jobs a minute is beyond one sweep's capacity at the "
        "default SweepConcurrency (the scale figures), so it prices the checks, not their feasibility."
    )
