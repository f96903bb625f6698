"""JobStore on moto: state and history, the sparse active index, pagination, never moving backwards."""

from __future__ import annotations

import itertools
import math
import random
import threading
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zoho_watch.errors import InvalidInput, JobNotFound
from zoho_watch.jobs import JobKey, Snapshot
from zoho_watch.polling import Observation, PollPolicy, PollState, jitter_rng, next_check_in, poll_step
from zoho_watch.priors import RatePrior, observed_end_error
from zoho_watch.store import JobStore, iso_utc, state_view
from zoho_watch.store.table import WRITE_BACKOFF_BASE_SECONDS, WRITE_BACKOFF_CAP_SECONDS, write_backoff

from tests.fixtures.aws import AwsStack

T0 = 1_800_000_000.0
_job_ids = itertools.count(1000)


@pytest.fixture
def store(aws: AwsStack) -> JobStore:
    return JobStore(aws.dynamodb, aws.table_name, state_ttl_days=30, history_ttl_days=7, clock=lambda: T0)


def running(done: int, total: int = 100) -> Snapshot:
    return Snapshot("RUNNING", total, done, 0, total - done)


def raw_state(aws: AwsStack, job_id: str, module: str = "Leads") -> dict:
    key = {"pk": {"S": f"JOB#default#{module}#{job_id}"}, "sk": {"S": "STATE"}}
    return aws.dynamodb.get_item(TableName=aws.table_name, Key=key)["Item"]


def test_first_check_creates_state_and_history(store: JobStore, aws: AwsStack) -> None:
    outcome = store.record_check(JobKey("default", "Leads", "42"), running(30), T0, PollPolicy(5, 900))
    assert outcome.changed and not outcome.stale and not outcome.became_terminal
    assert outcome.previous_status is None
    state = store.get(JobKey("default", "Leads", "42"))
    assert state is not None
    assert state["status"] == "RUNNING"
    assert state["counts"] == {"total": 100, "updated": 30, "failed": 0, "not_updated": 70}
    assert state["progress"] == 0.3
    assert state["checks"] == 1
    assert state["first_seen_at"] == state["last_checked_at"] == iso_utc(T0)
    assert state["watched"] is False  # checked, not watched: not in the active index
    assert "active" not in raw_state(aws, "42")
    items, cursor = store.history(JobKey("default", "Leads", "42"))
    assert cursor is None
    assert items == [
        {
            "checked_at": iso_utc(T0),
            "status": "RUNNING",
            "counts": {"total": 100, "updated": 30, "failed": 0, "not_updated": 70},
            "progress": 0.3,
        }
    ]
    history_item = aws.dynamodb.get_item(
        TableName=aws.table_name,
        Key={"pk": {"S": "JOB#default#Leads#42"}, "sk": {"S": "CHECK#" + iso_utc(T0)}},
    )["Item"]
    assert int(history_item["expires_at"]["N"]) == int(T0) + 7 * 86400
    assert isinstance(state["checks"], int)  # JSON-ready: no Decimal


def test_each_check_runs_the_policys_step_on_the_state_it_stored(store: JobStore, aws: AwsStack) -> None:
    policy = PollPolicy(5, 900)
    snapshots = [Snapshot("SCHEDULED", 400, 0, 0, 400)] * 3 + [
        running(done, 400) for done in (10, 60, 130, 210, 300, 390, 395, 399)
    ]
    expected, moment = PollState(), T0
    for check, snapshot in enumerate(snapshots, start=1):
        outcome = store.record_check(JobKey("default", "Leads", "77"), snapshot, moment, policy)
        seen = Observation(moment, snapshot.status, snapshot.done, snapshot.total)
        step = poll_step(expected, seen, policy, jitter_rng(JobKey("default", "Leads", "77"), check))
        assert outcome.next_check_in == step.wait
        item = raw_state(aws, "77")
        assert int(item["checks"]["N"]) == step.state.checks == check
        kept = TypeDeserializer().deserialize(item["observations"])
        assert tuple(Observation.from_item(raw) for raw in kept) == step.state.observations
        expected = step.state
        moment += step.wait + 0.25  # the check after the wait, a quarter of a second of work later
    assert len(expected.observations) == policy.keep + 1  # the running anchor and the latest `keep`


