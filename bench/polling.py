"""Polling efficiency: zoho-watch's polling policy against fixed intervals, on a seeded profile of jobs.

Discrete-event simulation, no sleeping. Each job follows the Zoho emulator's own timeline model
(`fake_zoho.profile.JobTimeline`: queue delay, irregular progress, FAILED jobs), so the simulated Zoho
answers exactly what the emulator would. Each watcher is the Step Functions loop
`CheckJob -> Finished? -> WaitForNextCheck -> CheckJob`:

- a check starts; after `before_zoho` (Lambda invoke, token from memory) it calls Zoho, which takes
  `zoho_reply` seconds and reads the job half-way through; the reply is parsed by the library's own parser;
- zoho-watch then runs the policy's step that every check runs in the store (`zoho_watch.polling.poll_step`):
  the observation (made when the reply came back) joins what the job's state keeps, and the step gives the
  wait, in whole seconds (a Wait state takes whole seconds);
- the job's end is known when the check that saw it has written its result (`after_zoho` later);
- the Wait, then a state transition, then the next check.

The fixed-interval watchers run the same loop with a constant wait. Detection lag is `known_at - end`.

Record counts follow throughput: each job belongs to one of a few orgs (a connection and module), each org has
a base rate (records/s), and each job's rate is that base times a lognormal factor (`rate_spread` is its
sigma); Total_Count = duration x the job's rate (at least 1, at most Zoho's 50,000). zoho-watch learns each
org's rate prior (`RatePrior`) from the jobs it has seen finish, in job order, exactly as the store does
(`observed_rate` and `observed_end_error` of the kept observations when a job ends): job i is watched with
what jobs 0..i-1 taught.

A job of another kind (`SimJob.kind`, `bench.families`) answers in its kind's words and fields and is read by
its kind's reader (`bench.replies`); each (org, kind) has its own prior, and a kind that reports no counts
teaches how long its jobs ran (`observed_run`), as `check_job` does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from zoho_watch.job_kinds import KINDS
from zoho_watch.jobs import DEFAULT_KIND, TERMINAL_STATUSES, Snapshot
from zoho_watch.polling import Observation, PollPolicy, PollState, PollStep, poll_step
from zoho_watch.priors import RatePrior, observed_end_error, observed_sample

from bench.replies import snapshot
from bench.table import Row, median, percentile, seconds
from fake_zoho.profile import JobProfile, JobTimeline

MIN_DURATION = 10.0
MAX_DURATION = 6 * 3600.0
MAX_QUEUE_DELAY = 600.0
FAILED_SHARE = 0.15
FIXED_INTERVALS = (5, 30, 60)
# Throughput model: orgs, their base rates (records/s, log-uniform) and the per-job lognormal sigma.
ORGS = 4
ORG_RATE_LOW, ORG_RATE_HIGH = 0.5, 2.0
RATE_SPREAD = 0.4
MAX_TOTAL = 50_000
# The last stretch of a run, as a share of it: where a watcher that knows the rate spends its checks.
LAST_STRETCH = 0.2
# A watcher that never sees the end is a bug in the bench or the policy: stop and say so.
MAX_CHECKS_PER_JOB = 100_000


@dataclass(frozen=True)
class Latency:
    """Seconds spent inside one check, the same for every watcher (a model of AWS + Zoho, stated plainly)."""

    start: float = 0.1  # from the watch request to the first check (StartExecution + first transition)
    before_zoho: float = 0.05  # Lambda invoke and token from memory, before the request leaves
    zoho_reply_low: float = 0.15  # Zoho's reply time, uniform between these two
    zoho_reply_high: float = 0.6
    after_zoho: float = 0.06  # DynamoDB writes and events, then the task returns
    transition: float = 0.05  # Wait -> CheckJob state transition


@dataclass(frozen=True)
class SimJob:
    """One simulated job, created at time 0: a mass update unless `kind` says otherwise."""

    index: int
    total: int
    profile: JobProfile
    timeline: JobTimeline
    org: int = 0
    kind: str = DEFAULT_KIND

    def snapshot(self, at: float) -> Snapshot:
        """What a check that reads the job `at` seconds after its creation records."""
        return snapshot(self.kind, self.timeline.body(at))

    @property
    def end(self) -> float:
        """Seconds from creation to the terminal status."""
        after = self.timeline.finishes_after()
        if after is None:
            raise ValueError("bench jobs always end")
        return after

    @property
    def running_at(self) -> float:
        """Seconds from creation to RUNNING."""
        return self.profile.queued + self.profile.queue_delay

    @property
    def run_time(self) -> float:
        """How long the job actually ran (from RUNNING to its end; a FAILED job stops early)."""
        return self.end - self.running_at

    @property
    def lag_budget(self) -> float:
        """The p95 lag goal for this job: max(10 s, 5% of its duration)."""
        return max(10.0, 0.05 * self.run_time)


def make_jobs(count: int, seed: int, rate_spread: float = RATE_SPREAD) -> list[SimJob]:
    """A seeded profile: durations log-uniform 10 s..6 h, queue delays 0..10 min, irregular progress,
    about 15% FAILED (at a random point of the run), record counts from the throughput model (module doc)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if rate_spread < 0:
        raise ValueError("rate_spread must be >= 0")
    rng = random.Random(seed)
    org_rates = [log_uniform(rng, ORG_RATE_LOW, ORG_RATE_HIGH) for _ in range(ORGS)]
    jobs = []
    for index in range(count):
        duration = log_uniform(rng, MIN_DURATION, MAX_DURATION)
        org = rng.randrange(ORGS)
        rate = org_rates[org] * math.exp(rng.gauss(0.0, rate_spread))
        total = max(1, min(MAX_TOTAL, round(duration * rate)))
        profile = job_profile(rng, duration, MAX_QUEUE_DELAY)
        timeline = JobTimeline(total, profile, seed=rng.getrandbits(32))
        jobs.append(SimJob(index, total, profile, timeline, org))
    return jobs


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    """A number between `low` and `high` whose logarithm is uniform."""
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def job_profile(rng: random.Random, duration: float, max_queue_delay: float) -> JobProfile:
    """How a job of `duration` seconds moves: queued 0..`max_queue_delay` s, irregular progress, about 15%
    FAILED at a random point of the run, the others with a few failed records or none."""
    failed = rng.random() < FAILED_SHARE
    return JobProfile(
        queue_delay=rng.uniform(0.0, max_queue_delay),
        duration=duration,
        irregular=rng.uniform(0.2, 0.9),
        failure_share=0.0 if failed else rng.choice((0.0, 0.0, 0.01, 0.05)),
        final_status="FAILED" if failed else "COMPLETED",
        fail_at=rng.uniform(0.1, 1.0) if failed else 1.0,
    )


