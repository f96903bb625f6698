"""EventBridge events of zoho-watch: "Mass Update Job Status Changed" and "Mass Update Job Finished"."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from zoho_watch.errors import EventPublishError
from zoho_watch.jobs import JobKey

if TYPE_CHECKING:  # the store's types only: the events need nothing else of it
    from zoho_watch.store import JobView

logger = Logger(child=True)

SOURCE = "zoho-watch"
STATUS_CHANGED = "Mass Update Job Status Changed"
FINISHED = "Mass Update Job Finished"
# The events of the other kinds of job (their detail names the kind): mass update consumers see none of them.
JOB_STATUS_CHANGED = "Zoho CRM Job Status Changed"
JOB_FINISHED = "Zoho CRM Job Finished"
# Namespace of the events' stable ids (uuid5 of the job's key and the event's kind).
_EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://zoho-watch/events")


def finished_event_id(job: JobKey) -> str:
    """The stable id of a job's "finished" event: the same for every publication of it (a UUID).

    The event is published at least once (a check that dies while publishing is repeated), so a consumer
    that must act once drops an event whose `event_id` it has seen.
    """
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"JOB#{job.ref}#finished"))


def changed_event_id(job: JobKey, previous_status: str | None, status: str | None) -> str:
    """The stable id of a job's "status changed" event from `previous_status` to `status` (a UUID).

    Published at least once as well (see `zoho_watch.store.outbox`): a consumer drops an id it has seen.
    """
    key = f"JOB#{job.ref}#changed#{previous_status or ''}#{status or ''}"
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, key))


def event_detail(state: JobView, previous_status: str | None = None) -> dict[str, Any]:
    """The detail of both events, from a job state as `check_job` returns it (no secrets in it)."""
    detail = {
        "connection": state["connection"],
        "module": state["module"],
        "job_id": state["job_id"],
        "status": state["status"],
        "previous_status": previous_status,
        "counts": state["counts"],
        "progress": state.get("progress"),
        "checked_at": state.get("last_checked_at") or state.get("checked_at"),
        "first_seen_at": state.get("first_seen_at"),
    }
    if state.get("finished_at"):
        detail["finished_at"] = state["finished_at"]
    if "kind" in state:  # another kind than mass update: which, Zoho's own status word, the result's links
        detail |= {
            "kind": state["kind"],
            "zoho_status": state.get("zoho_status"),
            "results": state.get("results"),
        }
    return detail


class EventPublisher:
    """Puts zoho-watch's events on one event bus."""

    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self.bus_name = bus_name

    def _put(self, detail_type: str, detail: dict[str, Any]) -> None:
        reply = self._client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, separators=(",", ":")),
                    "EventBusName": self.bus_name,
                    "Resources": [],
                }
            ]
        )
        if reply.get("FailedEntryCount"):
            entry = (reply.get("Entries") or [{}])[0]
            raise EventPublishError(
                f"EventBridge refused {detail_type!r}: {entry.get('ErrorCode', 'unknown error')}"
            )
        logger.info("event published", extra={"detail_type": detail_type, "job_id": detail["job_id"]})

    def status_changed(self, state: JobView, previous_status: str | None) -> None:
        """Announce that a job's status changed (including to a terminal status), with a stable `event_id`."""
        detail = event_detail(state, previous_status)
        detail["event_id"] = changed_event_id(JobKey.of(state), previous_status, state["status"])
        self._put(JOB_STATUS_CHANGED if "kind" in state else STATUS_CHANGED, detail)

    def finished(self, state: JobView, previous_status: str | None = None) -> None:
        """Announce that a job reached COMPLETED or FAILED (at least once, with a stable `event_id`)."""
        detail = event_detail(state, previous_status)
        detail["event_id"] = finished_event_id(JobKey.of(state))
        self._put(JOB_FINISHED if "kind" in state else FINISHED, detail)