def test_watched_job_lives_in_the_sparse_index_until_it_ends(store: JobStore, aws: AwsStack) -> None:
    watched = store.watch(
        JobKey("default", "Leads", "7"), "schedule", {"min_seconds": 10, "max_seconds": 60}, T0 + 5
    )
    assert watched["watched"] and watched["watcher"] == "schedule"
    assert watched["poll"] == {"min_seconds": 10, "max_seconds": 60}
    assert store.due_jobs(T0) == []
    assert [job["job_id"] for job in store.due_jobs(T0 + 5)] == ["7"]
    outcome = store.record_check(
        JobKey("default", "Leads", "7"), running(10), T0 + 6
    )  # stored poll bounds apply
    assert 10 <= outcome.next_check_in <= 60
    assert outcome.state["next_check_at"] == pytest.approx(T0 + 6 + outcome.next_check_in)
    assert store.due_jobs(T0 + 6) == []
    assert len(store.due_jobs(T0 + 6 + outcome.next_check_in)) == 1
    done = store.record_check(JobKey("default", "Leads", "7"), Snapshot("COMPLETED", 100, 100, 0, 0), T0 + 90)
    assert done.became_terminal and done.finished_event_pending
    assert done.state["finished_at"] == iso_utc(T0 + 90)
    item = raw_state(aws, "7")
    # Out of the sweep's partition; in the pending events' one until its "finished" event is published.
    assert (item["active"]["S"], float(item["next_check_at"]["N"])) == ("ACTIVE#finished-event", T0 + 90)
    assert done.state["watched"] is False
    assert int(item["expires_at"]["N"]) == int(T0 + 90) + 30 * 86400
    assert store.due_jobs(T0 + 10**6) == []
    assert store.claim_finished_event(JobKey("default", "Leads", "7"))
    store.finished_event_published(JobKey("default", "Leads", "7"))
    item = raw_state(aws, "7")
    assert "active" not in item and "next_check_at" not in item  # left the index
    assert store.pending_finished_events(T0 + 10**6) == []
    again = store.watch(JobKey("default", "Leads", "7"), "schedule")  # finished: recorded, not re-activated
    assert again["watched"] is False and again["status"] == "COMPLETED"


def test_older_check_never_overwrites_a_newer_one(store: JobStore) -> None:
    store.record_check(JobKey("default", "Leads", "1"), running(60), T0 + 10)
    stale = store.record_check(JobKey("default", "Leads", "1"), running(20), T0 + 5)
    assert stale.stale and not stale.changed
    assert store.get(JobKey("default", "Leads", "1"))["counts"]["updated"] == 60  # type: ignore[index]
    assert store.get(JobKey("default", "Leads", "1"))["checks"] == 1  # type: ignore[index]


def test_terminal_status_is_final(store: JobStore) -> None:
    store.record_check(JobKey("default", "Leads", "2"), Snapshot("FAILED", 10, 0, 10, 0), T0)
    later = store.record_check(JobKey("default", "Leads", "2"), running(5, 10), T0 + 100)
    assert later.stale and later.state["status"] == "FAILED"
    assert store.get(JobKey("default", "Leads", "2"))["status"] == "FAILED"  # type: ignore[index]


def test_permanent_error_is_kept_and_leaves_the_index(store: JobStore) -> None:
    store.watch(JobKey("default", "Leads", "3"), "schedule", next_check_at=T0)
    state = store.record_error(
        JobKey("default", "Leads", "3"), JobNotFound("Zoho has no such job", zoho_http_status=404), T0
    )
    assert state["last_error"]["code"] == "JOB_NOT_FOUND"
    assert state["last_error"]["zoho_http_status"] == 404
    assert state["last_error"]["at"] == iso_utc(T0)
    assert state["watched"] is False
    assert store.due_jobs(T0 + 1) == []
    # an error on a job never seen before is kept too
    assert (
        store.record_error(JobKey("default", "Leads", "4"), JobNotFound("x"), T0)["last_error"]["error"]
        == "JobNotFound"
    )
    # a later good check clears it
    store.record_check(JobKey("default", "Leads", "3"), running(1), T0 + 1)
    assert store.get(JobKey("default", "Leads", "3"))["last_error"] is None  # type: ignore[index]


def test_unwatch(store: JobStore) -> None:
    assert store.unwatch(JobKey("default", "Leads", "5")) is None
    store.watch(
        JobKey("default", "Leads", "5"),
        "stepfunctions:arn:aws:states:us-east-1:1:execution:x:y",
        next_check_at=T0,
    )
    state = store.unwatch(JobKey("default", "Leads", "5"))
    assert state is not None and state["watched"] is False and state["watcher"] is None
    assert store.due_jobs(T0 + 1) == []


