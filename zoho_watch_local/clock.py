"""The embedded stack's one clock: virtual time that jumps when every participant waits on it.

Everything on the embedded stack tells time with one `VirtualClock`: the Zoho emulator's jobs and tokens,
Step Functions' Wait states, retry back-offs and execution dates, the scheduler's ticks and the zoho_watch
library in the functions (its `Services.clock`). Three ways to run it:

- **Virtual, with time skipping** (the default, as Temporal's time-skipping test server does). The clock
  stands still while any work is in progress: a participant doing work takes a `Hold` (a Lambda
  invocation, a request to the gateway or the emulator, a running step of an execution, the scheduler
  firing, the test or demo driver between its waits). When no hold is taken and someone waits on the clock
  (`wait_until`: a Wait state, a retrier's back-off, the scheduler's next tick, a driver's `sleep`), the
  clock jumps to the earliest wake-up. What a check sees, and when, is then the same on any machine under
  any load, and a simulated hour costs only the CPU of the work done in it.
- **Scaled**: `scale` simulated seconds per real second (1.0 is real time), for a person using
  `zoho-watch local up`. Holds are kept but do not stop the clock.
- **Frozen**: nothing moves the clock but `advance` and `set` (exact tests); `resume` ends it.

A waiter woken by a jump takes its hold back *before* the clock can jump again (the jump hands the hold
over), so no step of work is ever skipped between two jumps. The clock also speaks the Zoho emulator's
clock protocol (`now`, `scale`, `frozen`, `set_scale`, `freeze`, `resume`, `advance`, `set`, `state`,
`real_seconds`, `reset`), so the emulator runs on it unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Real seconds between two looks of a waiter on a scaled clock, which reaches its moments without anyone's
# notice. It bounds how late a waiter wakes in real time, never what time it is.
_POLL_SECONDS = 0.05
# Real seconds between two looks at a `keep_waiting` test nobody `nudge`d about: a backstop, not the way a
# wait ends (with hundreds of executions waiting, frequent looks would take the CPU from the work).
_BACKSTOP_SECONDS = 5.0


class Hold:
    """One participant's "I am working: do not move the clock" (see module docstring).

    Acquire and release it as often as needed; `with hold:` holds it for the block. A hold given to
    `VirtualClock.wait_until` is let go while waiting and is held again when the wait returns.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self.held = False

    def acquire(self) -> Hold:
        """Hold the clock still (no-op when already held); returns self."""
        self._clock._take(self)
        return self

    def release(self) -> None:
        """Let the clock move again as far as this hold goes (no-op when not held)."""
        self._clock._give_back(self)

    def __enter__(self) -> Hold:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(eq=False)
class _Waiter:
    moment: float
    hold: Hold | None
    topic: object = None
    woken: bool = False
    event: threading.Event = field(default_factory=threading.Event)


# The hold of the work running in this thread (an execution's, say), for code that waits on the clock
# without being handed one: moto's retriers call `time.sleep`. Threads inherit it where the runtime makes
# them inherit the starter's context (see `zoho_watch_local.invocation_scope`).
current_hold: contextvars.ContextVar[Hold | None] = contextvars.ContextVar("clock_hold", default=None)


# The hold of the request a `VirtualClock.wsgi` app is serving, for `VirtualClock.not_working`. Apart from
# `current_hold` on purpose: threads a request starts inherit it, and no wait of theirs may take it back.
_request_hold: contextvars.ContextVar[Hold | None] = contextvars.ContextVar("request_hold", default=None)


