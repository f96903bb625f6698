"""Embedded stacks one after the other in one process (as the test modules and the demo start them)."""

from __future__ import annotations

import pytest

from zoho_watch_cli.api_client import ZohoWatchApi
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration


def test_a_stack_started_after_another_does_not_use_what_the_first_left_behind() -> None:
    first = EmbeddedStack(stack_name="zw-first", run_schedules=False).start()
    try:
        assert ZohoWatchApi(first.api_url).jobs() == []  # the library's clients now point at this moto
        first_clock = first.clock
    finally:
        first.stop()
    second = EmbeddedStack(stack_name="zw-second", run_schedules=False).start()
    try:
        api = ZohoWatchApi(second.api_url)
        assert api.jobs() == []  # no stale client of the stopped stack: its moto server is gone
        job_id = second.zoho.create_job("Leads", total=10)
        state = api.job("Leads", job_id, live=True)
        assert (state["job_id"], state["counts"]["total"]) == (job_id, 10)
        assert second.clock is second.zoho.clock is not first_clock
    finally:
        second.stop()
