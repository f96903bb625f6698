"""Small HTTP helpers for the emulator tests: plain ``requests`` calls, as a Zoho client makes them."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import requests

from fake_zoho import FakeZoho

TIMEOUT = 10


def token_call(zoho: FakeZoho, **fields: str) -> requests.Response:
    """POST /oauth/v2/token with form fields."""
    return requests.post(f"{zoho.url}/oauth/v2/token", data=fields, timeout=TIMEOUT)


def refresh(zoho: FakeZoho, creds: dict[str, str]) -> requests.Response:
    """A refresh_token grant with the given credentials."""
    return token_call(
        zoho,
        grant_type="refresh_token",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token=creds["refresh_token"],
    )


def access_token(zoho: FakeZoho, scopes: Any = None) -> str:
    """A fresh access token for a new client with ``scopes`` (default scopes when None)."""
    reply = refresh(zoho, zoho.credentials(scopes)).json()
    return reply["access_token"]


def status_call(
    zoho: FakeZoho,
    token: str | None,
    job_id: str | None,
    module: str = "Leads",
    version: str = "v8",
    method: str = "GET",
    timeout: float = TIMEOUT,
) -> requests.Response:
    """GET (or another method on) /crm/{version}/{module}/actions/mass_update?job_id=..."""
    headers = {} if token is None else {"Authorization": f"Zoho-oauthtoken {token}"}
    params = {} if job_id is None else {"job_id": job_id}
    return requests.request(
        method,
        f"{zoho.url}/crm/{version}/{module}/actions/mass_update",
        params=params,
        headers=headers,
        timeout=timeout,
    )


def create_call(zoho: FakeZoho, token: str, body: Any, module: str = "Leads") -> requests.Response:
    """POST /crm/v8/{module}/actions/mass_update with a JSON body."""
    return requests.post(
        f"{zoho.url}/crm/v8/{module}/actions/mass_update",
        json=body,
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        timeout=TIMEOUT,
    )


def admin(zoho: FakeZoho, method: str, path: str, body: Any = None) -> requests.Response:
    """Call an /__admin/ route with a JSON body."""
    return requests.request(method, f"{zoho.url}/__admin/{path}", json=body, timeout=TIMEOUT)


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a Zoho error reply: HTTP status and the four keys of the body, in Zoho's order."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["code", "details", "message", "status"]
    assert body["code"] == code
    assert body["status"] == "error"
    assert isinstance(body["details"], dict)
    assert isinstance(body["message"], str) and body["message"]
    return body


# Every kind's creation and status scopes (fake_zoho.scopes), for tests that are not about scopes.
EVERY_SCOPE = [
    "ZohoCRM.mass_update.ALL",
    "ZohoCRM.mass_convert.ALL",
    "ZohoCRM.mass_delete.ALL",
    "ZohoCRM.change_owner.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.bulk.ALL",
    "ZohoCRM.modules.ALL",
    "ZohoFiles.files.ALL",
    "ZohoCRM.settings.audit_logs.ALL",
    "ZohoCRM.users.ALL",
]
ZGID = "746539264"  # the emulated org's zgid (GET /crm/v8/org)


def crm_call(zoho: FakeZoho, token: str | None, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A call to ``path`` on the emulator (after its URL) with ``token``, as a Zoho client makes it."""
    headers = {} if token is None else {"Authorization": f"Zoho-oauthtoken {token}"}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, f"{zoho.url}{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def error_of(
    response: requests.Response, status: int, code: str, envelope: str | None = None
) -> dict[str, Any]:
    """Assert a Zoho error reply, wrapped in ``{envelope: [error]}`` when given; return the error."""
    assert response.status_code == status, response.text
    body = response.json()
    if envelope is not None:
        assert list(body) == [envelope] and len(body[envelope]) == 1, body
        body = body[envelope][0]
    assert list(body) == ["code", "details", "message", "status"], body
    assert (body["code"], body["status"]) == (code, "error"), body
    return dict(body)


def unzip(content: bytes) -> dict[str, str]:
    """The files of a zip archive, as text."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def zipped(name: str, text: str) -> bytes:
    """A zip archive holding one file (a bulk write upload)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def csv_rows(text: str) -> list[list[str]]:
    """The lines of a CSV file, header first."""
    return list(csv.reader(io.StringIO(text)))