class VirtualClock:
    """Epoch seconds for the whole embedded stack (see module docstring)."""

    def __init__(self, scale: float | None = None, start: float | None = None) -> None:
        """`scale` None: virtual time with skipping; a number: that many simulated seconds per real second.
        `start`: the first reading (default: the real time now, so readings look like ordinary dates)."""
        self._cond = threading.Condition()
        self._now = time.time() if start is None else float(start)
        self._anchor_real = time.monotonic()
        self._scale: float | None = None
        self._frozen = False
        self._holds = 0
        self._waiters: list[tuple[float, int, _Waiter]] = []  # a heap: the earliest wake-up first
        self._order = itertools.count()
        self._released = False
        self.jumps = 0  # how many times the clock skipped ahead (tests and the demo report it)
        self.set_scale(scale)

    # ---- reading ----------------------------------------------------------------------------------------

    def _read(self) -> float:
        # Caller holds the lock.
        if self._scale is None or self._frozen:
            return self._now
        return self._now + (time.monotonic() - self._anchor_real) * self._scale

    def _rebase(self) -> None:
        # Fold the real time elapsed at scale into `_now` (caller holds the lock).
        self._now = self._read()
        self._anchor_real = time.monotonic()

    def now(self) -> float:
        """The simulated time, epoch seconds."""
        with self._cond:
            return self._read()

    @property
    def virtual(self) -> bool:
        """True when the clock skips ahead instead of running with real time."""
        return self._scale is None

    @property
    def scale(self) -> float | None:
        """Simulated seconds per real second; None for virtual time with skipping."""
        return self._scale

    @property
    def frozen(self) -> bool:
        """True while only `advance` and `set` move the clock."""
        return self._frozen

    @property
    def holds(self) -> int:
        """How many holds keep the clock still right now."""
        with self._cond:
            return self._holds

    def state(self) -> dict[str, Any]:
        """JSON-ready view: now, scale (None: virtual), frozen, holds, waiters, jumps."""
        with self._cond:
            return {
                "now": self._read(),
                "scale": self._scale,
                "virtual": self._scale is None,
                "frozen": self._frozen,
                "holds": self._holds,
                "waiters": sum(1 for _, _, waiter in self._waiters if not waiter.woken),
                "jumps": self.jumps,
            }

    def real_seconds(self, simulated_seconds: float) -> float:
        """Real seconds `simulated_seconds` take when the clock runs at a scale (inf when virtual or frozen:
        then it moves only when work lets it)."""
        if self._frozen or self._scale is None:
            return float("inf")
        return max(0.0, simulated_seconds) / self._scale

    # ---- control ----------------------------------------------------------------------------------------

    def set_scale(self, scale: float | None) -> None:
        """Run at `scale` simulated seconds per real second from now on, or virtual (skipping) with None."""
        if scale is not None:
            scale = float(scale)
            if not scale > 0 or scale == float("inf"):
                raise ValueError(f"clock scale must be a positive finite number or None, got {scale!r}")
        with self._cond:
            self._rebase()
            self._scale = scale
            self._settle()
            self._wake_waiters()  # each works out again how long it may sleep

    def freeze(self) -> None:
        """Stop the clock where it is: from now on only `advance` and `set` move it."""
        with self._cond:
            self._rebase()
            self._frozen = True

    def resume(self) -> None:
        """End `freeze`: the clock runs (scaled) or skips (virtual) again from the time it shows."""
        with self._cond:
            self._rebase()
            self._frozen = False
            self._settle()
            self._wake_waiters()  # a scaled clock runs again: each works out how long it may sleep

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (finite, >= 0) and wake who is due; return the new time."""
        seconds = float(seconds)
        if not seconds >= 0 or seconds == float("inf"):
            raise ValueError(f"the clock only advances by a finite number of seconds >= 0, got {seconds!r}")
        with self._cond:
            self._rebase()
            self._now += seconds
            self._settle()
            return self._now

    def set(self, epoch_seconds: float) -> None:
        """Show `epoch_seconds` now (it may go backwards: tests of clock skew use it)."""
        epoch_seconds = float(epoch_seconds)
        if epoch_seconds != epoch_seconds or epoch_seconds in (float("inf"), float("-inf")):
            raise ValueError("the clock's time must be a finite number")
        with self._cond:
            self._rebase()
            self._now = epoch_seconds
            self._settle()

    def reset(self, scale: float | None = None) -> None:
        """The emulator's reset: the stack owns this clock and time never runs backwards, so only the way it
        runs is set again (unfrozen, `scale`)."""
        with self._cond:
            self._rebase()
            self._frozen = False
        self.set_scale(scale)

    def release_waiters(self) -> None:
        """End every wait now and from now on (the stack is stopping: no thread may stay blocked)."""
        with self._cond:
            self._released = True
            self._wake_waiters()

    def nudge(self, topic: object = None) -> None:
        """Have the waiters on `topic` (every waiter when None) look at their `keep_waiting` again now:
        something may have ended their wait."""
        with self._cond:
            self._wake_waiters(topic)

    def _wake_waiters(self, topic: object = None) -> None:
        """Wake the waiters on `topic` (all when None) to look at the clock and their `keep_waiting` again
        (caller holds the lock). Waking only those concerned matters: each woken thread takes the GIL."""
        for _, _, waiter in self._waiters:
            if topic is None or waiter.topic is topic:
                waiter.event.set()

    def restore(self) -> None:
        """Let waits wait again (the stack started)."""
        with self._cond:
            self._released = False

    # ---- holds ------------------------------------------------------------------------------------------

    def hold(self) -> Hold:
        """A new hold, not yet taken."""
        return Hold(self)

    @contextlib.contextmanager
    def busy(self) -> Iterator[Hold]:
        """Hold the clock still for the block (a unit of work: an invocation, a request)."""
        with Hold(self) as hold:
            yield hold

    def _take(self, hold: Hold) -> None:
        with self._cond:
            if not hold.held:
                hold.held = True
                self._holds += 1

    def _give_back(self, hold: Hold) -> None:
        with self._cond:
            if hold.held:
                hold.held = False
                self._holds -= 1
                self._settle()

    # ---- waiting ----------------------------------------------------------------------------------------

    def _settle(self) -> None:
        """Wake the waiters that are due, then jump if nobody works (caller holds the lock)."""
        waiters = self._waiters
        while waiters and waiters[0][2].woken:  # cut short: already gone
            heapq.heappop(waiters)
        if not waiters:
            return
        now = self._read()
        if self._scale is None and not self._frozen and self._holds == 0 and waiters[0][0] > now:
            self._now = now = waiters[0][0]
            self.jumps += 1
        while waiters and waiters[0][0] <= now:
            waiter = heapq.heappop(waiters)[2]
            if waiter.woken:
                continue
            waiter.woken = True
            # The hold goes back to its waiter now, not when its thread runs: no second jump in between.
            if waiter.hold is not None and not waiter.hold.held:
                waiter.hold.held = True
                self._holds += 1
            waiter.event.set()

    def wait_until(
        self,
        moment: float,
        hold: Hold | None = None,
        keep_waiting: Callable[[], bool] | None = None,
        topic: object = None,
    ) -> bool:
        """Block until the clock shows `moment`; True then, False when cut short.

        `hold` (default: this thread's `current_hold`, if any) is let go while waiting and held again on
        return. The wait is cut short when `keep_waiting()` turns false or by `release_waiters`.
        `keep_waiting` is looked at when the wait starts and again at each `nudge()` of `topic` (any object
        naming what the wait depends on, compared by identity; every nudge when None): whoever may have made
        it false calls `nudge(topic)` (and a look every few real seconds is the backstop).
        """
        if hold is None:
            hold = current_hold.get()
        waiter = _Waiter(float(moment), hold, topic)
        with self._cond:
            if self._read() >= moment:
                return True
            if hold is not None and hold.held:
                hold.held = False
                self._holds -= 1
            heapq.heappush(self._waiters, (waiter.moment, next(self._order), waiter))
            self._settle()
        try:
            while not waiter.woken:
                if self._released or (keep_waiting is not None and not keep_waiting()):
                    break
                timeout = None if keep_waiting is None else _BACKSTOP_SECONDS
                scale = self._scale
                if scale is not None and not self._frozen:
                    timeout = min(_POLL_SECONDS, max(0.0, (moment - self.now()) / scale))
                if waiter.event.wait(timeout):
                    with self._cond:
                        if not waiter.woken:
                            waiter.event.clear()  # a nudge: look at `keep_waiting` again
                elif scale is not None:
                    with self._cond:
                        self._settle()  # a running clock reaches moments without anyone's notice
        finally:
            with self._cond:
                reached = waiter.woken
                if not reached:
                    waiter.woken = True  # cut short: `_settle` drops it from the heap
                    if hold is not None and not hold.held:
                        hold.held = True
                        self._holds += 1
        return reached

    def sleep(
        self,
        seconds: float,
        hold: Hold | None = None,
        keep_waiting: Callable[[], bool] | None = None,
        topic: object = None,
    ) -> bool:
        """Wait `seconds` of simulated time (see `wait_until`)."""
        moment = self.now() + max(0.0, float(seconds))
        return self.wait_until(moment, hold=hold, keep_waiting=keep_waiting, topic=topic)

    def idle(self, hold: Hold, real_seconds: float) -> None:
        """Let go of `hold` for `real_seconds` of real time, then hold again: a driver polling for an outcome
        lets the clock jump meanwhile (it has no wake-up of its own)."""
        hold.release()
        try:
            time.sleep(real_seconds)
        finally:
            hold.acquire()

    def wsgi(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """WSGI middleware: the clock stands still while a request is handled by `app`."""

        def held(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            with self.busy() as hold:
                token = _request_hold.set(hold)
                try:
                    return list(app(environ, start_response))
                finally:
                    _request_hold.reset(token)

        return held

    @contextlib.contextmanager
    def not_working(self) -> Iterator[None]:
        """The request being served (see `wsgi`) lets go of the clock for the block, then holds it again.

        For a server that holds a reply back in real time on purpose (the emulator's `timeout` fault): that
        is no work, and its client, if it is a participant, holds the clock itself while it waits for the
        reply. Outside a request, or with the hold already let go, the block runs as it is.
        """
        hold = _request_hold.get()
        if hold is None or not hold.held:
            yield
            return
        hold.release()
        try:
            yield
        finally:
            hold.acquire()
