"""Self-healing watches: a job whose Step Functions execution ended before the job did is watched again.

An execution can end while its job still runs: it failed on an unexpected error (`CheckJobFailed`), its
hand-over to the next generation failed, it was stopped outside zoho-watch, or it timed out. Nothing
else would look at the job again, so the sweep looks for jobs of the `stepfunctions` partition whose next
check is overdue by `RESUME_GRACE_SECONDS` (a running execution checks on time, retries aside) and asks Step
Functions about their execution. A running one is left alone; an ended one is resumed with a new
generation on the same settings (`zoho_watch.watches.resume_watch`), at most `MAX_RESUMES` times per job,
after which the job gets a clear `WatchAbandoned` error and leaves the index. A watch stopped through
zoho-watch is not in the index, so it is never resumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from zoho_watch.check import end_waits
from zoho_watch.errors import WatchAbandoned
from zoho_watch.jobs import JobKey
from zoho_watch.services import get_services
from zoho_watch.watches import STEPFUNCTIONS_WATCHER_PREFIX, resume_watch, resumes_of

logger = Logger(child=True)

# How late a check may be before its execution is asked about: a Task's time-out and its first retries.
RESUME_GRACE_SECONDS = 300
# Resumes of one job's watch before it is given up with WatchAbandoned.
MAX_RESUMES = 3
STEPFUNCTIONS_KIND = STEPFUNCTIONS_WATCHER_PREFIX.rstrip(":")


@dataclass
class HealReport:
    """What one pass did: watches resumed, and watches given up."""

    resumed: int = 0
    abandoned: int = 0


def _ended_execution(stepfunctions: Any, arn: str) -> dict[str, Any] | None:
    """DescribeExecution of `arn` when it has ended (or {} when it does not exist); None while it runs."""
    try:
        described: dict[str, Any] = stepfunctions.describe_execution(executionArn=arn)
    except (stepfunctions.exceptions.ExecutionDoesNotExist, stepfunctions.exceptions.InvalidArn):
        return {}
    return None if described["status"] == "RUNNING" else described


def heal_watches(limit: int, time_left_ms: Callable[[], int], reserve_ms: int) -> HealReport:
    """Resume the watches whose execution ended before their job (see the module docstring).

    Looks at `limit` overdue jobs at most, and stops before `reserve_ms` of the run are left.
    """
    services = get_services()
    store = services.store
    report = HealReport()
    overdue = store.due_jobs(
        services.clock() - RESUME_GRACE_SECONDS, limit, raw=True, kind=STEPFUNCTIONS_KIND
    )
    for item in overdue:
        if time_left_ms() < reserve_ms:
            break
        job, watcher = JobKey.of(item), str(item.get("watcher", ""))
        ended = _ended_execution(services.stepfunctions, watcher.removeprefix(STEPFUNCTIONS_WATCHER_PREFIX))
        if ended is None:  # still running: only late (retries)
            continue
        status, resumes = ended.get("status", "gone"), resumes_of(ended.get("input"))
        if not ended or resumes >= MAX_RESUMES:
            error = WatchAbandoned(
                f"the watch of {job.module} job {job.job_id} ended ({status}) before the job, "
                f"{resumes} time(s) resumed already; PUT .../watch to watch it again"
            )
            store.record_error(job, error)
            end_waits(services, job, error)
            report.abandoned += 1
            logger.warning(
                "watch abandoned", extra={"job_id": job.job_id, "ended": watcher, "status": status}
            )
            continue
        if resume_watch(job, watcher, ended) is not None:  # logged there, with the new execution
            report.resumed += 1
    return report
