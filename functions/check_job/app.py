"""Step Functions task of the watch loop: check one Zoho mass update job once.

The state machine passes `{"input": <loop state>, "execution_id", "execution_started_at", "retry_count"}`
(`retry_count`: how many times this check was retried). The loop state is the execution input (`connection,
module, job_id, poll, deadline, generation, max_polls`) the first time, then what this handler returned last
time. The answer is the job's state from `zoho_watch.check.check_job` plus what the loop decides on
(`zoho_watch.loop`): `polls`, `history_events`, `next_check_in` (never past the deadline), `deadline_passed`,
`continue_as_new`, and the settings the next check or generation needs.

Errors are not caught: their class names (`ZohoUnavailable`, `JobNotFound`, ...) are the error names the
state machine's Retry and Catch match.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from zoho_watch.loop import loop_settings, run_loop_check

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Check the job once; return its state and the loop's next step (see the module docstring)."""
    event = event if isinstance(event, dict) else {}
    execution_id = event.get("execution_id")
    # Powertools has no correlation path for Step Functions: append the execution id ourselves.
    logger.append_keys(execution_id=execution_id)
    settings = loop_settings(event.get("input"))
    logger.append_keys(
        connection=settings["connection"],
        module=settings["module"],
        job_id=settings["job_id"],
        generation=settings["generation"],
    )
    # Validating settings again is pure and cheap; it keeps run_loop_check safe for any caller.
    done = run_loop_check(
        settings, execution_id, event.get("execution_started_at"), event.get("retry_count", 0)
    )
    if done.step["deadline_passed"]:
        metrics.add_metric(name="WatchDeadlineExceeded", unit=MetricUnit.Count, value=1)
    if done.step["continue_as_new"]:
        metrics.add_metric(name="WatchContinuedAsNew", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="JobChecks", unit=MetricUnit.Count, value=1)
    logger.info(
        "job checked",
        extra={"status": done.state.get("status"), "progress": done.state.get("progress"), **done.step},
    )
    return done.answer()
