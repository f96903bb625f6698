"""Job model, input validation and the polling policy (pure functions: no I/O)."""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
from pathlib import Path

import pytest
from zoho_watch.errors import InvalidInput
from zoho_watch.jobs import (
    CONNECTION_PATTERN,
    JOB_ID_PATTERN,
    MODULE_PATTERN,
    TERMINAL_STATUSES,
    JobKey,
    Snapshot,
    validate_connection,
    validate_job_id,
    validate_module,
)
from zoho_watch.polling import (
    Observation,
    PollPolicy,
    PollState,
    next_check_in,
    observed_rate,
    poll_step,
    trim_observations,
)
from zoho_watch.priors import RatePrior, observed_end_error

BAD_VALUES = [
    "../Leads",
    "Leads/../../x",
    "Leads?x=1",
    "Leads&job_id=1",
    "Leads%2F..",
    "Le ads",
    " Leads",
    "Leads\n",
    "",
    "L" * 10_000,
    None,
    42,
]


@pytest.mark.parametrize("module", ["Leads", "Price_Books", "CustomModule1", "Projects_X", "a", "A" * 100])
def test_valid_modules_pass(module: str) -> None:
    assert validate_module(module) == module


@pytest.mark.parametrize("module", [*BAD_VALUES, "1Leads", "_Leads", "A" * 101, "Leads-1"])
def test_invalid_modules_are_refused(module: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_module(module)
    assert caught.value.code == "INVALID_INPUT"
    assert len(str(caught.value)) < 200  # a 10 kB value is not echoed back


@pytest.mark.parametrize("job_id", ["554023000000506003", "1", "9" * 30])
def test_valid_job_ids_pass(job_id: str) -> None:
    assert validate_job_id(job_id) == job_id


def test_integer_job_id_becomes_text() -> None:
    assert validate_job_id(554023000000506003) == "554023000000506003"


@pytest.mark.parametrize(
    "job_id",
    [
        *[value for value in BAD_VALUES if value != 42],
        "12a",
        "9" * 31,
        "-1",
        "1.5",
        "\uff11\uff12",
        True,
        -5,
        "1 2",
        "12%20",
    ],
)
def test_invalid_job_ids_are_refused(job_id: object) -> None:
    with pytest.raises(InvalidInput):
        validate_job_id(job_id)


@pytest.mark.parametrize("connection", ["default", "eu-org", "a", "x_1", "a" * 32])
def test_valid_connections_pass(connection: str) -> None:
    assert validate_connection(connection) == connection


@pytest.mark.parametrize("connection", [*BAD_VALUES, "Default", "-x", "a" * 33, "a/b", "a.b"])
def test_invalid_connections_are_refused(connection: object) -> None:
    with pytest.raises(InvalidInput):
        validate_connection(connection)


def test_a_job_key_is_valid_by_construction_and_frozen() -> None:
    key = JobKey("default", "Leads", 554023000000506003)  # type: ignore[arg-type]  # an int id, as JSON has it
    assert (key.connection, key.module, key.job_id) == ("default", "Leads", "554023000000506003")
    assert str(key) == "default/Leads/554023000000506003"
    assert key == JobKey.of({"connection": "default", "module": "Leads", "job_id": "554023000000506003"})
    assert len({key, JobKey("default", "Leads", "554023000000506003")}) == 1  # hashable, compared by value
    with pytest.raises(AttributeError):
        key.module = "Deals"  # type: ignore[misc]
    for bad in (("Default", "Leads", "1"), ("default", "../Leads", "1"), ("default", "Leads", "12ab")):
        with pytest.raises(InvalidInput):
            JobKey(*bad)
    with pytest.raises(InvalidInput, match="module"):
        JobKey.of({"connection": "default", "job_id": "1"})  # a missing part is bad input, not a KeyError


def test_snapshot_progress_and_terminal() -> None:
    running = Snapshot("RUNNING", total=50, updated=20, failed=10, not_updated=20)
    assert running.done == 30
    assert running.progress == 0.6
    assert not running.terminal
    assert running.counts() == {"total": 50, "updated": 20, "failed": 10, "not_updated": 20}
    assert Snapshot("FAILED", 50, 0, 50, 0).terminal
    assert Snapshot("COMPLETED", 50, 50, 0, 0).progress == 1.0
    assert Snapshot("SCHEDULED", 0, 0, 0, 0).progress == 0.0
    assert Snapshot("SOMETHING_NEW", 10, 1, 0, 9).terminal is False
    assert frozenset({"COMPLETED", "FAILED"}) == TERMINAL_STATUSES


def test_poll_policy_from_poll_validates() -> None:
    assert PollPolicy.from_poll(None, 5, 900).as_dict() == {"min_seconds": 5, "max_seconds": 900}
    assert PollPolicy.from_poll({"min_seconds": 10}, 5, 900).as_dict() == {
        "min_seconds": 10,
        "max_seconds": 900,
    }
    assert PollPolicy.from_poll({"min_seconds": 2.0, "max_seconds": 60}, 5, 900).min_seconds == 2
    assert PollPolicy.from_poll({"min_seconds": 1200}, 5, 900).as_dict() == {
        "min_seconds": 1200,
        "max_seconds": 1200,
    }
    assert PollPolicy.from_poll({"max_seconds": 3}, 5, 900).as_dict() == {"min_seconds": 3, "max_seconds": 3}
    for bad in (
        {"min_seconds": 0},
        {"max_seconds": "60"},
        {"min_seconds": 100, "max_seconds": 10},
        {"x": 1},
        [],
    ):
        with pytest.raises(InvalidInput):
            PollPolicy.from_poll(bad, 5, 900)  # type: ignore[arg-type]


def obs(at: float, status: str, done: int, total: int = 1000) -> Observation:
    return Observation(at, status, done, total)


def test_waiting_job_backs_off_exponentially_within_bounds() -> None:
    policy = PollPolicy(5, 900, jitter=0)
    # A job seen long ago that still waits: plain exponential back-off from min_seconds.
    history: list[Observation] = []
    waits = []
    now = 100_000.0
    for _ in range(10):
        history.append(obs(now, "SCHEDULED", 0))
        wait = next_check_in(trim_observations(history), now, policy, random.Random(1), first_seen_at=0.0)
        waits.append(wait)
        now += wait
    assert waits == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900]


