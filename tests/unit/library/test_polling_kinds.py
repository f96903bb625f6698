"""The polling policy per kind (pure functions, no I/O): a kind that reports no counts is polled from how long
its kind's completed jobs ran (a `per_run` rate prior), or without one by the back-off of any job showing no
progress; a kind with counts is polled as before."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from zoho_watch.job_kinds import KINDS
from zoho_watch.polling import Observation, PollPolicy, next_check_in, trim_observations
from zoho_watch.priors import RatePrior, observed_run

POLICY = PollPolicy(5, 900, jitter=0)
COUNTLESS = {"audit_log_export", "transfer_and_delete", "bulk_read"}


def seen(at: float, status: str) -> Observation:
    """An observation of a job that reports no counts (its snapshot's counts are 0)."""
    return Observation(at, status, 0, 0)


def runs_of(seconds: float, samples: int = POLICY.run_prior_min_samples) -> RatePrior:
    """A prior of whole runs: `samples` completed jobs that ran `seconds` each (usable by default)."""
    prior = RatePrior.first(1 / seconds, per_run=True)
    for _ in range(samples - 1):
        prior = prior.learn(1 / seconds)
    return prior


def watch(
    prior: RatePrior | None, start: float, end: float, policy: PollPolicy = POLICY, final: str = "COMPLETED"
) -> tuple[float, list[tuple[float, int]]]:
    """Check a job without counts (waiting from 0, running from `start`, ended at `end`) until a check sees
    its end: when that check was made, and each (age since it was first seen running, wait) before it."""
    now, history, anchor = 0.0, [], None
    waits: list[tuple[float, int]] = []
    while True:
        status = "SCHEDULED" if now < start else ("RUNNING" if now < end else final)
        history.append(seen(now, status))
        if now >= end:
            return now, waits
        if status == "RUNNING" and anchor is None:
            anchor = now
        wait = next_check_in(trim_observations(history), now, policy, random.Random(1), 0.0, prior)
        waits.append((now - anchor if anchor is not None else -1.0, wait))
        now += wait


def running_cap(age: float, shortest: float, policy: PollPolicy = POLICY) -> int:
    """The longest running wait: lag_safety x max(10 s, 5% of max(age, early_share x shortest run))."""
    budget = max(policy.lag_floor, policy.lag_share * max(age, policy.early_share * shortest))
    return max(policy.min_seconds, math.floor(policy.lag_safety * budget))


def test_only_the_kinds_whose_replies_count_nothing_are_declared_without_counts() -> None:
    assert {name for name, kind in KINDS.items() if not kind.reports_counts} == COUNTLESS
    replies = {
        "audit_log_export": {"audit_log_export": [{"id": "1", "status": "Progress"}]},
        "transfer_and_delete": {"transfer_and_delete": [{"status": "in_progress"}]},
        "bulk_read": {"data": [{"id": "1", "operation": "read", "state": "IN PROGRESS"}]},  # result once done
    }
    for name, body in replies.items():
        reply = KINDS[name].read(body)
        assert (reply.phase, reply.total, reply.done) == ("running", None, None)


def test_a_job_without_counts_is_checked_just_after_its_kinds_typical_run_within_its_budget() -> None:
    prior = runs_of(600.0)
    shortest = 1 / prior.fast_rate(POLICY)
    assert shortest == pytest.approx(600 / math.e)  # equal samples: the spread floor (0.5 x z 2)
    # Waiting, its kind's shortest plausible run bounds the wait: it may start and end within one.
    waiting = next_check_in([seen(0, "SCHEDULED")], 0, POLICY, random.Random(1), 0.0, prior)
    assert waiting == math.floor(POLICY.lag_safety * (shortest + max(10.0, 0.05 * shortest)))
    # Seen running at 10 (the check before saw it waiting at 5): it ends 600 s later, as its kind's jobs do.
    history = [seen(5, "SCHEDULED"), seen(10, "RUNNING")]
    now, waits = 10.0, []
    while now < 610:
        wait = next_check_in(trim_observations(history), now, POLICY, random.Random(1), 0.0, prior)
        assert wait <= running_cap(now - 10, shortest)  # a job may fail any moment
        waits.append(wait)
        now += wait
        history.append(seen(now, "RUNNING" if now < 610 else "COMPLETED"))
    assert 610 <= now <= 612  # just after the expected end: a margin of 1 s, whole seconds
    assert waits[-1] < running_cap(now - 10, shortest)  # the last wait was cut to land there
    # A longer run than its kind's: past the expected end it is checked within its budget, as before it.
    end, longer = watch(prior, start=7.0, end=7.0 + 1500)
    assert all(wait <= running_cap(age, shortest) for age, wait in longer if age >= 0)
    assert end - 1507 <= POLICY.lag_safety * 0.05 * 1500


def test_learnt_runs_spare_checks_of_a_long_job_without_counts() -> None:
    """A 3-hour export: sized on its kind's shortest plausible run, not on its age alone, the first waits
    are longer than the 10 s floor; the end is still seen within its budget."""
    hours = 3 * 3600.0
    with_runs, by_runs = watch(runs_of(hours), start=60.0, end=60.0 + hours)
    without, by_age = watch(None, start=60.0, end=60.0 + hours)
    assert len(by_runs) < 0.6 * len(by_age)
    for end in (with_runs, without):
        assert 0 <= end - (60 + hours) <= POLICY.lag_safety * 0.05 * hours


def test_without_a_learnt_run_a_job_without_counts_backs_off_within_its_budget() -> None:
    # Fewer runs than a prior of runs needs (a prior of records needs 2): the same waits as with none.
    assert POLICY.run_prior_min_samples > POLICY.prior_min_samples
    for prior in (None, runs_of(600, samples=POLICY.run_prior_min_samples - 1)):
        end, waits = watch(prior, start=300.0, end=300.0 + 3600)
        queued = [wait for age, wait in waits if age < 0]
        running = [(age, wait) for age, wait in waits if age >= 0]
        assert queued[:3] == [5, 8, 8] and all(b >= a for a, b in itertools.pairwise(queued))
        # Running: each wait within the budget of its age so far, growing with it (exponential in checks).
        assert all(wait <= max(8, math.floor(0.85 * 0.05 * age)) for age, wait in running)
        assert all(b[1] >= a[1] for a, b in itertools.pairwise(running))
        assert running[-1][1] > 4 * running[0][1]
        assert end - 3900 <= 0.85 * 0.05 * 3600
        # Each wait is a share of the age: a 6 times longer run costs log(6) / log(1 + share) checks more.
        _, longer = watch(prior, start=300.0, end=300.0 + 6 * 3600)
        assert len(longer) - len(waits) <= math.log(6) / math.log(1 + 0.85 * 0.05) + 2


def test_a_kind_with_counts_is_polled_as_before() -> None:
    """A prior of records is never read as one of runs: the typical run does not move a counted job's checks,
    and a counted job reporting no records yet ignores its prior, as it always did."""
    records = RatePrior.first(10.0).learn(10.0)  # 10 records/s: 1000 records typically take 100 s
    runs = runs_of(100.0)
    history = [Observation(0, "SCHEDULED", 0, 1000), Observation(1, "RUNNING", 0, 1000)]
    # Not moving yet at 96 s: a counted job waits its cap; one without counts lands after its typical run.
    assert next_check_in(history, 96, POLICY, random.Random(1), 0.0, records) == 8
    assert (
        next_check_in([seen(0, "SCHEDULED"), seen(1, "RUNNING")], 96, POLICY, random.Random(1), 0.0, runs)
        == 6
    )
    for status in ("SCHEDULED", "RUNNING"):
        empty = [Observation(0, "SCHEDULED", 0, 0), Observation(40, status, 0, 0)]
        with_prior = next_check_in(empty, 40, POLICY, random.Random(1), 0.0, records)
        assert with_prior == next_check_in(empty, 40, POLICY, random.Random(1), 0.0, None)
    assert not records.per_run and records.learn(5.0).per_run is False


def test_a_prior_of_runs_keeps_its_unit() -> None:
    prior = runs_of(600.0)
    assert prior.per_run and prior.learn(1 / 300).per_run
    assert prior.typical_rate() == pytest.approx(1 / 600)
    restored = RatePrior.from_item(prior.to_item(), per_run=True)
    assert restored.per_run and restored.log_rate == pytest.approx(prior.log_rate)
    assert len(prior.to_item()) == 3  # the unit is not stored: the kind tells it


def test_observed_run_is_from_first_seen_running_to_halfway_through_the_last_wait() -> None:
    history = [seen(0, "SCHEDULED"), seen(30, "RUNNING"), seen(300, "RUNNING"), seen(340, "COMPLETED")]
    assert observed_run(history) == pytest.approx(320 - 30)
    assert observed_run(history[::-1]) == pytest.approx(290)  # any order
    assert observed_run([seen(30, "RUNNING"), seen(40, "COMPLETED")]) == pytest.approx(5)
    assert observed_run(history[:3]) is None  # not ended
    assert observed_run([*history[:3], seen(340, "FAILED")]) is None  # a failed run is no whole run
    assert observed_run([seen(0, "SCHEDULED"), seen(60, "COMPLETED")]) is None  # never seen running
