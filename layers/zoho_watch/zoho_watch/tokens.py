"""Zoho access tokens per connection: memory, then the access-token secret, then one refresh for everyone.

Zoho issues at most 10 access tokens per refresh token per 10 minutes, so a refresh is single-flight across
every container: a lease item in the jobs table (conditional put with an expiry) elects one refresher, and
the others re-read the access-token secret (`force_fetch`) until the new token appears. After a successful
refresh the lease is kept for `MIN_REFRESH_SPACING` seconds (phase "spacing"), so even a storm of
INVALID_TOKEN replies cannot draw more than one token a minute: whoever finds the new token rejected too
during that time gets `ZohoRateLimited` with the seconds left. Tokens and secrets are never logged and never
put into error messages.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from zoho_watch.config import Settings
from zoho_watch.connections import (
    SECRET_NOT_FOUND,
    access_token_secret_name,
    aws_error_code,
    credentials_secret_name,
    not_configured,
)
from zoho_watch.errors import ZohoAuthError, ZohoRateLimited, ZohoUnavailable
from zoho_watch.jobs import validate_connection
from zoho_watch.zoho import ZohoClient, data_centre_urls

logger = Logger(child=True)

# Seconds between two refreshes of one connection, at least (10 per 10 minutes is Zoho's limit).
MIN_REFRESH_SPACING = 65.0
# How often a waiting container re-reads the access-token secret.
WAIT_POLL_SECONDS = 0.05
# The lease item is removed by DynamoDB's TTL a day later (`expires_at` on the library clock, as the store's).
_LEASE_TTL = 86400


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


__all__ = [
    "AccessToken",
    "Credentials",
    "TokenProvider",
    "access_token_secret_name",
    "credentials_secret_name",
]


def lease_key(connection: str) -> dict[str, Any]:
    """Key of the token refresh lease item of a connection."""
    return {"pk": {"S": f"LEASE#token-refresh#{connection}"}, "sk": {"S": "LEASE"}}


class TokenProvider:
    """Access tokens of one connection, shared by the container's threads and, via AWS, all containers."""

    def __init__(
        self,
        connection: str,
        *,
        settings: Settings,
        secrets: Any,
        secrets_client: Any,
        dynamodb: Any,
        zoho: ZohoClient,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`secrets` is a Powertools SecretsProvider (reads); `secrets_client` a boto3 client (writes)."""
        self.connection = validate_connection(connection)
        self._settings = settings
        self._secrets = secrets
        self._secrets_client = secrets_client
        self._dynamodb = dynamodb
        self._zoho = zoho
        self._clock = clock
        self._sleep = sleep
        self._memory: AccessToken | None = None
        # One thread per container goes to AWS for a token; the others wait for it here.
        self._lock = threading.Lock()
        self._owner = uuid.uuid4().hex
        self.refreshes = 0  # refreshes this provider made (observability and tests)
        prefix = settings.secret_prefix
        self.credentials_secret = credentials_secret_name(prefix, connection)
        self.token_secret = access_token_secret_name(prefix, connection)
        # None until known; False when Secrets Manager said the access-token secret does not exist.
        self._token_secret_exists: bool | None = None

    @property
    def _margin(self) -> float:
        return float(self._settings.token_refresh_margin_seconds)

    def clear_memory(self) -> None:
        """Forget the token cached in memory (the secret and the lease are untouched)."""
        self._memory = None

    def get(self) -> AccessToken:
        """A usable access token: from memory, else the access-token secret, else a single-flight refresh."""
        token = self._memory
        if token is not None and token.usable(self._clock(), self._margin):
            return token
        with self._lock:
            token = self._memory
            if token is not None and token.usable(self._clock(), self._margin):
                return token
            token = self._read_token_secret()
            if token is not None and token.usable(self._clock(), self._margin):
                self._memory = token
                return token
            return self._obtain_new(rejected=None)

    def replace_rejected(self, rejected: AccessToken) -> AccessToken:
        """A token other than `rejected` (Zoho answered INVALID_TOKEN to it): someone's refresh, or ours."""
        with self._lock:
            token = self._memory
            fresh = token is not None and token.access_token != rejected.access_token
            if fresh and token.usable(self._clock(), self._margin):  # type: ignore[union-attr]
                return token  # type: ignore[return-value]
            self._memory = None
            return self._obtain_new(rejected=rejected.access_token)

    # ---- the access-token secret ---------------------------------------------------------------------------

    def _read_token_secret(self) -> AccessToken | None:
        try:
            value = self._secrets.get(self.token_secret, transform="json", force_fetch=True)
        except GetParameterError as error:
            if aws_error_code(error) == SECRET_NOT_FOUND:
                self._token_secret_exists = False
            return None  # missing or unreadable: a refresh will write it
        self._token_secret_exists = True
        if not isinstance(value, dict):
            return None
        token, domain, expires = value.get("access_token"), value.get("api_domain"), value.get("expires_at")
        if not isinstance(token, str) or not token or not isinstance(domain, str) or not domain:
            return None
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            return None
        return AccessToken(token, domain, float(expires))

    def _write_token_secret(self, token: AccessToken) -> None:
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
            self._create_token_secret(secret)

    def _create_token_secret(self, secret: str = "{}") -> None:  # noqa: S107 - an empty JSON object
        """Create the missing access-token secret, before a refresh draws a token that could not be kept.

        `zoho-watch connect` creates both of a connection's secrets; the stack's roles may not CreateSecret
        (least privilege), so on AWS a missing access-token secret is ConnectionNotConfigured here, before
        any call to Zoho. Where creating is allowed (the embedded stack) the secret is created.
        """
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
        self._token_secret_exists = True

    def _read_credentials(self) -> Credentials:
        try:
            value = self._secrets.get(
                self.credentials_secret, transform="json", max_age=self._settings.credentials_max_age_seconds
            )
        except GetParameterError as error:
            if aws_error_code(error) == SECRET_NOT_FOUND:
                raise not_configured(self.connection, self.credentials_secret) from None
            raise ZohoAuthError(
                f"credentials secret {self.credentials_secret} is unreadable "
                "(run `zoho-watch connect` for this connection)"
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

    # ---- the lease -----------------------------------------------------------------------------------------

    def _read_lease(self) -> dict[str, Any] | None:
        reply = self._dynamodb.get_item(
            TableName=self._settings.table_name, Key=lease_key(self.connection), ConsistentRead=True
        )
        item = reply.get("Item")
        if not item:
            return None
        return {
            "phase": item.get("phase", {}).get("S", "refreshing"),
            "lease_until": float(item.get("lease_until", {}).get("N", "0")),
        }

    def _acquire_lease(self) -> bool:
        now = self._clock()
        until = now + self._settings.token_lease_seconds
        try:
            self._dynamodb.put_item(
                TableName=self._settings.table_name,
                Item={
                    **lease_key(self.connection),
                    "owner": {"S": self._owner},
                    "phase": {"S": "refreshing"},
                    "lease_until": {"N": str(Decimal(repr(until)))},
                    "expires_at": {"N": str(int(now) + _LEASE_TTL)},
                },
                ConditionExpression="attribute_not_exists(pk) OR lease_until <= :now",
                ExpressionAttributeValues={":now": {"N": str(Decimal(repr(now)))}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _set_lease_until(self, until: float | None) -> None:
        """Keep our lease until `until` (spacing refreshes), or release it now (None)."""
        try:
            if until is None:
                self._dynamodb.delete_item(
                    TableName=self._settings.table_name,
                    Key=lease_key(self.connection),
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={":owner": {"S": self._owner}},
                )
            else:
                self._dynamodb.update_item(
                    TableName=self._settings.table_name,
                    Key=lease_key(self.connection),
                    UpdateExpression="SET lease_until = :until, phase = :spacing",
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": "owner"},
                    ExpressionAttributeValues={
                        ":owner": {"S": self._owner},
                        ":until": {"N": str(Decimal(repr(until)))},
                        ":spacing": {"S": "spacing"},
                    },
                )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            pass  # our lease ran out and someone else holds it now: nothing of ours to change

    # ---- refresh -------------------------------------------------------------------------------------------

    def _acceptable(self, token: AccessToken | None, rejected: str | None) -> bool:
        return (
            token is not None
            and token.access_token != rejected
            and token.usable(self._clock(), 0.0 if rejected else self._margin)
        )

    def _obtain_new(self, rejected: str | None) -> AccessToken:
        """Wait for another container's refresh or make it ourselves, whichever comes first (lock held)."""
        # A refresh is one HTTP call (time-outs ~13 s): waiting longer would only eat the Lambda's time.
        deadline = time.monotonic() + min(15.0, float(self._settings.token_lease_seconds))
        # A connection that is not configured is the caller's error: found before the lease and before Zoho
        # (the credentials are cached for credentials_max_age_seconds, so this costs a read rarely).
        self._read_credentials()
        while True:
            if self._acquire_lease():
                # Between our last look and the lease someone may have finished a refresh: look again.
                token = self._read_token_secret()
                if self._acceptable(token, rejected):
                    self._set_lease_until(None)
                    self._memory = token
                    return token  # type: ignore[return-value]
                return self._refresh_holding_lease()
            self._sleep(WAIT_POLL_SECONDS)
            token = self._read_token_secret()
            if self._acceptable(token, rejected):
                self._memory = token
                return token  # type: ignore[return-value]
            lease = self._read_lease()
            if lease is not None and lease["phase"] == "spacing" and lease["lease_until"] > self._clock():
                # The refresher writes the secret before it marks the lease "spacing": read the secret again.
                token = self._read_token_secret()
                if self._acceptable(token, rejected):
                    self._memory = token
                    return token  # type: ignore[return-value]
                # A token was issued moments ago and it will not do: wait for the spacing to end.
                raise ZohoRateLimited(
                    "a new Zoho access token was issued moments ago; refreshes are spaced, try again shortly",
                    retry_after=max(1.0, round(lease["lease_until"] - self._clock(), 1)),
                )
            if time.monotonic() > deadline:
                raise ZohoUnavailable("timed out waiting for another worker's token refresh; try again")

    def _refresh_holding_lease(self) -> AccessToken:
        try:
            credentials = self._read_credentials()
            if self._token_secret_exists is False:
                self._create_token_secret()
            started = self._clock()
            grant = self._zoho.refresh_access_token(
                credentials.accounts_url,
                credentials.client_id,
                credentials.client_secret,
                credentials.refresh_token,
            )
        except ZohoRateLimited:
            # Zoho Accounts is throttling us: keep the lease so no one else asks for a while.
            self._set_lease_until(self._clock() + MIN_REFRESH_SPACING)
            raise
        except BaseException:
            self._set_lease_until(None)
            raise
        self.refreshes += 1
        api_domain = (
            self._settings.zoho_api_domain
            or grant.api_domain
            or credentials.api_domain
            or data_centre_urls(self._settings.zoho_dc)[1]
        )
        token = AccessToken(grant.access_token, api_domain, started + grant.expires_in)
        try:
            self._write_token_secret(token)
        finally:
            # Keep the lease a while: spaced refreshes stay far below Zoho's 10 per 10 minutes.
            self._set_lease_until(self._clock() + MIN_REFRESH_SPACING)
        self._memory = token
        logger.info(
            "zoho access token refreshed",
            extra={
                "connection": self.connection,
                "expires_at": round(token.expires_at),
                "api_domain": api_domain,
            },
        )
        return token