def test_young_waiting_job_backs_off_in_proportion_to_its_age() -> None:
    policy = PollPolicy(5, 900, jitter=0)
    history: list[Observation] = []
    now, waits = 0.0, []
    while now < 3600:
        history.append(obs(now, "QUEUED", 0))
        wait = next_check_in(trim_observations(history), now, policy, random.Random(1), first_seen_at=0.0)
        # the lag budget of its age so far, less the safety share: max(10 s, 5% of the age) x 0.85
        assert wait <= policy.lag_safety * max(policy.lag_floor, policy.lag_share * now) + 1
        waits.append(wait)
        now += wait
    assert waits[:3] == [5, 8, 8]  # min_seconds, then the budget's floor (a job may start and end at once)
    assert all(b >= a for a, b in itertools.pairwise(waits))  # never shorter while nothing moves
    assert len(waits) < 120  # an hour of waiting costs fewer calls than fixed 30 s polling


def test_progressing_job_is_checked_just_after_its_estimated_end() -> None:
    policy = PollPolicy(5, 900, jitter=0)
    # 10 records a second, 1000 records: started at t=0, seen at 10 and 40 -> ends at 100. Its budget is
    # max(10 s, 5% of 100 s) = 10 s, so every wait stays within 85% of it, and the end is seen within it.
    now = 40.0
    history = [obs(10, "RUNNING", 100), obs(40, "RUNNING", 400)]
    waits = []
    while now < 100:
        wait = next_check_in(history, now, policy, random.Random(1), first_seen_at=10)
        waits.append(wait)
        now += wait
        history.append(obs(now, "RUNNING" if now < 100 else "COMPLETED", min(1000, int(10 * now))))
    assert waits[0] == 8  # floor(0.85 x 10 s)
    assert 100 <= now <= 108
    assert all(wait <= 8 for wait in waits)
    # Far from the end the budget is 5% of max(age, 0.8 x the estimated run), ~4,000 s: max_seconds wins.
    history = [obs(100, "RUNNING", 100), obs(1000, "RUNNING", 1000, total=100_000)]
    wait = next_check_in(history, 1000, policy, random.Random(1), first_seen_at=100)
    assert wait == 900


