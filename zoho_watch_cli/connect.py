"""`zoho-watch connect`: exchange a Zoho self-client grant code for the credentials secret.

The exchange itself is the library's (`ZohoClient.exchange_grant_code`: the same transport, time-outs and
token-reply parsing as the refresh); this module turns its typed errors into the CLI's messages, with a hint
for the usual mistakes. The secret gets `client_id`, `client_secret`, `refresh_token`, the data centre
(`dc`, or `accounts_url` when given) and the reply's `api_domain`. No secret value is ever printed or put
in an error message. The zoho_watch library is installed with the CLI (see pyproject.toml).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from zoho_watch.errors import ZohoWatchError
from zoho_watch.zoho import ZohoClient, data_centre_urls

# A person waits on this one call: a little more read time than the functions give Zoho Accounts.
EXCHANGE_READ_TIMEOUT = 15.0
# What to do about the refusals a person can fix, by Zoho Accounts' error code.
_HINTS = {
    "invalid_code": "the grant code is wrong, expired or already used: generate a new one",
    "invalid_client": "wrong client id or secret, or another data centre (--dc)",
}


class ConnectError(Exception):
    """The grant code could not be exchanged (the message never contains a secret)."""


def exchange_grant_code(
    client_id: str, client_secret: str, code: str, dc: str = "us", accounts_url: str | None = None
) -> dict[str, Any]:
    """The credentials document for a grant code (see module docstring); raises ConnectError."""
    if not client_id or not client_secret or not code:
        raise ConnectError("client id, client secret and grant code are all required")
    dc_accounts_url: str | None = None
    try:
        dc_accounts_url = data_centre_urls(dc)[0]
    except ZohoWatchError:
        if accounts_url is None:
            raise ConnectError(f"unknown Zoho data centre {dc[:10]!r}") from None
    accounts_url = accounts_url or dc_accounts_url
    assert accounts_url is not None
    client = ZohoClient(read_timeout=EXCHANGE_READ_TIMEOUT)
    try:
        grant = client.exchange_grant_code(accounts_url, client_id, client_secret, code)
    except ZohoWatchError as error:
        if error.zoho_http_status is None:  # no reply at all: a transport fault
            raise ConnectError(f"cannot reach Zoho Accounts at {accounts_url}: {error}") from None
        # The library's message says what was wrong with a reply that has no Zoho code.
        hint = _HINTS.get(str(error.zoho_code), "" if error.zoho_code else error.message)
        raise ConnectError(
            f"Zoho Accounts refused the grant code (HTTP {error.zoho_http_status}, {error.zoho_code}) {hint}"
        ) from None
    finally:
        client.session.close()
    document: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": grant.refresh_token,
    }
    if accounts_url != dc_accounts_url:
        document["accounts_url"] = accounts_url.rstrip("/")
    else:
        document["dc"] = dc
    if grant.api_domain:
        document["api_domain"] = grant.api_domain
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