def test_list_jobs_filters_and_pages(store: JobStore) -> None:
    for index in range(7):
        snapshot = running(10) if index % 2 else Snapshot("COMPLETED", 100, 100, 0, 0)
        store.record_check(
            JobKey("default" if index < 5 else "other", "Leads", str(100 + index)), snapshot, T0 + index
        )
    seen, cursor, pages = [], None, 0
    while True:
        items, cursor = store.list_jobs(limit=3, cursor=cursor)
        seen.extend(item["job_id"] for item in items)
        pages += 1
        if cursor is None:
            break
    assert sorted(seen) == [str(100 + index) for index in range(7)] and pages == 3
    completed, _ = store.list_jobs(status="COMPLETED", limit=50)
    assert sorted(item["job_id"] for item in completed) == ["100", "102", "104", "106"]
    other, _ = store.list_jobs(connection="other")
    assert sorted(item["job_id"] for item in other) == ["105", "106"]
    for bad in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"status": "running"}, {"connection": "Bad/1"}):
        with pytest.raises(InvalidInput):
            store.list_jobs(**bad)  # type: ignore[arg-type]


def test_history_pages_newest_first(store: JobStore) -> None:
    for index in range(5):
        store.record_check(JobKey("default", "Leads", "9"), running(index * 10), T0 + index)
    first, cursor = store.history(JobKey("default", "Leads", "9"), limit=2)
    assert [item["counts"]["updated"] for item in first] == [40, 30]
    second, cursor = store.history(JobKey("default", "Leads", "9"), limit=2, cursor=cursor)
    assert [item["counts"]["updated"] for item in second] == [20, 10]
    third, cursor = store.history(JobKey("default", "Leads", "9"), limit=2, cursor=cursor)
    assert [item["counts"]["updated"] for item in third] == [0]
    _, other_cursor = store.history(JobKey("default", "Leads", "9"), limit=1)
    with pytest.raises(InvalidInput):
        store.history(JobKey("default", "Leads", "10"), cursor=other_cursor)


def test_invalid_keys_are_refused_before_io(store: JobStore, aws: AwsStack) -> None:
    for connection, module, job_id in (
        ("default", "../x", "1"),
        ("default", "Leads", "1&x"),
        ("A B", "Leads", "1"),
    ):
        with pytest.raises(InvalidInput):
            store.get(JobKey(connection, module, job_id))
        with pytest.raises(InvalidInput):
            store.record_check(JobKey(connection, module, job_id), running(1), T0)
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0


@pytest.mark.parametrize(
    ("first", "later", "stays"),
    [
        (running(40), Snapshot("SCHEDULED", 100, 0, 0, 100), "status rank"),
        (running(40), running(35), "records done"),
    ],
)
def test_a_later_check_that_would_move_the_job_backwards_is_refused(
    store: JobStore, first: Snapshot, later: Snapshot, stays: str
) -> None:
    store.record_check(JobKey("default", "Leads", "61"), first, T0)
    outcome = store.record_check(JobKey("default", "Leads", "61"), later, T0 + 10)  # sent later, yet behind
    assert outcome.stale and not outcome.changed, stays
    state = store.get(JobKey("default", "Leads", "61"))
    assert (state["status"], state["counts"], state["checks"]) == ("RUNNING", first.counts(), 1)
    # Both observations stay in the history.
    items, _ = store.history(JobKey("default", "Leads", "61"))
    assert [item["counts"] for item in items] == [later.counts(), first.counts()]
    # Progress in the same status is still written.
    assert not store.record_check(JobKey("default", "Leads", "61"), running(41), T0 + 20).stale


def test_finished_event_is_claimed_once(store: JobStore) -> None:
    store.record_check(JobKey("default", "Leads", "11"), Snapshot("COMPLETED", 1, 1, 0, 0), T0)
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(store.claim_finished_event(JobKey("default", "Leads", "11")))
        )
        for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 9 + [True]
    store.release_finished_event(JobKey("default", "Leads", "11"))
    assert store.finished_event_pending(JobKey("default", "Leads", "11"))


