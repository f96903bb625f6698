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
Prices: public list prices, us-east-1 (the constants below).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zoho_watch.jobs import JobKey

from bench import REPO_ROOT
from bench.stack import Stack, invoke, lambda_context, load_handler, local_stack, start_simulated_clock
from bench.table import Row
from fake_zoho import FakeZoho, JobProfile
from zoho_watch_local.template import project_template

PRICE_TRANSITION = 0.000025
PRICE_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_GB_SECOND = 0.0000166667
PRICE_SECRETS_CALL = 0.05 / 10_000
PRICE_EVENT = 1.00 / 1_000_000
PRICE_WRITE_UNIT = 0.625 / 1_000_000  # DynamoDB on-demand, us-east-1
PRICE_READ_UNIT = 0.125 / 1_000_000
ASL_PATH = REPO_ROOT / "statemachine" / "watch_job.asl.json"
# Billed Lambda milliseconds per check (assumed, the same Zoho reply for both): Zoho ~300 ms, and for
# zoho-watch ~100 ms more of DynamoDB writes and events.
ZOHO_WATCH_CHECK_MS = 400
FIXED_CHECK_MS = 300
SECRET_CACHE_SECONDS = 300  # Powertools Parameters' default max_age
# Seconds between a check's start and its reply being recorded, and the Wait -> Task transition.
CHECK_SECONDS = 0.5
TRANSITION_SECONDS = 0.05
# The watched job's id, the same in every run (Zoho-like: 18 digits).
BENCH_JOB_ID = "554023000000612007"

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