@dataclass(frozen=True)
class Trace:
    """What one watcher did on one job: its Zoho calls and when it knew the end."""

    calls: int
    known_at: float
    queued_calls: int = 0  # calls that found the job not yet running
    last_calls: int = 0  # calls that found it running in the last stretch of its run (`LAST_STRETCH`)
    observations: tuple[Observation, ...] = ()  # what the store keeps when the end is seen (before it)
    end_seen: Observation | None = None  # what the check that saw the end saw


# A watcher's turn after each check: (what it kept of the job, what the check saw) -> what it keeps now and
# the seconds to wait before the next check.
WaitChooser = Callable[[PollState, Observation], PollStep]


def policy_waits(policy: PollPolicy, rng: random.Random, prior: RatePrior | None = None) -> WaitChooser:
    """zoho-watch's choice: the policy's step (`poll_step`), as every check runs it in the store."""

    def choose(state: PollState, seen: Observation) -> PollStep:
        return poll_step(state, seen, policy, rng, prior)

    return choose


def fixed_waits(interval: int, keep: int = PollPolicy.keep) -> WaitChooser:
    """A fixed-interval poller (it keeps observations as zoho-watch does, for the trace)."""

    def choose(state: PollState, seen: Observation) -> PollStep:
        return PollStep(state.observed(seen, keep), interval)

    return choose


def watch(job: SimJob, choose: WaitChooser, rng: random.Random, latency: Latency) -> Trace:
    """Run one watcher on one job until a check sees the terminal status; see the module docstring."""
    state = PollState()
    started = latency.start
    queued = last = 0
    for calls in range(1, MAX_CHECKS_PER_JOB + 1):
        reply = rng.uniform(latency.zoho_reply_low, latency.zoho_reply_high)
        read_at = started + latency.before_zoho + reply / 2
        seen = job.snapshot(read_at)
        checked_at = started + latency.before_zoho + reply
        known_at = checked_at + latency.after_zoho
        observation = Observation(checked_at, seen.status, seen.done, seen.total)
        if seen.status in TERMINAL_STATUSES:
            return Trace(calls, known_at, queued, last, state.observations, observation)
        queued += read_at < job.running_at
        last += read_at >= max(job.running_at, job.end - LAST_STRETCH * job.run_time)
        step = choose(state, observation)
        state = step.state
        started = known_at + step.wait + latency.transition
    raise RuntimeError(f"job {job.index} was not seen ending after {MAX_CHECKS_PER_JOB} checks")


