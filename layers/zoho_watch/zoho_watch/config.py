"""Settings of zoho-watch, read from environment variables and validated once, with clear messages.

Names and defaults are those of docs/interfaces.md. template.yaml's Globals set most of them on every
function; STATE_MACHINE_ARN and DEFAULT_DEADLINE_HOURS are the api function's, SWEEP_CONCURRENCY and
SWEEP_BATCH_LIMIT the sweep function's. A container reads them once (`services.Services.settings`), as Lambda
sets them once per container: nothing reads `os.environ` per call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from zoho_watch.errors import ConfigError

DATA_CENTRES = ("us", "eu", "in", "au", "jp", "cn", "ca", "sa")
# Polls per Step Functions execution when MAX_POLLS_PER_EXECUTION does not say. A check writes 9 history
# events and each retry 3 more; the loop also hands over before the history could pass its limit.
DEFAULT_MAX_POLLS = 1000
# The most polls an execution may be given (the loop state's `max_polls` is validated against it too).
MAX_POLLS_LIMIT = 100_000
# Hours a watch started without a deadline lasts (DEFAULT_DEADLINE_HOURS; template's DefaultDeadlineHours).
DEFAULT_DEADLINE_HOURS = 168
# The sweep's Zoho calls in flight (SWEEP_CONCURRENCY) and due jobs read per run (SWEEP_BATCH_LIMIT).
DEFAULT_SWEEP_CONCURRENCY = 5
DEFAULT_SWEEP_BATCH_LIMIT = 1000
# What the template's ZohoApiVersion and SecretPrefix parameters allow (a test keeps them the same).
API_VERSION_PATTERN = r"^v(2|2\.1|[3-8])$"
SECRET_PREFIX_PATTERN = r"^[A-Za-z0-9_+=.@-]{1,64}$"  # noqa: S105 - a name pattern, not a secret
_API_VERSION = re.compile(API_VERSION_PATTERN)
_SECRET_PREFIX = re.compile(SECRET_PREFIX_PATTERN)
_BASE_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$")
_STATE_MACHINE_ARN = re.compile(r"^arn:[a-z0-9-]+:states:[a-z0-9-]+:[0-9]{12}:stateMachine:[^\s:/]{1,80}$")


@dataclass(frozen=True)
class Settings:
    """Every setting the library uses; build it with `Settings.from_env()`."""

    table_name: str
    event_bus_name: str
    secret_prefix: str = "zoho-watch"  # noqa: S105 - a name prefix, not a secret
    zoho_dc: str = "us"
    zoho_api_version: str = "v8"
    zoho_accounts_url: str | None = None
    zoho_api_domain: str | None = None
    zoho_connect_timeout: float = 3.05
    zoho_read_timeout: float = 10.0
    poll_min_seconds: int = 5
    poll_max_seconds: int = 900
    state_ttl_days: int = 30
    history_ttl_days: int = 7
    # An access token is used until this many seconds before it expires. Zoho's tokens live 3600 s; a margin
    # of 300 s would mean a refresh every 55 minutes (27 a day, above the 25 a day budget), so 120 s it is:
    # far more than a request's time-outs, and INVALID_TOKEN still triggers one refresh and one retry.
    token_refresh_margin_seconds: int = 120
    # How long the refresh lease is held at most (a refresh is one HTTP call with the time-outs above).
    token_lease_seconds: int = 30
    # Cache time of the credentials secret in Powertools Parameters.
    credentials_max_age_seconds: int = 300
    # The watch state machine (STATE_MACHINE_ARN): set on the api function only; None elsewhere, and then
    # stepfunctions mode is not available (`watches.start_watch` raises ConfigError).
    state_machine_arn: str | None = None
    # Where the watch-request function sends a "Watch Requested" event it can never serve, with the reason
    # (WATCH_REQUEST_DLQ_URL, that function only).
    watch_request_dlq_url: str | None = None
    # Polls per execution (MAX_POLLS_PER_EXECUTION): the default `max_polls` of a watch's loop state.
    max_polls_per_execution: int = DEFAULT_MAX_POLLS
    # Deadline of a watch started without one, in hours from the start (DEFAULT_DEADLINE_HOURS).
    default_deadline_hours: int = DEFAULT_DEADLINE_HOURS
    # The sweep: Zoho calls in flight at most (SWEEP_CONCURRENCY), due jobs per run (SWEEP_BATCH_LIMIT).
    sweep_concurrency: int = DEFAULT_SWEEP_CONCURRENCY
    sweep_batch_limit: int = DEFAULT_SWEEP_BATCH_LIMIT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings; raise `ConfigError` listing every problem at once."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def _text(name: str, default: str | None = None, required: bool = False) -> str | None:
            value = env.get(name, "").strip()
            if not value:
                if required:
                    problems.append(f"{name} is required")
                return default
            return value

        def _number(name: str, default: float, low: float, high: float, integer: bool = True) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw) if integer else float(raw)
            except ValueError:
                kind = "an integer" if integer else "a number"
                problems.append(f"{name} must be {kind}, got {raw[:40]!r}")
                return default
            if not low <= value <= high:
                problems.append(f"{name} must be between {low:g} and {high:g}, got {value:g}")
                return default
            return value

        table_name = _text("TABLE_NAME", "", required=True) or ""
        bus = _text("EVENT_BUS_NAME", "", required=True) or ""
        prefix = _text("SECRET_PREFIX", "zoho-watch") or "zoho-watch"
        if not _SECRET_PREFIX.match(prefix):
            problems.append(f"SECRET_PREFIX must match {_SECRET_PREFIX.pattern}, got {prefix[:40]!r}")
        dc = (_text("ZOHO_DC", "us") or "us").lower()
        if dc not in DATA_CENTRES:
            problems.append(f"ZOHO_DC must be one of {', '.join(DATA_CENTRES)}, got {dc[:20]!r}")
        version = _text("ZOHO_API_VERSION", "v8") or "v8"
        if not _API_VERSION.match(version):
            problems.append(f"ZOHO_API_VERSION must be v2, v2.1 or v3 to v8, got {version[:20]!r}")
        accounts_url = _text("ZOHO_ACCOUNTS_URL")
        api_domain = _text("ZOHO_API_DOMAIN")
        for name, url in (("ZOHO_ACCOUNTS_URL", accounts_url), ("ZOHO_API_DOMAIN", api_domain)):
            if url is not None and not _BASE_URL.match(url):
                problems.append(f"{name} must be a base URL like https://host[:port], got {url[:80]!r}")
        poll_min = int(_number("POLL_MIN_SECONDS", 5, 1, 3600))
        poll_max = int(_number("POLL_MAX_SECONDS", 900, 10, 86400))
        if poll_min > poll_max:
            problems.append(f"POLL_MIN_SECONDS ({poll_min}) must not exceed POLL_MAX_SECONDS ({poll_max})")
        machine = _text("STATE_MACHINE_ARN")
        if machine is not None and not _STATE_MACHINE_ARN.match(machine):
            problems.append(f"STATE_MACHINE_ARN must be a state machine ARN, got {machine[:120]!r}")
        settings = cls(
            table_name=table_name,
            event_bus_name=bus,
            secret_prefix=prefix,
            zoho_dc=dc,
            zoho_api_version=version,
            zoho_accounts_url=accounts_url.rstrip("/") if accounts_url else None,
            zoho_api_domain=api_domain.rstrip("/") if api_domain else None,
            zoho_connect_timeout=_number("ZOHO_CONNECT_TIMEOUT", 3.05, 0.1, 60, integer=False),
            zoho_read_timeout=_number("ZOHO_READ_TIMEOUT", 10.0, 0.1, 300, integer=False),
            poll_min_seconds=poll_min,
            poll_max_seconds=poll_max,
            state_ttl_days=int(_number("STATE_TTL_DAYS", 30, 1, 3650)),
            history_ttl_days=int(_number("HISTORY_TTL_DAYS", 7, 1, 3650)),
            token_refresh_margin_seconds=int(_number("TOKEN_REFRESH_MARGIN_SECONDS", 120, 0, 1800)),
            token_lease_seconds=int(_number("TOKEN_LEASE_SECONDS", 30, 1, 300)),
            credentials_max_age_seconds=int(_number("CREDENTIALS_MAX_AGE_SECONDS", 300, 0, 86400)),
            state_machine_arn=machine,
            watch_request_dlq_url=os.environ.get("WATCH_REQUEST_DLQ_URL") or None,
            max_polls_per_execution=int(
                _number("MAX_POLLS_PER_EXECUTION", DEFAULT_MAX_POLLS, 1, MAX_POLLS_LIMIT)
            ),
            default_deadline_hours=int(_number("DEFAULT_DEADLINE_HOURS", DEFAULT_DEADLINE_HOURS, 1, 8760)),
            sweep_concurrency=int(_number("SWEEP_CONCURRENCY", DEFAULT_SWEEP_CONCURRENCY, 1, 100)),
            sweep_batch_limit=int(_number("SWEEP_BATCH_LIMIT", DEFAULT_SWEEP_BATCH_LIMIT, 1, 100_000)),
        )
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems))
        return settings
