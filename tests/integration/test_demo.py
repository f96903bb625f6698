"""`make demo` (`python -m local demo`) keeps working: every job ends as planned, the tables are printed."""

from __future__ import annotations

import pytest
from rich.console import Console

from local.demo import DEMO_JOBS, run_demo

pytestmark = pytest.mark.integration


def test_the_demo_follows_every_job_to_its_planned_end() -> None:
    console = Console(record=True, width=160, force_terminal=False)
    assert run_demo(console) == 0
    text = console.export_text()
    assert "DynamoDB: job records" in text and "EventBridge: events published" in text
    for job in DEMO_JOBS:
        assert job.module in text
    assert text.count("Finished ") >= len(DEMO_JOBS)  # one finished event per job in the events table
    assert "Not as planned" not in text
