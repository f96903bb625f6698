"""A small client of the zoho-watch REST API, local or deployed, for the CLI and the demo.

Against a deployed stack the API uses IAM auth: requests are signed with SigV4 (botocore, service
`execute-api`) with the caller's usual AWS credentials. The local gateway does not check signatures,
so local requests go unsigned. Errors come back as `ApiError` with the API's stable `code`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests
from zoho_watch.jobs import DEFAULT_KIND


class ApiError(Exception):
    """The API refused a request: HTTP status, the API's error `code` and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class ZohoWatchApi:
    """Calls one zoho-watch API: `base_url` includes the stage (`.../v1`)."""

    base_url: str
    sign: bool = False
    region: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._session = requests.Session()

    def _signed_headers(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> dict[str, str]:
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        session = boto3.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise ApiError(0, "NO_CREDENTIALS", "no AWS credentials found to sign the request (IAM auth)")
        region = self.region or session.region_name or region_of_url(url)
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request (with extra `headers`); return the JSON answer (or raise ApiError)."""
        query = {key: value for key, value in (query or {}).items() if value is not None}
        url = f"{self.base_url}{path}" + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", **(headers or {})}
        if self.sign:
            headers = self._signed_headers(method, url, data, headers)
        try:
            reply = self._session.request(method, url, data=data, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise ApiError(
                0, "UNREACHABLE", f"cannot reach {self.base_url}: {type(error).__name__}"
            ) from None
        try:
            document = reply.json()
        except ValueError:
            document = None
        if reply.status_code >= 400:
            document = document if isinstance(document, dict) else {}
            code = str(document.get("code") or f"HTTP_{reply.status_code}")
            message = str(document.get("message") or reply.text[:200])
            raise ApiError(reply.status_code, code, message)
        return document

    @staticmethod
    def _job_path(module: str, job_id: str, kind: str) -> str:
        """A job's path: `/jobs/{module}/{job_id}` for a mass update (any zoho-watch stack serves it),
        `/jobs/{kind}/{module}/{job_id}` for another kind."""
        path = f"{quote(module, safe='')}/{quote(job_id, safe='')}"
        return f"/jobs/{path}" if kind == DEFAULT_KIND else f"/jobs/{quote(kind, safe='')}/{path}"

    def start_watch(
        self, module: str, job_id: str, kind: str = DEFAULT_KIND, **settings: Any
    ) -> dict[str, Any]:
        """PUT .../watch of the job with mode, poll, deadline, connection (None values left out)."""
        body = {key: value for key, value in settings.items() if value is not None}
        return self.request("PUT", f"{self._job_path(module, job_id, kind)}/watch", body=body)

    def submit_mass_update(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """POST /mass-updates with an Idempotency-Key."""
        return dict(
            self.request("POST", "/mass-updates", body=body, headers={"Idempotency-Key": idempotency_key})
        )

    def stop_watch(self, module: str, job_id: str, kind: str = DEFAULT_KIND) -> dict[str, Any]:
        """DELETE .../watch of the job."""
        return self.request("DELETE", f"{self._job_path(module, job_id, kind)}/watch")

    def job(
        self,
        module: str,
        job_id: str,
        live: bool = False,
        kind: str = DEFAULT_KIND,
        connection: str | None = None,
    ) -> dict[str, Any]:
        """GET the job (stored state, or a check of Zoho now with live)."""
        query = {"live": "true" if live else None, "connection": connection}
        return self.request("GET", self._job_path(module, job_id, kind), query=query)

    def history(self, module: str, job_id: str, limit: int = 50, kind: str = DEFAULT_KIND) -> dict[str, Any]:
        """GET .../history of the job."""
        return self.request("GET", f"{self._job_path(module, job_id, kind)}/history", query={"limit": limit})

    def jobs(
        self,
        status: str | None = None,
        connection: str | None = None,
        limit: int = 50,
        kind: str | None = None,
    ) -> list[dict]:
        """GET /jobs, following next_cursor until `limit` jobs are collected."""
        items: list[dict[str, Any]] = []
        cursor = None
        while len(items) < limit:
            page = self.request(
                "GET",
                "/jobs",
                query={
                    "status": status,
                    "connection": connection,
                    "kind": kind,
                    "limit": min(limit - len(items), 100),
                }
                | ({"cursor": cursor} if cursor else {}),
            )
            items.extend(page.get("items") or [])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items[:limit]


def region_of_url(url: str) -> str:
    """The region in an execute-api URL (`https://id.execute-api.eu-west-1.amazonaws.com/v1`)."""
    host = url.split("//", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    if len(parts) > 2 and parts[1] == "execute-api":
        return parts[2]
    return "us-east-1"
