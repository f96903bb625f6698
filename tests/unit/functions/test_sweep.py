"""Sweep handler: driven by events/sweep.json on moto and the Zoho emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from zoho_watch.jobs import JobKey
from zoho_watch.services import get_services

from fake_zoho import JobProfile
from tests.unit.functions.conftest import FakeLambdaContext, load_event

# No watch of these tests is an execution's: the healing pass finds nothing to resume.
NOTHING_HEALED = {"resumed": 0, "abandoned": 0}


def watch_jobs(zoho: Any, count: int, watcher: str = "schedule", duration: float = 100) -> list[str]:
    """Create `count` running emulator jobs and register them as watched by `watcher`, due now."""
    store = get_services().store
    job_ids = []
    for _ in range(count):
        job_id = zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=0, duration=duration))
        store.watch(JobKey("default", "Leads", job_id), watcher=watcher, next_check_at=time.time() - 1)
        job_ids.append(job_id)
    return job_ids


def emitted_metrics(output: str) -> dict[str, float]:
    """The metric values of the EMF lines Powertools printed."""
    values: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            blob = json.loads(line)
            for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = blob[metric["Name"]]
                values[metric["Name"]] = value[0] if isinstance(value, list) else value
    return values


def test_due_schedule_jobs_are_checked_and_counted(
    aws, zoho, zoho_connection, sweep_app, lambda_context, capsys: pytest.CaptureFixture[str]
) -> None:
    zoho.clock.freeze()
    scheduled = watch_jobs(zoho, 3)
    finished = watch_jobs(zoho, 1, duration=1)
    by_state_machine = watch_jobs(zoho, 1, watcher="stepfunctions:arn:aws:states:us-east-1:1:execution:m:x")
    zoho.clock.advance(30)

    report = sweep_app.lambda_handler(load_event("sweep"), lambda_context)

    assert report == {
        "due": 4,
        "checked": 4,
        "finished": 1,
        "errors": 0,
        "left": 0,
        "rate_limited": False,
        **NOTHING_HEALED,
    }
    store = get_services().store
    for job_id in scheduled:
        state = store.get(JobKey("default", "Leads", job_id))
        assert (state["status"], state["checks"]) == ("RUNNING", 1)
    assert store.get(JobKey("default", "Leads", finished[0]))["status"] == "COMPLETED"
    # A job watched by a Step Functions execution is left to it.
    assert store.get(JobKey("default", "Leads", by_state_machine[0]))["checks"] == 0
    assert [e["detail"]["job_id"] for e in aws.events("Mass Update Job Finished")] == finished
    # Checked jobs are no longer due; the unfinished ones come back after their wait. The execution's job is
    # in its own index partition, never among the sweep's.
    assert store.due_jobs() == []
    assert [job["job_id"] for job in store.due_jobs(kind="stepfunctions")] == by_state_machine
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["SweepJobsChecked"] == 4
    assert metrics["SweepJobsFinished"] == 1
    assert metrics["SweepJobsLeft"] == 0


def test_concurrency_stays_within_the_budget(
    aws, zoho, zoho_connection, sweep_app, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_CONCURRENCY", "2")
    zoho.clock.freeze()
    watch_jobs(zoho, 6)
    zoho.clock.advance(10)
    zoho.set_latency(0.15)

    report = sweep_app.lambda_handler(load_event("sweep"), lambda_context)

    assert report["checked"] == 6
    assert zoho.counters["peak_concurrency"] == 2


def test_no_check_starts_close_to_the_time_out(aws, zoho, zoho_connection, sweep_app) -> None:
    zoho.clock.freeze()
    job_ids = watch_jobs(zoho, 3)
    # 10 s left: less than one Zoho call's time-outs (3.05 + 10) plus the margin.
    context = FakeLambdaContext(timeout_seconds=10)

    report = sweep_app.lambda_handler(load_event("sweep"), context)

    assert report == {
        "due": 3,
        "checked": 0,
        "finished": 0,
        "errors": 0,
        "left": 3,
        "rate_limited": False,
        **NOTHING_HEALED,
    }
    assert zoho.counters["calls_total"] == 0
    assert sorted(job["job_id"] for job in get_services().store.due_jobs()) == sorted(job_ids)


def test_throttling_leaves_the_rest_for_the_next_sweep(
    aws, zoho, zoho_connection, sweep_app, lambda_context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_CONCURRENCY", "1")
    zoho.clock.freeze()
    watch_jobs(zoho, 4)
    zoho.faults.script(["429"])

    report = sweep_app.lambda_handler(load_event("sweep"), lambda_context)

    assert report == {
        "due": 4,
        "checked": 0,
        "finished": 0,
        "errors": 1,
        "left": 3,
        "rate_limited": True,
        **NOTHING_HEALED,
    }
    assert len(get_services().store.due_jobs()) == 4
