"""The simulated benchmarks (tokens, cost) give exact figures, whatever real time and thread scheduling do."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import base as powertools_base
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from zoho_watch.tokens import lease_key
from zoho_watch.zoho import ZohoClient

import bench.tokens
from bench.cost import BENCH_JOB_ID, create_job_with_id, one_hour_job, zoho_watch_usage
from bench.stack import (
    REGION,
    SIMULATION_EPOCH,
    SIMULATION_ZOHO_TIMEOUTS,
    TABLE_NAME,
    atomic_dynamodb,
    create_jobs_table,
    local_stack,
    simulated_secrets,
    start_simulated_clock,
)
from bench.tokens import (
    Economy,
    SimulationStalled,
    _run_workers,
    lease_wait,
    run_sdk_style,
    run_zoho_watch,
)
from fake_zoho import FakeZoho, JobProfile


class SimClock:
    def __init__(self, now: float = SIMULATION_EPOCH) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_refreshes_are_exact() -> None:
    # Tokens live 3600 s and are replaced 120 s early, at the first step (every 120 s) where now >= expiry -
    # 120: at 0, 3480 and 6960 s of the 2 hours, once each, whichever worker wins the lease.
    economy = run_zoho_watch(workers=5, hours=2.0, step=120.0)
    assert economy == Economy(refreshes=3, throttled=0, max_in_window=1, checks=300, failed_checks=0)


def test_sdk_baseline_counts_are_exact() -> None:
    # 20 containers; Zoho grants 10 tokens per 10 minutes and keeps 15 live per refresh token (the oldest are
    # evicted). 0 s: 10 granted, 10 refused, and refused again at 120-480 s (50 refused, 50 failed checks).
    # 600 s: the other 10 granted, evicting 5 tokens of 0 s, whose owners fail every call till they refresh at
    # 3600 s (25 steps x 5 = 125). 3600 s: 10 granted, evicting 5 of 600 s (5 steps x 5 = 25 until 4200 s).
    # 4200 s: 10 granted, evicting 5 of 3600 s (10 steps x 5 = 50 to the end). 45 steps x 20 = 900 checks.
    economy = run_sdk_style(workers=20, hours=1.5, step=120.0)
    assert economy == Economy(refreshes=40, throttled=50, max_in_window=10, checks=650, failed_checks=250)


def _slow_refresh(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    original = ZohoClient.refresh_access_token

    def slow(self: ZohoClient, *args: object, **kwargs: object) -> object:
        time.sleep(seconds)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ZohoClient, "refresh_access_token", slow)


def test_a_refresh_slower_than_the_providers_patience_decides_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The provider waits min(15, TOKEN_LEASE_SECONDS) real seconds (time.monotonic) for another worker's
    # refresh. A 1 s patience and a 2.5 s refresh stand for a loaded machine: the figures are an idle one's.
    monkeypatch.setenv("TOKEN_LEASE_SECONDS", "1")
    _slow_refresh(monkeypatch, 2.5)
    economy = run_zoho_watch(workers=4, hours=0.1, step=120.0)
    assert economy == Economy(refreshes=1, throttled=0, max_in_window=1, checks=12, failed_checks=0)


def test_one_hour_job_checks_are_exact() -> None:
    usage, lag = zoho_watch_usage()
    assert usage.checks == 36
    assert usage.transitions == 1 + 3 * usage.checks  # the start's own state, then three per check
    assert lag == pytest.approx(24.7, abs=0.05)
    # Credentials read at the first refresh and again at the second, 58 simulated minutes later (their cache
    # lives 300 s of the simulated clock); the access-token secret read 4 times, created once, written twice.
    assert usage.detail["secretsmanager.GetSecretValue"] == 6
    assert usage.secrets_calls == 9


def test_a_job_after_others_of_its_module_waits_out_its_queue_on_their_prior() -> None:
    first, _ = zoho_watch_usage()
    usage, lag = zoho_watch_usage(after_earlier_jobs=True)
    # The prior of the module's three jobs bounds how short this one's run can be: its minute of queue
    # costs one check instead of a back-off's eight, and its run fewer checks than the first job's. Their
    # progress strayed from the estimates, so the last wait aims past the estimated end by the widest margin
    # (a quarter of the 177 s budget): this job ended as estimated, 64 s before that check.
    assert usage.checks == 23 < first.checks
    assert lag == pytest.approx(63.6, abs=0.05)
    assert usage.transitions == 1 + 3 * usage.checks
    # Only this job's calls are counted: the token the earlier jobs refreshed is still good for a while.
    assert usage.detail["secretsmanager.GetSecretValue"] == 3
    assert "secretsmanager.CreateSecret" not in usage.detail


def test_the_watched_job_has_the_same_id_every_run() -> None:
    zoho = FakeZoho()
    start_simulated_clock(zoho)
    assert create_job_with_id(zoho, BENCH_JOB_ID, "Leads", 20_000, one_hour_job()) == BENCH_JOB_ID
    assert zoho.job(BENCH_JOB_ID).created_at == SIMULATION_EPOCH
    # Only that job: the emulator draws the next id itself again.
    assert zoho.create_job("Leads", total=10, profile=JobProfile()) != BENCH_JOB_ID


def test_simulated_secret_cache_ages_on_the_simulated_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimClock()
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name="bench/credentials", SecretString='{"a": 1}')
        calls: list[str] = []
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
        provider = simulated_secrets(clock, client)
        assert provider.get("bench/credentials", transform="json", max_age=300) == {"a": 1}
        # A day of real time passes (Powertools reads datetime.now()): the simulated cache does not care.
        later = datetime.now() + timedelta(days=1)
        monkeypatch.setattr(
            powertools_base, "datetime", type("Later", (datetime,), {"now": lambda *_: later})
        )
        provider.get("bench/credentials", transform="json", max_age=300)
        assert len(calls) == 1
        clock.now += 300
        provider.get("bench/credentials", transform="json", max_age=300)
        assert len(calls) == 1  # still within max_age (inclusive, as Powertools)
        clock.now += 1
        provider.get("bench/credentials", transform="json", max_age=300)
        assert len(calls) == 2


def test_lease_wait_returns_when_no_refresh_is_in_flight() -> None:
    clock = SimClock()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_jobs_table(dynamodb)
        sleep = lease_wait(dynamodb, TABLE_NAME, "default", clock)

        def lease(phase: str, until: float) -> None:
            item = {**lease_key("default"), "phase": {"S": phase}, "lease_until": {"N": str(until)}}
            dynamodb.put_item(TableName=TABLE_NAME, Item=item)

        sleep(0.01)  # no lease item at all
        lease("spacing", clock() + 65)
        sleep(0.01)
        lease("refreshing", clock())  # ran out on the simulated clock
        sleep(0.01)
        lease("refreshing", clock() + 30)
        threading.Timer(0.3, lambda: lease("spacing", clock() + 65)).start()
        started = time.monotonic()
        sleep(0.01)  # returns only once the refresher has marked the lease "spacing"
        assert time.monotonic() - started >= 0.25


def test_lease_wait_reports_a_stalled_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.tokens, "STALL_SECONDS", 0.2)
    clock = SimClock()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_jobs_table(dynamodb)
        item = {**lease_key("default"), "phase": {"S": "refreshing"}, "lease_until": {"N": str(clock() + 30)}}
        dynamodb.put_item(TableName=TABLE_NAME, Item=item)
        with pytest.raises(SimulationStalled):
            lease_wait(dynamodb, TABLE_NAME, "default", clock)(0.01)


def test_atomic_dynamodb_is_undone_after_the_block() -> None:
    before = DynamoDBBackend.put_item
    with atomic_dynamodb():
        assert getattr(DynamoDBBackend.put_item, "__zoho_watch_atomic__", False)
    assert DynamoDBBackend.put_item is before


def test_run_workers_moves_the_clock_per_step_and_raises_a_workers_error() -> None:
    zoho = FakeZoho()
    with pytest.raises(ValueError, match="frozen"):
        _run_workers(2, zoho, [lambda worker: True], hours=0.1, step=120.0)
    start_simulated_clock(zoho)
    seen: list[tuple[int, float]] = []
    lock = threading.Lock()

    def check(worker: int) -> bool:
        with lock:
            seen.append((worker, zoho.clock.now()))
        return worker == 0

    assert _run_workers(3, zoho, [check], hours=0.1, step=120.0) == (3, 6)
    assert sorted(seen) == [(w, SIMULATION_EPOCH + 120.0 * s) for w in range(3) for s in range(3)]

    # Phases: every worker ends one before any starts the next; False skips the worker's later phases.
    order: list[tuple[str, int]] = []

    def first(worker: int) -> bool | None:
        with lock:
            order.append(("first", worker))
        return False if worker == 2 else None

    def second(worker: int) -> bool:
        with lock:
            order.append(("second", worker))
        return True

    assert _run_workers(3, zoho, [first, second], hours=0.1, step=120.0) == (6, 3)
    for step in range(3):
        chunk = order[5 * step : 5 * step + 5]
        assert sorted(chunk[:3]) == [("first", 0), ("first", 1), ("first", 2)]
        assert sorted(chunk[3:]) == [("second", 0), ("second", 1)]

    def broken(worker: int) -> bool:
        if worker == 1 and zoho.clock.now() > SIMULATION_EPOCH + 500:
            raise RuntimeError("worker 1 broke")
        return True

    with pytest.raises(RuntimeError, match="worker 1 broke"):
        _run_workers(3, zoho, [broken], hours=0.5, step=120.0)


def test_simulated_stack_is_atomic_with_a_simulated_cache_and_long_time_outs() -> None:
    with FakeZoho() as zoho:
        start_simulated_clock(zoho)
        with local_stack(zoho, simulated=True) as stack:
            settings = stack.services.settings
            assert (settings.zoho_connect_timeout, settings.zoho_read_timeout) == SIMULATION_ZOHO_TIMEOUTS
            assert getattr(DynamoDBBackend.put_item, "__zoho_watch_atomic__", False)
            provider = stack.services.tokens(stack.connection)
            assert provider.connection_secrets._secrets is stack.services.secrets
            assert type(stack.services.secrets).__name__ == "SimulatedSecretsProvider"
        with local_stack(zoho) as stack:
            assert stack.services.settings.zoho_read_timeout == 10.0
            assert type(stack.services.secrets).__name__ == "SecretsProvider"
