"""Sweep throughput: 1,000 due jobs, emulator latency 100 ms, concurrency budgets 10 and 25, over HTTPS.

The real sweep handler (`functions/sweep/app.py`) runs on moto in-process against the Zoho emulator, whose
every CRM call is held 100 ms. The emulator runs in its own process (`python -m fake_zoho`, driven
through its /__admin/ routes): its request handling is Zoho's CPU, on Zoho's machines in reality, and in
this process it would take the interpreter lock from the sweep's threads and be counted as the sweep's time.
moto stays in-process (it is AWS's part, and a separate moto server measured slower). The lower bound is
jobs x latency / budget (10 s for the defaults). The emulator counts the peak of CRM calls in flight, which
must never pass the budget (its own concurrency limit is lifted for the run, so an excess would show in the
peak instead of as 429s).

The emulator serves HTTPS with a self-signed certificate made for the run (`bench.stack.Certificate`), which
the library's session trusts through `REQUESTS_CA_BUNDLE` (requests reads it), so TLS handshakes cost what
they cost and a connection thrown away shows: urllib3's `urllib3.connectionpool` logger is watched during the
sweep for its "Connection pool is full" warnings (a connection discarded: the next call pays a handshake) and
its "Starting new HTTPS connection" and "Resetting dropped connection" records (the handshakes: werkzeug,
which serves the emulator, closes each connection after its reply, so every call pays one, as a client
whose pool is too small would against Zoho).

The same sweep then runs again (all jobs due again) with no Zoho latency: what it takes then is the cost of
everything else the checks do (token, DynamoDB writes, events; on in-process moto, whose CPU time shares
this process's GIL with the sweep's threads and grows with the table). Only the Zoho call holds a slot of the
budget (`zoho_watch.sweep.ZohoSlots`), so with latency that work overlaps the calls instead of adding to them.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zoho_watch.jobs import JobKey

from bench import scale
from bench.stack import Certificate, Stack, ZohoProcess, invoke, lambda_context, load_handler, local_stack
from bench.table import Row, not_measured, seconds
from fake_zoho import JobProfile

SWEEP_TIMEOUT_SECONDS = 55.0  # template.yaml's SweepFunction Timeout
BUDGETS = (10, 25)  # Standard edition's concurrency limit, and Ultimate's (the template's largest)
# The interpreter's thread switch interval while a measured sweep runs (see `switch_interval`).
SWITCH_INTERVAL_SECONDS = 0.001


@contextmanager
def switch_interval(seconds: float) -> Iterator[None]:
    """Set the interpreter's thread switch interval for the block, then put the previous one back.

    Why the bench sets it: moto runs in this process, so the store's and the event bus's CPU work shares the
    interpreter lock with the sweep's threads (on AWS that work is on AWS's machines, and the sweep's
    threads only wait on the network). A thread woken by a Zoho reply then waits up to the 5 ms default
    interval for the lock while moto computes, and that wait holds a Zoho slot: 1,000 jobs took 13.1, 13.2,
    12.6 s at 5 ms against 12.2, 12.0, 12.1 s at 1 ms. The interval is interpreter-wide, so the library
    does not change it (a Lambda handler must not tune its runtime for a benchmark): this measurement sets it
    around each measured sweep and puts the previous value back.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class ConnectionLog(logging.Handler):
    """Counts urllib3's connection pool records: new connections, and "Connection pool is full" warnings."""

    LOGGER = "urllib3.connectionpool"

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.new_connections = 0
        self.pool_full = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record by urllib3's fixed message text (its arguments are never formatted)."""
        message = str(record.msg)
        # The emulator closes each connection after its reply (werkzeug), so urllib3 reconnects a pooled one.
        if message.startswith(("Starting new HTTP", "Resetting dropped connection")):
            self.new_connections += 1
        elif record.levelno >= logging.WARNING and message.startswith("Connection pool is full"):
            self.pool_full += 1

    @contextmanager
    def watching(self) -> Iterator[ConnectionLog]:
        """Attached to urllib3's logger (at DEBUG, for the new connections) for the block."""
        logger = logging.getLogger(self.LOGGER)
        level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.setLevel(level)


@dataclass(frozen=True)
class SweepRun:
    """One measured sweep: wall seconds, its report, Zoho status calls, peak concurrency, urllib3's records,
    the AWS calls it made, and the seconds its due jobs' query takes alone (measured after the sweep, on a
    copy of the query: the same items, nothing written)."""

    wall: float
    report: dict[str, Any]
    calls: int
    peak: int
    new_connections: int
    pool_full: int
    aws_calls: dict[str, int]
    due_query: float = 0.0

    @property
    def checked(self) -> int:
        """Jobs the sweep checked."""
        return int(self.report.get("checked", 0))


def sweep_once(stack: Stack, handler: Callable[..., Any], latency: float) -> SweepRun:
    """One sweep at `latency`, measured."""
    zoho = stack.zoho
    zoho.set_latency(latency)
    before = sum(zoho.counters["calls"].get("status", {}).values())
    stack.calls.reset()
    with switch_interval(SWITCH_INTERVAL_SECONDS), ConnectionLog().watching() as connections:
        started = time.perf_counter()
        report = invoke(handler, {"time": "bench"}, lambda_context("sweep", SWEEP_TIMEOUT_SECONDS))
        wall = time.perf_counter() - started
    counters = zoho.counters  # one read: a request to the emulator's process
    calls = sum(counters["calls"].get("status", {}).values()) - before
    peak = counters["peak_concurrency"]
    aws_calls = stack.calls.snapshot()
    return SweepRun(wall, report, calls, peak, connections.new_connections, connections.pool_full, aws_calls)


