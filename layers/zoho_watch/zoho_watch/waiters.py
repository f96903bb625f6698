"""Waiters: callers' Step Functions executions waiting for a job's end with a task token
(`.waitForTaskToken`).

A waiter is registered on the job (its STATE item's `waiters` map, keyed by `waiter_id`) and answered once its
watch has an end: `SendTaskSuccess` with the job's final state when the job COMPLETED; `SendTaskFailure` with
`MassUpdateFailed` (the cause: the job's counts) when it FAILED; with the error that ended the watch
(`JobNotFound`, `ZohoAuthError`, `DeadlineExceeded`...) otherwise. Answers are sent under the job's
announcement claim (`zoho_watch.check`), and each waiter is removed only once its answer went out: a container
that dies in between leaves it for the next claimer, so every waiter is answered at least once. A token that
Step Functions no longer knows (its task timed out, or was answered already) is dropped, not retried.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from zoho_watch.errors import InvalidInput
from zoho_watch.events import event_detail
from zoho_watch.jobs import JobKey
from zoho_watch.services import Services

if TYPE_CHECKING:
    from zoho_watch.store import JobView

logger = Logger(child=True)

# Step Functions' limit on a task token's length.
MAX_TASK_TOKEN_LENGTH = 2048
# SendTaskFailure's limits on the error name and the cause.
_MAX_ERROR, _MAX_CAUSE = 256, 32768
# Step Functions' answers that mean the waiter is gone: nobody waits on the token any more.
GONE_WAITER_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
# A waiter's heartbeat interval (its task's HeartbeatSeconds), when it asks for heartbeats: the job is then
# checked at least twice per interval (`zoho_watch.store.items.heartbeat_wait`), each check sending one.
MIN_HEARTBEAT_SECONDS, MAX_HEARTBEAT_SECONDS = 60, 172800
# The error a waiter gets when Zoho reports a job of another kind than mass update failed.
JOB_FAILED = "JobFailed"
# The error a waiter gets when its watch reached its deadline before the job ended.
DEADLINE_EXCEEDED = "DeadlineExceeded"


@dataclass(frozen=True)
class WaiterAnswer:
    """What every waiter of a job is told: `output` (success) or `error` and `cause` (failure)."""

    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


def validate_task_token(token: Any) -> str:
    """The task token if Step Functions could have issued it (1 to 2048 printable characters), else
    InvalidInput."""
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TASK_TOKEN_LENGTH or not token.isprintable():
        raise InvalidInput(
            f"task_token must be a Step Functions task token (1 to {MAX_TASK_TOKEN_LENGTH} characters)"
        )
    return token


def validate_heartbeat(seconds: Any) -> int:
    """The heartbeat interval if it is a whole number of seconds within the bounds, else InvalidInput."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not MIN_HEARTBEAT_SECONDS <= seconds <= MAX_HEARTBEAT_SECONDS
    ):
        raise InvalidInput(
            f"heartbeat_seconds must be {MIN_HEARTBEAT_SECONDS} to {MAX_HEARTBEAT_SECONDS} (the task's"
            " HeartbeatSeconds)"
        )
    return seconds


def send_heartbeats(services: Services, job: JobKey, tokens: dict[str, str]) -> int:
    """Tell each waiter in `tokens` (waiter key to task token) that the job still runs; how many were told.

    A token Step Functions no longer knows is dropped; any other failure is logged and left to the next
    check (a heartbeat is no answer: nothing is lost, and the check itself must not fail for it).
    """
    from botocore.exceptions import BotoCoreError, ClientError  # loaded with the client already

    told = 0
    for key, token in sorted(tokens.items()):
        try:
            services.stepfunctions.send_task_heartbeat(taskToken=token)
            told += 1
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in GONE_WAITER_CODES:
                logger.info("waiter gone: its token dropped", extra={"job_id": job.job_id, "code": code})
                services.store.waiter_answered(job, key)
            else:
                logger.warning("heartbeat not sent", extra={"job_id": job.job_id, "code": code})
        except BotoCoreError as error:
            logger.warning("heartbeat not sent", extra={"job_id": job.job_id, "code": type(error).__name__})
    return told


def waiter_id(token: str) -> str:
    """The key of a waiter in the job's `waiters` map: a digest of its token (one entry per token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


def answer_for(item: dict[str, Any]) -> WaiterAnswer | None:
    """What the waiters of a job (its raw STATE item) are told now, or None while its watch goes on."""
    state_status = item.get("status")
    if state_status == "COMPLETED":
        return WaiterAnswer(output=_output(item))
    if state_status == "FAILED":
        counts = {name: item.get(name) for name in ("total", "updated", "failed", "not_updated")}
        job = {name: item.get(name) for name in ("connection", "module", "job_id")}
        cause: dict[str, Any] = {"job": job, "status": "FAILED", "counts": counts}
        if item.get("kind"):  # another kind than mass update: its own error name, its kind and Zoho's word
            job["kind"] = item["kind"]
            cause["zoho_status"] = item.get("zoho_status")
            return WaiterAnswer(error=JOB_FAILED, cause=json.dumps(cause))
        return WaiterAnswer(error="MassUpdateFailed", cause=json.dumps(cause))
    ended = item.get("watch_ended") or item.get("last_error")
    if isinstance(ended, dict) and ended.get("error"):
        return WaiterAnswer(error=str(ended["error"]), cause=str(ended.get("message") or ended["error"]))
    return None


def _output(item: dict[str, Any]) -> dict[str, Any]:
    """The job's final state as its events tell it (job key, status, counts, times)."""
    # The store when an answer is made: the api's cold start reads only this module's limits.
    from zoho_watch.store import state_view

    return event_detail(state_view(item))


def answer_waiters(services: Services, state: JobView, item: dict[str, Any]) -> int:
    """Answer every waiter of the job (`item`, its raw STATE item read under the claim); how many were told.

    Each waiter leaves the item once Step Functions took its answer or said nobody waits on it any more.
    Another failure of Step Functions is raised (the claim is given back and the next claimer tries again).
    """
    waiters = item.get("waiters") or {}
    answer = answer_for(item)
    if not waiters or answer is None:
        return 0
    from botocore.exceptions import ClientError  # botocore is loaded with the client already

    job = JobKey.of(state)
    stepfunctions = services.stepfunctions
    told = 0
    for key, waiter in sorted(waiters.items()):
        try:
            if answer.output is not None:
                stepfunctions.send_task_success(taskToken=waiter["token"], output=json.dumps(answer.output))
            else:
                stepfunctions.send_task_failure(
                    taskToken=waiter["token"],
                    error=(answer.error or "")[:_MAX_ERROR],
                    cause=(answer.cause or "")[:_MAX_CAUSE],
                )
            told += 1
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in GONE_WAITER_CODES:
                raise
            logger.info("waiter gone: its token dropped", extra={"job_id": job.job_id, "code": code})
        services.store.waiter_answered(job, key)
    if told:
        logger.info("waiters answered", extra={"job_id": job.job_id, "waiters": told, "error": answer.error})
    return told
