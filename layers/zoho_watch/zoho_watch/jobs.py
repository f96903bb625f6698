"""The job model (statuses, counts, progress), input validation, and the polling policy.

The policy is a pure function of (observations, now, policy settings, rng): it can be simulated cheaply by the
benchmark, and the store keeps the few observations it needs on the job's STATE item.

How it chooses the next wait:
- while the job waits (SCHEDULED, QUEUED) or shows no progress, back off exponentially from `min_seconds`,
  never waiting longer than a small fraction of the job's age (so the lag stays proportionate to the job);
- once counts move, estimate the rate from the first running observation to the latest one (the longest
  baseline smooths Zoho's integer counts), and the time left from it; far from the end, wait a share of the
  time left (each check refines the estimate); close to the end, wait just past the estimated end;
- always within [min_seconds, max_seconds], with a little jitter so many watchers do not call Zoho in step.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zoho_watch.errors import InvalidInput

MARGIN_OVERDUE = 0.1
SCHEDULED = "SCHEDULED"
QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUSPENDED = "SUSPENDED"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
KNOWN_STATUSES = frozenset({SCHEDULED, QUEUED, RUNNING, SUSPENDED, COMPLETED, FAILED})
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED})
WAITING_STATUSES = frozenset({SCHEDULED, QUEUED})

_MODULE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
_JOB_ID = re.compile(r"[0-9]{1,30}")
_CONNECTION = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# Any status Zoho may invent later is recorded as it came, as long as it looks like a status word.
_STATUS = re.compile(r"[A-Za-z][A-Za-z0-9_ -]{0,63}")


def _shown(value: object) -> str:
    """A short, safe rendering of a rejected value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_module(module: object) -> str:
    """Return `module` if it matches `^[A-Za-z][A-Za-z0-9_]{0,99}$`, else raise InvalidInput."""
    if not isinstance(module, str) or not _MODULE.fullmatch(module):
        raise InvalidInput(
            f"module must be a Zoho module API name (letters, digits, _), got {_shown(module)}"
        )
    return module


def validate_job_id(job_id: object) -> str:
    """Return `job_id` as a string if it is 1 to 30 digits, else raise InvalidInput."""
    if isinstance(job_id, int) and not isinstance(job_id, bool) and job_id >= 0:
        job_id = str(job_id)
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise InvalidInput(f"job_id must be 1 to 30 digits, got {_shown(job_id)}")
    return job_id


def validate_connection(connection: object) -> str:
    """Return `connection` if it matches `^[a-z0-9][a-z0-9_-]{0,31}$`, else raise InvalidInput."""
    if not isinstance(connection, str) or not _CONNECTION.fullmatch(connection):
        raise InvalidInput(
            f"connection must be lowercase letters, digits, _ or - (at most 32), got {_shown(connection)}"
        )
    return connection


def is_status_word(status: object) -> bool:
    """True when `status` looks like a Zoho job status (known or not)."""
    return isinstance(status, str) and _STATUS.fullmatch(status) is not None


@dataclass(frozen=True)
class Snapshot:
    """One answer of Zoho about a job: its status and the four counts."""

    status: str
    total: int
    updated: int
    failed: int
    not_updated: int

    @property
    def terminal(self) -> bool:
        """True when the job has ended (COMPLETED or FAILED)."""
        return self.status in TERMINAL_STATUSES

    @property
    def done(self) -> int:
        """Records processed so far (updated or failed), never outside [0, total]."""
        return max(0, min(self.total, self.total - self.not_updated))

    @property
    def progress(self) -> float:
        """Share of records processed, 0..1 (1 once the job has ended)."""
        if self.terminal:
            return 1.0
        return round(self.done / self.total, 4) if self.total > 0 else 0.0

    def counts(self) -> dict[str, int]:
        """The four counts as the JSON shape of the API and events."""
        return {
            "total": self.total,
            "updated": self.updated,
            "failed": self.failed,
            "not_updated": self.not_updated,
        }


@dataclass(frozen=True)
class Observation:
    """What one check saw, as the policy needs it: when (epoch seconds), the status, done and total."""

    at: float
    status: str
    done: int
    total: int

    def to_item(self) -> list[Any]:
        """Compact form kept on the STATE item: [at, status, done, total]."""
        return [round(self.at, 6), self.status, self.done, self.total]

    @classmethod
    def from_item(cls, item: Sequence[Any]) -> Observation:
        """Inverse of `to_item`."""
        at, status, done, total = item
        return cls(float(at), str(status), int(done), int(total))