def test_running_waits_never_exceed_the_budget_of_age_or_estimate() -> None:
    """A job may fail any moment: a wait stays within lag_safety x 5% of max(age, early_share x estimate)."""
    policy = PollPolicy(1, 86400, jitter=0)
    # Started at 0 (SCHEDULED just before), 10 records/s, 100,000 records: a 10,000 s run.
    for now in (100.0, 1000.0, 5000.0, 9000.0):
        history = [obs(0, "SCHEDULED", 0, total=100_000), obs(1, "RUNNING", 10, 100_000)]
        history.append(obs(now, "RUNNING", int(10 * now), 100_000))
        wait = next_check_in(history, now, policy, random.Random(1), first_seen_at=0)
        age, estimate = now, 10_000.0
        budget = max(10.0, 0.05 * max(age, policy.early_share * estimate))
        remaining = estimate - now
        assert wait == min(
            math.floor(policy.lag_safety * budget), math.ceil(remaining + max(1, budget / 100))
        )
    # The early share sizes the waits of a young long job: 5% x 0.8 x 10,000 s, not 5% of 100 s.
    history = [
        obs(0, "SCHEDULED", 0, total=100_000),
        obs(1, "RUNNING", 10, 100_000),
        obs(100, "RUNNING", 1000, 100_000),
    ]
    assert next_check_in(history, 100, policy, random.Random(1), first_seen_at=0) == 340


def test_queued_job_with_a_rate_prior_waits_for_the_shortest_plausible_run() -> None:
    policy = PollPolicy(5, 900, jitter=0)
    prior = RatePrior.first(10.0).learn(10.0)  # two samples of 10 records/s, no spread seen yet
    fast = 10.0 * math.exp(policy.prior_z * policy.prior_spread_floor)
    assert prior.fast_rate(policy) == pytest.approx(fast)
    history = [obs(0, "SCHEDULED", 0, total=1000), obs(30, "SCHEDULED", 0, total=1000)]
    shortest = 1000 / fast
    expected = math.floor(policy.lag_safety * (shortest + max(10.0, 0.05 * shortest)))
    assert next_check_in(history, 30, policy, random.Random(1), first_seen_at=0, prior=prior) == expected
    # A long job waits longer in the queue, up to max_seconds; a tiny one every few seconds.
    big = [obs(0, "QUEUED", 0, total=50_000)]
    assert next_check_in(big, 0, policy, random.Random(1), first_seen_at=0, prior=prior) == 900
    tiny = [obs(0, "QUEUED", 0, total=1)]
    assert next_check_in(tiny, 0, policy, random.Random(1), first_seen_at=0, prior=prior) == 8
    # One sample is not a prior yet: the age-capped back-off applies (5 s at first).
    one = RatePrior.first(10.0)
    assert next_check_in(history[:1], 0, policy, random.Random(1), first_seen_at=0, prior=one) == 5
    # Jitter never pushes a wait past its cap.
    jittery = PollPolicy(5, 900)
    rng = random.Random(3)
    assert all(
        next_check_in(history, 30, jittery, rng, first_seen_at=0, prior=prior) <= expected for _ in range(200)
    )


