"""The polling policy: when to check a job again, from what its checks saw and the rate prior.

The policy is a pure function of (observations, now, policy settings, rng, rate prior). One check's turn of
it is `poll_step`: the job's `PollState` and what the check saw go in, the next state and the wait come out.
The store keeps that state on the job's STATE item; the demo's replay and the benchmark run the same step.

The goal it is built for: detection lag under max(10 s, 5% of the job's run time) for nearly every job, with
few calls. How it chooses the next wait:
- while the job waits (SCHEDULED, QUEUED): a job that starts and ends within one wait of length I is seen up
  to I - d late, so I must stay under d + budget(d) for the shortest run d this job may have. Before it runs,
  only its record count tells its length: with a rate prior for its (connection, module) (`RatePrior`, learnt
  from the jobs seen finishing), the shortest plausible run is Total_Count / a fast rate (the prior's mean
  log rate plus `prior_z` standard deviations, at least `prior_spread_floor`). Without a prior, back off
  exponentially from `min_seconds`, never waiting longer than the safety share of the lag budget of the time
  waited so far (at least of its floor: a job that starts and ends within one wait is seen within the floor);
- while it runs: its end cannot always be predicted (a FAILED job stops at a random point), so every wait
  stays within the lag budget of the job, `lag_share` of its run time, sized on max(age, `early_share` x the
  estimated run time): a job that fails now has run `age`, so the budget cannot be its whole estimated
  length; sizing it on at least a share of the estimate keeps the number of checks of a long job bounded
  (waits on the age alone would grow only 5% a check). The rate (first running observation to the latest,
  the longest baseline smooths Zoho's integer counts) gives the time left; close to the estimated end, the
  wait lands just after it, by a margin that grows with how far this (connection, module)'s estimates have
  erred (`observed_end_error`, learnt into the prior): a check that comes before the end sees the job still
  running and is one more call;
- a wait never uses more than `lag_safety` of its budget (check latency, jitter, whole seconds), stays within
  [min_seconds, max_seconds], and has a little jitter so many watchers do not call Zoho in step.

A kind whose replies count no records as it runs (`JobKind.reports_counts`: an audit log export, a bulk read,
a user's transfer and delete) has no rate to observe. Its prior is one of whole runs (`RatePrior.per_run`):
each job is one unit of work, so the learnt rate is 1 / the seconds a completed job ran (`observed_run`), the
shortest plausible run is 1 / the fast rate, and while the job runs its end is expected after the kind's
typical run (1 / the typical rate), measured from the first check that saw it running; every wait stays
within the lag budget sized on max(age, `early_share` x the shortest plausible run). Before the prior rests
on `run_prior_min_samples` runs, it backs off as any job without progress does.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import COMPLETED, SUSPENDED, TERMINAL_STATUSES, WAITING_STATUSES, JobKey, _shown


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


@dataclass(frozen=True)
class RatePrior:
    """What zoho-watch has learnt of one (connection, module, kind)'s throughput, in records per second, or
    with `per_run` (a kind that reports no counts) in runs per second: each job one unit of work, 1 / its run.

    An exponentially weighted mean and variance of ln(rate) over the jobs seen finishing (`samples` of them).
    Rates vary between jobs (load, field types, workflows), so the policy uses a fast rate (mean plus a few
    standard deviations) to bound how short a job can be, never the mean. The unit is not stored: it follows
    from the kind. Progress also varies within a job (bursts, stalls): `end_error_var` is the exponentially
    weighted mean of the jobs' `observed_end_error` (`end_samples` of them), the variance of ln(seconds a
    stretch of records took / seconds the rate seen before it predicted), which sizes the margin the policy
    leaves after a running job's estimated end.
    """

    samples: int
    log_rate: float
    log_var: float = 0.0
    per_run: bool = False
    end_samples: int = 0
    end_error_var: float = 0.0

    # Weight of a new sample once there are enough (earlier ones are a plain average).
    WEIGHT = 0.2

    @classmethod
    def first(cls, rate: float, per_run: bool = False, end_error: float | None = None) -> RatePrior:
        """The prior after one sample (`end_error`: the job's `observed_end_error`, if it has one)."""
        return cls(1, math.log(rate), 0.0, per_run)._with_end_error(end_error)

    def learn(self, rate: float, end_error: float | None = None) -> RatePrior:
        """The prior after one more sample `rate` (in the prior's unit, > 0) and, if given, the job's
        `observed_end_error` (>= 0)."""
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"a rate sample must be a positive number, got {rate!r}")
        weight = max(self.WEIGHT, 1.0 / (self.samples + 1))
        delta = math.log(rate) - self.log_rate
        mean = self.log_rate + weight * delta
        var = (1.0 - weight) * (self.log_var + weight * delta * delta)
        learnt = RatePrior(self.samples + 1, mean, var, self.per_run, self.end_samples, self.end_error_var)
        return learnt._with_end_error(end_error)

    def _with_end_error(self, end_error: float | None) -> RatePrior:
        if end_error is None:
            return self
        if not end_error >= 0 or not math.isfinite(end_error):
            raise ValueError(f"an end error sample must be a number >= 0, got {end_error!r}")
        weight = max(self.WEIGHT, 1.0 / (self.end_samples + 1))
        var = (1.0 - weight) * self.end_error_var + weight * end_error
        return replace(self, end_samples=self.end_samples + 1, end_error_var=var)

    def end_spread(self, policy: PollPolicy) -> float | None:
        """The standard deviation of the end estimate's log error, once learnt from `prior_min_samples`
        jobs; None before."""
        if self.end_samples < policy.prior_min_samples:
            return None
        return math.sqrt(max(self.end_error_var, 0.0))

    def usable(self, policy: PollPolicy) -> bool:
        """True when it rests on enough samples for `policy` (more for a prior of runs)."""
        return self.samples >= (policy.run_prior_min_samples if self.per_run else policy.prior_min_samples)

    def fast_rate(self, policy: PollPolicy) -> float:
        """A rate few jobs exceed: exp(mean + prior_z x max(sd, prior_spread_floor))."""
        spread = max(math.sqrt(max(self.log_var, 0.0)), policy.prior_spread_floor)
        return math.exp(self.log_rate + policy.prior_z * spread)

    def typical_rate(self) -> float:
        """The typical rate: exp(mean of the log rates), their geometric mean."""
        return math.exp(self.log_rate)

    def to_item(self) -> list[Any]:
        """Compact form kept in DynamoDB: [samples, log_rate, log_var], then [end_samples, end_error_var]
        once an end error was learnt."""
        item: list[Any] = [self.samples, round(self.log_rate, 9), round(self.log_var, 9)]
        if self.end_samples:
            item += [self.end_samples, round(self.end_error_var, 9)]
        return item

    @classmethod
    def from_item(cls, item: Sequence[Any], per_run: bool = False) -> RatePrior:
        """Inverse of `to_item` (`per_run`: the prior's unit, which its kind tells)."""
        samples, log_rate, log_var, *end = item
        end_samples, end_error_var = end if end else (0, 0.0)
        return cls(
            int(samples), float(log_rate), float(log_var), per_run, int(end_samples), float(end_error_var)
        )


