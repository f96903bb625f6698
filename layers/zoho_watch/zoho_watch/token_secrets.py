"""The two secrets of a Zoho connection: its credentials (written by a person) and its access token.

`zoho-watch/{connection}/credentials` holds client_id, client_secret, refresh_token and the data centre
(`dc`) or `accounts_url`; `zoho-watch/{connection}/access-token` holds the current access token, its API
domain and expiry, written by zoho-watch. Neither value is ever logged or put into an error message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from zoho_watch.aws_errors import classify
from zoho_watch.config import Settings
from zoho_watch.connections import (
    SECRET_NOT_FOUND,
    access_token_secret_name,
    aws_error_code,
    credentials_secret_name,
    not_configured,
)
from zoho_watch.errors import AwsUnavailable, ZohoAuthError

# Powertools' Parameters, botocore and the Zoho client (with requests) are imported where they are used: a
# secret is read on a check's first call, when the Secrets Manager client has loaded them, and a handler that
# only imports this module (for `AccessToken`) keeps its cold start free of them.


@dataclass(frozen=True)
class AccessToken:
    """An access token, the API domain it belongs to, and when it expires (epoch seconds)."""

    access_token: str
    api_domain: str
    expires_at: float

    def usable(self, now: float, margin: float) -> bool:
        """True while the token has more than `margin` seconds to live."""
        return now < self.expires_at - margin

    def __repr__(self) -> str:
        return f"AccessToken(<hidden>, api_domain={self.api_domain!r}, expires_at={self.expires_at})"


@dataclass(frozen=True)
class Credentials:
    """The credentials secret of a connection (written by a person, read-only here)."""

    client_id: str
    client_secret: str
    refresh_token: str
    accounts_url: str
    api_domain: str | None

    def __repr__(self) -> str:
        return f"Credentials(<hidden>, accounts_url={self.accounts_url!r}, api_domain={self.api_domain!r})"


class ConnectionSecrets:
    """Reads and writes the secrets of one connection."""

    def __init__(self, connection: str, *, settings: Settings, secrets: Any, secrets_client: Any) -> None:
        """`secrets` is a Powertools SecretsProvider (reads); `secrets_client` a boto3 client (writes)."""
        self.connection = connection
        self._settings = settings
        self._secrets = secrets
        self._secrets_client = secrets_client
        self.credentials_secret = credentials_secret_name(settings.secret_prefix, connection)
        self.token_secret = access_token_secret_name(settings.secret_prefix, connection)
        # None until known; False when Secrets Manager said the access-token secret does not exist.
        self.token_secret_exists: bool | None = None

    def read_token(self) -> AccessToken | None:
        """The token in the access-token secret (fetched now), or None when it is missing or unusable."""
        from aws_lambda_powertools.utilities.parameters.exceptions import (
            GetParameterError,
            TransformParameterError,
        )

        try:
            value = self._secrets.get(self.token_secret, transform="json", force_fetch=True)
        except GetParameterError as error:
            if aws_error_code(error) == SECRET_NOT_FOUND:
                self.token_secret_exists = False
                return None  # missing: a refresh will write it
            # Secrets Manager failed: no refresh (Zoho's are scarce), the check is retried instead.
            raise classify(error) or AwsUnavailable("the access-token secret could not be read") from None
        except TransformParameterError:
            return None  # not JSON: a refresh will write it
        self.token_secret_exists = True
        if not isinstance(value, dict):
            return None
        token, domain, expires = value.get("access_token"), value.get("api_domain"), value.get("expires_at")
        if not isinstance(token, str) or not token or not isinstance(domain, str) or not domain:
            return None
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            return None
        return AccessToken(token, domain, float(expires))

    def write_token(self, token: AccessToken) -> None:
        """Store `token` in the access-token secret (created when missing)."""
        secret = json.dumps(
            {
                "access_token": token.access_token,
                "api_domain": token.api_domain,
                "expires_at": token.expires_at,
            }
        )
        try:
            self._secrets_client.put_secret_value(SecretId=self.token_secret, SecretString=secret)
        except self._secrets_client.exceptions.ResourceNotFoundException:
            self.create_token_secret(secret)

    def create_token_secret(self, secret: str = "{}") -> None:  # noqa: S107 - an empty JSON object
        """Create the missing access-token secret, before a refresh draws a token that could not be kept.

        `zoho-watch connect` creates both of a connection's secrets; the stack's roles may not CreateSecret
        (least privilege), so on AWS a missing access-token secret is ConnectionNotConfigured here, before
        any call to Zoho. Where creating is allowed (the embedded stack) the secret is created.
        """
        from botocore.exceptions import ClientError

        client = self._secrets_client
        try:
            client.create_secret(
                Name=self.token_secret,
                SecretString=secret,
                Description=f"Zoho access token of connection {self.connection} (written by zoho-watch).",
            )
        except client.exceptions.ResourceExistsException:
            pass  # another container created it first
        except ClientError as error:
            if aws_error_code(error) in ("AccessDeniedException", "AccessDenied"):
                raise not_configured(self.connection, self.token_secret) from None
            raise
        self.token_secret_exists = True

    def read_credentials(self) -> Credentials:
        """The connection's credentials (cached for CREDENTIALS_MAX_AGE_SECONDS); typed errors otherwise."""
        from aws_lambda_powertools.utilities.parameters.exceptions import (
            GetParameterError,
            TransformParameterError,
        )

        from zoho_watch.zoho import data_centre_urls

        try:
            value = self._secrets.get(
                self.credentials_secret, transform="json", max_age=self._settings.credentials_max_age_seconds
            )
        except GetParameterError as error:
            if aws_error_code(error) == SECRET_NOT_FOUND:
                raise not_configured(self.connection, self.credentials_secret) from None
            # Secrets Manager's failure, not the credentials': never a ZohoAuthError, which ends the watch.
            raise classify(error) or AwsUnavailable("the credentials secret could not be read") from None
        except TransformParameterError:
            raise ZohoAuthError(
                f"credentials secret {self.credentials_secret} is not a JSON object"
            ) from None
        if not isinstance(value, dict):
            raise ZohoAuthError(f"credentials secret {self.credentials_secret} is not a JSON object")
        missing = [
            name
            for name in ("client_id", "client_secret", "refresh_token")
            if not isinstance(value.get(name), str) or not value.get(name)
        ]
        if missing:
            raise ZohoAuthError(
                f"credentials secret {self.credentials_secret} lacks {', '.join(missing)} "
                "(run `zoho-watch connect` for this connection)"
            )
        settings = self._settings
        dc_accounts, dc_api = data_centre_urls(str(value.get("dc") or settings.zoho_dc))
        accounts_url = value.get("accounts_url") or settings.zoho_accounts_url or dc_accounts
        api_domain = value.get("api_domain") or None
        if value.get("dc") and not value.get("api_domain"):
            api_domain = dc_api
        return Credentials(
            client_id=value["client_id"],
            client_secret=value["client_secret"],
            refresh_token=value["refresh_token"],
            accounts_url=str(accounts_url).rstrip("/"),
            api_domain=str(api_domain).rstrip("/") if api_domain else None,
        )