def test_rate_prior_learns_a_weighted_mean_and_spread_of_log_rates() -> None:
    prior = RatePrior.first(4.0)
    assert (prior.samples, prior.log_rate, prior.log_var) == (1, math.log(4.0), 0.0)
    second = prior.learn(16.0)  # plain average while samples are few
    assert second.samples == 2
    assert second.log_rate == pytest.approx(math.log(8.0))
    assert second.log_var == pytest.approx(0.5 * 0.5 * math.log(4.0) ** 2)
    many = second
    for _ in range(50):
        many = many.learn(8.0)
    assert many.log_rate == pytest.approx(math.log(8.0))
    assert math.sqrt(many.log_var) < 0.01  # the spread fades when rates agree...
    assert many.fast_rate(PollPolicy()) == pytest.approx(
        8.0 * math.exp(2 * 0.5)
    )  # ...but not below the floor
    wide = many
    for rate in (2.0, 32.0) * 20:
        wide = wide.learn(rate)
    # Rates alternating 4x either side of 8: the spread is about ln 4, and the fast rate follows it.
    assert math.sqrt(wide.log_var) == pytest.approx(math.log(4.0), rel=0.1)
    assert wide.fast_rate(PollPolicy()) > math.exp(wide.log_rate + 2 * 0.9 * math.log(4.0))
    restored = RatePrior.from_item(wide.to_item())
    assert restored.samples == wide.samples and restored.log_rate == pytest.approx(wide.log_rate)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError):
            prior.learn(bad)


def test_observed_rate_uses_running_observations_only() -> None:
    history = [obs(0, "SCHEDULED", 0), obs(10, "RUNNING", 100), obs(30, "RUNNING", 300)]
    assert observed_rate(history) == pytest.approx(10.0)
    # The end is seen late: counting it would make the rate look slower.
    assert observed_rate([*history, obs(200, "COMPLETED", 1000)]) == pytest.approx(10.0)
    assert observed_rate(history[:2]) is None  # one running observation: no baseline
    assert observed_rate([obs(10, "RUNNING", 100), obs(30, "RUNNING", 100)]) is None  # not moving


def test_observed_end_error_is_how_far_each_stretch_strayed_from_the_rate_before_it() -> None:
    steady = [
        obs(0, "SCHEDULED", 0),
        obs(10, "RUNNING", 100),
        obs(20, "RUNNING", 200),
        obs(30, "RUNNING", 300),
    ]
    assert observed_end_error(steady) == 0.0
    # From the anchor (10 s, 100) at 10/s: 200 records predicted in 20 s took 10 s; then, at the 15/s seen
    # from the anchor to 30 s, 300 records predicted in 20 s took 20 s. The mean of the squared log errors.
    irregular = [
        obs(10, "RUNNING", 100),
        obs(20, "RUNNING", 200),
        obs(30, "RUNNING", 400),
        obs(50, "RUNNING", 700),
    ]
    assert observed_end_error(irregular) == pytest.approx(math.log(0.5) ** 2 / 2)
    # The end (seen late), a stalled stretch and a stretch without a rate before it tell nothing.
    assert observed_end_error([*irregular, obs(900, "COMPLETED", 1000)]) == pytest.approx(
        math.log(0.5) ** 2 / 2
    )
    stalled = [obs(10, "RUNNING", 100), obs(20, "RUNNING", 200), obs(30, "RUNNING", 200)]
    assert observed_end_error(stalled) is None
    assert observed_end_error([obs(10, "RUNNING", 0), obs(20, "RUNNING", 0), obs(30, "RUNNING", 50)]) is None
    assert observed_end_error(steady[:3]) is None  # two running observations: no stretch after a rate
    # Two checks at the same instant (concurrent watchers) make no stretch of time: skipped, never a crash.
    twins = [
        obs(10, "RUNNING", 100),
        obs(20, "RUNNING", 200),
        obs(20, "RUNNING", 210),
        obs(30, "RUNNING", 300),
    ]
    assert observed_end_error(twins) is not None


