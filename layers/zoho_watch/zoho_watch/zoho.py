"""Zoho client: the mass update status call, the mass update itself and the OAuth refresh, parsed strictly
into typed results.

Every documented Zoho error and every transport fault becomes one of the typed errors of `errors.py`, with the
HTTP status and the Zoho code kept. The access token travels only in the Authorization header and the refresh
token only in the form body; neither is logged nor put into an error message.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests
from aws_lambda_powertools import Logger

from zoho_watch.errors import ZohoAuthError, ZohoRateLimited, ZohoRequestError, ZohoUnavailable
from zoho_watch.job_kinds import JobKind, KindReply
from zoho_watch.jobs import Snapshot, is_status_word, validate_job_id, validate_module
from zoho_watch.mass_updates import MassUpdate, MassUpdateReply, parse_mass_update_reply
from zoho_watch.zoho_errors import error_from_reply

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
# Zoho Accounts answers errors with HTTP 200 and an `error` field.
_OAUTH_AUTH_ERRORS = frozenset(
    {"invalid_client", "invalid_code", "invalid_client_secret", "unauthorized_client"}
)


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


def _json_body(response: requests.Response) -> Any:
    """The reply's JSON, or a marker string for an empty or non-JSON body."""
    if not response.content:
        return "<empty>"
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return "<not json>"


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
                "crm_module": module,
                "job_id": job_id,
                "zoho_http_status": response.status_code,
                "ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return parse_status_reply(response.status_code, body, response.headers)

    def get_job_status(
        self, access_token: str, api_domain: str, kind: JobKind, module: str, job_id: str
    ) -> KindReply:
        """The status call of a job of any kind (`zoho_watch.job_kinds`): its KindReply or a typed error."""
        request = kind.request(self.api_version, validate_module(module), validate_job_id(job_id))
        response = self._send(
            "GET",
            f"{api_domain.rstrip('/')}{request.path}",
            f"{kind.name} status",
            params=dict(request.params),
            headers={"Authorization": f"Zoho-oauthtoken {access_token}", "Accept": "application/json"},
        )
        return kind.parse(response.status_code, _json_body(response), response.headers)

    def submit_mass_update(self, access_token: str, api_domain: str, update: MassUpdate) -> MassUpdateReply:
        """POST {api_domain}/crm/{version}/{module}/actions/mass_update: the job Zoho scheduled, or each
        record's result for an update by ids; else a typed error (`JobAlreadyScheduled`...)."""
        url = f"{api_domain.rstrip('/')}/crm/{self.api_version}/{update.module}/actions/mass_update"
        response = self._send(
            "POST",
            url,
            "mass update",
            json=update.zoho_body(),
            headers={"Authorization": f"Zoho-oauthtoken {access_token}", "Accept": "application/json"},
        )
        logger.debug(
            "zoho mass update reply",
            extra={"crm_module": update.module, "zoho_http_status": response.status_code},
        )
        return parse_mass_update_reply(update, response.status_code, _json_body(response), response.headers)

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
