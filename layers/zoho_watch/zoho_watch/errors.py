"""Typed errors of zoho-watch.

The class names are the error names Step Functions sees (`ZohoUnavailable`, `ZohoRateLimited`, ...), so the
state machine's Retry and Catch clauses match on them. Each error also has a stable `code` and an HTTP
`api_status` for the API, a `retryable` flag, and what Zoho answered (`zoho_http_status`, `zoho_code`).
Messages are built by zoho-watch and never contain a token, a client secret or a
refresh token.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoho_watch.jobs import JobKey

# Zoho OAuth tokens look like `1000.<hex>.<hex>`; anything of that shape is masked in messages we pass on.
_TOKEN_SHAPE = re.compile(r"\b\d{4}\.[0-9a-fA-F]{8,}\.[0-9a-fA-F]{8,}\b")
_MAX_MESSAGE = 1000


def redact(text: str) -> str:
    """Mask anything shaped like a Zoho token and cut the text to a safe length."""
    cleaned = _TOKEN_SHAPE.sub("[redacted]", text)
    return cleaned if len(cleaned) <= _MAX_MESSAGE else cleaned[: _MAX_MESSAGE - 3] + "..."


class ZohoWatchError(Exception):
    """Base of every zoho-watch error: a stable `code`, the API's HTTP status for it, `retryable`, and the
    HTTP status and code of Zoho's answer when there was one."""

    code = "ZOHO_WATCH_ERROR"
    api_status = HTTPStatus.INTERNAL_SERVER_ERROR
    retryable = False

    def __init__(
        self, message: str, *, zoho_http_status: int | None = None, zoho_code: str | None = None
    ) -> None:
        self.message = redact(message)
        self.zoho_http_status = zoho_http_status
        self.zoho_code = zoho_code
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the error (the shape kept in `last_error` and returned by the API)."""
        return {
            "error": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "zoho_http_status": self.zoho_http_status,
            "zoho_code": self.zoho_code,
        }


class InvalidInput(ZohoWatchError):
    """A module, job id, connection name or poll setting that zoho-watch refuses before any I/O."""

    code = "INVALID_INPUT"
    api_status = HTTPStatus.BAD_REQUEST


class ConfigError(ZohoWatchError):
    """The function's environment variables are missing or invalid."""

    code = "CONFIG_ERROR"
    api_status = HTTPStatus.INTERNAL_SERVER_ERROR


class ZohoUnavailable(ZohoWatchError):
    """Zoho could not answer: 5xx, time-out, connection error, or a reply that is not the documented shape."""

    code = "ZOHO_UNAVAILABLE"
    api_status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True


