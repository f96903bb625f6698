"""The cost arithmetic, the state machine walk, item sizes, and the 10-minute refresh window."""

from __future__ import annotations

import json

import pytest

from bench.cost import ASL_PATH, FIXED_LOOP_ASL, fixed_loop_usage
from bench.pricing import Usage
from bench.table import Row, percentile, render
from bench.tokens import max_in_window
from bench.transitions import count_transitions, retry_transitions, transitions_by_type, transitions_detail
from bench.write_units import WriteMeter, index_writes, item_size


def test_fixed_loop_walk_counts_every_state_entered() -> None:
    outputs = [{"status": "RUNNING"}, {"status": "RUNNING"}, {"status": "COMPLETED"}]
    # CheckJob, Done?, Wait30 twice, then CheckJob, Done?, Succeeded.
    assert count_transitions(FIXED_LOOP_ASL, outputs) == 9


def test_watch_job_walk_is_three_states_per_check() -> None:
    asl = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    running = {"status": "RUNNING", "terminal": False, "deadline_passed": False, "continue_as_new": False}
    done = {**running, "status": "COMPLETED", "terminal": True}
    # One state when the execution starts (it was started by zoho-watch), then three per check.
    assert count_transitions(asl, [running] * 4 + [done]) == 1 + 15
    failed = {**running, "status": "FAILED", "terminal": True}
    assert count_transitions(asl, [running, failed]) == 1 + 6
    with pytest.raises(ValueError, match="more checks"):
        count_transitions(asl, [running])
    # Started by anyone else: refused before any check.
    assert count_transitions(asl, [], execution_input={"module": "Leads", "job_id": "1"}) == 2


def test_usage_arithmetic() -> None:
    usage = Usage(
        checks=10,
        transitions=30,
        lambda_ms=400,
        memory_mb=256,
        write_units=20,
        read_units=10,
        secrets_calls=4,
        events=2,
    )
    prices = dict((item, price) for item, _, price in usage.lines())
    assert prices["Step Functions transitions"] == pytest.approx(30 * 0.000025)
    assert prices["Lambda requests"] == pytest.approx(10 * 0.20 / 1e6)
    assert prices["Lambda GB-seconds"] == pytest.approx(1.0 * 0.0000166667)  # 10 x 0.4 s x 0.25 GB
    assert prices["DynamoDB writes"] == pytest.approx(20 * 0.625 / 1e6)
    assert prices["DynamoDB reads"] == pytest.approx(10 * 0.125 / 1e6)
    assert prices["Secrets Manager"] == pytest.approx(4 * 0.05 / 1e4)
    assert prices["EventBridge"] == pytest.approx(2 / 1e6)
    assert usage.dollars == pytest.approx(sum(prices.values()))
    assert "1.00 GB-s" in dict((item, text) for item, text, _ in usage.lines())["Lambda GB-seconds"]


def test_fixed_loop_of_a_one_hour_job() -> None:
    usage, lag = fixed_loop_usage(30.0)
    # 60 s queue + 3540 s run, a check every 30.55 s: 118 running checks and the one that sees the end.
    assert usage.checks == 119
    assert usage.transitions == 3 * usage.checks
    assert 0 <= lag < 31


def test_item_size_counts_names_and_values() -> None:
    assert item_size({"pk": {"S": "abc"}}) == 5
    assert item_size({"ok": {"BOOL": True}}) == 3
    assert item_size({"n": {"N": "1234"}}) == 1 + 4
    assert item_size({"l": {"L": [{"S": "ab"}]}}) == 1 + 3 + 1 + 2


def test_max_in_window_is_half_open() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([0, 100, 599, 600, 1300]) == 3
    assert max_in_window([1300, 0, 600, 100, 599]) == 3  # order does not matter
    assert max_in_window([0, 600, 1200]) == 1