@dataclass(frozen=True)
class Summary:
    """One watcher over the whole profile."""

    name: str
    calls: list[int]
    lags: list[float]
    budget_shares: list[float]  # lag / the job's lag budget
    queued_calls: list[int]
    failed: list[bool]  # the job ended FAILED
    last_calls: list[int] = field(default_factory=list)  # calls in the run's last stretch (if counted)

    @property
    def calls_per_job(self) -> float:
        """Mean Zoho calls per job (credits spent / jobs)."""
        return sum(self.calls) / len(self.calls)

    @property
    def lag_median(self) -> float:
        """Median detection lag, seconds."""
        return median(self.lags)

    @property
    def lag_p95(self) -> float:
        """95th percentile detection lag, seconds."""
        return percentile(self.lags, 0.95)

    @property
    def budget_p95(self) -> float:
        """95th percentile of lag / max(10 s, 5% of the job's duration): under 1 meets the goal."""
        return percentile(self.budget_shares, 0.95)

    @property
    def queued_calls_per_job(self) -> float:
        """Mean calls per job made while the job was still waiting in Zoho's queue."""
        return sum(self.queued_calls) / len(self.queued_calls)

    @property
    def last_calls_per_job(self) -> float:
        """Mean calls per job made while it ran its last stretch (`LAST_STRETCH` of the run), nan if not
        counted."""
        return sum(self.last_calls) / len(self.last_calls) if self.last_calls else float("nan")

    def within_budget_of(self, failed: bool) -> float:
        """Share of the FAILED (or the COMPLETED) jobs whose lag is within their budget."""
        shares = [
            share for share, ended in zip(self.budget_shares, self.failed, strict=True) if ended is failed
        ]
        return sum(1 for share in shares if share <= 1.0) / len(shares) if shares else float("nan")

    @property
    def within_budget(self) -> float:
        """Share of jobs whose lag is within max(10 s, 5% of the job's duration)."""
        return sum(1 for share in self.budget_shares if share <= 1.0) / len(self.budget_shares)


def _seed(seed: int, name: str, index: int) -> int:
    # Stable across runs and Python versions (str hash is salted).
    return seed * 1_000_003 + index * 7919 + sum(ord(char) * (pos + 1) for pos, char in enumerate(name))


def taught(prior: RatePrior | None, job: SimJob, trace: Trace) -> RatePrior | None:
    """The prior of the job's (org, kind) once the job has ended, taught as the store and `check_job` do:
    the rate its kept observations show (or for a kind that reports no counts 1 / how long it ran) and how
    far its progress strayed from the estimates."""
    per_run = not KINDS[job.kind].reports_counts
    observations = [*trace.observations, *filter(None, [trace.end_seen])]
    sample = observed_sample(observations, per_run)
    if sample is None:
        return prior
    end_error = observed_end_error(observations)
    return RatePrior.first(sample, per_run, end_error) if prior is None else prior.learn(sample, end_error)


def summarise(
    name: str,
    jobs: Sequence[SimJob],
    chooser: Callable[[random.Random, RatePrior | None], WaitChooser],
    seed: int,
    latency: Latency,
    learn: bool = False,
) -> Summary:
    """Run one kind of watcher over every job in order (each job with its own seeded randomness).

    `learn`: keep a rate prior per (org, kind), taught by each finished job as the store does (`taught`),
    and give each job the prior of its org and kind so far.
    """
    priors: dict[tuple[int, str], RatePrior | None] = {}
    traces = []
    for job in jobs:
        rng = random.Random(_seed(seed, name, job.index))
        trace = watch(job, chooser(rng, priors.get((job.org, job.kind))), rng, latency)
        if learn:
            priors[job.org, job.kind] = taught(priors.get((job.org, job.kind)), job, trace)
        traces.append(trace)
    return summary_of(name, jobs, traces)


