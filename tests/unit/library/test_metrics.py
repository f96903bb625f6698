"""The metrics the library adds for the dashboard: a job's finish detection lag, and token refreshes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from zoho_watch import services
from zoho_watch.check import check_job
from zoho_watch.jobs import JobKey

from fake_zoho import FakeZoho, JobProfile


@pytest.fixture
def metric_set() -> Iterator[dict[str, Any]]:
    """Powertools' metrics of this process (every `Metrics()` shares them), empty at the start."""
    metrics = Metrics()
    metrics.clear_metrics()
    yield metrics.metric_set
    metrics.clear_metrics()


def values(metric_set: dict[str, Any], name: str) -> list[float]:
    found = metric_set.get(name, {}).get("Value", [])
    return found if isinstance(found, list) else [found]


def test_the_end_of_a_job_is_measured_from_the_check_before(
    library: services.Services, zoho: FakeZoho, metric_set: dict[str, Any]
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 100)))
    check_job(job)
    zoho.clock.advance(70)
    check_job(job)  # still running
    assert values(metric_set, "FinishDetectionLagSeconds") == []
    zoho.clock.advance(45)
    assert check_job(job)["terminal"]
    assert values(metric_set, "FinishDetectionLagSeconds") == [pytest.approx(45, abs=0.01)]
    assert metric_set["FinishDetectionLagSeconds"]["Unit"] == "Seconds"
    zoho.clock.advance(45)
    check_job(job)  # already finished: nothing more to measure
    assert len(values(metric_set, "FinishDetectionLagSeconds")) == 1


def test_each_token_refresh_is_counted(
    library: services.Services, zoho: FakeZoho, metric_set: dict[str, Any]
) -> None:
    job = JobKey("default", "Leads", zoho.create_job("Leads", total=10, profile=JobProfile(0, 100)))
    check_job(job)
    assert values(metric_set, "TokenRefreshes") == [1]
    zoho.clock.advance(30)
    check_job(job)  # the token is still good
    assert values(metric_set, "TokenRefreshes") == [1]
    zoho.clock.advance(zoho.config.access_token_ttl)
    check_job(job)
    assert values(metric_set, "TokenRefreshes") == [1, 1]
