"""Zoho client: the mass update status call and the OAuth refresh, parsed strictly into typed results.

Every documented Zoho error and every transport fault becomes one of the typed errors of `errors.py`, with the
HTTP status and the Zoho code kept. The access token travels only in the Authorization header and the refresh
token only in the form body; neither is logged nor put into an error message.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from aws_lambda_powertools import Logger

from zoho_watch.errors import (
    JobNotFound,
    ZohoAuthError,
    ZohoRateLimited,
    ZohoRequestError,
    ZohoUnavailable,
    ZohoWatchError,
)
from zoho_watch.jobs import Snapshot, is_status_word, validate_job_id, validate_module

logger = Logger(child=True)

# Zoho data centres: accounts server and API domain of each.
DATA_CENTRES: dict[str, tuple[str, str]] = {
    "us": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
}

STATUS_FIELDS = ("Status", "Failed_Count", "Updated_Count", "Not_Updated_Count", "Total_Count")
INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - a Zoho error code

# Zoho error codes of the status call, and the typed error each one becomes.
_ZOHO_CODES: dict[str, type[ZohoWatchError]] = {
    "NOT_FOUND": JobNotFound,
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
# Zoho Accounts answers errors with HTTP 200 and an `error` field.
_OAUTH_AUTH_ERRORS = frozenset(
    {"invalid_client", "invalid_code", "invalid_client_secret", "unauthorized_client"}
)
_MAX_RETRY_AFTER = 3600.0


def data_centre_urls(dc: str) -> tuple[str, str]:
    """(accounts_url, api_domain) of a data centre code such as "us" or "eu"."""
    try:
        return DATA_CENTRES[dc.lower()]
    except (KeyError, AttributeError):
        raise ZohoRequestError(f"unknown Zoho data centre {str(dc)[:20]!r}") from None


@dataclass(frozen=True)
class TokenGrant:
    """A new access token from Zoho Accounts, with the refresh token of a grant code (neither is logged)."""

    access_token: str
    api_domain: str | None
    expires_in: float
    refresh_token: str | None = None

    def __repr__(self) -> str:
        refresh = "<hidden>" if self.refresh_token else None
        return (
            f"TokenGrant(access_token=<hidden>, api_domain={self.api_domain!r}, "
            f"expires_in={self.expires_in}, refresh_token={refresh})"
        )


def _retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date), within [0, 1 hour]; None if absent."""
    raw = headers.get("Retry-After") if headers is not None else None
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if math.isnan(seconds):
        return None
    return min(_MAX_RETRY_AFTER, max(0.0, seconds))


def _json_body(response: requests.Response) -> Any:
    """The reply's JSON, or a marker string for an empty or non-JSON body."""
    if not response.content:
        return "<empty>"
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return "<not json>"


def _http_status_error(status: int, what: str, retry_after: float | None) -> ZohoWatchError:
    """Typed error for a reply that carries no Zoho error code, by HTTP status alone."""
    if status == 429:
        return ZohoRateLimited(
            f"Zoho throttled the request (HTTP 429, {what})", retry_after=retry_after, zoho_http_status=429
        )
    return ZohoUnavailable(f"Zoho answered HTTP {status} with {what}", zoho_http_status=status)


def error_from_reply(status: int, body: Any, headers: Any = None) -> ZohoWatchError:
    """Map a non-success reply of the status call to its typed error, keeping HTTP status and Zoho code."""
    retry_after = _retry_after(headers)
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        code = body["code"][:64]
        message = body.get("message") if isinstance(body.get("message"), str) else ""
        details = body["details"] if isinstance(body.get("details"), dict) else {}
        text = f"Zoho {code} (HTTP {status}){': ' + message if message else ''}"
        if code == "INVALID_DATA" and details.get("param_name") == "job_id":
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