@dataclass(frozen=True)
class PollPolicy:
    """Settings of the polling policy. `min_seconds`/`max_seconds` are the job's poll bounds."""

    min_seconds: int = 5
    max_seconds: int = 900
    # Accepted detection lag, as a share of the job's running age (the bench goal is 5% of its duration).
    lag_share: float = 0.04
    # Far from the estimated end, wait this share of the estimated time left.
    approach_share: float = 0.6
    # Margin after the estimated end, as a share of the lag budget.
    end_margin_share: float = 0.01
    # Relative jitter applied to every wait.
    jitter: float = 0.1
    # Observations kept on the STATE item besides the running anchor.
    keep: int = 6

    def __post_init__(self) -> None:
        if not 1 <= self.min_seconds <= self.max_seconds:
            raise InvalidInput(
                "poll bounds must satisfy 1 <= min_seconds <= max_seconds,"
                f" got {self.min_seconds}..{self.max_seconds}"
            )

    @classmethod
    def from_poll(cls, poll: dict[str, Any] | None, default_min: int, default_max: int) -> PollPolicy:
        """Build from a `{"min_seconds", "max_seconds"}` dict (either may be missing), validating both.

        A bound that is given wins over the default of the other one: `{"min_seconds": 1200}` with a default
        maximum of 900 means 1200..1200.
        """
        if poll is None:
            return cls(default_min, default_max)
        if not isinstance(poll, dict) or set(poll) - {"min_seconds", "max_seconds"}:
            raise InvalidInput("poll must be an object with min_seconds and/or max_seconds")
        given: dict[str, int] = {}
        for name in ("min_seconds", "max_seconds"):
            value = poll.get(name)
            if value is None:
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 86400:
                raise InvalidInput(f"poll.{name} must be an integer from 1 to 86400, got {_shown(value)}")
            given[name] = value
        low = given.get("min_seconds", default_min)
        high = given.get("max_seconds", default_max)
        if "min_seconds" in given and "max_seconds" not in given:
            high = max(high, low)
        elif "max_seconds" in given and "min_seconds" not in given:
            low = min(low, high)
        return cls(low, high)

    def as_dict(self) -> dict[str, int]:
        """The bounds as the `poll` JSON shape."""
        return {"min_seconds": self.min_seconds, "max_seconds": self.max_seconds}


def _is_running(obs: Observation) -> bool:
    return (
        obs.status not in WAITING_STATUSES and obs.status not in TERMINAL_STATUSES and obs.status != SUSPENDED
    )


def running_anchor(observations: Sequence[Observation]) -> Observation | None:
    """The earliest observation of the job running: the start of the baseline used to estimate its rate."""
    return next((obs for obs in observations if _is_running(obs)), None)


def trim_observations(observations: Sequence[Observation], keep: int = 6) -> list[Observation]:
    """Keep what the policy needs: the running anchor plus the latest `keep` observations, in time order."""
    ordered = sorted(observations, key=lambda obs: obs.at)
    recent = ordered[-keep:] if keep > 0 else []
    anchor = running_anchor(ordered)
    if anchor is not None and anchor not in recent:
        return [anchor, *recent]
    return list(recent)


def _unchanged_gap(observations: Sequence[Observation]) -> float | None:
    """Seconds between the last two observations if they saw the same status and count, else None."""
    if len(observations) < 2:
        return None
    before, latest = observations[-2], observations[-1]
    if before.status != latest.status or before.done != latest.done:
        return None
    return max(0.0, latest.at - before.at)


def next_check_in(
    observations: Sequence[Observation],
    now: float,
    policy: PollPolicy,
    rng: random.Random | None = None,
    first_seen_at: float | None = None,
) -> int:
    """Seconds until the next check of a job, from what the previous checks saw (oldest first).

    Pure: the same inputs and the same `rng` state give the same answer. Returns an integer (Step Functions
    Wait states take whole seconds) within [policy.min_seconds, policy.max_seconds].
    """
    low, high = policy.min_seconds, policy.max_seconds
    if not observations:
        return low
    ordered = sorted(observations, key=lambda obs: obs.at)
    latest = ordered[-1]
    if latest.status in TERMINAL_STATUSES:
        return low
    rng = rng or random.Random()
    started = first_seen_at if first_seen_at is not None else ordered[0].at
    anchor = running_anchor(ordered)
    # The lag we accept grows with the job's age: a share of how long it has been running (or waiting).
    age = max(0.0, now - (anchor.at if anchor is not None else started))
    budget = min(high, max(low, policy.lag_share * age))

    rate = None
    if anchor is not None and _is_running(latest) and latest.at > anchor.at and latest.done > anchor.done:
        rate = (latest.done - anchor.done) / (latest.at - anchor.at)

    if rate is None:
        # Waiting, suspended or not moving: exponential back-off, capped by the lag budget.
        # (doubling the last gap keeps the back-off going however few observations are kept)
        gap = _unchanged_gap(ordered)
        wait = min(low if gap is None else max(low, 2.0 * gap), budget)
        wait *= 1.0 + rng.uniform(-policy.jitter, policy.jitter)
    else:
        remaining = max(0, latest.total - latest.done) / rate - max(0.0, now - latest.at)
        margin = max(1.0, policy.end_margin_share * budget)
        if remaining > 2 * budget:
            # Far from the end: a share of the time left, so each check refines the estimate.
            wait = policy.approach_share * remaining * (1.0 + rng.uniform(-policy.jitter, policy.jitter))
        elif remaining > 0:
            # Close to the end: just after the estimated end (jitter on the margin only: small lag).
            wait = remaining + margin * (1.0 + rng.uniform(-policy.jitter, policy.jitter))
        else:
            # Past the estimated end and not finished yet: look again soon.
            wait = MARGIN_OVERDUE * budget * (1.0 + rng.uniform(-policy.jitter, policy.jitter))
    return int(min(high, max(low, math.ceil(wait))))