def test_a_claim_on_the_finished_event_is_a_lease_until_it_is_published(aws: AwsStack) -> None:
    now = [T0]
    store = JobStore(aws.dynamodb, aws.table_name, clock=lambda: now[0])
    store.record_check(JobKey("default", "Leads", "12"), Snapshot("FAILED", 1, 0, 1, 0), T0)
    assert store.claim_finished_event(JobKey("default", "Leads", "12"), lease_seconds=8)
    # The claimer may die now: the event is still pending, and claimed by no one else until the lease ends.
    assert store.finished_event_pending(JobKey("default", "Leads", "12"))
    now[0] = T0 + 7.9
    assert not store.claim_finished_event(JobKey("default", "Leads", "12"), lease_seconds=8)
    now[0] = T0 + 8
    assert store.claim_finished_event(JobKey("default", "Leads", "12"), lease_seconds=8)
    store.finished_event_published(JobKey("default", "Leads", "12"))
    assert not store.finished_event_pending(JobKey("default", "Leads", "12"))
    now[0] = T0 + 100
    assert not store.claim_finished_event(JobKey("default", "Leads", "12"))
    item = raw_state(aws, "12")
    assert not {"finished_event_pending", "finished_event_claimed_until"} & set(item)


# A job's truth over time: status and done count never go back; after the end everything is the end.
def _timeline(
    length: int, end_at: int | None, total: int, rng: random.Random
) -> list[tuple[float, Snapshot]]:
    done, checks = 0, []
    for step in range(length):
        if end_at is not None and step >= end_at:
            snapshot = Snapshot("COMPLETED", total, total, 0, 0)
        elif step == 0:
            snapshot = Snapshot("SCHEDULED", total, 0, 0, total)
        else:
            done = min(total, done + rng.randint(0, 10))
            snapshot = Snapshot("RUNNING", total, done, 0, total - done)
        checks.append((T0 + step * 7.25 + rng.random(), snapshot))
    return checks


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    length=st.integers(min_value=1, max_value=12),
    end_at=st.one_of(st.none(), st.integers(min_value=1, max_value=11)),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    threads=st.integers(min_value=1, max_value=6),
)
def test_out_of_order_and_concurrent_writes_never_regress(
    store: JobStore, length: int, end_at: int | None, seed: int, threads: int
) -> None:
    rng = random.Random(seed)
    job_id = str(next(_job_ids))
    checks = _timeline(length, end_at, 100, rng)
    order = checks[:]
    rng.shuffle(order)
    observed: list[dict] = []
    lock = threading.Lock()

    def write(batch: list[tuple[float, Snapshot]]) -> None:
        for checked_at, snapshot in batch:
            store.record_check(
                JobKey("default", "Leads", job_id), snapshot, checked_at, PollPolicy(), rng=random.Random(1)
            )
            state = store.get(JobKey("default", "Leads", job_id))
            with lock:
                observed.append(state)  # type: ignore[arg-type]

    batches = [order[index::threads] for index in range(threads)]
    workers = [threading.Thread(target=write, args=(batch,)) for batch in batches]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    final = store.get(JobKey("default", "Leads", job_id))
    assert final is not None
    ended = [(at, snapshot) for at, snapshot in checks if snapshot.terminal]
    latest_at, latest = max(checks, key=lambda check: check[0])
    if ended:
        # Terminal is final: whichever end was written first stays, with the end's counts.
        assert final["terminal"] and final["status"] == "COMPLETED"
        assert final["counts"] == ended[0][1].counts()
        assert final["last_checked_at"] in {iso_utc(at) for at, _ in ended}
    else:
        # No end: the newest check wins, whatever order the writes came in.
        assert final["last_checked_at"] == iso_utc(latest_at)
        assert (final["status"], final["counts"]) == (latest.status, latest.counts())
    # Sequential reads of one writer never see the job go back in time, nor leave a terminal status.
    for batch_states in [observed]:
        if threads == 1:
            stamps = [state["last_checked_at"] for state in batch_states]
            assert stamps == sorted(stamps)
            first_terminal = next((i for i, state in enumerate(batch_states) if state["terminal"]), None)
            if first_terminal is not None:
                assert all(state["terminal"] for state in batch_states[first_terminal:])
    if ended:
        assert store.claim_finished_event(JobKey("default", "Leads", job_id))
        assert not store.claim_finished_event(JobKey("default", "Leads", job_id))


SFN_WATCHER = "stepfunctions:arn:aws:states:us-east-1:1:execution:m:x"


