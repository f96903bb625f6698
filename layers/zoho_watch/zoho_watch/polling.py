"""The polling policy: when to check a job again, from what its checks saw and the rate prior.

The policy is a pure function of (observations, now, policy settings, rng, rate prior). One check's turn of
it is `poll_step`: the job's `PollState` and what the check saw go in, the next state and the wait come out.
The store keeps that state on the job's STATE item; the demo's replay and the benchmark run the same step.

The goal it is built for: detection lag under max(10 s, 5% of the job's run time) for nearly every job, with
few calls. How it chooses the next wait:
- while the job waits (SCHEDULED, QUEUED): a job that starts and ends within one wait of length I is seen up
  to I - d late, so I must stay under d + budget(d) for the shortest run d this job may have. Before it runs,
  only its record count tells its length: with a rate prior for its (connection, module)
  (`priors.RatePrior`, learnt from the jobs seen finishing), the shortest plausible run is Total_Count / a
  fast rate (the prior's mean log rate plus `prior_z` standard deviations, at least `prior_spread_floor`).
  Without a prior, back off exponentially from `min_seconds`, never waiting longer than the safety share of
  the lag budget of the time waited so far (at least of its floor: a job that starts and ends within one
  wait is seen within the floor);
- while it runs: its end cannot always be predicted (a FAILED job stops at a random point), so every wait
  stays within the lag budget of the job, `lag_share` of its run time, sized on max(age, `early_share` x the
  estimated run time): a job that fails now has run `age`, so the budget cannot be its whole estimated
  length; sizing it on at least a share of the estimate keeps the number of checks of a long job bounded
  (waits on the age alone would grow only 5% a check). The rate (first running observation to the latest,
  the longest baseline smooths Zoho's integer counts) gives the time left; close to the estimated end, the
  wait lands just after it, by a margin that grows with how far this (connection, module)'s estimates
  have erred (`priors.observed_end_error`, learnt into the prior): a check that comes before the end sees
  the job still running and is one more call;
- a wait never uses more than `lag_safety` of its budget (check latency, jitter, whole seconds), stays within
  [min_seconds, max_seconds], and has a little jitter so many watchers do not call Zoho in step.

A kind whose replies count no records as it runs (`JobKind.reports_counts`: an audit log export, a bulk read,
a user's transfer and delete) has no rate to observe. Its prior is one of whole runs (`RatePrior.per_run`):
each job is one unit of work, so the learnt rate is 1 / the seconds a completed job ran
(`priors.observed_run`), the shortest plausible run is 1 / the fast rate, and while the job runs its end is
expected after the kind's typical run (1 / the typical rate), measured from the first check that saw it
running; every wait stays within the lag budget sized on max(age, `early_share` x the shortest plausible
run). Before the prior rests on `run_prior_min_samples` runs, it backs off as any job without progress does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import SUSPENDED, TERMINAL_STATUSES, WAITING_STATUSES, JobKey, _shown

if TYPE_CHECKING:
    from zoho_watch.priors import RatePrior


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
    # The lag goal: a job's end is known within max(lag_floor, lag_share x its run time).
    lag_share: float = 0.05
    lag_floor: float = 10.0
    # Share of the budget a wait may use: the rest absorbs check latency, jitter and whole seconds.
    lag_safety: float = 0.85
    # While running, the budget is sized on max(age, early_share x estimated run time).
    early_share: float = 0.8
    # Rate prior: used from this many samples; fast rate = exp(mean + prior_z x max(sd, spread floor)).
    prior_min_samples: int = 2
    # A prior of runs (a kind without counts) needs more: its runs vary with what each job holds, which a
    # couple of samples seldom shows (the shortest plausible run would be too long, and short jobs seen late).
    run_prior_min_samples: int = 5
    prior_z: float = 2.0
    prior_spread_floor: float = 0.5
    # Margin after the estimated end, as a share of the lag budget (at least 1 s), widened to `prior_z`
    # standard deviations of the end estimate's learnt error, up to `end_margin_max_share` of the budget: the
    # margin adds to the lag of a job that ends when estimated.
    end_margin_share: float = 0.01
    end_margin_max_share: float = 0.25
    # Past the estimated end and still running: wait this share of the cap.
    overdue_share: float = 0.5
    # Relative jitter applied to every wait (never past its cap).
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


def is_running(obs: Observation) -> bool:
    """True when the observation saw the job running: neither waiting, finished nor suspended."""
    return (
        obs.status not in WAITING_STATUSES and obs.status not in TERMINAL_STATUSES and obs.status != SUSPENDED
    )


def running_anchor(observations: Sequence[Observation]) -> Observation | None:
    """The earliest observation of the job running: the start of the baseline used to estimate its rate."""
    return next((obs for obs in observations if is_running(obs)), None)


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


def observed_rate(observations: Sequence[Observation]) -> float | None:
    """Records per second from the running anchor to the latest running observation, None if not moving.

    Terminal observations are left out: the end is seen up to one wait late, which would bias the rate low.
    """
    ordered = sorted(observations, key=lambda obs: obs.at)
    anchor = running_anchor(ordered)
    latest = next((obs for obs in reversed(ordered) if is_running(obs)), None)
    if anchor is None or latest is None or latest.at <= anchor.at or latest.done <= anchor.done:
        return None
    return (latest.done - anchor.done) / (latest.at - anchor.at)


def lag_budget(run_seconds: float, policy: PollPolicy) -> float:
    """The accepted detection lag of a job that runs `run_seconds`: max(lag_floor, lag_share x run)."""
    return max(policy.lag_floor, policy.lag_share * max(0.0, run_seconds))


def _as_wait(wait: float, cap: float, low: int, high: int) -> int:
    # Whole seconds (a Wait state's unit): rounded up, but never past the floor of the cap.
    return int(min(high, max(low, min(math.ceil(wait), math.floor(cap)))))


def jitter_rng(job: JobKey, check: int) -> random.Random:
    """The random source of the jitter of a job's wait after its `check`-th check.

    Seeded by the job and the check's number: watchers of different jobs spread their calls out, and one
    job's waits are the same every time its watch is replayed (the embedded stack's demo and tests compare
    the checks made with the policy's plan).
    """
    return random.Random(f"{job}/{check}")


def next_check_in(
    observations: Sequence[Observation],
    now: float,
    policy: PollPolicy,
    rng: random.Random | None = None,
    first_seen_at: float | None = None,
    prior: RatePrior | None = None,
) -> int:
    """Seconds until the next check of a job, from what the previous checks saw (oldest first).

    `prior`: the throughput learnt for the job's (connection, module, kind), if any (its rate used only until
    the job's own rate is known, a `per_run` prior's, of a kind without counts, throughout; its end spread
    near a running job's estimated end). Pure: the same inputs and the same `rng` state give the same answer.
    Returns an integer (Step Functions Wait states take whole seconds) within [policy.min_seconds,
    policy.max_seconds].
    """
    low, high = policy.min_seconds, policy.max_seconds
    if not observations:
        return low
    ordered = sorted(observations, key=lambda obs: obs.at)
    latest = ordered[-1]
    if latest.status in TERMINAL_STATUSES:
        return low
    rng = rng or random.Random()
    jitter = 1.0 + rng.uniform(-policy.jitter, policy.jitter)
    end_spread = prior.end_spread(policy) if prior is not None else None
    # The work the prior's rate is of: the job's records, or the whole job for a kind without counts.
    work = (1 if prior.per_run else latest.total) if prior is not None and prior.usable(policy) else 0
    prior = prior if work > 0 else None
    anchor = running_anchor(ordered)

    if latest.status in WAITING_STATUSES and prior is not None:
        # Before it runs: it may start and end within one wait; bound the wait by the shortest plausible run.
        shortest = work / prior.fast_rate(policy)
        cap = policy.lag_safety * (shortest + lag_budget(shortest, policy))
        return _as_wait(min(cap, cap * jitter), cap, low, high)

    if anchor is None or not is_running(latest):
        # Waiting with no prior, suspended or an unknown status: exponential back-off (doubling the last gap
        # keeps it going however few observations are kept), capped by the lag budget of the time waited so
        # far (at least its floor: a job that starts and ends within one wait is seen within the floor).
        started = first_seen_at if first_seen_at is not None else ordered[0].at
        age = max(0.0, now - (anchor.at if anchor is not None else started))
        cap = max(low, policy.lag_safety * lag_budget(age, policy))
        gap = _unchanged_gap(ordered)
        wait = min(low if gap is None else max(low, 2.0 * gap), cap) * jitter
        return _as_wait(min(wait, cap), max(cap, low), low, high)

    rate = observed_rate(ordered)
    # When it started running: before the anchor by the records it had done then, not before the last
    # check that saw it waiting (a younger age only makes the waits shorter).
    start = anchor.at
    if rate is not None:
        waited = [obs.at for obs in ordered if obs.at < anchor.at and obs.status in WAITING_STATUSES]
        start = max(anchor.at - anchor.done / rate, max(waited, default=-math.inf))
    age = max(0.0, now - start)
    remaining: float | None = None
    if rate is not None:
        remaining = max(0, latest.total - latest.done) / rate - max(0.0, now - latest.at)
        estimated = age + max(0.0, remaining)
    elif prior is not None:
        # Not moving (yet, or ever: a kind without counts): the prior's fast rate bounds the run from below.
        estimated = max(age, work / prior.fast_rate(policy))
        typical = work / prior.typical_rate() if prior.per_run else 0.0
        if typical > age:
            # No counts to follow: the kind's typical run tells when the job should end (once past it, any
            # moment may be the end, as before it).
            remaining = typical - age
    else:
        estimated = age
    budget = lag_budget(max(age, policy.early_share * estimated), policy)
    cap = policy.lag_safety * budget
    if remaining is None:
        wait = cap * jitter
    elif remaining > 0:
        # Just after the estimated end if it comes before the cap (jitter on the margin only: small lag).
        margin = max(1.0, policy.end_margin_share * budget)
        if end_spread is not None:
            # Where this module's estimates have erred, aim later: a check before the end is a wasted call.
            widened = remaining * math.expm1(policy.prior_z * end_spread)
            margin = max(margin, min(policy.end_margin_max_share * budget, widened))
        wait = min(cap * jitter, remaining + margin * jitter)
    else:
        # Past the estimated end and still running: it may end any moment.
        wait = policy.overdue_share * cap * jitter
    return _as_wait(min(wait, cap), cap, low, high)


@dataclass(frozen=True)
class PollState:
    """What the policy keeps of one job between its checks: the observations it needs (`trim_observations`),
    how many checks were made, and when the job was first seen (epoch seconds; None before any check)."""

    observations: tuple[Observation, ...] = ()
    checks: int = 0
    first_seen_at: float | None = None

    def observed(self, observation: Observation, keep: int) -> PollState:
        """This state once one more check has seen `observation` (the observations trimmed to `keep`)."""
        first_seen = observation.at if self.first_seen_at is None else min(self.first_seen_at, observation.at)
        kept = trim_observations([*self.observations, observation], keep)
        return PollState(tuple(kept), self.checks + 1, first_seen)


@dataclass(frozen=True)
class PollStep:
    """One check's turn of the policy: the job's new state and the seconds to its next check."""

    state: PollState
    wait: int


def poll_step(
    state: PollState,
    observation: Observation,
    policy: PollPolicy,
    rng: random.Random | None = None,
    prior: RatePrior | None = None,
) -> PollStep:
    """One check's turn of the policy: `observation` (made now, at `observation.at`) joins the job's `state`,
    and `next_check_in` chooses the wait. Pure, like `next_check_in`: the same inputs and `rng` state give
    the same step."""
    after = state.observed(observation, policy.keep)
    wait = next_check_in(
        after.observations, observation.at, policy, rng, first_seen_at=after.first_seen_at, prior=prior
    )
    return PollStep(after, wait)
