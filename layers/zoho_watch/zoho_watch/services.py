"""Per-container singletons, built lazily: settings, boto3 clients, store, tokens, Zoho client, events.

Nothing here runs at import time, so a handler's cold start pays only for what it uses. `reset()` drops
everything (tests call it between cases; it also clears Powertools' parameter cache).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from zoho_watch.config import Settings
from zoho_watch.jobs import validate_connection

# HTTP connections each boto3 client keeps: the sweep runs up to sweep.MAX_WORKERS checks at once.
MAX_POOL_CONNECTIONS = 50
# EventBridge calls end (published or failed) within the finished event's claim, a lease of
# store.FINISHED_EVENT_LEASE_SECONDS (8 s on the library's clock, which on AWS is real time): at most 2
# attempts of 1 s to connect and 2 s to read, 6 s in all.
EVENTS_CLIENT_TIMEOUTS = {
    "connect_timeout": 1,
    "read_timeout": 2,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}


class Services:
    """Everything the library talks to, created on first use and kept for the container's life."""

    def __init__(self, settings: Settings | None = None, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._tokens: dict[str, Any] = {}

    @cached_property
    def settings(self) -> Settings:
        """Settings from the environment (validated)."""
        return self._settings or Settings.from_env()

    @cached_property
    def _config(self) -> Any:
        """Client settings: a connection pool as large as the sweep's worker pool (boto3's default is 10)."""
        from botocore.config import Config

        return Config(max_pool_connections=MAX_POOL_CONNECTIONS)

    @cached_property
    def _session(self) -> Any:
        """One boto3 session for every client: its loader reads the endpoint and model files once."""
        import boto3  # imported on first use: cold starts that never touch AWS stay small

        return boto3.session.Session()

    def _client(self, name: str, **config: Any) -> Any:
        """A boto3 client on the shared session; `config` overrides client settings (botocore Config)."""
        from botocore.config import Config

        settings = self._config.merge(Config(**config)) if config else self._config
        # A boto3 session is not thread-safe: the sweep's workers may ask for clients at once.
        with self._client_lock:
            return self._session.client(name, config=settings)

    @cached_property
    def dynamodb(self) -> Any:
        """boto3 DynamoDB client."""
        return self._client("dynamodb")

    @cached_property
    def secrets_client(self) -> Any:
        """boto3 Secrets Manager client (writes of the access-token secret)."""
        return self._client("secretsmanager")

    @cached_property
    def secrets(self) -> Any:
        """Powertools SecretsProvider over `secrets_client` (cached reads)."""
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        return SecretsProvider(boto3_client=self.secrets_client)

    @cached_property
    def events_client(self) -> Any:
        """boto3 EventBridge client, with short time-outs (EVENTS_CLIENT_TIMEOUTS)."""
        return self._client("events", **EVENTS_CLIENT_TIMEOUTS)

    @cached_property
    def stepfunctions(self) -> Any:
        """boto3 Step Functions client (watches: start, describe, stop executions)."""
        return self._client("stepfunctions")

    @cached_property
    def sqs(self) -> Any:
        """boto3 SQS client (the watch requests' dead-letter queue)."""
        return self._client("sqs")

    @cached_property
    def store(self) -> Any:
        """The JobStore on the jobs table."""
        from zoho_watch.store import JobStore

        settings = self.settings
        return JobStore(
            self.dynamodb,
            settings.table_name,
            state_ttl_days=settings.state_ttl_days,
            history_ttl_days=settings.history_ttl_days,
            clock=self.clock,
        )

    @cached_property
    def zoho(self) -> Any:
        """The Zoho client (one requests.Session per container)."""
        from zoho_watch.zoho import DEFAULT_POOL_SIZE, ZohoClient

        settings = self.settings
        return ZohoClient(
            settings.zoho_api_version,
            settings.zoho_connect_timeout,
            settings.zoho_read_timeout,
            pool_size=max(DEFAULT_POOL_SIZE, settings.sweep_concurrency),
        )

    @cached_property
    def events(self) -> Any:
        """The EventPublisher on the configured bus."""
        from zoho_watch.events import EventPublisher

        return EventPublisher(self.events_client, self.settings.event_bus_name)

    def tokens(self, connection: str) -> Any:
        """The TokenProvider of a connection (one per connection per container)."""
        from zoho_watch.tokens import TokenProvider

        validate_connection(connection)
        with self._lock:
            provider = self._tokens.get(connection)
            if provider is None:
                provider = TokenProvider(
                    connection,
                    settings=self.settings,
                    secrets=self.secrets,
                    secrets_client=self.secrets_client,
                    dynamodb=self.dynamodb,
                    zoho=self.zoho,
                    clock=self.clock,
                )
                self._tokens[connection] = provider
            return provider


_services: Services | None = None
_services_lock = threading.Lock()


def get_services() -> Services:
    """The container's Services, created on first call."""
    global _services
    if _services is None:
        with _services_lock:
            if _services is None:
                _services = Services()
    return _services


def set_services(services: Services) -> Services:
    """Install a Services built by the caller (the embedded stack and tests use it, e.g. for a clock)."""
    global _services
    with _services_lock:
        _services = services
    return services


def reset() -> None:
    """Forget every per-container cache: services, token memory, Powertools' parameter cache."""
    global _services
    from aws_lambda_powertools.utilities import parameters

    with _services_lock:
        old, _services = _services, None
    if old is not None and "zoho" in old.__dict__:
        old.zoho.session.close()
    parameters.clear_caches()
