"""ItemLease on moto: one caller wins, a lease runs out on the library's clock, only its owner keeps or ends
it, and the caller's own condition and attributes go in the same write."""

from __future__ import annotations

import threading

from zoho_watch.lease import ItemLease, number

from tests.fixtures.aws import AwsStack

KEY = {"pk": {"S": "LEASE#test"}, "sk": {"S": "LEASE"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def item(aws: AwsStack) -> dict:
    return aws.dynamodb.get_item(TableName=aws.table_name, Key=KEY, ConsistentRead=True).get("Item", {})


def test_one_of_many_takes_it_and_it_runs_out_on_the_clock(aws: AwsStack) -> None:
    clock = Clock()
    lease = ItemLease(aws.dynamodb, aws.table_name, clock)
    results: list[float | None] = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(lease.take(KEY, 30, owner=f"o{n}")))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=lambda r: r is None) == [clock.now + 30] + [None] * 7
    assert lease.read(KEY) is not None
    clock.now += 29.9
    assert lease.take(KEY, 30, owner="late") is None  # still held
    clock.now += 0.1
    assert lease.read(KEY) is None  # ran out exactly at its end
    assert lease.take(KEY, 30, owner="late") == clock.now + 30
    assert item(aws)["lease_owner"] == {"S": "late"}


def test_only_the_owner_keeps_or_ends_it(aws: AwsStack) -> None:
    clock = Clock()
    lease = ItemLease(aws.dynamodb, aws.table_name, clock, until="until_at", owner="holder")
    assert lease.take(KEY, 10, owner="a")
    assert not lease.keep(KEY, clock.now + 60, "b")
    assert not lease.end(KEY, "b")
    assert lease.keep(KEY, clock.now + 60, "a", sets="phase = :p", values={":p": {"S": "spacing"}})
    stored = item(aws)
    assert stored["until_at"] == number(clock.now + 60) and stored["phase"] == {"S": "spacing"}
    clock.now += 30
    assert lease.take(KEY, 10, owner="b") is None  # kept past its first end
    assert lease.end(KEY, "a")
    assert not {"until_at", "holder"} & set(item(aws)) and item(aws)["phase"] == {"S": "spacing"}
    assert lease.take(KEY, 10, owner="b") is not None


def test_the_callers_condition_and_attributes_go_in_the_same_write(aws: AwsStack) -> None:
    clock = Clock()
    lease = ItemLease(aws.dynamodb, aws.table_name, clock, until="claimed_until")
    aws.dynamodb.put_item(TableName=aws.table_name, Item={**KEY, "pending": {"BOOL": False}})
    claim = {
        "sets": "due_at = :lease_until",
        "condition": "pending = :true",
        "values": {":true": {"BOOL": True}},
    }
    assert lease.take(KEY, 8, **claim) is None  # nothing pending: no claim, nothing written
    assert "claimed_until" not in item(aws) and "due_at" not in item(aws)
    aws.dynamodb.put_item(TableName=aws.table_name, Item={**KEY, "pending": {"BOOL": True}})
    assert lease.take(KEY, 8, **claim) == clock.now + 8
    assert item(aws)["due_at"] == number(clock.now + 8)
    assert lease.end(KEY, removes="pending", sets="done_at = :now", values={":now": number(clock.now)})
    assert item(aws) == {**KEY, "due_at": number(clock.now + 8), "done_at": number(clock.now)}