def summary_of(name: str, jobs: Sequence[SimJob], traces: Sequence[Trace]) -> Summary:
    """One watcher's `Summary` from its trace of each job (in the jobs' order)."""
    lags = [trace.known_at - job.end for job, trace in zip(jobs, traces, strict=True)]
    return Summary(
        name,
        [trace.calls for trace in traces],
        lags,
        [lag / job.lag_budget for lag, job in zip(lags, jobs, strict=True)],
        [trace.queued_calls for trace in traces],
        [job.profile.final_status == "FAILED" for job in jobs],
        [trace.last_calls for trace in traces],
    )


def run_all(
    count: int,
    seed: int,
    latency: Latency | None = None,
    rate_spread: float = RATE_SPREAD,
    intervals: Sequence[int] = FIXED_INTERVALS,
    policy: PollPolicy | None = None,
) -> dict[str, Summary]:
    """zoho-watch (default PollPolicy, learning rate priors) and fixed intervals over the same seeded jobs."""
    return compare(make_jobs(count, seed, rate_spread), seed, latency, intervals, policy)


def compare(
    jobs: Sequence[SimJob],
    seed: int,
    latency: Latency | None = None,
    intervals: Sequence[int] = FIXED_INTERVALS,
    policy: PollPolicy | None = None,
) -> dict[str, Summary]:
    """zoho-watch (learning its priors) and each fixed interval over `jobs` (`seed`: the watchers' jitter)."""
    latency = latency or Latency()
    policy = policy or PollPolicy()
    results = {
        "zoho-watch": summarise(
            "zoho-watch", jobs, lambda rng, prior: policy_waits(policy, rng, prior=prior), seed, latency, True
        )
    }
    for interval in intervals:
        name = f"fixed {interval} s"
        results[name] = summarise(name, jobs, lambda _rng, _prior, i=interval: fixed_waits(i), seed, latency)
    return results


# The name of the oracle's results (`bench.oracle`).
ORACLE = "oracle (knows each end)"
# The calls goal: zoho-watch makes at least this many times fewer Zoho calls per job than fixed 30 s.
CALLS_GOAL = 6.0


def rows(results: dict[str, Summary], count: int, seed: int) -> list[Row]:
    """Table rows: calls per job against each fixed interval (and the oracle, when in `results`), then lag
    against fixed 30 s."""
    zw = results["zoho-watch"]
    out = []
    for interval in FIXED_INTERVALS:
        fixed = results[f"fixed {interval} s"]
        ratio = fixed.calls_per_job / zw.calls_per_job
        out.append(
            Row(
                f"1. Zoho calls per job ({count} jobs, seed {seed}) vs fixed {interval} s",
                f"{zw.calls_per_job:.1f}",
                f"{fixed.calls_per_job:.1f}",
                f"{ratio:.1f}x fewer calls",
                f">= {CALLS_GOAL:.0f}x fewer than fixed 30 s" if interval == 30 else "",
                ratio >= CALLS_GOAL if interval == 30 else None,
            )
        )
    if ORACLE in results:
        oracle = results[ORACLE]
        out.append(
            Row(
                f"1. Zoho calls per job vs the oracle (knows each job's end; lag within budget: "
                f"{oracle.within_budget:.0%} of jobs)",
                f"{zw.calls_per_job:.1f}",
                f"{oracle.calls_per_job:.1f}",
                f"{zw.calls_per_job / oracle.calls_per_job:.1f}x the oracle's calls",
            )
        )
    fixed30 = results["fixed 30 s"]
    out.append(
        Row(
            "1. detection lag, median, vs fixed 30 s",
            seconds(zw.lag_median),
            seconds(fixed30.lag_median),
            f"{zw.lag_median / fixed30.lag_median:.2f}x of fixed 30 s",
            "no worse than fixed 30 s",
            zw.lag_median <= fixed30.lag_median,
        )
    )
    out.append(
        Row(
            "1. detection lag, p95 (absolute), vs fixed 30 s",
            seconds(zw.lag_p95),
            seconds(fixed30.lag_p95),
            f"{zw.lag_p95 / fixed30.lag_p95:.2f}x of fixed 30 s",
        )
    )
    out.append(
        Row(
            "1. p95 of lag / max(10 s, 5% of job duration)",
            f"{zw.budget_p95:.2f} ({zw.within_budget:.0%} of jobs within)",
            f"{fixed30.budget_p95:.2f} ({fixed30.within_budget:.0%} within)",
            f"{zw.budget_p95:.2f} of the budget",
            "< 1 (p95 lag under max(10 s, 5%))",
            zw.budget_p95 < 1.0,
        )
    )
    return out