def test_rate_prior_learns_the_end_error_and_keeps_it_in_its_item() -> None:
    policy = PollPolicy()
    first = RatePrior.first(10.0, end_error=0.04)
    assert (first.end_samples, first.end_error_var) == (1, 0.04)
    assert first.end_spread(policy) is None  # one job is not enough to go by
    second = first.learn(10.0, 0.16)  # plain average while samples are few
    assert (second.end_samples, second.end_spread(policy)) == (2, pytest.approx(math.sqrt(0.10)))
    third = second.learn(10.0)  # a job without an end error (too few checks) leaves it as it was
    assert (third.samples, third.end_samples, third.end_error_var) == (3, 2, second.end_error_var)
    restored = RatePrior.from_item(third.to_item())
    assert (restored.end_samples, restored.end_error_var, len(third.to_item())) == (2, pytest.approx(0.1), 5)
    # An item written before end errors were learnt reads as none learnt, and is written as it was.
    old = RatePrior.from_item([3, 2.3, 0.1])
    assert (old.end_samples, old.end_error_var, old.to_item()) == (0, 0.0, [3, 2.3, 0.1])
    for bad in (-0.1, math.inf, math.nan):
        with pytest.raises(ValueError):
            first.learn(10.0, bad)


def test_a_running_job_near_its_end_is_checked_past_it_by_the_learnt_error() -> None:
    policy = PollPolicy(1, 86400, jitter=0)
    # 10 records/s, 100,000 records: ends at 10,000 s; at 9,900 s the budget is 5% of its age, 495 s.
    history = [obs(0, "SCHEDULED", 0, total=100_000), obs(1, "RUNNING", 10, 100_000)]
    history.append(obs(9_900, "RUNNING", 99_000, 100_000))

    def wait_with(prior: RatePrior | None) -> int:
        return next_check_in(history, 9_900, policy, random.Random(1), first_seen_at=0, prior=prior)

    budget = 0.05 * 9_900
    assert wait_with(None) == math.ceil(100 + 0.01 * budget)  # just after the estimated end
    sharp = RatePrior.first(10.0, end_error=0.01).learn(10.0, 0.01)  # estimates erred by ~10%
    assert wait_with(sharp) == math.ceil(100 + 100 * math.expm1(policy.prior_z * 0.1))
    rough = RatePrior.first(10.0, end_error=1.0).learn(10.0, 1.0)  # by a factor e
    assert wait_with(rough) == math.ceil(100 + policy.end_margin_max_share * budget)
    # A prior with rates only (its jobs too short to show an error) leaves the margin as it was.
    assert wait_with(RatePrior.first(10.0).learn(10.0)) == wait_with(None)


def test_min_and_max_bounds_are_respected_with_jitter() -> None:
    rng = random.Random(7)
    for _ in range(500):
        lo = rng.randint(1, 60)
        hi = rng.randint(lo, 2000)
        history = [
            obs(
                rng.uniform(0, 100),
                rng.choice(["SCHEDULED", "RUNNING", "QUEUED", "ODD"]),
                rng.randint(0, 999),
            )
        ]
        history.append(obs(history[0].at + rng.uniform(0, 500), "RUNNING", rng.randint(0, 1000)))
        wait = next_check_in(history, history[-1].at, PollPolicy(lo, hi), rng, first_seen_at=0)
        assert isinstance(wait, int)
        assert lo <= wait <= hi


def test_policy_is_pure_for_the_same_rng_state() -> None:
    history = [obs(0, "RUNNING", 10), obs(30, "RUNNING", 200)]
    first = next_check_in(history, 30, PollPolicy(), random.Random(42), first_seen_at=0)
    second = next_check_in(history, 30, PollPolicy(), random.Random(42), first_seen_at=0)
    assert first == second


def test_trim_keeps_running_anchor_and_latest() -> None:
    history = [obs(i, "SCHEDULED", 0) for i in range(5)] + [obs(5 + i, "RUNNING", 10 * i) for i in range(20)]
    kept = trim_observations(history, keep=6)
    assert len(kept) == 7
    assert kept[0] == obs(5, "RUNNING", 0)  # the baseline for the rate
    assert kept[1:] == history[-6:]
    assert trim_observations([obs(1, "SCHEDULED", 0)], keep=6) == [obs(1, "SCHEDULED", 0)]


