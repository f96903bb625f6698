"""The Zoho session keeps as many connections per host as the sweep makes Zoho calls at once."""

from __future__ import annotations

import pytest
from zoho_watch.config import Settings
from zoho_watch.services import Services
from zoho_watch.zoho import DEFAULT_POOL_SIZE

BASE = {"TABLE_NAME": "jobs", "EVENT_BUS_NAME": "bus"}


def pool_size(services: Services, url: str) -> int:
    return int(services.zoho.session.get_adapter(url).poolmanager.connection_pool_kw["maxsize"])


@pytest.mark.parametrize("concurrency", [11, 15, 25])
def test_the_pool_follows_the_sweep_concurrency(concurrency: int) -> None:
    services = Services(Settings.from_env({**BASE, "SWEEP_CONCURRENCY": str(concurrency)}))
    for url in ("https://www.zohoapis.com", "https://accounts.zoho.com"):
        assert pool_size(services, url) == concurrency


def test_a_small_concurrency_keeps_the_default_pool() -> None:
    services = Services(Settings.from_env({**BASE, "SWEEP_CONCURRENCY": "2"}))
    assert pool_size(services, "https://www.zohoapis.com") == DEFAULT_POOL_SIZE
