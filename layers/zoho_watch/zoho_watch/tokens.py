"""Zoho access tokens per connection: memory, then the access-token secret, then one refresh for everyone.

Zoho issues at most 10 access tokens per refresh token per 10 minutes, so a refresh is single-flight across
every container: a lease item in the jobs table (conditional put with an expiry) elects one refresher, and
the others re-read the access-token secret (`force_fetch`) until the new token appears. After a successful
refresh the lease is kept for `MIN_REFRESH_SPACING` seconds (phase "spacing"), so even a storm of
INVALID_TOKEN replies cannot draw more than one token a minute: whoever finds the new token rejected too
during that time gets `ZohoRateLimited` with the seconds left. Tokens and secrets are never logged and never
put into error messages. The secrets are read and written by `zoho_watch.token_secrets`, the lease by
`zoho_watch.token_lease`; this module decides when to use which.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeGuard, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from zoho_watch.aws_errors import typed_aws_errors
from zoho_watch.config import Settings
from zoho_watch.connections import access_token_secret_name, credentials_secret_name
from zoho_watch.errors import AwsUnavailable, ZohoAuthError, ZohoRateLimited, ZohoUnavailable
from zoho_watch.jobs import validate_connection
from zoho_watch.token_lease import RefreshLease, lease_key
from zoho_watch.token_secrets import AccessToken, ConnectionSecrets, Credentials
from zoho_watch.zoho import ZohoClient, data_centre_urls
from zoho_watch.zoho_errors import INVALID_TOKEN

logger = Logger(child=True)
metrics = Metrics()

# Seconds between two refreshes of one connection, at least (10 per 10 minutes is Zoho's limit).
MIN_REFRESH_SPACING = 65.0
# How often a waiting container re-reads the access-token secret.
WAIT_POLL_SECONDS = 0.05

Answer = TypeVar("Answer")

__all__ = [
    "AccessToken",
    "Credentials",
    "TokenProvider",
    "access_token_secret_name",
    "credentials_secret_name",
    "lease_key",
]


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
        self._zoho = zoho
        self._clock = clock
        self._sleep = sleep
        self._memory: AccessToken | None = None
        # One thread per container goes to AWS for a token; the others wait for it here.
        self._lock = threading.Lock()
        self.refreshes = 0  # refreshes this provider made (observability and tests)
        self.connection_secrets = ConnectionSecrets(
            self.connection, settings=settings, secrets=secrets, secrets_client=secrets_client
        )
        self.lease = RefreshLease(
            self.connection,
            dynamodb=dynamodb,
            table=settings.table_name,
            seconds=settings.token_lease_seconds,
            clock=clock,
        )

    @property
    def _margin(self) -> float:
        return float(self._settings.token_refresh_margin_seconds)

    def get(self) -> AccessToken:
        """A usable access token: from memory, else the access-token secret, else a single-flight refresh."""
        token = self._memory
        if token is not None and token.usable(self._clock(), self._margin):
            return token
        with self._lock:
            token = self._memory
            if token is not None and token.usable(self._clock(), self._margin):
                return token
            token = self.connection_secrets.read_token()
            if token is not None and token.usable(self._clock(), self._margin):
                self._memory = token
                return token
            return self._obtain_new(rejected=None)

    def replace_rejected(self, rejected: AccessToken) -> AccessToken:
        """A token other than `rejected` (Zoho answered INVALID_TOKEN to it): someone's refresh, or ours."""
        with self._lock:
            token = self._memory
            if (
                token is not None
                and token.access_token != rejected.access_token
                and token.usable(self._clock(), self._margin)
            ):
                return token
            self._memory = None
            return self._obtain_new(rejected=rejected.access_token)

    def call(self, request: Callable[[AccessToken], Answer]) -> Answer:
        """`request(token)`, a Zoho call; when Zoho answers INVALID_TOKEN, once more with a new token.

        Only INVALID_TOKEN is tried again: Zoho refused the call before doing anything, so a second try cannot
        do the work twice. Any other error is the caller's to handle.
        """
        token = self.get()
        try:
            return request(token)
        except ZohoAuthError as error:
            if error.zoho_code != INVALID_TOKEN:
                raise
            logger.info(
                "zoho refused the access token; getting a new one", extra={"connection": self.connection}
            )
        return request(self.replace_rejected(token))

    # ---- refresh -------------------------------------------------------------------------------------------

    def _acceptable(self, token: AccessToken | None, rejected: str | None) -> TypeGuard[AccessToken]:
        """True when `token` is a usable token other than the one Zoho `rejected`."""
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
        self.connection_secrets.read_credentials()
        while True:
            if self.lease.acquire():
                # Between our last look and the lease someone may have finished a refresh: look again.
                token = self.connection_secrets.read_token()
                if self._acceptable(token, rejected):
                    self.lease.keep_until(None)
                    self._memory = token
                    return token
                return self._refresh_holding_lease()
            self._sleep(WAIT_POLL_SECONDS)
            token = self.connection_secrets.read_token()
            if self._acceptable(token, rejected):
                self._memory = token
                return token
            lease = self.lease.read()
            if lease is not None and lease["phase"] == "spacing" and lease["lease_until"] > self._clock():
                # The refresher writes the secret before it marks the lease "spacing": read the secret again.
                token = self.connection_secrets.read_token()
                if self._acceptable(token, rejected):
                    self._memory = token
                    return token
                # A token was issued moments ago and it will not do: wait for the spacing to end.
                raise ZohoRateLimited(
                    "a new Zoho access token was issued moments ago; refreshes are spaced, try again shortly",
                    retry_after=max(1.0, round(lease["lease_until"] - self._clock(), 1)),
                )
            if time.monotonic() > deadline:
                raise ZohoUnavailable("timed out waiting for another worker's token refresh; try again")

    def _refresh_holding_lease(self) -> AccessToken:
        try:
            credentials = self.connection_secrets.read_credentials()
            if self.connection_secrets.token_secret_exists is False:
                self.connection_secrets.create_token_secret()
            started = self._clock()
            grant = self._zoho.refresh_access_token(
                credentials.accounts_url,
                credentials.client_id,
                credentials.client_secret,
                credentials.refresh_token,
            )
        except ZohoRateLimited:
            # Zoho Accounts is throttling us: keep the lease so no one else asks for a while.
            self.lease.keep_until(self._clock() + MIN_REFRESH_SPACING)
            raise
        except BaseException:
            self.lease.keep_until(None)
            raise
        self.refreshes += 1
        api_domain = (
            self._settings.zoho_api_domain
            or grant.api_domain
            or credentials.api_domain
            or data_centre_urls(self._settings.zoho_dc)[1]
        )
        token = AccessToken(grant.access_token, api_domain, started + grant.expires_in)
        metrics.add_metric(name="TokenRefreshes", unit=MetricUnit.Count, value=1)
        # The token is this container's from now on, whatever AWS does next: a refresh is never thrown away.
        self._memory = token
        try:
            with typed_aws_errors():
                self.connection_secrets.write_token(token)
        except AwsUnavailable as error:
            # Other containers refresh again if they need a token before the secret is written: the check
            # that paid for this refresh goes on with it rather than failing.
            logger.warning("access token not stored; kept in memory", extra={"error": error.to_dict()})
        finally:
            # Keep the lease a while: spaced refreshes stay far below Zoho's 10 per 10 minutes.
            self.lease.keep_until(self._clock() + MIN_REFRESH_SPACING)
        logger.info(
            "zoho access token refreshed",
            extra={
                "connection": self.connection,
                "expires_at": round(token.expires_at),
                "api_domain": api_domain,
            },
        )
        return token
