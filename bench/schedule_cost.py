"""Cost of watching 1-hour jobs in schedule mode: the sweep checks them, no state machine.

Counted as bench.cost counts the state machine mode: the real sweep handler (`functions/sweep/app.py`) runs
on moto against the emulator on a simulated clock, once every `SWEEP_PERIOD` simulated seconds
(template.yaml's default SweepSchedule, rate(1 minute)), over `jobs` copies of bench.cost's 1-hour job
watched at once, until every one is finished; the same botocore hooks count DynamoDB request units,
Secrets Manager calls and events. The jobs' ids are fixed (`job_ids`): the same figures on any machine.

Shared by the jobs: each run's Lambda request, its own work's billed time (`SWEEP_RUN_MS`, assumed), its
schedule event and its index queries (counted in a run with nothing due), and the container's cached secret
reads. Per job: its checks, billed `ZOHO_WATCH_CHECK_MS` each but `budget` at a time (SWEEP_CONCURRENCY: the
checks of one run overlap), and their writes and events. `per_job` divides a count by the jobs;
`computed_for` scales a count to other numbers of jobs with those two parts (marked computed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from zoho_watch.jobs import JobKey

from bench.cost import BENCH_JOB_ID, ZOHO_WATCH_CHECK_MS, create_job_with_id, memory_mb, one_hour_job
from bench.pricing import Usage
from bench.stack import invoke, lambda_context, load_handler, local_stack, start_simulated_clock
from bench.write_units import WriteMeter
from fake_zoho import FakeZoho

SWEEP_PERIOD = 60.0  # template.yaml's SweepSchedule default, rate(1 minute)
# Billed milliseconds of a run's own work (assumed): three index queries (pending events, due jobs, watches
# to heal) and Lambda's overhead, with nothing to check.
SWEEP_RUN_MS = 100
SWEEP_BUDGET = 5  # template.yaml's SweepConcurrency default
# The context's time-out: above the simulation's Zoho time-outs (bench.stack.SIMULATION_ZOHO_TIMEOUTS), which
# the sweep keeps free before starting a check; with template.yaml's 55 s it would start none.
SWEEP_CONTEXT_SECONDS = 900.0
TERMINAL = ("COMPLETED", "FAILED")


def job_ids(jobs: int) -> list[str]:
    """The watched jobs' ids: bench.cost's job first, then the next ids (18 digits, Zoho-like)."""
    return [str(int(BENCH_JOB_ID) + index) for index in range(jobs)]


def run_billed_ms(checked: int, budget: int) -> float:
    """Billed milliseconds of one run that checks `checked` jobs, `budget` at a time."""
    return SWEEP_RUN_MS + math.ceil(checked / budget) * ZOHO_WATCH_CHECK_MS


@dataclass(frozen=True)
class SweepCount:
    """What the sweep used to watch `jobs` jobs to their end (totals, not per job)."""

    jobs: int
    runs: int
    checks: int
    billed_ms: float
    write_units: float
    read_units: float
    idle_read_units: float  # one run's with nothing due
    secrets_calls: int
    events: int  # the library's PutEvents (the schedule's own events are `runs`)
    lag: float  # mean detection lag, seconds
    detail: dict[str, int]

    def per_job(self, memory: int) -> Usage:
        """The cost of one job: every count divided by the jobs (the schedule events included)."""
        share = 1 / self.jobs
        return Usage(
            checks=0,
            transitions=0,
            lambda_ms=ZOHO_WATCH_CHECK_MS,
            memory_mb=memory,
            write_units=self.write_units * share,
            read_units=self.read_units * share,
            secrets_calls=self.secrets_calls * share,
            events=(self.events + self.runs) * share,
            invocations=self.runs * share,
            billed_ms=self.billed_ms * share,
        )

    def computed_for(self, jobs: int, budget: int = SWEEP_BUDGET) -> SweepCount:
        """The same jobs at `jobs` at once (computed): shared parts as counted, per-job parts scaled."""
        scale = jobs / self.jobs
        checks = round(self.checks * scale)
        shared_reads = self.runs * self.idle_read_units
        return replace(
            self,
            jobs=jobs,
            checks=checks,
            billed_ms=self.runs * SWEEP_RUN_MS + checks * ZOHO_WATCH_CHECK_MS / budget,
            write_units=self.write_units * scale,
            read_units=shared_reads + (self.read_units - shared_reads) * scale,
            events=round(self.events * scale),
        )


def count_sweeps(jobs: int, budget: int = SWEEP_BUDGET, limit_runs: int = 500) -> SweepCount:
    """Watch `jobs` 1-hour jobs in schedule mode through the real sweep handler; what it used."""
    import boto3

    handler = load_handler("sweep").lambda_handler
    meter = WriteMeter()
    env = {"SWEEP_CONCURRENCY": str(budget), "SWEEP_BATCH_LIMIT": str(max(jobs, 1))}
    with FakeZoho() as zoho:
        start_simulated_clock(zoho)
        with local_stack(zoho, simulated=True, **env) as stack:
            services = stack.services
            meter.install(services.dynamodb)
            reader = boto3.client("dynamodb", region_name="us-east-1")  # the bench's own reads: not metered

            def sweep() -> dict[str, Any]:
                context = lambda_context("sweep", SWEEP_CONTEXT_SECONDS, memory_mb())
                return dict(invoke(handler, {"time": "bench"}, context))

            sweep()  # nothing due yet: the run's own reads
            idle_reads = meter.read_units
            ids = [
                create_job_with_id(zoho, job_id, "Leads", 20_000, one_hour_job()) for job_id in job_ids(jobs)
            ]
            for job_id in ids:  # the API's PUT .../watch?mode=schedule
                services.store.watch(JobKey(stack.connection, "Leads", job_id), "schedule")
            runs, checks, billed, seen = 0, 0, 0.0, {}
            while len(seen) < jobs and runs < limit_runs:
                report = sweep()
                runs += 1
                checks += report["checked"]
                billed += run_billed_ms(report["checked"], budget)
                for job_id in ids:
                    if job_id not in seen and _status(reader, stack.connection, job_id) in TERMINAL:
                        seen[job_id] = zoho.clock.now() - (zoho.job_finished_at(job_id) or math.inf)
                zoho.clock.advance(SWEEP_PERIOD)
            calls = stack.calls.snapshot()
    return SweepCount(
        jobs=jobs,
        runs=runs,
        checks=checks,
        billed_ms=billed,
        write_units=meter.write_units,
        read_units=meter.read_units - idle_reads,
        idle_read_units=idle_reads,
        secrets_calls=sum(count for name, count in calls.items() if name.startswith("secretsmanager.")),
        events=calls.get("events.PutEvents", 0),
        lag=sum(seen.values()) / max(1, len(seen)),
        detail=calls,
    )


def _status(reader: Any, connection: str, job_id: str) -> str:
    key = {"pk": {"S": f"JOB#{connection}#Leads#{job_id}"}, "sk": {"S": "STATE"}}
    from bench.stack import TABLE_NAME

    item = reader.get_item(TableName=TABLE_NAME, Key=key, ConsistentRead=True).get("Item", {})
    return str(item.get("status", {}).get("S", ""))