def test_due_jobs_reads_only_the_sweeps_jobs(store: JobStore, aws: AwsStack) -> None:
    # The execution's job is due first; with limit 1 it must still not crowd out the sweep's job.
    store.watch(JobKey("default", "Leads", "21"), SFN_WATCHER, next_check_at=T0 - 10)
    store.watch(JobKey("default", "Leads", "22"), "schedule", next_check_at=T0 - 5)
    assert [job["job_id"] for job in store.due_jobs(T0, limit=1)] == ["22"]
    assert [job["job_id"] for job in store.due_jobs(T0, kind="stepfunctions")] == ["21"]
    assert raw_state(aws, "21")["active"]["S"] == "ACTIVE#stepfunctions"
    assert raw_state(aws, "22")["active"]["S"] == "ACTIVE"
    assert store.get(JobKey("default", "Leads", "21"))["watched"] is True  # type: ignore[index]
    # A check by the execution keeps its job in its own partition.
    store.record_check(
        JobKey("default", "Leads", "21"), running(5), T0, PollPolicy(5, 60), watcher=SFN_WATCHER
    )
    assert raw_state(aws, "21")["active"]["S"] == "ACTIVE#stepfunctions"
    assert [job["job_id"] for job in store.due_jobs(T0 + 3600)] == ["22"]
    with pytest.raises(InvalidInput):
        store.due_jobs(T0, kind="Step Functions!")


def test_due_jobs_raw_items_are_the_stored_items(store: JobStore) -> None:
    store.watch(JobKey("default", "Leads", "23"), "schedule", {"min_seconds": 10}, next_check_at=T0)
    store.record_check(JobKey("default", "Leads", "23"), running(40), T0, PollPolicy(10, 60))
    due = store.due_jobs(T0 + 3600, raw=True)
    assert len(due) == 1
    item = due[0]
    assert (item["pk"], item["sk"], item["status"], item["version"]) == (
        "JOB#default#Leads#23",
        "STATE",
        "RUNNING",
        2,
    )
    assert item["observations"] and item["poll"] == {"min_seconds": 10}
    assert state_view(item) == store.due_jobs(T0 + 3600)[0] == store.get(JobKey("default", "Leads", "23"))


class _CountingClient:
    """The DynamoDB client, counting GetItem calls of job STATE items."""

    def __init__(self, client: object) -> None:
        self._client = client
        self.gets = 0

    def get_item(self, **kwargs: Any) -> dict:
        self.gets += kwargs["Key"]["sk"]["S"] == "STATE"
        return self._client.get_item(**kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)


def test_record_check_writes_from_a_prefetched_item_without_reading(aws: AwsStack) -> None:
    client = _CountingClient(aws.dynamodb)
    store = JobStore(client, aws.table_name, clock=lambda: T0)
    store.watch(JobKey("default", "Leads", "24"), "schedule", next_check_at=T0)
    [item] = store.due_jobs(T0, raw=True)
    outcome = store.record_check(JobKey("default", "Leads", "24"), running(10), T0 + 1, prefetched=item)
    assert client.gets == 0
    assert not outcome.stale and outcome.changed and outcome.state["checks"] == 1
    assert outcome.state["watcher"] == "schedule" and outcome.state["version"] == item["version"] + 1


def test_a_stale_prefetched_item_is_read_again(aws: AwsStack) -> None:
    client = _CountingClient(aws.dynamodb)
    store = JobStore(client, aws.table_name, clock=lambda: T0)
    store.watch(JobKey("default", "Leads", "25"), "schedule", next_check_at=T0)
    [item] = store.due_jobs(T0, raw=True)
    store.record_check(
        JobKey("default", "Leads", "25"), running(30), T0 + 2
    )  # written after the item was read
    reads = client.gets
    outcome = store.record_check(JobKey("default", "Leads", "25"), running(20), T0 + 1, prefetched=item)
    assert client.gets == reads + 1  # the conditional write failed, so it read again
    assert outcome.stale and store.get(JobKey("default", "Leads", "25"))["counts"]["updated"] == 30  # type: ignore[index]
    newer = store.record_check(JobKey("default", "Leads", "25"), running(50), T0 + 3, prefetched=item)
    assert not newer.stale and newer.state["checks"] == 2 and newer.state["counts"]["updated"] == 50