class ZohoRateLimited(ZohoWatchError):
    """Zoho throttled us (HTTP 429, or the token endpoint's "too many requests"); `retry_after` seconds."""

    code = "ZOHO_RATE_LIMITED"
    api_status = HTTPStatus.TOO_MANY_REQUESTS
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        zoho_http_status: int | None = None,
        zoho_code: str | None = None,
    ) -> None:
        super().__init__(message, zoho_http_status=zoho_http_status, zoho_code=zoho_code)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, with `retry_after`."""
        return {**super().to_dict(), "retry_after": self.retry_after}


class JobNotFound(ZohoWatchError):
    """Zoho does not know this job id (NOT_FOUND, or INVALID_DATA on `job_id`)."""

    code = "JOB_NOT_FOUND"
    api_status = HTTPStatus.NOT_FOUND


class ConnectionNotConfigured(ZohoWatchError):
    """The named connection has no credentials secret (or no access-token secret that zoho-watch may use).

    The caller's error (API: 400), found before any call to Zoho; permanent for the state machine, and never
    recorded on a job zoho-watch did not know. The fix is `zoho-watch connect` for that connection.
    """

    code = "CONNECTION_NOT_CONFIGURED"
    api_status = HTTPStatus.BAD_REQUEST


class ZohoAuthError(ZohoWatchError):
    """Credentials, scope or permission problem that needs a human (or an access token Zoho refused)."""

    code = "ZOHO_AUTH_ERROR"
    api_status = HTTPStatus.BAD_GATEWAY


class ZohoRequestError(ZohoWatchError):
    """Zoho refused the request itself: module, URL, parameter or method."""

    code = "ZOHO_REQUEST_ERROR"
    api_status = HTTPStatus.BAD_REQUEST


class EventPublishError(ZohoWatchError):
    """EventBridge did not accept an event; the check is safe to repeat (the event is still pending)."""

    code = "EVENT_PUBLISH_FAILED"
    api_status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True


class AwsUnavailable(ZohoWatchError):
    """An AWS service zoho-watch depends on failed in passing: throttled, 5xx, a time-out or no connection.

    Nothing is lost and nothing is recorded on the job: the check is safe to repeat, and the state machine
    retries it with jitter (the sweep leaves the job due for its next run).
    """

    code = "AWS_UNAVAILABLE"
    api_status = HTTPStatus.SERVICE_UNAVAILABLE
    retryable = True


class AwsRequestError(ZohoWatchError):
    """An AWS service refused zoho-watch's request for good: access denied, a missing resource, bad input.

    A deployment problem (a policy, a deleted table or secret), not a passing fault: retrying cannot help.
    """

    code = "AWS_REQUEST_FAILED"
    api_status = HTTPStatus.INTERNAL_SERVER_ERROR


class WatchAbandoned(ZohoWatchError):
    """The job's watch kept ending before the job did, and was resumed as often as zoho-watch allows.

    Recorded on the job (which leaves the active index) so that a person looks at it; `PUT .../watch` starts
    a fresh watch.
    """

    code = "WATCH_ABANDONED"
    api_status = HTTPStatus.INTERNAL_SERVER_ERROR


class DeadlineExceeded(ZohoWatchError):
    """The watch reached its deadline before the job ended: it stops checking, and its waiters are told so.

    Not raised by a check: the watch loop ends in the state machine's `DeadlineExceeded` state.
    """

    code = "DEADLINE_EXCEEDED"
    api_status = HTTPStatus.CONFLICT


class WatchStopped(ZohoWatchError):
    """The watch was stopped (`DELETE .../watch`) before the job ended: its waiters are told so.

    Not raised by a request: it is the error a waiting caller's task fails with.
    """

    code = "WATCH_STOPPED"
    api_status = HTTPStatus.CONFLICT


class JobAlreadyScheduled(ZohoWatchError):
    """Zoho refused a mass update because one already runs for the same custom view (ALREADY_SCHEDULED).

    `running_job_id` is the running job's id when Zoho names it (its v8 specification gives no details).
    """

    code = "ALREADY_SCHEDULED"
    api_status = HTTPStatus.CONFLICT

    def __init__(
        self, message: str, *, running_job_id: str | None = None, zoho_http_status: int | None = None
    ) -> None:
        super().__init__(message, zoho_http_status=zoho_http_status, zoho_code="ALREADY_SCHEDULED")
        self.running_job_id = running_job_id


class IdempotencyKeyReused(ZohoWatchError):
    """An Idempotency-Key already used for a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"
    api_status = HTTPStatus.UNPROCESSABLE_ENTITY


class RequestInProgress(ZohoWatchError):
    """A request with the same Idempotency-Key is still being served: its caller may ask again shortly, and
    then gets that request's answer. Not a passing fault of Zoho or AWS, so not `retryable` (that flag
    drives the state machine's and the queue's own retries)."""

    code = "REQUEST_IN_PROGRESS"
    api_status = HTTPStatus.CONFLICT


PERMANENT_ERRORS: tuple[type[ZohoWatchError], ...] = (
    JobNotFound,
    ZohoAuthError,
    ZohoRequestError,
    AwsRequestError,
)
"""Errors recorded on the job as `last_error` before they are raised."""


class JobNotRecorded(ZohoWatchError):
    """zoho-watch has no record of the job (it was never checked nor watched)."""

    code = "JOB_NOT_RECORDED"
    api_status = HTTPStatus.NOT_FOUND

    def __init__(self, job: JobKey) -> None:
        from zoho_watch.jobs import DEFAULT_KIND  # jobs.py raises this module's errors

        what = job.module if job.kind == DEFAULT_KIND else f"{job.kind} {job.module}"
        super().__init__(
            f"zoho-watch has no record of {what} job {job.job_id} (connection {job.connection});"
            " ask with ?live=true or PUT .../watch"
        )


class WatchConflict(ZohoWatchError):
    """The job is watched in the other mode; its watch must be stopped first.

    `code` is `WATCHED_BY_SCHEDULE` or `WATCHED_BY_STATE_MACHINE`.
    """

    code = "WATCH_CONFLICT"
    api_status = HTTPStatus.CONFLICT

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class TooManyWatches(ZohoWatchError):
    """Every execution name this job may use is taken by an ended execution."""

    code = "TOO_MANY_WATCHES"
    api_status = HTTPStatus.CONFLICT
