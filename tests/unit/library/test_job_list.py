"""`JobStore.list_jobs` on the `JobList` index: what a page reads, filters, cursors and partial batches."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from zoho_watch.errors import AwsUnavailable, InvalidInput, JobNotFound
from zoho_watch.jobs import JobKey, Snapshot
from zoho_watch.store import JobStore, JobView, job_pk
from zoho_watch.store import reads as store_reads

from tests.fixtures.aws import AwsStack

T0 = 1_800_000_000.0


class ReadMeter:
    """Counts the DynamoDB items the store's client reads, per operation (botocore's after-call event)."""

    def __init__(self, client: Any) -> None:
        self.items: Counter[str] = Counter()
        client.meta.events.register("after-call.dynamodb", self._count)

    def _count(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name in {"Query", "Scan"}:
            self.items[model.name] += parsed.get("ScannedCount", 0)
        elif model.name in {"GetItem", "BatchGetItem"}:
            replies = parsed.get("Responses", {}).values() if model.name == "BatchGetItem" else [[parsed]]
            self.items[model.name] += sum(len(reply) for reply in replies)

    def reading(self) -> Counter[str]:
        """The counts so far, and start again from zero."""
        seen, self.items = self.items, Counter()
        return seen


@pytest.fixture
def store(aws: AwsStack) -> JobStore:
    store = JobStore(aws.dynamodb, aws.table_name, clock=lambda: T0)
    store._sleep = lambda seconds: None
    return store


def record(store: JobStore, job: JobKey, status: str, checks: int = 1, start: float = T0) -> None:
    for index in range(checks):
        done = 100 if status == "COMPLETED" else 10
        store.record_check(job, Snapshot(status, 100, done, 0, 100 - done), start + index)


def every_page(store: JobStore, limit: int, **filters: Any) -> Iterator[list[JobView]]:
    cursor = None
    while True:
        items, cursor = store.list_jobs(limit=limit, cursor=cursor, **filters)
        yield items
        if cursor is None:
            return


def test_a_page_reads_as_much_with_a_long_history_as_with_none(store: JobStore, aws: AwsStack) -> None:
    jobs = [JobKey("default", "Leads", str(1000 + index)) for index in range(30)]
    for job in jobs:
        record(store, job, "RUNNING")
    meter = ReadMeter(aws.dynamodb)
    first, cursor = store.list_jobs(limit=10)
    short_history = meter.reading()
    history = [
        {"PutRequest": {"Item": {"pk": {"S": job_pk(job)}, "sk": {"S": f"CHECK#{index:04}"}}}}
        for job in jobs
        for index in range(100)
    ]
    for start in range(0, len(history), 25):  # 3,000 CHECK items
        aws.dynamodb.batch_write_item(RequestItems={aws.table_name: history[start : start + 25]})
    for job in jobs:
        record(store, job, "RUNNING", start=T0 + 60)
    meter.reading()
    again, _ = store.list_jobs(limit=10)
    long_history = meter.reading()
    assert short_history == long_history == Counter({"Query": 10, "BatchGetItem": 10})
    assert [job["job_id"] for job in again] == [job["job_id"] for job in first] and cursor is not None
    assert all(job["checks"] == 2 for job in again)  # the items are read, not the index's stale copy


def test_each_status_is_its_own_key_range(store: JobStore, aws: AwsStack) -> None:
    for index in range(12):
        connection = "default" if index < 8 else "other"
        record(store, JobKey(connection, "Deals", str(2000 + index)), "COMPLETED" if index % 3 else "RUNNING")
    meter = ReadMeter(aws.dynamodb)
    running, cursor = store.list_jobs(status="RUNNING")
    assert sorted(job["job_id"] for job in running) == ["2000", "2003", "2006", "2009"] and cursor is None
    assert meter.reading()["Query"] == 4  # only the RUNNING entries were read
    mine, _ = store.list_jobs(status="COMPLETED", connection="other")
    assert sorted(job["job_id"] for job in mine) == ["2008", "2010", "2011"]
    assert meter.reading()["Query"] == 3


def test_a_status_change_moves_the_job_between_lists(store: JobStore) -> None:
    job = JobKey("default", "Leads", "3000")
    store.watch(job, "schedule")
    unchecked, _ = store.list_jobs()
    assert [(item["job_id"], item["status"], item["watched"]) for item in unchecked] == [("3000", None, True)]
    record(store, job, "RUNNING")
    assert [item["job_id"] for item in store.list_jobs(status="RUNNING")[0]] == ["3000"]
    record(store, job, "COMPLETED", start=T0 + 10)
    assert store.list_jobs(status="RUNNING")[0] == []
    assert [item["status"] for item in store.list_jobs(status="COMPLETED")[0]] == ["COMPLETED"]
    assert len(store.list_jobs()[0]) == 1  # one entry per job, whatever it went through


def test_a_job_known_only_by_its_error_is_listed(store: JobStore) -> None:
    job = JobKey("default", "Leads", "4000")
    store.record_error(job, JobNotFound("no such job"))
    [listed], _ = store.list_jobs()
    assert listed["job_id"] == "4000" and listed["status"] is None
    assert listed["last_error"] is not None and listed["last_error"]["code"] == "JOB_NOT_FOUND"


def test_a_connection_filter_pages_through_every_job_of_it(
    store: JobStore, aws: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = itertools.count(5000)
    mine = {str(next(ids)) for _ in range(3)}
    for job_id in mine:
        record(store, JobKey("mine", "Leads", job_id), "RUNNING")
    for _ in range(25):
        record(store, JobKey("default", "Leads", str(next(ids))), "RUNNING")
    monkeypatch.setattr(store_reads, "LIST_READ_BUDGET", 8)
    meter = ReadMeter(aws.dynamodb)
    pages = list(every_page(store, limit=50, connection="mine"))
    assert {job["job_id"] for page in pages for job in page} == mine
    assert all(job["connection"] == "mine" for page in pages for job in page)
    # No request read more than its budget: each page stopped and handed out a cursor instead.
    assert len(pages) == 4 and meter.reading()["Query"] == 28


def test_pages_cover_every_job_once(store: JobStore) -> None:
    expected = {str(6000 + index) for index in range(23)}
    for job_id in expected:
        record(store, JobKey("default", "Leads", job_id), "RUNNING" if int(job_id) % 2 else "COMPLETED")
    pages = list(every_page(store, limit=5))
    seen = [job["job_id"] for page in pages for job in page]
    assert sorted(seen) == sorted(expected) and [len(page) for page in pages] == [5, 5, 5, 5, 3]


def test_a_cursor_is_only_taken_from_the_list(store: JobStore) -> None:
    job = JobKey("default", "Leads", "7000")
    for index in range(3):
        record(store, JobKey("default", "Leads", str(7000 + index)), "RUNNING", checks=2)
    _, history_cursor = store.history(job, limit=1)
    assert history_cursor is not None
    for cursor in (history_cursor, "bm90LWEtY3Vyc29y", "!!"):
        with pytest.raises(InvalidInput, match="cursor"):
            store.list_jobs(cursor=cursor)
    _, list_cursor = store.list_jobs(limit=1)
    assert list_cursor is not None
    with pytest.raises(InvalidInput, match="cursor"):
        store.history(job, cursor=list_cursor)


def test_a_partly_served_batch_is_asked_again(store: JobStore, aws: AwsStack) -> None:
    for index in range(4):
        record(store, JobKey("default", "Leads", str(8000 + index)), "RUNNING")
    real = aws.dynamodb.batch_get_item
    calls: list[int] = []

    def half_served(**request: Any) -> dict[str, Any]:
        keys = request["RequestItems"][aws.table_name]["Keys"]
        calls.append(len(keys))
        reply = real(RequestItems={aws.table_name: {"Keys": keys[:1]}})
        if len(keys) > 1:
            reply["UnprocessedKeys"] = {aws.table_name: {"Keys": keys[1:]}}
        return reply

    store._client = _Patched(aws.dynamodb, batch_get_item=half_served)
    items, _ = store.list_jobs()
    assert sorted(job["job_id"] for job in items) == ["8000", "8001", "8002", "8003"]
    assert calls == [4, 3, 2, 1]

    def never_served(**request: Any) -> dict[str, Any]:
        return {"Responses": {}, "UnprocessedKeys": request["RequestItems"]}

    store._client = _Patched(aws.dynamodb, batch_get_item=never_served)
    with pytest.raises(AwsUnavailable, match="BatchGetItem"):
        store.list_jobs()


class _Patched:
    """A client with some operations replaced (the rest are the real client's)."""

    def __init__(self, client: Any, **operations: Any) -> None:
        self._client = client
        self._operations = operations

    def __getattr__(self, name: str) -> Any:
        return self._operations.get(name) or getattr(self._client, name)