def test_a_prefetched_item_of_another_job_is_refused(store: JobStore, aws: AwsStack) -> None:
    store.watch(JobKey("default", "Leads", "26"), "schedule", next_check_at=T0)
    [item] = store.due_jobs(T0, raw=True)
    for bad in (item, {**item, "sk": "CHECK#x"}, ["not", "a", "dict"]):
        with pytest.raises(InvalidInput):
            store.record_check(JobKey("default", "Leads", "27"), running(1), T0, prefetched=bad)  # type: ignore[arg-type]
    assert store.get(JobKey("default", "Leads", "27")) is None
    assert store.history(JobKey("default", "Leads", "27")) == ([], None)


def _finish_a_job(store: JobStore, job_id: str, rate: float, start: float, module: str = "Leads") -> None:
    """SCHEDULED, then two RUNNING checks at `rate` records/s, then COMPLETED (seen late: ignored)."""
    store.record_check(JobKey("default", module, job_id), Snapshot("SCHEDULED", 1000, 0, 0, 1000), start)
    for offset in (10.0, 30.0):
        done = int(rate * offset)
        store.record_check(JobKey("default", module, job_id), running(done, 1000), start + offset)
    store.record_check(
        JobKey("default", module, job_id), Snapshot("COMPLETED", 1000, 1000, 0, 0), start + 900
    )


def test_finished_jobs_teach_the_rate_prior_and_queued_jobs_use_it(store: JobStore, aws: AwsStack) -> None:
    assert store.rate_prior("default", "Leads") is None
    _finish_a_job(store, "31", 10.0, T0)
    first = store.rate_prior("default", "Leads")
    assert first is not None and first.samples == 1
    assert first.log_rate == pytest.approx(math.log(10.0))  # from the running checks, not the late end
    _finish_a_job(store, "32", 20.0, T0 + 1000)
    second = store.rate_prior("default", "Leads")
    taught = RatePrior.first(10.0).learn(20.0)
    assert second is not None and second.samples == 2
    assert (second.log_rate, second.log_var) == pytest.approx((taught.log_rate, taught.log_var))
    assert store.rate_prior("default", "Deals") is None  # per (connection, module)
    item = aws.dynamodb.get_item(
        TableName=aws.table_name, Key={"pk": {"S": "RATE#default#Leads"}, "sk": {"S": "RATE"}}
    )["Item"]
    assert item["version"]["N"] == "2"
    # A queued job now waits as the policy says with this prior (and differently without one).
    policy = PollPolicy(5, 900)
    queued = Snapshot("SCHEDULED", 5000, 0, 0, 5000)
    outcome = store.record_check(
        JobKey("default", "Leads", "33"), queued, T0 + 5000, policy, rng=random.Random(4)
    )
    seen = [Observation(T0 + 5000, "SCHEDULED", 0, 5000)]
    expected = next_check_in(seen, T0 + 5000, policy, random.Random(4), first_seen_at=T0 + 5000, prior=second)
    assert outcome.next_check_in == expected
    assert expected != next_check_in(seen, T0 + 5000, policy, random.Random(4), first_seen_at=T0 + 5000)
    # Listing jobs never shows the prior item.
    assert all(job["job_id"] is not None for job in store.list_jobs(limit=100)[0])


def test_a_finished_job_teaches_how_far_its_progress_strayed_and_running_checks_use_it(
    store: JobStore,
) -> None:
    # Two jobs whose progress runs ahead of the rate seen so far, then lags it.
    seen: list[Observation] = []
    for job_id, start in (("41", T0), ("42", T0 + 2000)):
        job = JobKey("default", "Leads", job_id)
        steps = [(0, "SCHEDULED", 0), (10, "RUNNING", 100), (20, "RUNNING", 200), (30, "RUNNING", 400)]
        for offset, status, done in [*steps, (50, "RUNNING", 700), (900, "COMPLETED", 1000)]:
            snapshot = Snapshot(status, 1000, done, 0, 1000 - done)
            store.record_check(job, snapshot, start + offset)
            seen.append(Observation(start + offset, status, done, 1000))
    prior = store.rate_prior("default", "Leads")
    error = observed_end_error(seen[-6:])
    assert error == pytest.approx(math.log(0.5) ** 2 / 2)
    assert prior is not None and prior.end_samples == 2
    assert prior.end_error_var == pytest.approx(error) and prior.end_spread(PollPolicy()) is not None
    # A running job close to its estimated end is read with that prior: it waits past the estimate by it.
    policy = PollPolicy(5, 900)
    job = JobKey("default", "Leads", "43")
    store.record_check(job, Snapshot("SCHEDULED", 100_000, 0, 0, 100_000), T0 + 5000, policy)
    store.record_check(job, running(10, 100_000), T0 + 5001, policy)
    outcome = store.record_check(job, running(99_000, 100_000), T0 + 14_900, policy, rng=random.Random(5))
    history = [
        Observation(T0 + 5000, "SCHEDULED", 0, 100_000),
        Observation(T0 + 5001, "RUNNING", 10, 100_000),
        Observation(T0 + 14_900, "RUNNING", 99_000, 100_000),
    ]
    expected = next_check_in(
        history, T0 + 14_900, policy, random.Random(5), first_seen_at=T0 + 5000, prior=prior
    )
    assert outcome.next_check_in == expected
    assert expected > next_check_in(history, T0 + 14_900, policy, random.Random(5), first_seen_at=T0 + 5000)


