"""What the polling policy alone plans for a job: its checks replayed on a frozen emulator clock.

`planned_checks` creates the job on an offline Zoho emulator (no server: its job timelines only), reads each
of its status replies as a check does (the kind's reader, then its snapshot), and replays the watch the way
the library's store does it (`zoho_watch.polling.poll_step`, the step every check
runs), moving the emulator's clock by each wait instead of sleeping. A sweep-watched
job is checked at the first schedule tick at or after it is due. No real time, network or AWS is used,
so the figure is what the policy gives when nothing else (processing time, a slow machine, a clock out of
step) adds to the waits: the number of checks a job watched on the embedded stack gets, exactly: the
stack's clock stands still while a check runs, and the jitter of each wait is seeded by the job and the
check's number (`zoho_watch.polling.jitter_rng`), here as in the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zoho_watch.jobs import DEFAULT_KIND, JobKey

from fake_zoho import FakeZoho, JobProfile

# A replay that has not ended after this many checks is a bug in the policy or in the replay.
MAX_REPLAYED_CHECKS = 10_000


@dataclass(frozen=True)
class Plan:
    """The replayed watch of one job: how many checks, and the simulated seconds from its start to its end
    being seen."""

    checks: int
    seen_after: float


def planned_checks(
    module: str,
    total: int,
    profile: JobProfile,
    poll: dict[str, int] | None = None,
    default_poll: tuple[int, int] = (5, 900),
    schedule_period: float | None = None,
    job_id: str = "1",
    connection: str = "default",
    kind: str = DEFAULT_KIND,
) -> Plan:
    """Replay the watch of a `total`-record job of `profile` (see module docstring).

    `poll` is the job's poll bounds as the API takes them (None: `default_poll`, the stack's
    POLL_MIN_SECONDS and POLL_MAX_SECONDS); `schedule_period` is the sweep's period in seconds for a job
    watched in schedule mode (None: Step Functions, which checks when the wait ends); `job_id` and
    `connection` are the watched job's, which seed the jitter of its waits; `kind` is its kind (module
    `org` for the kinds whose status names none).
    """
    from zoho_watch.job_kinds import KINDS, snapshot_of
    from zoho_watch.polling import Observation, PollPolicy, PollState, jitter_rng, poll_step

    policy = PollPolicy.from_poll(poll, *default_poll)
    zoho = FakeZoho()
    zoho.clock.freeze()
    started = zoho.clock.now()
    replayed = zoho.create_job(module, total=total, profile=profile, kind=kind)
    state = PollState()
    if schedule_period is not None:
        zoho.clock.advance(schedule_period)  # the first sweep after the watch starts
    for checks in range(1, MAX_REPLAYED_CHECKS + 1):
        now = zoho.clock.now()
        snapshot = snapshot_of(KINDS[kind].parse(200, zoho.job_reply(replayed)))
        if snapshot.terminal:
            return Plan(checks=checks, seen_after=now - started)
        seen = Observation(now, snapshot.status, snapshot.done, snapshot.total)
        step = poll_step(state, seen, policy, jitter_rng(JobKey(connection, module, job_id, kind), checks))
        state, wait = step.state, float(step.wait)
        if schedule_period is not None:
            wait = math.ceil(wait / schedule_period) * schedule_period
        zoho.clock.advance(wait)
    raise RuntimeError(f"the replayed watch of {module} did not end within {MAX_REPLAYED_CHECKS} checks")
