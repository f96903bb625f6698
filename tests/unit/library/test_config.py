"""Settings from environment variables: defaults, overrides, and clear messages for bad values."""

from __future__ import annotations

import pytest
from zoho_watch.config import Settings
from zoho_watch.errors import ConfigError

BASE = {"TABLE_NAME": "jobs", "EVENT_BUS_NAME": "bus"}


def test_defaults_match_the_interfaces_document() -> None:
    settings = Settings.from_env(BASE)
    assert settings.secret_prefix == "zoho-watch"
    assert settings.zoho_dc == "us"
    assert settings.zoho_api_version == "v8"
    assert settings.zoho_accounts_url is None and settings.zoho_api_domain is None
    assert (settings.zoho_connect_timeout, settings.zoho_read_timeout) == (3.05, 10.0)
    assert (settings.poll_min_seconds, settings.poll_max_seconds) == (5, 900)
    assert (settings.state_ttl_days, settings.history_ttl_days) == (30, 7)


def test_overrides_are_read() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "ZOHO_DC": "EU",
            "ZOHO_API_VERSION": "v2",
            "ZOHO_ACCOUNTS_URL": "http://127.0.0.1:8765/",
            "ZOHO_API_DOMAIN": "http://127.0.0.1:8765",
            "ZOHO_READ_TIMEOUT": "2.5",
            "POLL_MIN_SECONDS": "10",
            "POLL_MAX_SECONDS": "60",
        }
    )
    assert settings.zoho_dc == "eu"
    assert settings.zoho_api_version == "v2"
    assert settings.zoho_accounts_url == "http://127.0.0.1:8765"
    assert settings.zoho_read_timeout == 2.5
    assert (settings.poll_min_seconds, settings.poll_max_seconds) == (10, 60)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "ZOHO_DC": "mars",
                "ZOHO_API_VERSION": "v9",
                "POLL_MIN_SECONDS": "ten",
                "ZOHO_API_DOMAIN": "ftp://x",
                "ZOHO_READ_TIMEOUT": "-1",
            }
        )
    message = str(caught.value)
    for expected in (
        "TABLE_NAME is required",
        "EVENT_BUS_NAME is required",
        "ZOHO_DC must be one of us, eu, in, au, jp, cn, ca, sa",
        "ZOHO_API_VERSION must be v2, v2.1 or v3 to v8",
        "POLL_MIN_SECONDS must be an integer",
        "ZOHO_API_DOMAIN must be a base URL",
        "ZOHO_READ_TIMEOUT must be between",
    ):
        assert expected in message
    assert caught.value.code == "CONFIG_ERROR"


def test_min_above_max_is_refused() -> None:
    with pytest.raises(ConfigError, match="must not exceed"):
        Settings.from_env({**BASE, "POLL_MIN_SECONDS": "100", "POLL_MAX_SECONDS": "50"})
