"""Scheduled sweep: check every job watched in schedule mode that is due (`zoho_watch.sweep`).

An EventBridge schedule runs it (rate from the template's SweepSchedule). The due jobs come from the sparse
ActiveJobs index (never a scan), at most SWEEP_BATCH_LIMIT a run; at most SWEEP_CONCURRENCY Zoho calls are in
flight at once, while more workers write the results (both settings read once per container, in
`zoho_watch.config.Settings`). A check that would start too close to the function's time-out is left for the
next run, and so is everything after Zoho answers 429. Each run first publishes the "finished" events that
dead checks left pending (no Zoho call), and last resumes the watches whose Step Functions execution ended
before their job (`zoho_watch.healing`). Counts go out as metrics.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from zoho_watch.services import get_services
from zoho_watch.sweep import run_sweep

logger = Logger()
metrics = Metrics()

# Seconds kept free at the end of the invocation besides one Zoho call's time-outs.
SAFETY_SECONDS = 5.0


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge scheduled event entry point; returns the sweep's counts."""
    settings = get_services().settings
    # A check started now must be able to finish: one Zoho call's time-outs plus a margin.
    reserve_ms = int((settings.zoho_connect_timeout + settings.zoho_read_timeout + SAFETY_SECONDS) * 1000)
    report = run_sweep(
        settings.sweep_concurrency,
        settings.sweep_batch_limit,
        context.get_remaining_time_in_millis,
        reserve_ms,
    )
    for name, value in (
        ("SweepJobsDue", report.due),
        ("SweepJobsChecked", report.checked),
        ("SweepJobsFinished", report.finished),
        ("SweepErrors", report.errors),
        ("SweepJobsLeft", report.left),
        ("SweepFinishedEventsPublished", report.published),
        ("WatchesResumed", report.resumed),
        ("WatchesAbandoned", report.abandoned),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info(
        "sweep done",
        extra={
            **report.as_dict(),
            "finished_events_pending": report.pending,
            "finished_events_published": report.published,
            "scheduled_at": event.get("time"),
        },
    )
    return report.as_dict()
