"""What finished jobs teach the polling policy: the prior of each (connection, module, kind).

A finished job teaches its throughput (`observed_sample`: its rate, or for a kind that reports no counts
1 / how long it ran) and how far its progress strayed from the estimates the policy made of it
(`observed_end_error`). `RatePrior` keeps both, weighted towards recent jobs; the store keeps one per
(connection, module, kind) and the policy (`zoho_watch.polling`) reads it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from zoho_watch.jobs import COMPLETED
from zoho_watch.polling import Observation, PollPolicy, is_running, observed_rate, running_anchor


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
        weight = self._weight(self.samples)
        delta = math.log(rate) - self.log_rate
        mean = self.log_rate + weight * delta
        var = (1.0 - weight) * (self.log_var + weight * delta * delta)
        learnt = RatePrior(self.samples + 1, mean, var, self.per_run, self.end_samples, self.end_error_var)
        return learnt._with_end_error(end_error)

    @classmethod
    def _weight(cls, samples: int) -> float:
        # A plain average while samples are few, then `WEIGHT` for the newest.
        return max(cls.WEIGHT, 1.0 / (samples + 1))

    def _with_end_error(self, end_error: float | None) -> RatePrior:
        if end_error is None:
            return self
        if not end_error >= 0 or not math.isfinite(end_error):
            raise ValueError(f"an end error sample must be a number >= 0, got {end_error!r}")
        weight = self._weight(self.end_samples)
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


def observed_end_error(observations: Sequence[Observation]) -> float | None:
    """How far the job's progress strayed from what the policy would have estimated: the mean, over the
    stretches between its kept running observations after the anchor, of ln(seconds the stretch took /
    seconds its records would take at the rate seen before it)^2, the rate being `observed_rate`'s (from the
    anchor to the stretch's start). A wait aimed at a running job's estimated end makes that prediction for
    the records left. None when no stretch has both a rate before it and records done in some time.
    """
    running = [obs for obs in sorted(observations, key=lambda obs: obs.at) if is_running(obs)]
    if len(running) < 3:
        return None
    anchor = running[0]
    errors: list[float] = []
    for before, after in itertools.pairwise(running[1:]):
        if before.at <= anchor.at or before.done <= anchor.done or after.done <= before.done:
            continue
        if after.at <= before.at:
            continue  # two checks at the same instant: no stretch of time to compare
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
    last_running = next(obs for obs in reversed(ordered) if is_running(obs))
    run = (last_running.at + ordered[-1].at) / 2 - anchor.at
    return run if run > 0 else None


def observed_sample(observations: Sequence[Observation], per_run: bool) -> float | None:
    """What a finished job teaches its prior, in the prior's unit: its rate (`observed_rate`), or for a prior
    of runs 1 / the seconds it ran (`observed_run`); None when it tells nothing."""
    if not per_run:
        return observed_rate(observations)
    run = observed_run(observations)
    return None if run is None else 1.0 / run
