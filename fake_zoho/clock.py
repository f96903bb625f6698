"""The emulator clock: real time at a chosen scale, or a manual clock that moves only when told."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol


class Clock(Protocol):
    """What the emulator needs of a clock: `EmulatorClock`, or one a host process shares with it."""

    @property
    def scale(self) -> float | None:
        """Emulated seconds per real second (None: the clock moves by other rules)."""
        ...

    @property
    def frozen(self) -> bool:
        """True while only `advance` and `set` move the clock."""
        ...

    def now(self) -> float:
        """Emulated epoch seconds."""
        ...

    def set_scale(self, scale: float) -> None:
        """Run at `scale` emulated seconds per real second."""
        ...

    def freeze(self) -> None:
        """Stand still until `advance`, `set` or `resume`."""
        ...

    def resume(self) -> None:
        """Run again from the time shown."""
        ...

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds`; return the new time."""
        ...

    def set(self, epoch_seconds: float) -> None:
        """Show `epoch_seconds` now."""
        ...

    def reset(self, scale: float = 1.0) -> None:
        """Back to the initial way of running."""
        ...

    def state(self) -> dict[str, Any]:
        """JSON-ready view of the clock."""
        ...


class EmulatorClock:
    """Emulated epoch seconds shared by job timelines and token lifetimes.

    Running, the clock advances ``scale`` emulated seconds per real second, so a 2-hour job can finish in
    2 real seconds at scale 3600. Frozen, it stands still until ``advance`` moves it, for exact tests.
    It starts at the real epoch time, so its readings look like ordinary timestamps.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._scale = 1.0
        self._frozen = False
        self._anchor_real = time.monotonic()
        self._anchor_emulated = time.time()
        self.set_scale(scale)

    def _rebase(self) -> None:
        """Fold the time elapsed since the last anchor into the anchor (caller holds the lock)."""
        real = time.monotonic()
        if not self._frozen:
            self._anchor_emulated += (real - self._anchor_real) * self._scale
        self._anchor_real = real

    def now(self) -> float:
        """Return the emulated time in epoch seconds."""
        with self._lock:
            if self._frozen:
                return self._anchor_emulated
            return self._anchor_emulated + (time.monotonic() - self._anchor_real) * self._scale

    @property
    def scale(self) -> float:
        """Emulated seconds per real second while the clock runs."""
        return self._scale

    @property
    def frozen(self) -> bool:
        """True while the clock is manual (moves only through ``advance`` or ``set``)."""
        return self._frozen

    def set_scale(self, scale: float) -> None:
        """Run at ``scale`` emulated seconds per real second from now on (must be > 0)."""
        scale = float(scale)
        if not scale > 0 or scale == float("inf"):
            raise ValueError(f"clock scale must be a positive finite number, got {scale!r}")
        with self._lock:
            self._rebase()
            self._scale = scale

    def freeze(self) -> None:
        """Stop the clock where it is: from now on only ``advance``/``set`` move it."""
        with self._lock:
            self._rebase()
            self._frozen = True

    def resume(self) -> None:
        """Let the clock run again at its scale, from the time it shows now."""
        with self._lock:
            self._rebase()
            self._frozen = False

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` emulated seconds (>= 0); return the new time."""
        seconds = float(seconds)
        if not seconds >= 0 or seconds == float("inf"):
            raise ValueError(f"clock can only advance by a finite number of seconds >= 0, got {seconds!r}")
        with self._lock:
            self._rebase()
            self._anchor_emulated += seconds
            return self._anchor_emulated

    def set(self, epoch_seconds: float) -> None:
        """Show ``epoch_seconds`` now (it may go backwards: tests of clock skew use it)."""
        epoch_seconds = float(epoch_seconds)
        if epoch_seconds != epoch_seconds or epoch_seconds in (float("inf"), float("-inf")):
            raise ValueError("clock time must be a finite number")
        with self._lock:
            self._rebase()
            self._anchor_emulated = epoch_seconds

    def real_seconds(self, emulated_seconds: float) -> float:
        """How many real seconds ``emulated_seconds`` take at the current scale (inf when frozen)."""
        if self._frozen:
            return float("inf")
        return emulated_seconds / self._scale

    def reset(self, scale: float = 1.0) -> None:
        """Back to real time at ``scale``, running."""
        with self._lock:
            self._frozen = False
            self._anchor_real = time.monotonic()
            self._anchor_emulated = time.time()
        self.set_scale(scale)

    def state(self) -> dict[str, Any]:
        """JSON-ready view: now, scale, frozen."""
        return {"now": self.now(), "scale": self._scale, "frozen": self._frozen}
