"""The embedded stack's clock (zoho_watch_local/clock.py): it jumps to the earliest wake-up when nobody holds
it, never while someone does, and hands a woken waiter its hold back before it can jump again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from zoho_watch_local import clock as clock_module
from zoho_watch_local import thread_context
from zoho_watch_local.clock import VirtualClock, current_hold

START = 1_000_000.0


def settle(condition: Callable[[], bool], what: str) -> None:
    """Wait (real time) for other threads to get somewhere; the bound only stops a hung test."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.001)


def sleeper(
    clock: VirtualClock, seconds: list[float], woke: list[tuple[str, float]], name: str
) -> threading.Thread:
    """A participant that works (holds), then sleeps each of `seconds` in turn on the clock."""
    hold = clock.hold().acquire()  # taken by the starter: no jump before the thread runs

    def run() -> None:
        try:
            for wait in seconds:
                clock.sleep(wait, hold=hold)
                woke.append((name, clock.now()))
        finally:
            hold.release()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_the_clock_jumps_to_the_earliest_wake_up_when_nobody_holds_it() -> None:
    clock = VirtualClock(start=START)
    woke: list[tuple[str, float]] = []
    with clock.busy():  # the driver sets things up
        threads = [sleeper(clock, [10, 3600], woke, "a"), sleeper(clock, [5, 5, 5], woke, "b")]
        settle(lambda: clock.state()["waiters"] == 2, "both wait")
        assert clock.now() == START  # held: no jump however long the driver takes
    for thread in threads:
        thread.join(timeout=30)
    # a and b both wake at +10, in either order.
    expected = [
        ("b", START + 5),
        ("a", START + 10),
        ("b", START + 10),
        ("b", START + 15),
        ("a", START + 3610),
    ]
    assert sorted(woke, key=lambda item: (item[1], item[0])) == expected
    assert clock.now() == START + 3610
    assert clock.holds == 0


def test_no_jump_while_a_hold_is_held_and_one_as_soon_as_it_is_let_go() -> None:
    clock = VirtualClock(start=START)
    work = clock.hold().acquire()  # an invocation in progress
    woke: list[tuple[str, float]] = []
    thread = sleeper(clock, [60], woke, "waiter")
    settle(lambda: clock.state()["waiters"] == 1, "it waits")
    time.sleep(0.05)
    assert (clock.now(), woke) == (START, [])
    work.release()
    thread.join(timeout=30)
    assert woke == [("waiter", START + 60)]


def test_a_woken_waiter_holds_the_clock_before_it_can_jump_again() -> None:
    clock = VirtualClock(start=START)
    seen: list[float] = []
    gate = threading.Event()
    first = clock.hold().acquire()

    def slow_worker() -> None:
        clock.sleep(10, hold=first)
        gate.wait(timeout=30)  # works a long (real) while after waking, holding the clock
        seen.append(clock.now())
        first.release()

    woke: list[tuple[str, float]] = []
    with clock.busy():
        worker = threading.Thread(target=slow_worker, daemon=True)
        worker.start()
        other = sleeper(clock, [20], woke, "other")
        settle(lambda: clock.state()["waiters"] == 2, "both wait")
    settle(lambda: clock.now() == START + 10, "the first jump")
    time.sleep(0.05)
    assert clock.now() == START + 10 and woke == []  # the woken worker holds it: no second jump
    gate.set()
    worker.join(timeout=30)
    other.join(timeout=30)
    assert seen == [START + 10]
    assert woke == [("other", START + 20)]


def test_a_frozen_clock_moves_only_when_advanced() -> None:
    clock = VirtualClock(start=START)
    clock.freeze()
    woke: list[tuple[str, float]] = []
    thread = sleeper(clock, [30], woke, "waiter")
    settle(lambda: clock.state()["waiters"] == 1, "it waits")
    time.sleep(0.05)
    assert clock.now() == START and woke == []
    clock.advance(29)
    time.sleep(0.05)
    assert woke == []
    clock.advance(1)
    thread.join(timeout=30)
    assert woke == [("waiter", START + 30)]
    clock.resume()
    assert clock.sleep(100)  # nobody holds: a jump
    assert clock.now() == START + 130


def test_a_scaled_clock_runs_with_real_time_and_ignores_holds() -> None:
    clock = VirtualClock(scale=1000.0, start=START)
    with clock.busy():
        before = clock.now()
        assert clock.sleep(50)  # 50 simulated seconds: 50 real milliseconds
        assert clock.now() >= before + 50
    assert clock.real_seconds(100) == pytest.approx(0.1)
    assert VirtualClock().real_seconds(100) == float("inf")


def test_a_wait_is_cut_short_by_keep_waiting_and_by_release_and_takes_its_hold_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The backstop look at `keep_waiting` never comes within the test: the nudge is what ends the wait.
    monkeypatch.setattr(clock_module, "_BACKSTOP_SECONDS", 3600.0)
    clock = VirtualClock(start=START)
    stop = threading.Event()
    hold = clock.hold().acquire()
    with clock.busy():  # no jump: the wait can only be cut short
        results: list[bool] = []
        thread = threading.Thread(
            target=lambda: results.append(clock.wait_until(START + 99, hold, lambda: not stop.is_set()))
        )
        thread.start()
        settle(lambda: clock.state()["waiters"] == 1, "it waits")
        assert clock.holds == 1  # its hold was let go while it waits
        clock.nudge()  # nothing changed: it looks, and waits on
        settle(lambda: not clock._waiters[0][2].event.is_set(), "it looked")
        assert thread.is_alive() and results == []
        stop.set()
        clock.nudge()
        thread.join(timeout=30)
        assert results == [False] and hold.held and clock.holds == 2
        hold.release()
        other = threading.Thread(target=lambda: results.append(clock.sleep(99)))
        other.start()
        settle(lambda: clock.state()["waiters"] == 1, "it waits")
        clock.release_waiters()
        other.join(timeout=30)
    assert results == [False, False] and clock.now() == START