def detail(results: dict[str, Summary]) -> str:
    """A small markdown table of every watcher: calls per job, per phase, and lag."""
    lines = [
        "| watcher | Zoho calls per job (mean) | of them while queued | running, before the last stretch"
        f" | running, last {LAST_STRETCH:.0%} of the run | calls (median) | lag median | lag p95"
        " | lag within max(10 s, 5%): all / COMPLETED / FAILED jobs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, summary in results.items():
        # The rest of the calls: the one that saw the end, 1 per job.
        running = summary.calls_per_job - summary.queued_calls_per_job - summary.last_calls_per_job - 1
        lines.append(
            f"| {name} | {summary.calls_per_job:.1f} | {summary.queued_calls_per_job:.1f} | {running:.1f} | "
            f"{summary.last_calls_per_job:.1f} | "
            f"{median(summary.calls):.0f} | {seconds(summary.lag_median)} | {seconds(summary.lag_p95)} | "
            f"{summary.within_budget:.0%} / {summary.within_budget_of(False):.0%} / "
            f"{summary.within_budget_of(True):.0%} |"
        )
    return "\n".join(lines)


# Checks that the policy was not tuned to one profile: other seeds, the per-job rate spread doubled on each
# seed, and none.
ROBUSTNESS = (
    *((other, RATE_SPREAD) for other in (8, 9, 10)),
    *((other, 2 * RATE_SPREAD) for other in (7, 8, 9, 10)),
    (7, 0.0),
)


def robustness_row(count: int, seed: int, rate_spread: float) -> Row:
    """One row: zoho-watch against fixed 30 s on another seeded profile, all three goals judged at once."""
    results = run_all(count, seed, rate_spread=rate_spread, intervals=(30,))
    return goals_row(f"1. other profile: seed {seed}, rate spread {rate_spread} ({count} jobs)", results)


def goals_row(measure: str, results: dict[str, Summary], calls_goal: float = CALLS_GOAL) -> Row:
    """zoho-watch against fixed 30 s in one row: calls per job, median lag and p95 of lag / budget, each with
    its goal (`calls_goal` x fewer calls, a median lag no worse, p95 under the budget) and whether it is met;
    the row is met when all three are."""
    zw, fixed30 = results["zoho-watch"], results["fixed 30 s"]
    ratio = fixed30.calls_per_job / zw.calls_per_job
    goals = (
        (f"{ratio:.1f}x fewer calls" if ratio >= 1 else f"{1 / ratio:.1f}x more calls", ratio >= calls_goal),
        (f"median lag {zw.lag_median / fixed30.lag_median:.2f}x", zw.lag_median <= fixed30.lag_median),
        (f"p95 of lag/budget {zw.budget_p95:.2f}", zw.budget_p95 < 1.0),
    )
    return Row(
        measure,
        f"{zw.calls_per_job:.1f} calls, lag median {seconds(zw.lag_median)}, p95 of lag/budget"
        f" {zw.budget_p95:.2f} ({zw.within_budget:.0%} within)",
        f"fixed 30 s: {fixed30.calls_per_job:.1f} calls, lag median {seconds(fixed30.lag_median)}, p95 of"
        f" lag/budget {fixed30.budget_p95:.2f}",
        "; ".join(f"{result} ({'met' if met else 'missed'})" for result, met in goals),
        f">= {calls_goal:.0f}x fewer calls; median lag <= fixed 30 s; p95 of lag/budget < 1",
        all(met for _, met in goals),
    )


def measure(count: int = 250, seed: int = 7) -> tuple[list[Row], str]:
    """Rows for the main table (the profile, then the robustness profiles) and a detail table."""
    if count < 200:
        raise ValueError("the polling profile needs at least 200 jobs")
    from bench.oracle import summarise_oracle  # it builds on this module

    jobs = make_jobs(count, seed)
    results = compare(jobs, seed)
    results[ORACLE] = summarise_oracle(jobs, seed)
    extra = [
        robustness_row(count, other, spread)
        for other, spread in ROBUSTNESS
        if (other, spread) != (seed, RATE_SPREAD)
    ]
    return [*rows(results, count, seed), *extra], detail(results)
