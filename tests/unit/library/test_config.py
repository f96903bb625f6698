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


def test_watch_and_sweep_settings_default_to_the_template_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.state_machine_arn is None  # set on the api function only
    assert (settings.max_polls_per_execution, settings.default_deadline_hours) == (1000, 168)
    assert (settings.sweep_concurrency, settings.sweep_batch_limit) == (5, 1000)


def test_watch_and_sweep_settings_are_read() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:zoho-watch-watch-job"
    settings = Settings.from_env(
        {
            **BASE,
            "STATE_MACHINE_ARN": arn,
            "MAX_POLLS_PER_EXECUTION": "3",
            "DEFAULT_DEADLINE_HOURS": "24",
            "SWEEP_CONCURRENCY": "10",
            "SWEEP_BATCH_LIMIT": "250",
        }
    )
    assert settings.state_machine_arn == arn
    assert (settings.max_polls_per_execution, settings.default_deadline_hours) == (3, 24)
    assert (settings.sweep_concurrency, settings.sweep_batch_limit) == (10, 250)


def test_bad_watch_and_sweep_settings_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                **BASE,
                "STATE_MACHINE_ARN": "watch-job",
                "MAX_POLLS_PER_EXECUTION": "0",
                "DEFAULT_DEADLINE_HOURS": "8761",
                "SWEEP_CONCURRENCY": "five",
                "SWEEP_BATCH_LIMIT": "100001",
            }
        )
    message = str(caught.value)
    for expected in (
        "STATE_MACHINE_ARN must be a state machine ARN, got 'watch-job'",
        "MAX_POLLS_PER_EXECUTION must be between 1 and 100000, got 0",
        "DEFAULT_DEADLINE_HOURS must be between 1 and 8760, got 8761",
        "SWEEP_CONCURRENCY must be an integer, got 'five'",
        "SWEEP_BATCH_LIMIT must be between 1 and 100000, got 100001",
    ):
        assert expected in message


def test_the_template_parameters_allow_what_the_library_accepts() -> None:
    """Each rule is defined once in the library; the template's parameters say the same."""
    from zoho_watch import config
    from zoho_watch.zoho import DATA_CENTRES

    from zoho_watch_local.template import project_template

    parameters = project_template()["Parameters"]
    assert parameters["ZohoApiVersion"]["AllowedPattern"] == config.API_VERSION_PATTERN
    assert parameters["SecretPrefix"]["AllowedPattern"] == config.SECRET_PREFIX_PATTERN
    assert sorted(parameters["DataCentre"]["AllowedValues"]) == sorted(DATA_CENTRES)
    defaults = Settings.from_env(BASE)
    assert parameters["ZohoApiVersion"]["Default"] == defaults.zoho_api_version
    assert parameters["SecretPrefix"]["Default"] == defaults.secret_prefix
    assert parameters["DataCentre"]["Default"] == defaults.zoho_dc
    assert int(parameters["DefaultDeadlineHours"]["Default"]) == config.DEFAULT_DEADLINE_HOURS
    assert int(parameters["SweepConcurrency"]["Default"]) == config.DEFAULT_SWEEP_CONCURRENCY
    poll = (int(parameters["PollMinSeconds"]["Default"]), int(parameters["PollMaxSeconds"]["Default"]))
    assert poll == (defaults.poll_min_seconds, defaults.poll_max_seconds)
