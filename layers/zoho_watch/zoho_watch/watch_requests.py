"""Watch requests that do not come through the API: a caller's Step Functions task invoking the watch-request
function directly (`arn:aws:states:::lambda:invoke.waitForTaskToken`, its task token in the payload), or
a "Watch Requested" event on zoho-watch's bus (the same fields in its `detail`;
docs/watch-requested.schema.json).

The payload is a JSON object: `module` and `job_id` (required), `connection` (default `default`), `mode`
(`stepfunctions` or `schedule`), `deadline` (ISO-8601 with a time zone), `poll` (`min_seconds`,
`max_seconds`) and `task_token`. Anything else, or a value of the wrong kind, is InvalidInput before any call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zoho_watch.errors import ConfigError, InvalidInput
from zoho_watch.jobs import DEFAULT_CONNECTION, JobKey
from zoho_watch.services import get_services
from zoho_watch.watches import WatchMode

# The detail-type of the event that asks for a watch.
WATCH_REQUESTED = "Watch Requested"

FIELDS = frozenset({"connection", "module", "job_id", "mode", "deadline", "poll", "task_token"})


@dataclass(frozen=True)
class WatchRequest:
    """One request to watch a job, checked."""

    job: JobKey
    mode: WatchMode = "stepfunctions"
    deadline: datetime | None = None
    poll: dict[str, Any] | None = None
    task_token: str | None = None


def parse_watch_request(payload: Any) -> WatchRequest:
    """The `WatchRequest` a payload asks for (see the module docstring), else InvalidInput."""
    if not isinstance(payload, dict):
        raise InvalidInput("a watch request is a JSON object")
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown fields in the watch request: {', '.join(unknown)}")
    for name in ("connection", "module", "job_id", "mode", "deadline", "task_token"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise InvalidInput(f"{name} must be a string")
    if not payload.get("module") or not payload.get("job_id"):
        raise InvalidInput("module and job_id are required")
    job = JobKey(payload.get("connection") or DEFAULT_CONNECTION, payload["module"], payload["job_id"])
    mode: WatchMode = "stepfunctions"
    if payload.get("mode") == "schedule":
        mode = "schedule"
    elif payload.get("mode") not in (None, "stepfunctions"):
        raise InvalidInput("mode must be stepfunctions or schedule")
    poll = payload.get("poll")
    if poll is not None and not isinstance(poll, dict):
        raise InvalidInput("poll must be an object with min_seconds and max_seconds")
    return WatchRequest(job, mode, _deadline(payload.get("deadline")), poll, payload.get("task_token"))


def _deadline(text: str | None) -> datetime | None:
    """An ISO-8601 deadline with its time zone, or None."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("deadline must be an ISO-8601 date and time, e.g. 2026-12-31T12:00:00Z") from None
    if moment.tzinfo is None:
        raise InvalidInput("deadline must carry a time zone")
    return moment


def parse_watch_requested_event(event: Any) -> WatchRequest:
    """The `WatchRequest` of a "Watch Requested" EventBridge event (its `detail`), else InvalidInput."""
    if not isinstance(event, dict) or event.get("detail-type") != WATCH_REQUESTED:
        raise InvalidInput(f"not a {WATCH_REQUESTED!r} event")
    return parse_watch_request(event.get("detail"))


def dead_letter(body: str, reason: str) -> None:
    """Send a request that can never be served to the dead-letter queue, with the reason (JSON)."""
    services = get_services()
    url = services.settings.watch_request_dlq_url
    if not url:
        raise ConfigError("WATCH_REQUEST_DLQ_URL is not set: a rejected watch request has nowhere to go")
    services.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"reason": reason, "request": body}))
