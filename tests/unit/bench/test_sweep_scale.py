"""The scale model's arithmetic (bench.scale) and the sweep bench's count of urllib3's pool records."""

from __future__ import annotations

import logging

import pytest

from bench import scale
from bench.pricing import (
    PRICE_EVENT,
    PRICE_GB_SECOND,
    PRICE_LAMBDA_REQUEST,
    PRICE_READ_UNIT,
    PRICE_WRITE_UNIT,
)
from bench.sweep import ConnectionLog

USABLE = scale.SWEEP_TIMEOUT_SECONDS - scale.RESERVE_SECONDS  # 36.95 s in which a Zoho call may start


def test_each_bound_of_a_run_binds_when_it_is_the_least() -> None:
    # Zoho: 5 x 36.95 / 0.3 = 615.8 checks; the batch 1,000; the time-out 36.95 / 0.01 = 3,695.
    free = scale.ceiling(5, 0.3, 0.01)
    assert free.zoho == pytest.approx(615.83, abs=0.01) and free.binding == "Zoho concurrency"
    assert free.capacity == pytest.approx(5 * USABLE / 0.3)
    # Ultimate: 25 x 36.95 / 0.3 = 3,079 > the batch 1,000.
    assert scale.ceiling(25, 0.3, 0.01).binding == "batch limit"
    # A sweep that spends 50 ms of its own per check: 739 checks in the time left, the least.
    slow = scale.ceiling(25, 0.3, 0.05, batch_limit=10_000)
    assert slow.binding == "Lambda time-out" and slow.capacity == pytest.approx(USABLE / 0.05)


def test_jobs_due_and_jobs_watched() -> None:
    assert scale.due_per_run(10_000, 12) == 2000  # 10,000 x 12 checks an hour / 60 runs
    assert scale.max_jobs(1000, 12) == 5000
    assert scale.run_seconds(2000, 10, 0.3, 0.001) == pytest.approx(60.0)  # Zoho's part: 2000 x 0.3 / 10
    assert scale.run_seconds(2000, 25, 0.3, 0.02) == pytest.approx(40.0)  # the sweep's own: 2000 x 0.02


def test_per_check_counts_items_and_events() -> None:
    calls = {"dynamodb.UpdateItem": 200, "dynamodb.PutItem": 100, "dynamodb.GetItem": 10}
    calls |= {"dynamodb.Query": 2, "events.PutEvents": 100}
    measured = scale.per_check(calls, due_items_read=100, checked=100, own_seconds=0.02)
    assert measured == scale.PerCheck(items_read=1.1, items_written=3.0, events=1.0, own_seconds=0.02)
    with pytest.raises(ValueError, match="no job"):
        scale.per_check(calls, 0, 0, 0.02)


def test_cost_per_day_uses_the_cost_bench_prices() -> None:
    measured = scale.PerCheck(items_read=1.0, items_written=2.0, events=1.0, own_seconds=0.0)
    costs = scale.cost_per_day(measured, due=100, seconds_per_run=10.0)
    runs, checks = 1440, 144_000
    assert costs["lambda"] == pytest.approx(runs * (PRICE_LAMBDA_REQUEST + 10 * 0.25 * PRICE_GB_SECOND))
    assert costs["dynamodb"] == pytest.approx(checks * (2 * PRICE_WRITE_UNIT + 0.5 * PRICE_READ_UNIT))
    assert costs["events"] == pytest.approx(checks * PRICE_EVENT)


def test_the_rows_mark_what_is_computed() -> None:
    rows = scale.rows(scale.PerCheck(1.0, 3.0, 1.0, 0.01), budget=10, latency=0.3)
    assert len(rows) == 3 + len(scale.EDITIONS)
    assert all("computed" in row.measure or "measured" in row.measure for row in rows)
    assert "Zoho concurrency binds first" in rows[3].zoho_watch  # Free: 5 slots


def test_the_connection_log_counts_new_connections_and_full_pools() -> None:
    log = ConnectionLog()
    pool = logging.getLogger(ConnectionLog.LOGGER)
    with log.watching():
        pool.debug("Starting new HTTPS connection (%d): %s:%s", 1, "127.0.0.1", 443)
        pool.warning("Connection pool is full, discarding connection: %s. Connection pool size: %s", "h", 10)
        pool.debug("Resetting dropped connection: %s", "127.0.0.1")  # a pooled one, closed by the server
        pool.debug("%s://%s:%s", "https", "127.0.0.1", 443)  # a request's record: no connection opened
    pool.warning("Connection pool is full, discarding connection: %s. Connection pool size: %s", "h", 10)
    assert (log.new_connections, log.pool_full) == (2, 1)