def parse_status_reply(status: int, body: Any, headers: Any = None) -> Snapshot:
    """Parse a status reply: a Snapshot for the documented 200 shape, else raise its typed error."""
    if status != 200:
        raise error_from_reply(status, body, headers)
    if not isinstance(body, dict) or set(body) != {"data"}:
        raise ZohoUnavailable('Zoho\'s status reply is not {"data": [...]}', zoho_http_status=status)
    data = body["data"]
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
        raise ZohoUnavailable(
            "Zoho's status reply must hold exactly one job in data", zoho_http_status=status
        )
    row = data[0]
    if set(row) != set(STATUS_FIELDS):
        missing = sorted(set(STATUS_FIELDS) - set(row))
        unknown = sorted(str(name)[:40] for name in set(row) - set(STATUS_FIELDS))
        raise ZohoUnavailable(
            f"Zoho's status reply has missing fields {missing} or unknown fields {unknown}",
            zoho_http_status=status,
        )
    if not is_status_word(row["Status"]):
        raise ZohoUnavailable("Zoho's status reply has no valid Status", zoho_http_status=status)
    counts = []
    for name in STATUS_FIELDS[1:]:
        value = row[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ZohoUnavailable(f"Zoho's status reply has an invalid {name}", zoho_http_status=status)
        counts.append(value)
    failed, updated, not_updated, total = counts
    return Snapshot(
        status=row["Status"], total=total, updated=updated, failed=failed, not_updated=not_updated
    )


def parse_token_reply(status: int, body: Any, request: str = "the refresh") -> TokenGrant:
    """Parse a reply of Zoho Accounts' token endpoint: a TokenGrant, else raise its typed error.

    A reply without `access_token` is a failure whatever its HTTP status (Zoho answers errors with 200).
    `expires_in_sec`, when present, is the lifetime in seconds (older replies give `expires_in` in ms).
    A grant code's reply also carries `refresh_token`, kept in the grant. `request` names what was asked
    ("the refresh", "the grant code") in the errors' messages.
    """
    if isinstance(body, dict) and isinstance(body.get("access_token"), str) and body["access_token"]:
        lifetime = body.get("expires_in_sec", body.get("expires_in", 3600))
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise ZohoUnavailable(
                "Zoho Accounts gave a token without a valid lifetime", zoho_http_status=status
            )
        domain = body.get("api_domain")
        if domain is not None and (
            not isinstance(domain, str) or not domain.startswith(("https://", "http://"))
        ):
            raise ZohoUnavailable("Zoho Accounts gave an invalid api_domain", zoho_http_status=status)
        refresh_token = body.get("refresh_token")
        if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
            raise ZohoUnavailable("Zoho Accounts gave an invalid refresh_token", zoho_http_status=status)
        return TokenGrant(
            body["access_token"], domain.rstrip("/") if domain else None, float(lifetime), refresh_token
        )
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error = body["error"][:64]
        if error in _OAUTH_AUTH_ERRORS:
            raise ZohoAuthError(
                f"Zoho Accounts refused {request}: {error}", zoho_http_status=status, zoho_code=error
            )
        if error == "Access Denied" or status == 429:
            raise ZohoRateLimited(
                "Zoho Accounts throttled token refreshes (too many requests)",
                zoho_http_status=status,
                zoho_code=error,
            )
        if status >= 500:
            raise ZohoUnavailable(f"Zoho Accounts failed: {error}", zoho_http_status=status, zoho_code=error)
        raise ZohoAuthError(
            f"Zoho Accounts refused {request}: {error}", zoho_http_status=status, zoho_code=error
        )
    if status == 429:
        raise ZohoRateLimited("Zoho Accounts throttled token refreshes (HTTP 429)", zoho_http_status=status)
    raise ZohoUnavailable(
        f"Zoho Accounts answered HTTP {status} without an access token", zoho_http_status=status
    )


# Connections the Zoho session keeps per host when nothing says more (requests' own default).
DEFAULT_POOL_SIZE = 10


class ZohoClient:
    """Calls Zoho over one `requests.Session` (connection reuse), with connect and read time-outs.

    `pool_size` connections per host are kept: at least as many as calls made at once (the sweep's Zoho
    concurrency), or urllib3 discards the extras and each later call pays a new TLS handshake.
    """

    def __init__(
        self,
        api_version: str = "v8",
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        session: requests.Session | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.api_version = api_version
        self.timeout = (connect_timeout, read_timeout)
        if session is None:
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise ZohoUnavailable(f"{what}: Zoho did not answer in time") from None
        except requests.RequestException as exc:
            # The exception text may hold the URL; the type name is enough and safe.
            raise ZohoUnavailable(f"{what}: connection to Zoho failed ({type(exc).__name__})") from None

    def get_mass_update_status(
        self, access_token: str, api_domain: str, module: str, job_id: str
    ) -> Snapshot:
        """GET {api_domain}/crm/{version}/{module}/actions/mass_update?job_id=: Snapshot or typed error."""
        module = validate_module(module)
        job_id = validate_job_id(job_id)
        url = f"{api_domain.rstrip('/')}/crm/{self.api_version}/{module}/actions/mass_update"
        started = time.monotonic()
        response = self._send(
            "GET",
            url,
            "mass update status",
            params={"job_id": job_id},
            headers={"Authorization": f"Zoho-oauthtoken {access_token}", "Accept": "application/json"},
        )
        body = _json_body(response)
        logger.debug(
            "zoho status reply",
            extra={
                "module": module,
                "job_id": job_id,
                "zoho_http_status": response.status_code,
                "ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return parse_status_reply(response.status_code, body, response.headers)

    def refresh_access_token(
        self, accounts_url: str, client_id: str, client_secret: str, refresh_token: str
    ) -> TokenGrant:
        """POST {accounts_url}/oauth/v2/token (grant_type=refresh_token): a TokenGrant or a typed error."""
        return self._request_token(
            accounts_url,
            "token refresh",
            "the refresh",
            {
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
            },
        )

    def exchange_grant_code(
        self, accounts_url: str, client_id: str, client_secret: str, code: str
    ) -> TokenGrant:
        """POST {accounts_url}/oauth/v2/token (grant_type=authorization_code): a TokenGrant with its
        `refresh_token`, or a typed error (`zoho_code` "invalid_code" for a wrong, used or expired code)."""
        return self._request_token(
            accounts_url,
            "grant code exchange",
            "the grant code",
            {
                "grant_type": "authorization_code",
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
            },
        )

    def _request_token(self, accounts_url: str, what: str, request: str, form: dict[str, str]) -> TokenGrant:
        """POST a form to Zoho Accounts' token endpoint and parse the reply (the form holds secrets: never
        logged). A grant code's reply must also hold a refresh token."""
        response = self._send(
            "POST",
            f"{accounts_url.rstrip('/')}/oauth/v2/token",
            what,
            data=form,
            headers={"Accept": "application/json"},
        )
        grant = parse_token_reply(response.status_code, _json_body(response), request)
        if form["grant_type"] == "authorization_code" and grant.refresh_token is None:
            raise ZohoUnavailable(
                "Zoho Accounts gave no refresh token for the grant code",
                zoho_http_status=response.status_code,
            )
        return grant