def test_a_poll_step_keeps_what_the_policy_needs_and_waits_as_it_says() -> None:
    policy = PollPolicy(5, 900, keep=3)
    state = PollState()
    seen = [obs(100 + 10 * i, "SCHEDULED", 0) for i in range(2)] + [
        obs(130 + 20 * i, "RUNNING", 40 * i) for i in range(6)
    ]
    for number, observation in enumerate(seen, start=1):
        step = poll_step(state, observation, policy, random.Random(number))
        after = step.state
        assert after.checks == number and after.first_seen_at == 100
        assert list(after.observations) == trim_observations(seen[:number], keep=3)
        expected = next_check_in(
            after.observations, observation.at, policy, random.Random(number), first_seen_at=100
        )
        assert step.wait == expected
        assert poll_step(state, observation, policy, random.Random(number)) == step  # pure
        state = after
    assert state.observations[0] == seen[2]  # the running anchor stays: the rate's baseline
    # An observation older than the first seen moves the first seen back (a check overtaken in flight).
    assert PollState((), 0, 500.0).observed(obs(400, "SCHEDULED", 0), 6).first_seen_at == 400


def _truth(t: float, queue: float, duration: float, total: int) -> tuple[str, int]:
    if t < queue:
        return "SCHEDULED", 0
    if t >= queue + duration:
        return "COMPLETED", total
    return "RUNNING", int(total * (t - queue) / duration)


def _simulate(
    queue: float, duration: float, total: int, rng: random.Random, fixed: int | None
) -> tuple[int, float]:
    t, history, calls = rng.uniform(0, 3), [], 0
    first = t
    while True:
        calls += 1
        status, done = _truth(t, queue, duration, total)
        if status == "COMPLETED":
            return calls, t - (queue + duration)
        history = trim_observations([*history, Observation(t, status, done, total)])
        t += fixed or next_check_in(history, t, PollPolicy(5, 900), rng, first_seen_at=first)


def test_policy_beats_fixed_30s_polling_on_calls_and_lag() -> None:
    """A cheap simulation of linear jobs from 10 s to 6 h (the bench does the real comparison)."""
    rng = random.Random(2024)
    ours, fixed = [], []
    for _ in range(150):
        duration = math.exp(rng.uniform(math.log(10), math.log(6 * 3600)))
        queue = rng.choice([0, 5, 30])
        total = rng.choice([50, 500, 5000])
        ours.append((duration, *_simulate(queue, duration, total, rng, None)))
        fixed.append((duration, *_simulate(queue, duration, total, rng, 30)))
    assert sum(calls for _, calls, _ in fixed) >= 3 * sum(calls for _, calls, _ in ours)
    assert statistics.median(lag for _, _, lag in ours) <= statistics.median(lag for _, _, lag in fixed)
    allowed = sorted(lag / max(10.0, 0.05 * duration) for duration, _, lag in ours)
    assert allowed[int(0.95 * len(allowed))] < 1.0


def test_the_id_patterns_are_spelled_out_once_and_the_api_document_uses_them() -> None:
    root = Path(__file__).parents[3]
    patterns = (MODULE_PATTERN, JOB_ID_PATTERN, CONNECTION_PATTERN)
    spelled = [
        str(path.relative_to(root))
        for folder in ("layers", "functions", "zoho_watch_cli")
        for path in sorted((root / folder).rglob("*.py"))
        if any(pattern in path.read_text(encoding="utf-8") for pattern in patterns)
    ]
    assert spelled == ["layers/zoho_watch/zoho_watch/jobs.py"]
    document = json.loads((root / "docs" / "openapi.json").read_text(encoding="utf-8"))
    declared = {
        parameter["name"]: parameter["schema"]["pattern"]
        for path in document["paths"].values()
        for operation in path.values()
        for parameter in operation.get("parameters", [])
        if "pattern" in parameter.get("schema", {})
    }
    assert {name: declared[name] for name in ("module", "job_id")} == {
        "module": MODULE_PATTERN,
        "job_id": JOB_ID_PATTERN,
    }
    assert CONNECTION_PATTERN in json.dumps(document)
