"""Job profiles: how an emulated mass update job moves through its statuses and counts over time."""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from typing import Any

# Used when a profile gives neither duration nor rate: records per emulated second.
DEFAULT_RATE = 25.0
FINAL_STATUSES = ("COMPLETED", "FAILED")
# Number of segments of the irregular progress curve: enough for visible bursts and stalls.
_IRREGULAR_SEGMENTS = 8


@dataclass(frozen=True)
class JobProfile:
    """How one job behaves. Times are emulated seconds (see ``EmulatorClock``).

    Timeline: ``queued`` seconds in QUEUED, then ``queue_delay`` seconds in SCHEDULED, then RUNNING for
    ``duration`` seconds (or ``total / rate``), then ``final_status``. While RUNNING, processed records grow
    from 0 to Total_Count; ``failure_share`` of the processed ones are Failed, the rest Updated, and the
    unprocessed are Not_Updated, so the four counts always add up.

    - ``final_status="FAILED"``: the job stops after ``fail_at`` of its run (1.0 = at the end); records not
      processed by then are counted as Failed. ``failure_share=1.0`` gives Zoho's "job failed" sample.
    - ``irregular`` in [0, 1]: 0 is steady progress; higher mixes in a bursty curve with stalls that is
      fixed per job (seeded by its id), still monotonic and still ending on time.
    - ``suspend_at`` (fraction of the run) and ``suspend_for`` (seconds, None = forever): a SUSPENDED spell
      with frozen counts; the job then resumes and ends that much later.
    - ``running_status``: the status shown while running (e.g. a value never seen before, to test that
      clients record unknown statuses as they came).

    QUEUED, SUSPENDED and custom running statuses are not Zoho's behaviour for mass update (its v8
    specification knows SCHEDULED, RUNNING, COMPLETED and FAILED): they exist for robustness tests only.
    """

    queue_delay: float = 2.0
    duration: float | None = None
    rate: float | None = None
    failure_share: float = 0.0
    final_status: str = "COMPLETED"
    fail_at: float = 1.0
    irregular: float = 0.0
    queued: float = 0.0
    suspend_at: float | None = None
    suspend_for: float | None = None
    running_status: str = "RUNNING"

    def __post_init__(self) -> None:
        for name in ("queue_delay", "queued"):
            _check_number(name, getattr(self, name), minimum=0.0)
        if self.duration is not None:
            _check_number("duration", self.duration, minimum=0.0)
        if self.rate is not None:
            _check_number("rate", self.rate, minimum=0.0)
            if self.rate == 0:
                raise ValueError("rate must be > 0 records per second")
        for name in ("failure_share", "fail_at", "irregular"):
            _check_number(name, getattr(self, name), minimum=0.0, maximum=1.0)
        if self.suspend_at is not None:
            _check_number("suspend_at", self.suspend_at, minimum=0.0, maximum=1.0)
        if self.suspend_for is not None:
            _check_number("suspend_for", self.suspend_for, minimum=0.0)
        if self.final_status not in FINAL_STATUSES:
            raise ValueError(f"final_status must be one of {FINAL_STATUSES}, got {self.final_status!r}")
        if not isinstance(self.running_status, str) or not self.running_status:
            raise ValueError("running_status must be a non-empty string")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> JobProfile:
        """Build a profile from JSON; unknown keys are an error, not silently ignored."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("profile must be a JSON object")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown profile settings: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the profile."""
        return dataclasses.asdict(self)

    def run_seconds(self, total: int) -> float:
        """Emulated seconds the full run takes (from RUNNING start to 100% processed)."""
        if self.duration is not None:
            return float(self.duration)
        return total / (self.rate or DEFAULT_RATE)


def _check_number(name: str, value: Any, minimum: float, maximum: float | None = None) -> None:
    """Raise ValueError unless ``value`` is a finite real number within bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")


class JobTimeline:
    """The status body of one job as a pure function of the time elapsed since it was created."""

    def __init__(self, total: int, profile: JobProfile, seed: int) -> None:
        self.total = total
        self.profile = profile
        self._run = profile.run_seconds(total)
        self._stop_fraction = profile.fail_at if profile.final_status == "FAILED" else 1.0
        # Cumulative breakpoints of the irregular curve; steady when irregular == 0.
        rng = random.Random(seed)
        weights = [rng.random() ** 3 + 1e-3 for _ in range(_IRREGULAR_SEGMENTS)]
        scale = sum(weights)
        cumulative = [0.0]
        for weight in weights:
            cumulative.append(cumulative[-1] + weight / scale)
        cumulative[-1] = 1.0
        self._curve = cumulative
        suspends = profile.suspend_at is not None and profile.suspend_at < self._stop_fraction
        self._suspend_start = profile.suspend_at * self._run if suspends and profile.suspend_at else 0.0
        self._suspends = suspends
        self._suspend_for = profile.suspend_for

    def _progress(self, fraction: float) -> float:
        """Share of records processed after ``fraction`` of the run (monotonic, 0 -> 0, 1 -> 1)."""
        fraction = min(max(fraction, 0.0), 1.0)
        irregular = self.profile.irregular
        if irregular == 0:
            return fraction
        position = fraction * _IRREGULAR_SEGMENTS
        index = min(int(position), _IRREGULAR_SEGMENTS - 1)
        within = position - index
        curve = self._curve[index] + (self._curve[index + 1] - self._curve[index]) * within
        return (1 - irregular) * fraction + irregular * curve

    def _counts(self, fraction: float) -> tuple[int, int]:
        """(updated, failed) after ``fraction`` of the run."""
        processed = min(self.total, math.floor(self._progress(fraction) * self.total + 1e-9))
        failed = math.floor(processed * self.profile.failure_share + 1e-9)
        return processed - failed, failed

    def finishes_after(self) -> float | None:
        """Emulated seconds from creation to the terminal status, or None if it never ends."""
        profile = self.profile
        waiting = profile.queued + profile.queue_delay
        pause = 0.0
        if self._suspends:
            if self._suspend_for is None:
                return None
            pause = self._suspend_for
        return waiting + self._run * self._stop_fraction + pause

    def body(self, elapsed: float) -> dict[str, Any]:
        """The status body's ``data[0]`` ``elapsed`` emulated seconds after creation."""
        profile = self.profile
        total = self.total
        if elapsed < profile.queued:
            return _body("QUEUED", 0, 0, total)
        elapsed -= profile.queued
        if elapsed < profile.queue_delay:
            return _body("SCHEDULED", 0, 0, total)
        running = elapsed - profile.queue_delay
        if self._suspends and running >= self._suspend_start:
            if self._suspend_for is None or running < self._suspend_start + self._suspend_for:
                fraction = self._suspend_start / self._run if self._run else 0.0
                updated, failed = self._counts(fraction)
                return _body("SUSPENDED", updated, failed, total)
            running -= self._suspend_for
        stop = self._run * self._stop_fraction
        if running >= stop:
            updated, failed = self._counts(self._stop_fraction)
            if profile.final_status == "FAILED":
                return _body("FAILED", updated, total - updated, total)
            return _body("COMPLETED", updated, failed, total)
        updated, failed = self._counts(running / self._run if self._run else 1.0)
        return _body(profile.running_status, updated, failed, total)


def _body(status: str, updated: int, failed: int, total: int) -> dict[str, Any]:
    """A status item with Zoho's key order; Not_Updated_Count makes the counts add up."""
    return {
        "Status": status,
        "Failed_Count": failed,
        "Updated_Count": updated,
        "Not_Updated_Count": total - updated - failed,
        "Total_Count": total,
    }
