"""The memory benchmark: a row per handler and one for the 1,000-job sweep, each with its goal; the fresh
process's measurement reads a positive RSS. Nothing here judges the figures' size (the bench's goals do)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bench import memory
from bench.stack import handler_names

REPLIES: dict[str, list[Any]] = {
    "api": [{"statusCode": 200}, {"statusCode": 200}],
    "check_job": [{"status": "RUNNING"}],
    "sweep": [{"due": 3, "checked": 3, "errors": 0}],
    "watch_request": [{"watching": True}],
}


def test_every_handler_is_measured_with_its_template_function_and_sample_events() -> None:
    assert set(memory.HANDLERS) == set(handler_names())
    for logical_id, events, what in memory.HANDLERS.values():
        assert memory.memory_size(logical_id) >= 128
        assert what
        for file_name in events:
            assert (memory.EVENTS_DIR / file_name).is_file(), file_name


def test_a_peak_row_is_met_only_below_half_of_memory_size() -> None:
    baseline = memory.Peak(40.0, 40.0, [])
    below = memory.peak_row("m", memory.Peak(30.0, 127.0, []), baseline, 256, "done")
    above = memory.peak_row("m", memory.Peak(30.0, 128.0, []), baseline, 256, "done")
    assert below.met is True and above.met is False
    assert below.goal == above.goal == "below half of MemorySize (128 MB of 256 MB)"
    assert below.zoho_watch.startswith("127 MB (30 MB after import")
    assert below.baseline == "40 MB"


def test_replies_that_did_not_do_the_work_are_refused() -> None:
    with pytest.raises(RuntimeError, match="api answered"):
        memory.check_replies("api", [{"statusCode": 200}, {"statusCode": 502}])
    with pytest.raises(RuntimeError, match="checked nothing"):
        memory.check_replies("sweep", [{"due": 3, "checked": 0}])
    with pytest.raises(RuntimeError, match="not watching"):
        memory.check_replies("watch_request", [{"watching": False}])
    assert memory.check_replies("sweep", REPLIES["sweep"]) == "3 checked, 0 errors"


class _Zoho:
    def set_latency(self, seconds: float) -> None:
        pass


class _Stack:
    endpoint = "http://127.0.0.1:1"
    zoho = _Zoho()

    def __init__(self) -> None:
        self.due: list[int] = []

    def watch_due(self, count: int) -> None:
        self.due.append(count)


class _Certificate:
    certfile = Path("cert.pem")

    @classmethod
    def self_signed(cls, directory: Path) -> _Certificate:
        return cls()


def test_measure_builds_a_row_per_handler_and_the_sweep_each_with_a_goal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stacks: list[_Stack] = []
    processes: list[tuple[str, dict[str, str]]] = []

    @contextmanager
    def fake_stack(certificate: Any = None) -> Iterator[_Stack]:
        stacks.append(_Stack())
        yield stacks[-1]

    def fake_process(target: str, name: str = "baseline", events: Any = (), env: Any = None, *_: Any) -> Any:
        processes.append((name, dict(env or {})))
        return memory.Peak(20.0, 60.0, REPLIES.get(name, []))

    monkeypatch.setattr(memory, "memory_stack", fake_stack)
    monkeypatch.setattr(memory, "measure_process", fake_process)
    monkeypatch.setattr(memory, "handler_events", lambda stack, name, folder: ())
    monkeypatch.setattr(memory, "Certificate", _Certificate)

    rows = memory.measure()

    assert len(rows) == len(memory.HANDLERS) + 1
    assert all(row.goal.startswith("below half of MemorySize") and row.met is True for row in rows)
    assert [stack.due for stack in stacks] == [[memory.SWEEP_DUE_JOBS], [memory.SWEEP_JOBS]]
    sweep_env = processes[-1][1]
    assert sweep_env["SWEEP_BATCH_LIMIT"] == str(memory.SWEEP_JOBS)
    assert sweep_env["SWEEP_CONCURRENCY"] == str(memory.SWEEP_BUDGET)
    assert "1000 due jobs" in rows[-1].measure


def test_a_fresh_process_measures_a_positive_rss() -> None:
    peak = memory.measure_process("baseline")
    assert peak.imported > 0
    assert peak.peak >= peak.imported
