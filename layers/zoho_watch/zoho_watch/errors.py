"""Typed errors of zoho-watch.

The class names are the error names Step Functions sees (`ZohoUnavailable`, `ZohoRateLimited`, ...), so the
state machine's Retry and Catch clauses match on them. Each error also has a stable `code` for the API and a
`retryable` flag. Messages are built by zoho-watch and never contain a token, a client secret or a
refresh token.
"""

from __future__ import annotations

import re
from typing import Any

# Zoho OAuth tokens look like `1000.<hex>.<hex>`; anything of that shape is masked in messages we pass on.
_TOKEN_SHAPE = re.compile(r"\b\d{4}\.[0-9a-fA-F]{8,}\.[0-9a-fA-F]{8,}\b")
_MAX_MESSAGE = 1000


def redact(text: str) -> str:
    """Mask anything shaped like a Zoho token and cut the text to a safe length."""
    cleaned = _TOKEN_SHAPE.sub("[redacted]", text)
    return cleaned if len(cleaned) <= _MAX_MESSAGE else cleaned[: _MAX_MESSAGE - 3] + "..."


class ZohoWatchError(Exception):
    """Base of every zoho-watch error: a stable `code`, `retryable`, and Zoho's HTTP status and code."""

    code = "ZOHO_WATCH_ERROR"
    retryable = False

    def __init__(self, message: str, *, http_status: int | None = None, zoho_code: str | None = None) -> None:
        self.message = redact(message)
        self.http_status = http_status
        self.zoho_code = zoho_code
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the error (the shape kept in `last_error` and returned by the API)."""
        return {
            "error": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "http_status": self.http_status,
            "zoho_code": self.zoho_code,
        }


class InvalidInput(ZohoWatchError):
    """A module, job id, connection name or poll setting that zoho-watch refuses before any I/O."""

    code = "INVALID_INPUT"


class ConfigError(ZohoWatchError):
    """The function's environment variables are missing or invalid."""

    code = "CONFIG_ERROR"


class ZohoUnavailable(ZohoWatchError):
    """Zoho could not answer: 5xx, time-out, connection error, or a reply that is not the documented shape."""

    code = "ZOHO_UNAVAILABLE"
    retryable = True


class ZohoRateLimited(ZohoWatchError):
    """Zoho throttled us (HTTP 429, or the token endpoint's "too many requests"); `retry_after` seconds."""

    code = "ZOHO_RATE_LIMITED"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        http_status: int | None = None,
        zoho_code: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, zoho_code=zoho_code)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, with `retry_after`."""
        return {**super().to_dict(), "retry_after": self.retry_after}


class JobNotFound(ZohoWatchError):
    """Zoho does not know this job id (NOT_FOUND, or INVALID_DATA on `job_id`)."""

    code = "JOB_NOT_FOUND"


class ConnectionNotConfigured(ZohoWatchError):
    """The named connection has no credentials secret (or no access-token secret that zoho-watch may use).

    The caller's error (API: 400), found before any call to Zoho; permanent for the state machine, and never
    recorded on a job zoho-watch did not know. The fix is `zoho-watch connect` for that connection.
    """

    code = "CONNECTION_NOT_CONFIGURED"


class ZohoAuthError(ZohoWatchError):
    """Credentials, scope or permission problem that needs a human (or an access token Zoho refused)."""

    code = "ZOHO_AUTH_ERROR"


class ZohoRequestError(ZohoWatchError):
    """Zoho refused the request itself: module, URL, parameter or method."""

    code = "ZOHO_REQUEST_ERROR"


class EventPublishError(ZohoWatchError):
    """EventBridge did not accept an event; the check is safe to repeat (the event is still pending)."""

    code = "EVENT_PUBLISH_FAILED"
    retryable = True


PERMANENT_ERRORS: tuple[type[ZohoWatchError], ...] = (JobNotFound, ZohoAuthError, ZohoRequestError)
"""Errors recorded on the job as `last_error` before they are raised."""


class JobNotRecorded(ZohoWatchError):
    """zoho-watch has no record of the job (it was never checked nor watched)."""

    code = "JOB_NOT_RECORDED"

    def __init__(self, connection: str, module: str, job_id: str) -> None:
        super().__init__(
            f"zoho-watch has no record of {module} job {job_id} (connection {connection});"
            " ask with ?live=true or PUT .../watch"
        )


class WatchConflict(ZohoWatchError):
    """The job is watched in the other mode; its watch must be stopped first.

    `code` is `WATCHED_BY_SCHEDULE` or `WATCHED_BY_STATE_MACHINE`.
    """

    code = "WATCH_CONFLICT"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class TooManyWatches(ZohoWatchError):
    """Every execution name this job may use is taken by an ended execution."""

    code = "TOO_MANY_WATCHES"
