"""`make demo` (`python -m zoho_watch_cli demo`) keeps working: every job ends as planned, the tables are
printed, and each job gets the checks the polling policy plans for it (one simulated clock, see
zoho_watch_local/stack.py)."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from zoho_watch_cli.demo import DEMO_JOBS, run_demo

pytestmark = pytest.mark.integration


def checks_and_plans(text: str) -> dict[str, tuple[int, int]]:
    """{module: (checks made, policy's plan)} from the demo's Jobs table."""
    found = {}
    for job in DEMO_JOBS:
        row = re.search(rf"│ {job.module} \(.*?│ (\d+)\s+│ (\d+)\s+│ (?:step functions|schedule)", text)
        assert row is not None, f"no row of {job.module} in the Jobs table"
        found[job.module] = (int(row.group(1)), int(row.group(2)))
    return found


def test_the_demo_follows_every_job_to_its_planned_end() -> None:
    console = Console(record=True, width=160, force_terminal=False)
    assert run_demo(console) == 0
    text = console.export_text()
    assert "DynamoDB: job records" in text and "EventBridge: events published" in text
    for job in DEMO_JOBS:
        assert job.module in text
    assert text.count("Finished ") >= len(DEMO_JOBS)  # one finished event per job in the events table
    assert "Not as planned" not in text
    # A caller's workflow (examples/caller-workflow) submitted its own mass update and waited for its end.
    assert re.search(r"SUCCEEDED after [\d.]+ simulated minutes: job \d+ COMPLETED, 2500/2500 records", text)
    assert "policy's plan: the checks the policy alone makes" in text  # the numbers are explained
    # Three kinds of jobs, and the bulk read's result link on the emulator.
    assert "6 jobs of 3 kinds (bulk_read, mass_delete, mass_update)" in text
    assert re.search(r"bulk_read.*its result is at http://127\.0\.0\.1:\d+/crm/bulk/v8/read/\d+/result", text)
    # The clock stands still while a check runs and each wait's jitter is seeded by the job and the check:
    # every job gets exactly the checks the policy plans, on any machine under any load.
    found = checks_and_plans(text)
    assert all(checks == plan > 1 for checks, plan in found.values()), found