def test_a_job_seen_only_waiting_then_ended_teaches_nothing(store: JobStore) -> None:
    store.record_check(JobKey("default", "Leads", "34"), Snapshot("SCHEDULED", 10, 0, 0, 10), T0)
    store.record_check(JobKey("default", "Leads", "34"), Snapshot("COMPLETED", 10, 10, 0, 0), T0 + 20)
    assert store.rate_prior("default", "Leads") is None


class _FailingPuts(_CountingClient):
    """The DynamoDB client, refusing every PutItem on the rate prior."""

    def put_item(self, **kwargs: Any) -> dict:
        if kwargs["Item"]["pk"]["S"].startswith("RATE#"):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "PutItem")
        return self._client.put_item(**kwargs)  # type: ignore[attr-defined]


def test_a_rate_prior_that_cannot_be_written_does_not_fail_the_check(aws: AwsStack) -> None:
    store = JobStore(_FailingPuts(aws.dynamodb), aws.table_name, clock=lambda: T0)
    _finish_a_job(store, "35", 10.0, T0)
    assert store.get(JobKey("default", "Leads", "35"))["status"] == "COMPLETED"  # type: ignore[index]
    assert store.rate_prior("default", "Leads") is None
    assert store.learn_rate("default", "Leads", 5.0) is None
    for bad in (0, -1.0, float("nan"), True, "5"):
        with pytest.raises(InvalidInput):
            store.learn_rate("default", "Leads", bad)  # type: ignore[arg-type]
    for bad in (-0.5, float("inf"), True, "0.1"):
        with pytest.raises(InvalidInput):
            store.learn_rate("default", "Leads", 5.0, end_error=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        store.rate_prior("default", "../x")


class _FailingRateReads(_CountingClient):
    """The DynamoDB client, throttling every GetItem of a rate prior item."""

    rate_reads = 0

    def get_item(self, **kwargs: Any) -> dict:
        if kwargs["Key"]["pk"]["S"].startswith("RATE#"):
            self.rate_reads += 1
            error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
            raise ClientError({"Error": error}, "GetItem")
        return super().get_item(**kwargs)


def test_a_rate_prior_that_cannot_be_read_does_not_fail_the_check(aws: AwsStack) -> None:
    teacher = JobStore(aws.dynamodb, aws.table_name, clock=lambda: T0)
    _finish_a_job(teacher, "37", 10.0, T0)
    assert teacher.rate_prior("default", "Leads") is not None  # there is a prior to read
    client = _FailingRateReads(aws.dynamodb)
    store = JobStore(client, aws.table_name, clock=lambda: T0)
    job = JobKey("default", "Leads", "38")

    outcome = store.record_check(job, Snapshot("SCHEDULED", 5000, 0, 0, 5000), T0 + 100, PollPolicy(5, 900))

    # The check is recorded whole: its state and its one history item; the policy waited without the prior.
    assert store.get(job)["checks"] == 1  # type: ignore[index]
    assert len(store.history(job)[0]) == 1
    assert outcome.next_check_in >= 5 and client.rate_reads == 1
    with pytest.raises(ClientError):  # the prior itself is not hidden from who asks for it
        store.rate_prior("default", "Leads")


class _CountingRateReads(_CountingClient):
    """The DynamoDB client, counting GetItem calls of rate prior items."""

    def __init__(self, client: object) -> None:
        super().__init__(client)
        self.rate_gets = 0

    def get_item(self, **kwargs: Any) -> dict:
        self.rate_gets += kwargs["Key"]["pk"]["S"].startswith("RATE#")
        return super().get_item(**kwargs)


def test_the_rate_prior_is_read_once_per_module_while_cached(aws: AwsStack) -> None:
    teacher = JobStore(aws.dynamodb, aws.table_name, clock=lambda: T0)  # another container
    _finish_a_job(teacher, "36", 10.0, T0)
    client = _CountingRateReads(aws.dynamodb)
    now = [T0]  # this container's library clock
    store = JobStore(client, aws.table_name, clock=lambda: now[0], rate_prior_cache_seconds=60)
    queued = Snapshot("SCHEDULED", 5000, 0, 0, 5000)

    for job_id in range(40, 50):  # ten first checks of one module: one read of its prior
        store.record_check(JobKey("default", "Leads", str(job_id)), queued, T0 + 2000, PollPolicy(5, 900))
    assert client.rate_gets == 1
    uncached = JobStore(aws.dynamodb, aws.table_name, clock=lambda: T0, rate_prior_cache_seconds=0)
    assert store.rate_prior("default", "Leads") == uncached.rate_prior("default", "Leads") is not None
    store.record_check(JobKey("default", "Deals", "50"), queued, T0 + 2000)  # another module: its own read
    assert store.rate_prior("default", "Deals") is None and client.rate_gets == 2  # "none yet" is kept too

    # What this container learns replaces its cached prior (learning reads the item itself, once).
    learnt = store.learn_rate("default", "Leads", 40.0)
    reads = client.rate_gets
    assert learnt is not None and learnt.samples == 2
    stored = uncached.rate_prior("default", "Leads")
    assert stored is not None and stored.log_rate == pytest.approx(learnt.log_rate)
    assert store.rate_prior("default", "Leads") == stored and client.rate_gets == reads

    # Another container's lesson shows once the cache time has passed on the library's clock.
    teacher.learn_rate("default", "Leads", 80.0)
    newer = uncached.rate_prior("default", "Leads")
    assert newer is not None and newer.samples == 3
    assert store.rate_prior("default", "Leads") == stored and client.rate_gets == reads
    now[0] = T0 + 59.9  # cached at T0 (when it learnt) for 60 s
    assert store.rate_prior("default", "Leads") == stored and client.rate_gets == reads
    now[0] = T0 + 60
    assert store.rate_prior("default", "Leads") == newer and client.rate_gets == reads + 1


def test_a_lesson_that_cannot_be_written_drops_the_cached_prior(aws: AwsStack) -> None:
    class FailingCountingPuts(_FailingPuts, _CountingRateReads):
        pass

    client = FailingCountingPuts(aws.dynamodb)
    store = JobStore(client, aws.table_name, clock=lambda: T0)
    assert store.rate_prior("default", "Leads") is None and client.rate_gets == 1
    assert store.learn_rate("default", "Leads", 5.0) is None  # the put fails
    reads = client.rate_gets
    assert store.rate_prior("default", "Leads") is None and client.rate_gets == reads + 1  # read again


def test_a_lost_write_is_tried_again_after_a_growing_jittered_pause(store: JobStore) -> None:
    job = JobKey("default", "Leads", "4242")
    store.record_check(job, running(10), T0)
    put_item, lost = store._client.put_item, []

    def losing_three_times(**kwargs: Any) -> Any:
        if kwargs.get("Item", {}).get("sk", {}).get("S") == "STATE" and len(lost) < 3:
            lost.append(kwargs)
            raise store._client.exceptions.ConditionalCheckFailedException(
                {"Error": {"Code": "ConditionalCheckFailedException", "Message": "lost"}}, "PutItem"
            )
        return put_item(**kwargs)

    pauses: list[float] = []
    store._client.put_item, store._sleep = losing_three_times, pauses.append
    try:
        outcome = store.record_check(job, running(20), T0 + 10)
    finally:
        store._client.put_item = put_item
    assert outcome.state["counts"]["updated"] == 20  # the fourth attempt wrote
    assert len(pauses) == 3
    for attempt, pause in enumerate(pauses):
        assert 0 <= pause <= min(WRITE_BACKOFF_CAP_SECONDS, WRITE_BACKOFF_BASE_SECONDS * 2**attempt)
    # Full jitter: over many draws the pauses spread across the whole window, up to the cap.
    draws = [write_backoff(10, random.Random(seed)) for seed in range(200)]
    assert max(draws) > 0.9 * WRITE_BACKOFF_CAP_SECONDS and min(draws) < 0.1 * WRITE_BACKOFF_CAP_SECONDS
