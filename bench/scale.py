"""Scale: 10,000 jobs watched in schedule mode, and where one sweep function's capacity ends.

What is measured comes from the sweep bench's run (`bench.sweep`: the real handler on the embedded stack):
the DynamoDB items one check reads and writes (a botocore hook counts every call; a Query reads each due
item once) and the sweep's own time per check besides Zoho (its 0 ms latency run: in-process moto's CPU is
counted in it, so it is an upper bound of what the Lambda spends). The rest is computed from those and from
stated settings, and marked "computed":
- checks per job-hour: the policy checks a running job every POLL_MIN to POLL_MAX seconds, and the sweep at
  most once a run (SweepSchedule, 1 minute by default); `CHECKS_PER_JOB_HOUR` is the assumed average;
- one sweep run's capacity is the least of: SweepBatchLimit (due jobs read per run); Zoho's concurrency
  (budget x the time in which a call may start / Zoho's latency); the Lambda time-out (that time / the
  sweep's own time per check, measured with its workers overlapping as they do);
- prices are bench.cost's (us-east-1 list prices); one write unit per item written and half a read unit
  per item read (items under 1 KB, eventually consistent index reads), stated.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.pricing import (
    PRICE_EVENT,
    PRICE_GB_SECOND,
    PRICE_LAMBDA_REQUEST,
    PRICE_READ_UNIT,
    PRICE_WRITE_UNIT,
)
from bench.table import Row

JOBS = 10_000
RUNS_PER_HOUR = 60  # template.yaml's SweepSchedule default, rate(1 minute)
CHECKS_PER_JOB_HOUR = 12.0  # assumed: one check every 5 minutes on average (between POLL_MIN and POLL_MAX)
SWEEP_TIMEOUT_SECONDS = 55.0  # template.yaml's SweepFunction Timeout
# The sweep starts no Zoho call when less than one call's time-outs plus a margin remain (functions/sweep):
# ZOHO_CONNECT_TIMEOUT 3.05 + ZOHO_READ_TIMEOUT 10 + SAFETY_SECONDS 5.
RESERVE_SECONDS = 3.05 + 10.0 + 5.0
BATCH_LIMIT = 1000  # template.yaml's SweepBatchLimit default
EDITIONS = {"Free": 5, "Standard": 10, "Professional": 15, "Enterprise": 20, "Ultimate": 25}
ZOHO_LATENCY_SECONDS = 0.3  # a status call's reply time assumed for the ceiling (bench.cost's ~300 ms)
MEMORY_GB = 0.25  # template.yaml's Globals MemorySize 256


@dataclass(frozen=True)
class PerCheck:
    """Measured on the embedded stack: DynamoDB items one check reads and writes, events it puts, and the
    sweep's own seconds per check besides Zoho."""

    items_read: float
    items_written: float
    events: float
    own_seconds: float


@dataclass(frozen=True)
class Ceiling:
    """One sweep run's capacity (checks) under each bound, and which binds first."""

    batch: float
    zoho: float
    timeout: float

    @property
    def capacity(self) -> float:
        """Checks one run can make: the least of the bounds."""
        return min(self.batch, self.zoho, self.timeout)

    @property
    def binding(self) -> str:
        """The bound that binds first."""
        bounds = {"batch limit": self.batch, "Zoho concurrency": self.zoho, "Lambda time-out": self.timeout}
        return min(bounds, key=lambda name: bounds[name])


def ceiling(budget: int, latency: float, own_seconds: float, batch_limit: int = BATCH_LIMIT) -> Ceiling:
    """One run's capacity at a Zoho `budget`, Zoho `latency` and the sweep's own time per check."""
    usable = SWEEP_TIMEOUT_SECONDS - RESERVE_SECONDS
    zoho = budget * usable / latency
    timeout = usable / own_seconds if own_seconds > 0 else float("inf")
    return Ceiling(float(batch_limit), zoho, timeout)


def due_per_run(jobs: int = JOBS, checks_per_job_hour: float = CHECKS_PER_JOB_HOUR) -> float:
    """Jobs due in one sweep run (every run of the hour checks its share)."""
    return jobs * checks_per_job_hour / RUNS_PER_HOUR


def max_jobs(capacity: float, checks_per_job_hour: float = CHECKS_PER_JOB_HOUR) -> float:
    """Jobs one sweep function can watch when each run makes at most `capacity` checks."""
    return capacity * RUNS_PER_HOUR / checks_per_job_hour


