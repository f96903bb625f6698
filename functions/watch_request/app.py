"""Watch-request function: start watching a job for a caller's Step Functions task that waits for its end.

A caller's state machine invokes it with `arn:aws:states:::lambda:invoke.waitForTaskToken` and a payload of
`module`, `job_id` and `task_token: $$.Task.Token` (more in `zoho_watch.watch_requests`); the task then waits
until zoho-watch answers the token with the job's final state (`zoho_watch.waiters`). The invocation itself
answers at once with what was started. A bad request raises InvalidInput: the caller's task fails with it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from zoho_watch import watches
from zoho_watch.watch_requests import parse_watch_request

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Start (or join) the job's watch and register the caller's task token; what was done."""
    request = parse_watch_request(event)
    logger.append_keys(
        connection=request.job.connection, module=request.job.module, job_id=request.job.job_id
    )
    outcome = watches.start_watch(
        request.job,
        mode=request.mode,
        poll=request.poll,
        deadline=request.deadline,
        task_token=request.task_token,
    )
    if outcome.watching and not outcome.already:
        metrics.add_metric(name="WatchesStarted", unit=MetricUnit.Count, value=1)
    logger.info(
        "watch requested", extra={"message_": outcome.message, "waiting": request.task_token is not None}
    )
    return {
        "watching": outcome.watching,
        "already": outcome.already,
        "finished": outcome.finished,
        "mode": outcome.mode,
        "message": outcome.message,
        "execution_name": outcome.execution_name,
        "deadline": outcome.deadline,
    }