def test_a_nudge_on_a_topic_wakes_only_the_waits_on_that_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock_module, "_BACKSTOP_SECONDS", 3600.0)  # only nudges make a wait look
    clock = VirtualClock(start=START)
    ended = {"red": threading.Event(), "blue": threading.Event()}
    looks = {"red": 0, "blue": 0}
    results: dict[str, bool] = {}

    def wait(topic: str) -> None:
        def keep_waiting() -> bool:
            looks[topic] += 1
            return not ended[topic].is_set()

        results[topic] = clock.wait_until(START + 99, keep_waiting=keep_waiting, topic=topic)

    with clock.busy():  # no jump: the waits can only be cut short
        threads = [threading.Thread(target=wait, args=(topic,)) for topic in ("red", "blue")]
        for thread in threads:
            thread.start()
        settle(lambda: clock.state()["waiters"] == 2 and looks == {"red": 1, "blue": 1}, "both wait")
        ended["red"].set()
        clock.nudge("red")
        threads[0].join(timeout=30)
        assert results == {"red": False} and looks == {"red": 2, "blue": 1}  # blue never looked
        ended["blue"].set()
        clock.nudge()  # no topic: every wait looks
        threads[1].join(timeout=30)
    assert results == {"red": False, "blue": False} and looks == {"red": 2, "blue": 2}


def test_threads_inherit_the_hold_of_the_work_that_starts_them() -> None:
    clock = VirtualClock(start=START)
    thread_context.install()
    try:
        hold = clock.hold().acquire()
        found: list[object] = []

        def execution() -> None:
            current_hold.set(hold)
            child = threading.Thread(target=lambda: found.append(current_hold.get()))
            child.start()
            child.join()
            clock.sleep(7)  # lets go of the inherited hold: the clock can jump
            found.append(clock.now())

        thread = threading.Thread(target=execution)
        thread.start()
        thread.join(timeout=30)
        assert found == [hold, START + 7]
        hold.release()
    finally:
        thread_context.uninstall()


def test_bad_settings_are_refused() -> None:
    clock = VirtualClock(start=START)
    for bad in (0, -1, float("inf")):
        with pytest.raises(ValueError):
            clock.set_scale(bad)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(float("nan"))
    assert clock.now() == START and clock.virtual


def test_a_request_lets_go_of_the_clock_only_while_it_is_not_working() -> None:
    clock = VirtualClock(start=START)
    seen: dict[str, float] = {}
    held_back = threading.Event()
    go_on = threading.Event()

    def app(environ: dict[str, str], start_response: Callable[..., object]) -> list[bytes]:
        seen["before"] = clock.holds
        with clock.not_working():  # e.g. the emulator holding a reply back in real time
            seen["while"] = clock.holds
            held_back.set()
            assert go_on.wait(30)
        seen["after"] = clock.holds
        start_response("200 OK", [])
        return [b"ok"]

    served = clock.wsgi(app)
    woke: list[tuple[str, float]] = []
    request = threading.Thread(target=lambda: served({}, lambda *args: None), daemon=True)
    with clock.busy():  # the driver
        waiter = sleeper(clock, [60], woke, "w")
        settle(lambda: clock.state()["waiters"] == 1, "the waiter waits")
        request.start()
        assert held_back.wait(30)
        assert clock.now() == START
    # Only the request's hold was left, and it is let go while the reply is held back: the clock jumps.
    waiter.join(timeout=30)
    assert woke == [("w", START + 60)]
    go_on.set()
    request.join(timeout=30)
    assert (seen["before"], seen["while"], seen["after"]) == (2, 1, 1)
    assert clock.holds == 0
    with clock.not_working():  # outside a request: nothing to let go
        assert clock.holds == 0


def test_a_waiter_wakes_on_time_when_the_clock_starts_running_scaled() -> None:
    # Neither change makes the waiter due at once, and nothing else settles the clock afterwards (the hold
    # is kept, no hold is let go): only the waiter itself, told of the change, can notice its moment.
    for change in ("set_scale", "resume"):
        clock = VirtualClock(start=START)
        hold = clock.hold().acquire()  # virtual: no jump
        if change == "resume":
            clock.freeze()
            clock.set_scale(1000.0)
        woke: list[bool] = []
        thread = threading.Thread(
            target=lambda clock=clock, woke=woke: woke.append(clock.wait_until(START + 1))
        )
        thread.start()
        settle(lambda clock=clock: clock.state()["waiters"] == 1, "it waits")
        if change == "resume":
            clock.resume()
        else:
            clock.set_scale(1000.0)  # a simulated second is a real millisecond
        thread.join(timeout=30)
        hold.release()
        assert woke == [True] and clock.now() >= START + 1, change