def run_sweeps(jobs: int, latency: float, budget: int, bare: bool = True) -> tuple[SweepRun, SweepRun | None]:
    """The sweep at `latency` over HTTPS, then (if `bare`: every job due again) at no latency."""
    with tempfile.TemporaryDirectory(prefix="zoho-watch-bench-tls-") as directory:
        certificate = Certificate.self_signed(Path(directory))
        env = {
            "SWEEP_CONCURRENCY": str(budget),
            "SWEEP_BATCH_LIMIT": str(jobs),
            "REQUESTS_CA_BUNDLE": str(certificate.certfile),
        }
        with (
            ZohoProcess.running(certificate, concurrency_limit=None) as zoho,
            local_stack(zoho, **env) as stack,
        ):
            handler = load_handler("sweep").lambda_handler
            store = stack.services.store
            now = zoho.clock.now()
            # Long jobs: every check sees them running, so each one is a full check (Zoho, store).
            profile = JobProfile(queue_delay=0, duration=6 * 3600)
            for _ in range(jobs):
                job_id = zoho.create_job("Leads", total=5000, profile=profile)
                store.watch(JobKey(stack.connection, "Leads", job_id), "schedule", next_check_at=now - 1)
            # A warm container: the access token is in memory already (its first refresh is not the sweep's).
            stack.services.tokens(stack.connection).get()
            with_latency = sweep_once(stack, handler, latency)
            if not bare:
                return with_latency, None
            # Every job's next check is at most POLL_MAX_SECONDS away: move the clock past it.
            zoho.clock.advance(stack.services.settings.poll_max_seconds + 60)
            bare = sweep_once(stack, handler, 0.0)
            # The query that opens the bare sweep, alone: every job due again (its items now carry a check).
            zoho.clock.advance(stack.services.settings.poll_max_seconds + 60)
            started = time.perf_counter()
            due = store.due_jobs(limit=jobs, raw=True)
            query = time.perf_counter() - started
            if len(due) != jobs:
                raise RuntimeError(f"{len(due)} of {jobs} jobs due again after the bare sweep")
            return with_latency, replace(bare, due_query=query)


def budget_rows(jobs: int, latency: float, budget: int, run: SweepRun) -> list[Row]:
    """The rows of one budget: wall time against the limit, peak concurrency, connections thrown away."""
    name = f"4. sweep: {jobs} due jobs, {latency * 1000:.0f} ms latency, HTTPS, budget {budget}"
    limit = jobs * latency / budget
    ratio = run.wall / limit
    return [
        Row(
            name + ": wall time vs limit (Zoho emulator in its own process: Zoho's CPU is not the sweep's)",
            f"{seconds(run.wall)} ({run.checked} checked, {run.calls} Zoho calls)",
            f"limit {seconds(limit)}",
            f"{ratio:.2f}x the limit",
            "<= 1.10x the limit",
            run.checked == jobs and ratio <= 1.10,
        ),
        Row(
            name + ": peak Zoho concurrency",
            str(run.peak),
            f"budget {budget}",
            f"{run.peak} of {budget}",
            "never above the budget",
            run.peak <= budget,
        ),
        Row(
            name + ': urllib3 "Connection pool is full" warnings',
            str(run.pool_full),
            "-",
            f"{run.pool_full} connections thrown away; {run.new_connections} TLS connections opened",
            "none",
            run.pool_full == 0,
        ),
    ]


def measure(jobs: int = 1000, latency: float = 0.1, budgets: tuple[int, ...] = BUDGETS) -> list[Row]:
    """Per budget: wall time against the limit, peak concurrency, pool warnings; the sweep without Zoho
    latency (at the first budget); then the scale rows (`bench.scale`), on that sweep's per-check time."""
    try:
        load_handler("sweep")
    except FileNotFoundError as error:
        return [not_measured("4. sweep", str(error), "<= 1.10x the limit")]
    rows: list[Row] = []
    first, bare = run_sweeps(jobs, latency, budgets[0])
    rows += budget_rows(jobs, latency, budgets[0], first)
    for budget in budgets[1:]:
        rows += budget_rows(jobs, latency, budget, run_sweeps(jobs, latency, budget, bare=False)[0])
    if bare is not None and bare.checked:
        limit = jobs * latency / budgets[0]
        rows.append(
            Row(
                f"4. the same sweep with 0 ms Zoho latency, budget {budgets[0]} (store, events, token on "
                "in-process moto)",
                f"{seconds(bare.wall)} ({bare.checked} checked)",
                f"limit {seconds(limit)}",
                f"{bare.wall / limit:.2f}x the limit: the checks' work besides Zoho (it holds no Zoho slot)",
            )
        )
        rows.append(
            Row(
                f"4. of which the due jobs' query ({jobs} items, index projecting ALL) on in-process moto",
                seconds(bare.due_query),
                f"limit {seconds(limit)}",
                f"{bare.due_query / limit:.2f}x the limit before the first check (on AWS: one or two pages)",
            )
        )
        own = bare.wall / bare.checked
        due = int(first.report.get("due", 0))
        rows += scale.rows(scale.per_check(first.aws_calls, due, first.checked, own))
    return rows
