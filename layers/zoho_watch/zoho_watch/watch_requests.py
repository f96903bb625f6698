"""Watch requests that do not come through the API: a caller's Step Functions task invoking the watch-request
function directly (`arn:aws:states:::lambda:invoke.waitForTaskToken`, its task token in the payload).

The payload is a JSON object: `module` and `job_id` (required), `connection` (default `default`), `mode`
(`stepfunctions` or `schedule`), `deadline` (ISO-8601 with a time zone), `poll` (`min_seconds`,
`max_seconds`) and `task_token`. Anything else, or a value of the wrong kind, is InvalidInput before any call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import DEFAULT_CONNECTION, JobKey
from zoho_watch.watches import WatchMode

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
