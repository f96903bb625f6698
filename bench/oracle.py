"""The oracle: the fewest Zoho calls any watcher of the simulated loop could make within the lag budget.

What it may know: each job's true end (and so its start, its rate and whether it fails), which no real watcher
knows. How it schedules its calls: it runs `bench.polling`'s loop with its latencies, whose first check comes
as the watch starts (`Latency.start`: every watch begins with a check, and the oracle must observe the job
too), then one Wait, in whole seconds, that makes the next check read the job at or just after its end (the
read happens at the earliest reply time; a longer reply reads it a little later). So it makes 2 calls per job
(1 if the job has ended before the first check) with a lag of at most 1 s plus one check's latency, within
every job's budget of max(10 s, 5% of its run). No watcher that must see the terminal status can do with
fewer: the loop's first call is not the oracle's choice, and one more is the least that sees the end.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from zoho_watch.polling import Observation, PollPolicy, PollState, PollStep

from bench.polling import ORACLE, Latency, SimJob, Summary, WaitChooser, summary_of, watch


def oracle_waits(job: SimJob, latency: Latency, keep: int = PollPolicy.keep) -> WaitChooser:
    """The oracle's choice after a check (seen at `seen.at`): the whole seconds that put its next read of
    Zoho at or after the job's end (`watch`'s timeline: after `after_zoho`, the Wait, a transition,
    `before_zoho` and half the shortest reply)."""

    def choose(state: PollState, seen: Observation) -> PollStep:
        next_read = (
            seen.at
            + latency.after_zoho
            + latency.transition
            + latency.before_zoho
            + latency.zoho_reply_low / 2
        )
        return PollStep(state.observed(seen, keep), max(0, math.ceil(job.end - next_read)))

    return choose


def summarise_oracle(jobs: Sequence[SimJob], seed: int, latency: Latency | None = None) -> Summary:
    """The oracle over every job (each with its own seeded reply times, as `bench.polling.summarise`)."""
    latency = latency or Latency()
    traces = [
        watch(job, oracle_waits(job, latency), random.Random(seed * 1_000_003 + job.index), latency)
        for job in jobs
    ]
    return summary_of(ORACLE, jobs, traces)
