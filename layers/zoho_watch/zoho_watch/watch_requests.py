"""Watch requests that do not come through the API: a caller's Step Functions task invoking the watch-request
function directly (`arn:aws:states:::lambda:invoke.waitForTaskToken`, its task token in the payload), or
a "Watch Requested" event on zoho-watch's bus (the same fields in its `detail`;
docs/watch-requested.schema.json).

A watch request is a JSON object: `module` and `job_id` (required), `kind` (default `mass_update`; every
kind of `zoho_watch.job_kinds`, with the module `org` for those that name none), `connection` (default
`default`), `mode`
(`stepfunctions` or `schedule`), `deadline` (ISO-8601 with a time zone), `poll` (`min_seconds`,
`max_seconds`), `task_token` and `heartbeat_seconds` (its task's HeartbeatSeconds). Anything else, or a
value of the wrong kind, is InvalidInput before any call.

A submit request (direct invocations only) asks zoho-watch to run a mass update, then watch it: `submit` holds
the body of `POST /mass-updates` (module, data, cvid, territory or ids, over_write, connection, and `watch`
with mode, deadline, poll), beside `task_token` and `idempotency_key` (e.g. `$$.Execution.Name`, so a retried
task never schedules twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zoho_watch.errors import ConfigError, InvalidInput
from zoho_watch.jobs import DEFAULT_CONNECTION, DEFAULT_KIND, JobKey
from zoho_watch.mass_updates import MassUpdate, parse_mass_update
from zoho_watch.services import get_services
from zoho_watch.waiters import validate_heartbeat
from zoho_watch.watches import WatchMode, WatchOptions

# The detail-type of the event that asks for a watch.
WATCH_REQUESTED = "Watch Requested"

WATCH_FIELDS = frozenset({"mode", "deadline", "poll", "task_token", "heartbeat_seconds"})
FIELDS = WATCH_FIELDS | {"connection", "module", "job_id", "kind"}
SUBMIT_FIELDS = frozenset({"submit", "task_token", "idempotency_key"})


@dataclass(frozen=True)
class WatchRequest:
    """One request to watch a job, checked: the job and how to watch it."""

    job: JobKey
    options: WatchOptions


def parse_watch_request(payload: Any) -> WatchRequest:
    """The `WatchRequest` a payload asks for (see the module docstring), else InvalidInput."""
    if not isinstance(payload, dict):
        raise InvalidInput("a watch request is a JSON object")
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown fields in the watch request: {', '.join(unknown)}")
    for name in ("connection", "module", "job_id", "kind"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise InvalidInput(f"{name} must be a string")
    if not payload.get("module") or not payload.get("job_id"):
        raise InvalidInput("module and job_id are required")
    connection = payload.get("connection") or DEFAULT_CONNECTION
    job = JobKey(connection, payload["module"], payload["job_id"], payload.get("kind") or DEFAULT_KIND)
    return WatchRequest(job, watch_options(payload))


def watch_options(fields: dict[str, Any]) -> WatchOptions:
    """The `WatchOptions` of a request's `mode`, `deadline`, `poll`, `task_token` and `heartbeat_seconds`
    (each optional)."""
    for name in ("mode", "deadline", "task_token"):
        if fields.get(name) is not None and not isinstance(fields[name], str):
            raise InvalidInput(f"{name} must be a string")
    mode: WatchMode = "stepfunctions"
    if fields.get("mode") == "schedule":
        mode = "schedule"
    elif fields.get("mode") not in (None, "stepfunctions"):
        raise InvalidInput("mode must be stepfunctions or schedule")
    poll = fields.get("poll")
    if poll is not None and not isinstance(poll, dict):
        raise InvalidInput("poll must be an object with min_seconds and max_seconds")
    heartbeat = fields.get("heartbeat_seconds")
    if heartbeat is not None:
        validate_heartbeat(heartbeat)
    return WatchOptions(mode, poll, _deadline(fields.get("deadline")), fields.get("task_token"), heartbeat)


@dataclass(frozen=True)
class SubmitRequest:
    """One request to submit a mass update, then watch its job (`watch` None: the defaults, or nothing to
    watch for an update by ids)."""

    update: MassUpdate
    watch: WatchOptions | None = None
    idempotency_key: str | None = None


def parse_submit_request(payload: Any) -> SubmitRequest:
    """The `SubmitRequest` a direct invocation asks for (see the module docstring), else InvalidInput."""
    if not isinstance(payload, dict) or not isinstance(payload.get("submit"), dict):
        raise InvalidInput("a submit request is a JSON object whose `submit` is the mass update request")
    unknown = sorted(set(payload) - SUBMIT_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown fields in the submit request: {', '.join(unknown)}")
    body = dict(payload["submit"])
    watch = body.pop("watch", None)
    if watch is not None and (not isinstance(watch, dict) or set(watch) - (WATCH_FIELDS - {"task_token"})):
        raise InvalidInput("watch must be an object with mode, deadline, poll and heartbeat_seconds")
    update = parse_mass_update(body)
    key = payload.get("idempotency_key")  # checked by the submission, before any call
    if watch is None and payload.get("task_token") is None:
        return SubmitRequest(update, None, key)
    options = watch_options({**(watch or {}), "task_token": payload.get("task_token")})
    return SubmitRequest(update, options, key)


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
