"""Scheduled sweep: check every job watched in schedule mode that is due.

An EventBridge schedule runs it (rate from the template's SweepSchedule). It reads the due jobs from the
sparse ActiveJobs index (never a scan), keeps those watched by the sweep (`watcher == "schedule"`; a Step
Functions execution checks its own job), and checks them with a thread pool no larger than the Zoho
concurrency budget (SWEEP_CONCURRENCY). A check that would start too close to the function's time-out is
left for the next run, and so is everything after Zoho answers 429. Counts go out as metrics.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from zoho_watch.check import check_job
from zoho_watch.errors import ZohoRateLimited, ZohoWatchError
from zoho_watch.services import get_services

logger = Logger()
metrics = Metrics()

SCHEDULE_WATCHER = "schedule"
DEFAULT_CONCURRENCY = 5
DEFAULT_BATCH_LIMIT = 1000
# Seconds kept free at the end of the invocation besides one Zoho call's time-outs.
SAFETY_SECONDS = 5.0


def _setting(name: str, default: int, low: int, high: int) -> int:
    """An integer environment variable within [low, high] (the default when unset or invalid)."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        logger.warning("invalid setting; using the default", extra={"setting": name, "default": default})
        return default
    return min(high, max(low, value))


@dataclass
class SweepReport:
    """What one sweep did; `left` jobs were due but not checked (time or throttling)."""

    due: int = 0
    checked: int = 0
    finished: int = 0
    errors: int = 0
    left: int = 0
    rate_limited: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to the counters (thread-safe)."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {
            "due": self.due,
            "checked": self.checked,
            "finished": self.finished,
            "errors": self.errors,
            "left": self.left,
            "rate_limited": self.rate_limited,
        }


def sweep(context: LambdaContext, concurrency: int, batch_limit: int, reserve_ms: int) -> SweepReport:
    """Check the due schedule-mode jobs, at most `concurrency` at once, until `reserve_ms` remain."""
    due = [
        job
        for job in get_services().store.due_jobs(limit=batch_limit)
        if job.get("watcher") == SCHEDULE_WATCHER
    ]
    report = SweepReport(due=len(due))
    stop = threading.Event()

    def check_one(job: dict[str, Any]) -> None:
        # Decided when a worker takes the job, so the pool never starts a check it has no time for.
        if stop.is_set() or context.get_remaining_time_in_millis() < reserve_ms:
            report.add(left=1)
            return
        try:
            state = check_job(job["connection"], job["module"], job["job_id"])
        except ZohoRateLimited:
            # Zoho's concurrency or credit limit: further calls now would only add 429s.
            stop.set()
            report.rate_limited = True
            report.add(errors=1)
            logger.warning(
                "zoho is throttling; leaving the rest for the next sweep", extra={"job": job["job_id"]}
            )
            return
        except ZohoWatchError as error:
            # Permanent errors are recorded on the job by check_job (and take it out of the index).
            report.add(errors=1)
            logger.info("check failed", extra={"job_id": job["job_id"], "code": error.code})
            return
        except Exception:
            report.add(errors=1)
            logger.exception("unexpected error checking a job", extra={"job_id": job["job_id"]})
            return
        report.add(checked=1, finished=1 if state.get("terminal") else 0)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep") as pool:
        list(pool.map(check_one, due))
    return report


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge scheduled event entry point; returns the sweep's counts."""
    settings = get_services().settings
    concurrency = _setting("SWEEP_CONCURRENCY", DEFAULT_CONCURRENCY, 1, 100)
    batch_limit = _setting("SWEEP_BATCH_LIMIT", DEFAULT_BATCH_LIMIT, 1, 100_000)
    # A check started now must be able to finish: one Zoho call's time-outs plus a margin.
    reserve_ms = int((settings.zoho_connect_timeout + settings.zoho_read_timeout + SAFETY_SECONDS) * 1000)
    report = sweep(context, concurrency, batch_limit, reserve_ms)
    for name, value in (
        ("SweepJobsDue", report.due),
        ("SweepJobsChecked", report.checked),
        ("SweepJobsFinished", report.finished),
        ("SweepErrors", report.errors),
        ("SweepJobsLeft", report.left),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("sweep done", extra={**report.as_dict(), "scheduled_at": event.get("time")})
    return report.as_dict()