def test_percentile_and_render() -> None:
    assert percentile([1, 2, 3, 4, 5], 0.5) == 3
    assert percentile([0, 10], 0.95) == pytest.approx(9.5)
    text = render([Row("a|b", "1", "2", "3", "goal", True), Row("c", "-", "-", "x", "", None)])
    assert "a\\|b" in text and "| yes |" in text and text.count("\n") == 3


def test_transitions_by_type_and_retries() -> None:
    asl = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    running = {"status": "RUNNING", "terminal": False, "deadline_passed": False, "continue_as_new": False}
    done = {**running, "status": "COMPLETED", "terminal": True}
    by_type = transitions_by_type(asl, [running] * 2 + [done])
    assert by_type == {"Choice": 4, "Task": 3, "Wait": 2, "Succeed": 1}
    assert retry_transitions(99, 0.01) == pytest.approx(1.0)
    assert retry_transitions(10, 0.0) == 0
    with pytest.raises(ValueError):
        retry_transitions(10, 1.0)
    assert "= 10 (3.33 per check)" in transitions_detail(by_type, 3, 0.01)


def test_index_writes_follow_the_index_keys() -> None:
    active = {"active": {"S": "ACTIVE"}, "next_check_at": {"N": "1"}}
    moved = {"active": {"S": "ACTIVE"}, "next_check_at": {"N": "2"}}
    assert index_writes(None, active, 2) == 2  # a new entry, the item's size
    assert index_writes(active, active, 2) == 2  # rewritten in place (projects ALL)
    assert index_writes(active, moved, 2) == 4  # its sort key moved: a delete and a put
    assert index_writes(active, {}, 2) == 2  # left the sparse index
    listed = {"listing": {"S": "JOBS"}, "listing_key": {"S": "a"}}
    assert index_writes(listed, listed, 3) == 0  # keys only, unchanged
    assert index_writes(listed, {**listed, "listing_key": {"S": "b"}}, 3) == 2


def test_write_meter_prices_reads_and_index_copies() -> None:
    class Model:
        def __init__(self, name: str) -> None:
            self.name = name

    meter = WriteMeter()
    item = {"pk": {"S": "a"}, "sk": {"S": "STATE"}, "active": {"S": "X"}, "next_check_at": {"N": "1"}}
    meter.hook(Model("PutItem"), {"Item": item})
    assert meter.write_units == 2  # the item and its ActiveJobs copy
    meter.hook(Model("UpdateItem"), {"Key": item, "UpdateExpression": "SET next_check_at = :n"})
    assert meter.write_units == 2 + 1 + 2
    meter.hook(Model("GetItem"), {"ConsistentRead": True})
    meter.hook(Model("GetItem"), {})
    assert meter.read_units == 1.5
    meter.query_reply({"Items": [item] * 200})  # about 7 KB returned: two 4 KB units, eventually consistent
    assert meter.read_units == 1.5 + 1.0


def test_schedule_mode_shares_and_scaling() -> None:
    from bench.schedule_cost import SWEEP_RUN_MS, SweepCount, job_ids, run_billed_ms

    assert run_billed_ms(0, 5) == SWEEP_RUN_MS
    assert run_billed_ms(6, 5) == SWEEP_RUN_MS + 2 * 400
    assert job_ids(2) == ["554023000000612007", "554023000000612008"]
    count = SweepCount(
        jobs=10,
        runs=60,
        checks=300,
        billed_ms=60_000.0,
        write_units=1000.0,
        read_units=190.0,
        idle_read_units=1.5,
        secrets_calls=12,
        events=40,
        lag=30.0,
        detail={},
    )
    one = count.per_job(256)
    assert one.transitions == 0
    assert dict((item, text) for item, text, _ in one.lines())["Lambda requests"].startswith("6 x")
    assert one.events == pytest.approx((40 + 60) / 10)
    big = count.computed_for(1000)
    assert big.runs == 60 and big.checks == 30_000
    assert big.read_units == pytest.approx(90 + 100 * 100)  # shared 60 x 1.5, the rest x 100
    assert big.per_job(256).dollars < one.dollars
