"""Watch-request function: start watching a job, or submit a mass update and watch it, for a caller that asks
without the API.

Two callers:
- a caller's state machine invokes it with `arn:aws:states:::lambda:invoke.waitForTaskToken` and a payload
  of `module`, `job_id` and `task_token: $$.Task.Token` (more in `zoho_watch.watch_requests`); the task then
  waits until zoho-watch answers the token with the job's final state (`zoho_watch.waiters`). With `submit`
  (the body of `POST /mass-updates`) and an `idempotency_key`, zoho-watch first schedules the mass update.
  The invocation answers at once with what was started; a bad request raises InvalidInput, which fails the
  caller's task (as does any refusal: `JobAlreadyScheduled`...);
- an event-driven system puts a "Watch Requested" event on zoho-watch's bus: a rule queues it (SQS) and the
  queue's batches come here. A request that can never be served goes to the dead-letter queue with its
  reason; one that failed in passing is retried by the queue (and dead-lettered after its last attempt).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from zoho_watch import watches
from zoho_watch.errors import ZohoWatchError
from zoho_watch.watch_requests import (
    SubmitRequest,
    WatchRequest,
    dead_letter,
    parse_submit_request,
    parse_watch_request,
    parse_watch_requested_event,
)

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def watch(request: WatchRequest) -> dict[str, Any]:
    """Start (or join) the job's watch for `request`, registering its task token; what was done."""
    outcome = watches.start_watch_with(request.job, request.options)
    if outcome.watching and not outcome.already:
        metrics.add_metric(name="WatchesStarted", unit=MetricUnit.Count, value=1)
    logger.info(
        "watch requested",
        extra={
            "job_id": request.job.job_id,
            "outcome": outcome.message,
            "waiting": request.options.task_token is not None,
        },
    )
    return _watch_answer(outcome)


def _watch_answer(outcome: watches.WatchOutcome) -> dict[str, Any]:
    return {
        "watching": outcome.watching,
        "already": outcome.already,
        "finished": outcome.finished,
        "mode": outcome.mode,
        "message": outcome.message,
        "execution_name": outcome.execution_name,
        "deadline": outcome.deadline,
    }


def submit(request: SubmitRequest, context: LambdaContext) -> dict[str, Any]:
    """Schedule the mass update (once per idempotency key), then watch its job; what was done."""
    from zoho_watch.submissions import submit_mass_update

    done = submit_mass_update(
        request.update, request.watch, idempotency_key=request.idempotency_key, lambda_context=context
    )
    if not done.replayed:
        metrics.add_metric(name="MassUpdatesSubmitted", unit=MetricUnit.Count, value=1)
    if done.watch is not None and done.watch.watching and not done.watch.already:
        metrics.add_metric(name="WatchesStarted", unit=MetricUnit.Count, value=1)
    logger.info("mass update submitted", extra={"job_id": done.reply.job_id, "replayed": done.replayed})
    return {
        "connection": done.update.connection,
        "module": done.update.module,
        "job_id": done.reply.job_id,
        "message": done.reply.message,
        "records": [asdict(record) for record in done.reply.records] if not done.update.scheduled else None,
        "watch": _watch_answer(done.watch) if done.watch is not None else None,
        "replayed": done.replayed,
    }


def queued_request(record: SQSRecord) -> None:
    """One queued "Watch Requested" event: watched, or dead-lettered with its reason when it never can be
    (bad input, a connection without credentials, a conflict...); a passing failure raises, and the queue
    retries the record."""
    try:
        watch(parse_watch_requested_event(json.loads(record.body)))
    except ValueError as error:  # not JSON
        reason = f"INVALID_INPUT: the message is not a JSON event ({error})"
    except ZohoWatchError as error:
        if error.retryable:
            raise
        reason = f"{error.code}: {error.message}"
    else:
        return
    dead_letter(record.body, reason)
    metrics.add_metric(name="WatchRequestsRejected", unit=MetricUnit.Count, value=1)
    logger.warning("watch request rejected", extra={"reason": reason})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A direct request (what was started or submitted), or a batch of queued events (those to retry)."""
    if isinstance(event, dict) and "submit" in event:
        return submit(parse_submit_request(event), context)
    if isinstance(event, dict) and "Records" in event:
        failures = process_partial_response(
            event=event, record_handler=queued_request, processor=processor, context=context
        )
        return dict(failures)
    return watch(parse_watch_request(event))
