"""`zoho-watch connect`: exchange a Zoho self-client grant code for the credentials secret.

Zoho Accounts answers `POST {accounts_url}/oauth/v2/token` with `grant_type=authorization_code` by a
refresh token (a grant code works once, for a few minutes). Errors come back with HTTP 200 and an `error`
field: a reply without `refresh_token` is a failure whatever its status. The secret gets `client_id`,
`client_secret`, `refresh_token`, the data centre (`dc`, or `accounts_url` when given) and the reply's
`api_domain`. No secret value is ever printed or put in an error message.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import requests

# The same table as the library's (zoho_watch.zoho.DATA_CENTRES): the CLI must not need the layer installed.
try:
    from zoho_watch.zoho import data_centre_urls
except ImportError:  # pragma: no cover - the CLI puts the layer on sys.path
    data_centre_urls = None  # type: ignore[assignment]


class ConnectError(Exception):
    """The grant code could not be exchanged (the message never contains a secret)."""


def exchange_grant_code(
    client_id: str, client_secret: str, code: str, dc: str = "us", accounts_url: str | None = None
) -> dict[str, Any]:
    """The credentials document for a grant code (see module docstring); raises ConnectError."""
    if not client_id or not client_secret or not code:
        raise ConnectError("client id, client secret and grant code are all required")
    if accounts_url is None:
        if data_centre_urls is None:
            raise ConnectError("the zoho_watch library is not importable: give --accounts-url")
        try:
            accounts_url = data_centre_urls(dc)[0]
        except Exception:
            raise ConnectError(f"unknown Zoho data centre {dc[:10]!r}") from None
    try:
        reply = requests.post(
            f"{accounts_url.rstrip('/')}/oauth/v2/token",
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
            },
            headers={"Accept": "application/json"},
            timeout=(3.05, 15),
        )
    except requests.RequestException as error:
        raise ConnectError(f"cannot reach Zoho Accounts at {accounts_url}: {type(error).__name__}") from None
    try:
        body = reply.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict) or not body.get("refresh_token"):
        problem = body.get("error") if isinstance(body, dict) else None
        hint = {
            "invalid_code": "the grant code is wrong, expired or already used: generate a new one",
            "invalid_client": "wrong client id or secret, or another data centre (--dc)",
        }.get(str(problem), "")
        raise ConnectError(
            f"Zoho Accounts refused the grant code (HTTP {reply.status_code}, {problem}) {hint}"
        )
    document: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": body["refresh_token"],
    }
    if accounts_url and (data_centre_urls is None or accounts_url != data_centre_urls(dc)[0]):
        document["accounts_url"] = accounts_url.rstrip("/")
    else:
        document["dc"] = dc
    if body.get("api_domain"):
        document["api_domain"] = body["api_domain"]
    return document


def store_credentials(secrets: Any, name: str, document: dict[str, Any]) -> None:
    """Write the credentials document to the secret `name` (created when missing).

    The connection's access-token secret (`.../access-token` beside it) is created empty when missing:
    the deployed functions may only write that secret, not create it (least privilege), so a connection
    other than the stack's `default` needs it made here, by a person with the rights to do so.
    """
    text = json.dumps(document)
    try:
        secrets.put_secret_value(SecretId=name, SecretString=text)
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(Name=name, SecretString=text)
    if name.endswith("/credentials"):
        token_name = name.removesuffix("/credentials") + "/access-token"
        # The token secret is zoho-watch's own: never overwrite a token in use.
        with contextlib.suppress(secrets.exceptions.ResourceExistsException):
            secrets.create_secret(Name=token_name, SecretString="{}")
