"""Scheduled sweep: check every job watched in schedule mode that is due (`zoho_watch.sweep`).

An EventBridge schedule runs it (rate from the template's SweepSchedule). The due jobs come from the sparse
ActiveJobs index (never a scan); at most SWEEP_CONCURRENCY Zoho calls are in flight at once, while more
workers write the results. A check that would start too close to the function's time-out is left for the
next run, and so is everything after Zoho answers 429. Each run first publishes the "finished" events that
dead checks left pending (no Zoho call). Counts go out as metrics.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from zoho_watch.services import get_services
from zoho_watch.sweep import run_sweep

logger = Logger()
metrics = Metrics()

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


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge scheduled event entry point; returns the sweep's counts."""
    settings = get_services().settings
    concurrency = _setting("SWEEP_CONCURRENCY", DEFAULT_CONCURRENCY, 1, 100)
    batch_limit = _setting("SWEEP_BATCH_LIMIT", DEFAULT_BATCH_LIMIT, 1, 100_000)
    # A check started now must be able to finish: one Zoho call's time-outs plus a margin.
    reserve_ms = int((settings.zoho_connect_timeout + settings.zoho_read_timeout + SAFETY_SECONDS) * 1000)
    report = run_sweep(concurrency, batch_limit, context.get_remaining_time_in_millis, reserve_ms)
    for name, value in (
        ("SweepJobsDue", report.due),
        ("SweepJobsChecked", report.checked),
        ("SweepJobsFinished", report.finished),
        ("SweepErrors", report.errors),
        ("SweepJobsLeft", report.left),
        ("SweepFinishedEventsPublished", report.published),
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
