"""Zoho's error replies as typed errors: its documented codes, a `Retry-After` header, and replies that carry
no Zoho code at all (judged by their HTTP status). Shared by every Zoho call the library makes.
"""

from __future__ import annotations

import math
import time
from typing import Any

from zoho_watch.errors import (
    JobNotFound,
    ZohoAuthError,
    ZohoRateLimited,
    ZohoRequestError,
    ZohoUnavailable,
    ZohoWatchError,
)

INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - a Zoho error code

# Zoho error codes, and the typed error each one becomes.
_ZOHO_CODES: dict[str, type[ZohoWatchError]] = {
    "NOT_FOUND": JobNotFound,
    "RESOURCE_NOT_FOUND": JobNotFound,  # bulk read and write: no such job
    "NO_CONTENT": JobNotFound,  # audit log export (docs, v7): no such export
    "INVALID_DATA": ZohoRequestError,  # on `job_id` it means "no such job" (handled below)
    "MANDATORY_NOT_FOUND": ZohoRequestError,
    "INVALID_URL_PATTERN": ZohoRequestError,
    "INVALID_MODULE": ZohoRequestError,
    "INVALID_REQUEST_METHOD": ZohoRequestError,
    "UNABLE_TO_PARSE_DATA_TYPE": ZohoRequestError,
    "OAUTH_SCOPE_MISMATCH": ZohoAuthError,
    INVALID_TOKEN: ZohoAuthError,
    "NO_PERMISSION": ZohoAuthError,
    "AUTHORIZATION_FAILED": ZohoAuthError,
    "AUTHENTICATION_FAILURE": ZohoAuthError,
    "INTERNAL_ERROR": ZohoUnavailable,
    "TOO_MANY_REQUESTS": ZohoRateLimited,
}
_MAX_RETRY_AFTER = 3600.0


def _retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date), within [0, 1 hour]; None if absent."""
    raw = headers.get("Retry-After") if headers is not None else None
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        from email.utils import parsedate_to_datetime  # HTTP dates are rare: not on every cold start

        try:
            seconds = parsedate_to_datetime(raw).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if math.isnan(seconds):
        return None
    return min(_MAX_RETRY_AFTER, max(0.0, seconds))


def _http_status_error(status: int, what: str, retry_after: float | None) -> ZohoWatchError:
    """Typed error for a reply that carries no Zoho error code, by HTTP status alone."""
    if status == 429:
        return ZohoRateLimited(
            f"Zoho throttled the request (HTTP 429, {what})", retry_after=retry_after, zoho_http_status=429
        )
    return ZohoUnavailable(f"Zoho answered HTTP {status} with {what}", zoho_http_status=status)


def _error_of(body: Any) -> Any:
    """The Zoho error a reply holds: the body itself, or the one error item of its envelope (a tag deletion's
    status answers `{"mass_delete": [{"code": "INVALID_DATA", ...}]}`)."""
    if isinstance(body, dict) and len(body) == 1:
        (items,) = body.values()
        if isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict):
            item = items[0]
            if item.get("status") == "error" and isinstance(item.get("code"), str):
                return item
    return body


def error_from_reply(status: int, body: Any, headers: Any = None) -> ZohoWatchError:
    """Map a non-success reply of a Zoho CRM call to its typed error, keeping HTTP status and Zoho code."""
    retry_after = _retry_after(headers)
    body = _error_of(body)
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        code = body["code"][:64]
        message = body.get("message") if isinstance(body.get("message"), str) else ""
        details = body["details"] if isinstance(body.get("details"), dict) else {}
        text = f"Zoho {code} (HTTP {status}){': ' + message if message else ''}"
        # INVALID_DATA on the job id (named as `param_name`, or given back as `job_id`): no such job.
        if code == "INVALID_DATA" and (details.get("param_name") == "job_id" or "job_id" in details):
            return JobNotFound(text, zoho_http_status=status, zoho_code=code)
        kind = _ZOHO_CODES.get(code)
        if kind is None:
            # An undocumented code: decide by HTTP status.
            if status == 429:
                kind = ZohoRateLimited
            elif status >= 500:
                kind = ZohoUnavailable
            elif status in (401, 403):
                kind = ZohoAuthError
            else:
                kind = ZohoRequestError
        if kind is ZohoRateLimited:
            return ZohoRateLimited(text, retry_after=retry_after, zoho_http_status=status, zoho_code=code)
        return kind(text, zoho_http_status=status, zoho_code=code)
    if status in (204, 404) and body == "<empty>":
        # Zoho documents NOT_FOUND as an "empty response".
        return JobNotFound(f"Zoho has no such job (HTTP {status}, empty reply)", zoho_http_status=status)
    what = "an empty body" if body == "<empty>" else "a body that is not a Zoho error"
    return _http_status_error(status, what, retry_after)
