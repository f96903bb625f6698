"""zoho_watch.sweep: the Zoho budget's slots, and a sweep on moto and the emulator (no Lambda handler)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from zoho_watch import services
from zoho_watch.check import check_job
from zoho_watch.errors import InvalidInput, ZohoRateLimited
from zoho_watch.jobs import JobKey
from zoho_watch.sweep import SweepStopped, ZohoSlots, run_sweep

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack


def test_slots_never_let_more_than_the_budget_in() -> None:
    slots = ZohoSlots(3)
    inside = peak = 0
    lock = threading.Lock()
    # Calls inside a slot wait for each other three by three: the budget is reached on any machine, and a
    # fourth call let in would raise the peak above it before a group leaves.
    together = threading.Barrier(3, timeout=30)

    def call() -> None:
        nonlocal inside, peak
        with slots.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            together.wait()
            with lock:
                inside -= 1

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert peak == 3


def test_slots_refuse_new_calls_when_stopped_throttled_or_late() -> None:
    left = {"ms": 20_000}
    slots = ZohoSlots(2, time_left_ms=lambda: left["ms"], reserve_ms=15_000)
    with slots.slot():
        pass
    left["ms"] = 14_999
    assert slots.may_start() is False
    with pytest.raises(SweepStopped), slots.slot():
        pytest.fail("a call started too close to the end")
    left["ms"] = 20_000
    with pytest.raises(ZohoRateLimited), slots.slot():
        raise ZohoRateLimited("429")
    assert slots.stopped  # a 429 inside a slot stops the sweep's calls before the slot is released
    with pytest.raises(SweepStopped), slots.slot():
        pytest.fail("a call started after a 429")
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InvalidInput):
            ZohoSlots(bad)  # type: ignore[arg-type]


@pytest.fixture
def library(aws: AwsStack, zoho: FakeZoho, zoho_connection: str) -> services.Services:
    """The library on the emulator's frozen clock, with a count of its DynamoDB calls by operation."""
    zoho.clock.freeze()
    library = services.set_services(services.Services(clock=zoho.clock.now))
    library.calls = {}  # type: ignore[attr-defined]

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        # By operation, and by operation on a job's STATE item (other items: token lease, rate prior).
        names = [model.name]
        if params.get("Key", {}).get("sk", {}).get("S") == "STATE":
            names.append(model.name + " STATE")
        for name in names:
            library.calls[name] = library.calls.get(name, 0) + 1  # type: ignore[attr-defined]

    library.dynamodb.meta.events.register("before-call", count)
    return library


def watch(zoho: FakeZoho, library: services.Services, count: int) -> list[str]:
    job_ids = []
    for _ in range(count):
        job_id = zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=0, duration=600))
        library.store.watch(
            JobKey("default", "Leads", job_id), "schedule", next_check_at=zoho.clock.now() - 1
        )
        job_ids.append(job_id)
    return job_ids


def test_a_check_holds_its_slot_for_the_zoho_call_only(library: services.Services, zoho: FakeZoho) -> None:
    [job_id] = watch(zoho, library, 1)
    library.tokens("default").get()  # a warm container: the token is in memory
    inside = {"now": False, "zoho_calls": 0}
    store_calls_inside: list[str] = []

    class Slot:
        def __enter__(self) -> None:
            inside["now"] = True
            inside["zoho_calls"] += 1

        def __exit__(self, *exc: Any) -> None:
            inside["now"] = False

    def during_store_call(model: Any, **_: Any) -> None:
        if inside["now"]:
            store_calls_inside.append(model.name)

    library.dynamodb.meta.events.register("before-call", during_store_call)
    library.events_client.meta.events.register("before-call", during_store_call)

    state = check_job(JobKey("default", "Leads", job_id), zoho_slot=Slot)

    assert state["status"] == "RUNNING" and state["checks"] == 1
    assert inside["zoho_calls"] == 1
    assert store_calls_inside == []  # the writes and the event happen outside the slot


def test_a_sweep_checks_every_due_job_within_the_budget_without_reading_them_again(
    library: services.Services, zoho: FakeZoho
) -> None:
    job_ids = watch(zoho, library, 8)
    zoho.clock.advance(60)
    zoho.set_latency(0.05)
    library.tokens("default").get()  # a warm container: the token is in memory (its refresh reads the lease)
    library.calls.clear()  # type: ignore[attr-defined]

    report = run_sweep(2, 100, time_left_ms=lambda: 60_000, reserve_ms=1_000, workers=6)

    assert report.as_dict() == {
        "due": 8,
        "checked": 8,
        "finished": 0,
        "errors": 0,
        "left": 0,
        "rate_limited": False,
        "resumed": 0,
        "abandoned": 0,
    }
    assert zoho.counters["peak_concurrency"] == 2  # 6 workers, 2 Zoho calls at most
    assert library.calls.get("GetItem STATE", 0) == 0  # type: ignore[attr-defined]  # the due items are used
    assert library.calls["PutItem"] == 16  # type: ignore[attr-defined]  # a history and a state item each
    for job_id in job_ids:
        assert library.store.get(JobKey("default", "Leads", job_id))["checks"] == 1


def test_a_stale_due_item_is_read_again_not_written_over(library: services.Services, zoho: FakeZoho) -> None:
    [job_id] = watch(zoho, library, 1)
    zoho.clock.advance(60)
    [stale] = library.store.due_jobs(raw=True)
    check_job(JobKey("default", "Leads", job_id))  # someone checks the job after the sweep read it
    zoho.clock.advance(1)

    state = check_job(JobKey("default", "Leads", job_id), prefetched=stale)

    assert state["checks"] == 2  # the lost conditional write re-read the job: both checks count


def test_a_sweep_of_many_jobs_of_one_module_reads_its_rate_prior_once(
    library: services.Services, zoho: FakeZoho
) -> None:
    for _ in range(6):  # queued jobs: their first checks ask the policy, which looks at the prior
        job_id = zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=600, duration=600))
        library.store.watch(
            JobKey("default", "Leads", job_id), "schedule", next_check_at=zoho.clock.now() - 1
        )
    library.store.learn_rate("default", "Leads", 2.0)  # a prior exists (and is cached on learning)
    library.store._forget_rate("default", "Leads")  # a cold container: nothing cached
    library.tokens("default").get()  # a warm token: the sweep reads no token lease
    library.calls.clear()  # type: ignore[attr-defined]

    report = run_sweep(2, 100, time_left_ms=lambda: 60_000, reserve_ms=1_000)

    assert (report.due, report.checked) == (6, 6)
    calls = library.calls  # type: ignore[attr-defined]
    assert calls.get("GetItem STATE", 0) == 0
    assert calls["GetItem"] == 1  # the rate prior, once for six jobs
