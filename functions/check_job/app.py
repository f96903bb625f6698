"""Step Functions task of the watch loop: check one Zoho mass update job once.

The state machine passes `{"input": <loop state>, "execution_id", "execution_started_at"}`. The loop
state is the execution input (`connection, module, job_id, poll, deadline, generation, max_polls`) the
first time, then what this handler returned last time. The answer is the job's state from
`zoho_watch.check.check_job` plus what the loop decides on: `polls`, `next_check_in` (never past the
deadline), `deadline_passed`, `continue_as_new`, and the settings the next check or generation needs.

Errors are not caught: their class names (`ZohoUnavailable`, `JobNotFound`, ...) are the error names the
state machine's Retry and Catch match.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from zoho_watch.check import check_job
from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import PollPolicy, validate_connection, validate_job_id, validate_module
from zoho_watch.services import get_services

logger = Logger()
metrics = Metrics()

DEFAULT_MAX_POLLS = 1000
# The state machine's TimeoutSeconds is 30 days; a generation hands over well before it.
GENERATION_MAX_SECONDS = 25 * 86400


def _parse_time(value: Any, name: str) -> datetime | None:
    """An ISO-8601 time with a time zone (or None), as an aware datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be an ISO-8601 time or null")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO-8601 time, got {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name} must carry a time zone (e.g. 2030-01-01T00:00:00Z)")
    return parsed


def _count(value: Any, name: str, default: int, low: int, high: int) -> int:
    """A whole number within [low, high]; `default` when absent."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high}")
    return value


def watch_settings(loop_state: dict[str, Any]) -> dict[str, Any]:
    """Validate the loop state's watch settings and fill the defaults; raise InvalidInput on bad input."""
    if not isinstance(loop_state, dict):
        raise InvalidInput("the task input must be an object")
    services = get_services()
    poll = loop_state.get("poll")
    if poll is not None:
        # Validates the bounds (InvalidInput) before any call to Zoho.
        policy = PollPolicy.from_poll(
            poll, services.settings.poll_min_seconds, services.settings.poll_max_seconds
        )
        poll = policy.as_dict()
    deadline = _parse_time(loop_state.get("deadline"), "deadline")
    max_polls_default = int(os.environ.get("MAX_POLLS_PER_EXECUTION", DEFAULT_MAX_POLLS))
    return {
        "connection": validate_connection(loop_state.get("connection", "default")),
        "module": validate_module(loop_state.get("module")),
        "job_id": validate_job_id(loop_state.get("job_id")),
        "poll": poll,
        "deadline": deadline.astimezone(UTC).isoformat().replace("+00:00", "Z") if deadline else None,
        "generation": _count(loop_state.get("generation"), "generation", 0, 0, 1_000_000),
        "polls": _count(loop_state.get("polls"), "polls", 0, 0, 1_000_000),
        "max_polls": _count(loop_state.get("max_polls"), "max_polls", max_polls_default, 1, 100_000),
    }


def next_step(
    state: dict[str, Any], settings: dict[str, Any], now: datetime, started_at: datetime | None
) -> dict[str, Any]:
    """What the loop does after this check: the wait (capped at the deadline), stop or hand over."""
    polls = settings["polls"] + 1
    deadline = _parse_time(settings["deadline"], "deadline")
    terminal = bool(state.get("terminal"))
    wait = max(1, int(state.get("next_check_in") or 1))
    deadline_passed = False
    if deadline is not None and not terminal:
        left = (deadline - now).total_seconds()
        deadline_passed = left <= 0
        # Look once more right at the deadline rather than sleep past it.
        wait = max(1, min(wait, math.ceil(left))) if not deadline_passed else wait
    generation_age = (now - started_at).total_seconds() if started_at else 0.0
    continue_as_new = (not terminal and not deadline_passed) and (
        polls >= settings["max_polls"] or generation_age + wait > GENERATION_MAX_SECONDS
    )
    return {
        "polls": polls,
        "next_check_in": wait,
        "deadline_passed": deadline_passed,
        "continue_as_new": continue_as_new,
    }


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Check the job once; return its state and the loop's next step (see the module docstring)."""
    execution_id = event.get("execution_id") if isinstance(event, dict) else None
    # Powertools has no correlation path for Step Functions: append the execution id ourselves.
    logger.append_keys(execution_id=execution_id)
    settings = watch_settings(event.get("input") if isinstance(event, dict) else None)
    logger.append_keys(
        connection=settings["connection"],
        module=settings["module"],
        job_id=settings["job_id"],
        generation=settings["generation"],
    )
    started_at = _parse_time(event.get("execution_started_at"), "execution_started_at")
    watcher = f"stepfunctions:{execution_id}" if execution_id else None
    state = check_job(
        settings["connection"], settings["module"], settings["job_id"], poll=settings["poll"], watcher=watcher
    )
    step = next_step(state, settings, datetime.now(UTC), started_at)
    if step["deadline_passed"]:
        # The loop ends here: the job must not look watched any more.
        get_services().store.unwatch(settings["connection"], settings["module"], settings["job_id"])
        metrics.add_metric(name="WatchDeadlineExceeded", unit=MetricUnit.Count, value=1)
    if step["continue_as_new"]:
        metrics.add_metric(name="WatchContinuedAsNew", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="JobChecks", unit=MetricUnit.Count, value=1)
    logger.info(
        "job checked",
        extra={"status": state.get("status"), "progress": state.get("progress"), **step},
    )
    return {**state, **settings, **step}