def run_seconds(due: float, budget: int, latency: float, own_seconds: float) -> float:
    """One run's duration: its checks' Zoho time spread over the budget, or its own work, the longer."""
    return max(due * latency / budget, due * own_seconds)


def cost_per_day(per_check: PerCheck, due: float, seconds_per_run: float) -> dict[str, float]:
    """Dollars per day by part: the sweep's Lambda (requests and GB-seconds), DynamoDB, EventBridge."""
    runs = RUNS_PER_HOUR * 24
    checks = due * runs
    return {
        "lambda": runs * (PRICE_LAMBDA_REQUEST + seconds_per_run * MEMORY_GB * PRICE_GB_SECOND),
        "dynamodb": checks
        * (per_check.items_written * PRICE_WRITE_UNIT + per_check.items_read * 0.5 * PRICE_READ_UNIT),
        "events": checks * per_check.events * PRICE_EVENT,
    }


def per_check(calls: dict[str, int], due_items_read: int, checked: int, own_seconds: float) -> PerCheck:
    """A PerCheck from one measured sweep's AWS calls ("service.Operation" counts) and its report."""
    if checked <= 0:
        raise ValueError("the sweep checked no job")
    written = sum(calls.get(f"dynamodb.{name}", 0) for name in ("PutItem", "UpdateItem", "DeleteItem"))
    read = due_items_read + calls.get("dynamodb.GetItem", 0)
    events = calls.get("events.PutEvents", 0)
    return PerCheck(read / checked, written / checked, events / checked, own_seconds)


def rows(measured: PerCheck, budget: int = 10, latency: float = ZOHO_LATENCY_SECONDS) -> list[Row]:
    """The scale rows: 10,000 jobs' sweep runs, items and cost per day; the ceiling per Zoho edition."""
    due = due_per_run()
    seconds_per_run = run_seconds(due, budget, latency, measured.own_seconds)
    costs = cost_per_day(measured, due, seconds_per_run)
    total = sum(costs.values())
    name = f"5. scale: {JOBS:,} jobs in schedule mode, {CHECKS_PER_JOB_HOUR:g} checks per job-hour (assumed)"
    result = [
        Row(
            name + ": sweep runs per job-hour (computed)",
            f"{RUNS_PER_HOUR / JOBS:.4f} ({RUNS_PER_HOUR} runs an hour for all jobs, {due:,.0f} due a run)",
            "-",
            f"one run every minute whatever the number of jobs; {due:,.0f} checks a run",
        ),
        Row(
            name + ": DynamoDB items per sweep run (measured per check, x due)",
            f"{due * measured.items_read:,.0f} read, {due * measured.items_written:,.0f} written",
            "-",
            f"per check {measured.items_read:.2f} read, {measured.items_written:.2f} written, "
            f"{measured.events:.2f} events",
        ),
        Row(
            name + f": cost per day, budget {budget}, Zoho {latency * 1000:.0f} ms (computed, us-east-1)",
            f"${total:.2f}",
            "-",
            ", ".join(f"{part} ${dollars:.2f}" for part, dollars in costs.items())
            + (
                f"; a run lasts {seconds_per_run:.1f} s"
                if seconds_per_run <= SWEEP_TIMEOUT_SECONDS
                else f"; a run would last {seconds_per_run:.1f} s, past the {SWEEP_TIMEOUT_SECONDS:g} s"
                " time-out: one sweep cannot check them all (see the ceiling)"
            ),
        ),
    ]
    for edition, limit in EDITIONS.items():
        bound = ceiling(limit, latency, measured.own_seconds)
        result.append(
            Row(
                f"5. ceiling, Zoho {edition} (concurrency {limit}), {latency * 1000:.0f} ms latency "
                f"(computed from the measured {measured.own_seconds * 1000:.1f} ms per check)",
                f"{bound.capacity:,.0f} checks a run: {bound.binding} binds first",
                f"batch {bound.batch:,.0f}, Zoho {bound.zoho:,.0f}, time-out {bound.timeout:,.0f}",
                f"at most {max_jobs(bound.capacity):,.0f} jobs watched"
                + (f"; {JOBS:,} need {due:,.0f} a run" if bound.capacity < due else f"; {JOBS:,} fit"),
            )
        )
    return result