def observed_rate(observations: Sequence[Observation]) -> float | None:
    """Records per second from the running anchor to the latest running observation, None if not moving.

    Terminal observations are left out: the end is seen up to one wait late, which would bias the rate low.
    """
    ordered = sorted(observations, key=lambda obs: obs.at)
    anchor = running_anchor(ordered)
    latest = next((obs for obs in reversed(ordered) if _is_running(obs)), None)
    if anchor is None or latest is None or latest.at <= anchor.at or latest.done <= anchor.done:
        return None
    return (latest.done - anchor.done) / (latest.at - anchor.at)


def observed_end_error(observations: Sequence[Observation]) -> float | None:
    """How far the job's progress strayed from what the policy would have estimated: the mean, over the
    stretches between its kept running observations after the anchor, of ln(seconds the stretch took /
    seconds its records would take at the rate seen before it)^2, the rate being `observed_rate`'s (from the
    anchor to the stretch's start). A wait aimed at a running job's estimated end makes that prediction for
    the records left. None when no stretch has both a rate before it and records done in it.
    """
    running = [obs for obs in sorted(observations, key=lambda obs: obs.at) if _is_running(obs)]
    if len(running) < 3:
        return None
    anchor, errors = running[0], list[float]()
    for before, after in itertools.pairwise(running[1:]):
        if before.at <= anchor.at or before.done <= anchor.done or after.done <= before.done:
            continue
        rate = (before.done - anchor.done) / (before.at - anchor.at)
        predicted = (after.done - before.done) / rate
        errors.append(math.log((after.at - before.at) / predicted) ** 2)
    return sum(errors) / len(errors) if errors else None


def observed_run(observations: Sequence[Observation]) -> float | None:
    """Seconds a COMPLETED job ran, for a kind that reports no counts: from the first check that saw it
    running (where the policy measures its age from) to halfway between the last such check and the one that
    saw the end (the end is seen up to one wait late). None unless the latest observation is COMPLETED and an
    earlier one saw the job running: a FAILED job's run says nothing of how long a whole one takes.
    """
    ordered = sorted(observations, key=lambda obs: obs.at)
    anchor = running_anchor(ordered)
    if anchor is None or ordered[-1].status != COMPLETED:
        return None
    last_running = next(obs for obs in reversed(ordered) if _is_running(obs))
    run = (last_running.at + ordered[-1].at) / 2 - anchor.at
    return run if run > 0 else None


def observed_sample(observations: Sequence[Observation], per_run: bool) -> float | None:
    """What a finished job teaches its prior, in the prior's unit: its rate (`observed_rate`), or for a prior
    of runs 1 / the seconds it ran (`observed_run`); None when it tells nothing."""
    if not per_run:
        return observed_rate(observations)
    run = observed_run(observations)
    return None if run is None else 1.0 / run


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
    near a running job's estimated end). Pure: the same inputs and the
    same `rng` state give the same answer. Returns an integer (Step Functions Wait states take whole seconds)
    within [policy.min_seconds, policy.max_seconds].
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

    if anchor is None or not _is_running(latest):
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