def _path_value(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(rule: dict[str, Any], output: dict[str, Any]) -> bool:
    """Whether one Choice rule (the comparisons the watch loop uses, and `And`) holds for `output`."""
    if "And" in rule:
        return all(_matches(part, output) for part in rule["And"])
    value = _path_value(output, rule["Variable"])
    if "StringEquals" in rule:
        return bool(value == rule["StringEquals"])
    if "BooleanEquals" in rule:
        return value is rule["BooleanEquals"]
    if "IsPresent" in rule:
        return (value is not None) is rule["IsPresent"]
    if "IsNumeric" in rule:
        return isinstance(value, int | float) is rule["IsNumeric"]
    if "NumericGreaterThanEquals" in rule:
        return isinstance(value, int | float) and value >= rule["NumericGreaterThanEquals"]
    raise ValueError(f"the bench's walker does not know the Choice rule {sorted(rule)}")


def _choose(state: dict[str, Any], output: dict[str, Any]) -> str:
    for rule in state.get("Choices", []):
        if _matches(rule, output):
            return str(rule["Next"])
    return str(state["Default"])


# The input of a watch zoho-watch starts (its first start carries a request id).
WATCH_INPUT = {"start_request": "bench", "generation": 0}


def count_transitions(
    asl: dict[str, Any], task_outputs: list[dict[str, Any]], execution_input: dict[str, Any] | None = None
) -> int:
    """States entered by one execution of `execution_input` (default: a watch zoho-watch started) whose Task
    states return `task_outputs` in turn (no retries)."""
    states = asl["States"]
    name, outputs, entered = asl["StartAt"], iter(task_outputs), 0
    output: dict[str, Any] = dict(WATCH_INPUT if execution_input is None else execution_input)
    while True:
        state = states[name]
        entered += 1
        kind = state["Type"]
        if kind in ("Succeed", "Fail"):
            return entered
        if kind == "Task":
            try:
                output = next(outputs)
            except StopIteration:
                raise ValueError("the execution asked for more checks than were given") from None
            name = state["Next"]
        elif kind == "Choice":
            name = _choose(state, output)
        elif kind in ("Wait", "Pass"):
            name = state["Next"]
        else:
            raise ValueError(f"the bench's walker does not know state type {kind}")
        if state.get("End"):
            return entered


@dataclass
class Usage:
    """What watching the job used."""

    checks: int
    transitions: int
    lambda_ms: int
    memory_mb: int
    write_units: int
    read_units: int
    secrets_calls: int
    events: int
    detail: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[tuple[str, str, float]]:
        """(item, arithmetic, dollars) for each priced item."""
        gb_seconds = self.checks * self.lambda_ms / 1000 * self.memory_mb / 1024
        return [
            (
                "Step Functions transitions",
                f"{self.transitions} x $0.000025",
                self.transitions * PRICE_TRANSITION,
            ),
            (
                "Lambda requests",
                f"{self.checks} x $0.20/1M",
                self.checks * PRICE_LAMBDA_REQUEST,
            ),
            (
                "Lambda GB-seconds",
                f"{self.checks} x {self.lambda_ms} ms x {self.memory_mb / 1024:g} GB = {gb_seconds:.2f} GB-s"
                " x $0.0000166667",
                gb_seconds * PRICE_GB_SECOND,
            ),
            (
                "DynamoDB writes",
                f"{self.write_units} WRU x $0.625/1M",
                self.write_units * PRICE_WRITE_UNIT,
            ),
            (
                "DynamoDB reads",
                f"{self.read_units} RRU x $0.125/1M",
                self.read_units * PRICE_READ_UNIT,
            ),
            (
                "Secrets Manager",
                f"{self.secrets_calls} calls x $0.05/10k",
                self.secrets_calls * PRICE_SECRETS_CALL,
            ),
            ("EventBridge", f"{self.events} events x $1.00/1M", self.events * PRICE_EVENT),
        ]

    @property
    def dollars(self) -> float:
        """Total cost."""
        return sum(price for *_, price in self.lines())


def item_size(item: dict[str, Any]) -> int:
    """Approximate DynamoDB item size in bytes (attribute names plus values), from DynamoDB JSON."""

    def value_size(value: dict[str, Any]) -> int:
        ((kind, inner),) = value.items()
        if kind == "S":
            return len(inner.encode())
        if kind == "N":
            return len(str(inner).lstrip("-").replace(".", "")) // 2 + 2
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "L":
            return 3 + sum(1 + value_size(element) for element in inner)
        if kind == "M":
            return 3 + sum(1 + len(key.encode()) + value_size(element) for key, element in inner.items())
        return len(json.dumps(inner))

    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


class WriteMeter:
    """Write and read units of DynamoDB calls, from their parameters (a `before-parameter-build` hook)."""

    def __init__(self) -> None:
        self.write_units = 0
        self.read_units = 0
        self.largest_item = 0

    def hook(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """Count one call: a PutItem by its item's size, other writes by the largest item (1 KB units)."""
        name = model.name
        if name == "PutItem":
            size = item_size(params["Item"])
            self.largest_item = max(self.largest_item, size)
            self.write_units += max(1, math.ceil(size / 1024))
        elif name in ("UpdateItem", "DeleteItem"):
            self.write_units += max(1, math.ceil(self.largest_item / 1024))
        elif name == "GetItem":
            # Strongly consistent reads of items under 4 KB: one unit each.
            self.read_units += 1 if params.get("ConsistentRead") else 0
        elif name == "Query":
            self.read_units += 1


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


def zoho_watch_usage() -> tuple[Usage, float]:
    """Replay the watch through the real handler; its usage and the detection lag (seconds)."""
    handler = load_handler("check_job").lambda_handler
    asl = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    meter = WriteMeter()
    with FakeZoho() as zoho:
        start_simulated_clock(zoho)
        with local_stack(zoho, simulated=True) as stack:
            return _watch(stack, zoho, handler, asl, meter)


def _watch(
    stack: Stack, zoho: FakeZoho, handler: Any, asl: dict[str, Any], meter: WriteMeter
) -> tuple[Usage, float]:
    """`zoho_watch_usage` on its stack."""
    services = stack.services
    services.dynamodb.meta.events.register("before-parameter-build.dynamodb", meter.hook)
    job_id = create_job_with_id(zoho, BENCH_JOB_ID, "Leads", 20_000, one_hour_job())
    started = zoho.clock.now()
    execution = "arn:aws:states:us-east-1:123456789012:execution:watch-job:Leads-bench-g0"
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
    lag = zoho.clock.now() - (zoho.job_finished_at(job_id) or math.inf)
    calls = stack.calls.snapshot()
    secrets_calls = sum(count for name, count in calls.items() if name.startswith("secretsmanager."))
    usage = Usage(
        checks=len(outputs),
        transitions=count_transitions(asl, outputs),
        lambda_ms=ZOHO_WATCH_CHECK_MS,
        memory_mb=memory_mb(),
        write_units=meter.write_units,
        read_units=meter.read_units,
        secrets_calls=secrets_calls,
        events=calls.get("events.PutEvents", 0),
        detail=calls,
    )
    return usage, lag


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
    usage = Usage(
        checks=len(outputs),
        transitions=count_transitions(FIXED_LOOP_ASL, outputs),
        lambda_ms=FIXED_CHECK_MS,
        memory_mb=memory_mb(),
        write_units=0,
        read_units=0,
        secrets_calls=secrets_calls,
        events=1,
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


def measure() -> tuple[list[Row], str]:
    """Rows (checks, dollars) and the arithmetic."""
    try:
        ours, lag = zoho_watch_usage()
    except FileNotFoundError as error:
        from bench.table import not_measured

        return [not_measured("6. cost of watching one 1-hour job", str(error))], ""
    fixed, fixed_lag = fixed_loop_usage()
    rows = [
        Row(
            "6. one 1-hour job: Zoho calls (checks)",
            f"{ours.checks} (lag {lag:.1f} s)",
            f"fixed 30 s: {fixed.checks} (lag {fixed_lag:.1f} s)",
            f"{fixed.checks / ours.checks:.1f}x fewer",
        ),
        Row(
            "6. one 1-hour job: AWS cost (us-east-1 list prices)",
            f"${ours.dollars:.6f}",
            f"fixed 30 s: ${fixed.dollars:.6f}",
            f"{ours.dollars / fixed.dollars:.2f}x the fixed loop's cost",
        ),
    ]
    counted = ", ".join(f"{name} {count}" for name, count in sorted(ours.detail.items()))
    notes = (
        f"{arithmetic(ours, fixed)}\n\n"
        f"zoho-watch's AWS calls, counted: {counted}. Lambda billed time assumed "
        f"{ZOHO_WATCH_CHECK_MS} ms per zoho-watch check and {FIXED_CHECK_MS} ms per fixed-loop check, "
        f"at {ours.memory_mb} MB "
        "(template.yaml). DynamoDB on-demand: $0.625 per million write request units, $0.125 per million "
        "read request units (us-east-1); a PutItem costs its item's size in 1 KB units, other writes the "
        "largest item's. The fixed loop records nothing in DynamoDB, re-reads its token secret every 5 "
        "minutes and publishes one event at the end."
    )
    return rows, notes
