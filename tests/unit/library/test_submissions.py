"""Submit and watch on the library (moto and the emulator): Zoho's call made once per idempotency key, the
job watched, failures that keep nothing, and a key used again for another request refused."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from zoho_watch.errors import (
    AwsUnavailable,
    IdempotencyKeyReused,
    InvalidInput,
    JobAlreadyScheduled,
    RequestInProgress,
    ZohoUnavailable,
)
from zoho_watch.jobs import JobKey
from zoho_watch.mass_updates import MassUpdate
from zoho_watch.services import Services
from zoho_watch.submissions import IDEMPOTENCY_PARTITION, submit_mass_update
from zoho_watch.watches import WatchOptions

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack

CVID = "4150868000000087011"
BY_VIEW = MassUpdate("default", "Leads", {"Lead_Status": "Contacted"}, cvid=CVID)
BY_IDS = MassUpdate("default", "Leads", {"Lead_Status": "Contacted"}, ids=("111", "222", "333"))
SCHEDULE = WatchOptions(mode="schedule")


def posts(zoho: FakeZoho) -> list[dict[str, Any]]:
    """Zoho's mass update calls (POST), oldest first."""
    return [
        entry for entry in zoho.request_log if entry["method"] == "POST" and "mass_update" in entry["path"]
    ]


def kept_answers(aws: AwsStack) -> list[dict[str, Any]]:
    """The idempotency records in the jobs table."""
    found = aws.dynamodb.query(
        TableName=aws.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": IDEMPOTENCY_PARTITION}},
    )
    return list(found["Items"])


def test_a_view_is_scheduled_then_watched(library: Services, zoho: FakeZoho) -> None:
    zoho.define_view("Leads", CVID, 250, JobProfile(duration=300))
    done = submit_mass_update(BY_VIEW, SCHEDULE)
    assert done.reply.job_id is not None and not done.replayed
    assert zoho.job_truth(done.reply.job_id)["Total_Count"] == 250
    assert done.watch is not None and (done.watch.watching, done.watch.mode) == (True, "schedule")
    state = library.store.get(JobKey("default", "Leads", done.reply.job_id))
    assert state is not None and state["watcher"] == "schedule"
    assert len(posts(zoho)) == 1


def test_the_same_key_schedules_once_and_answers_the_same(
    library: Services, zoho: FakeZoho, aws: AwsStack
) -> None:
    first = submit_mass_update(BY_VIEW, SCHEDULE, idempotency_key="order-17")
    again = submit_mass_update(BY_VIEW, SCHEDULE, idempotency_key="order-17")
    assert again.reply == first.reply and (first.replayed, again.replayed) == (False, True)
    assert again.watch is not None and again.watch.already
    assert len(posts(zoho)) == 1
    [record] = kept_answers(aws)
    assert record["status"]["S"] == "COMPLETED" and "expires_at" in record
    # Another request under the same key is refused without a call; a new key is a new request.
    other = MassUpdate("default", "Leads", {"Lead_Status": "Lost"}, cvid=CVID)
    with pytest.raises(IdempotencyKeyReused):
        submit_mass_update(other, SCHEDULE, idempotency_key="order-17")
    with pytest.raises(JobAlreadyScheduled):  # Zoho's own refusal: the first job still runs
        submit_mass_update(other, SCHEDULE, idempotency_key="order-18")
    assert len(posts(zoho)) == 2


def test_keys_belong_to_their_connection(library: Services, zoho: FakeZoho, aws: AwsStack) -> None:
    aws.write_credentials("second", zoho.credentials())
    submit_mass_update(BY_IDS, idempotency_key="k-1")
    submit_mass_update(
        MassUpdate("second", "Leads", {"Lead_Status": "Contacted"}, ids=("1",)), None, idempotency_key="k-1"
    )
    assert len(posts(zoho)) == 2


def test_a_failed_request_keeps_nothing_and_may_be_sent_again(
    library: Services, zoho: FakeZoho, aws: AwsStack
) -> None:
    zoho.faults.script(["500"], routes=["create"])
    with pytest.raises(ZohoUnavailable):
        submit_mass_update(BY_VIEW, SCHEDULE, idempotency_key="retry-me")
    assert kept_answers(aws) == []
    done = submit_mass_update(BY_VIEW, SCHEDULE, idempotency_key="retry-me")
    assert done.reply.job_id is not None and not done.replayed
    assert len(posts(zoho)) == 2


def test_an_update_by_ids_answers_each_record_once(library: Services, zoho: FakeZoho) -> None:
    first = submit_mass_update(BY_IDS, idempotency_key="ids-1")
    again = submit_mass_update(BY_IDS, idempotency_key="ids-1")
    assert [(r.id, r.status) for r in first.reply.records] == [
        ("111", "success"),
        ("222", "success"),
        ("333", "success"),
    ]
    assert again.reply == first.reply and again.replayed and first.watch is None
    assert len(posts(zoho)) == 1


def test_a_request_being_served_blocks_its_key(library: Services, zoho: FakeZoho, aws: AwsStack) -> None:
    # A request that holds the key (its record INPROGRESS, with no expiry of its own) has not answered yet.
    aws.dynamodb.put_item(
        TableName=aws.table_name,
        Item={
            "pk": {"S": IDEMPOTENCY_PARTITION},
            "sk": {"S": f"mass-update#{_digest(['default', 'busy'])}"},
            "status": {"S": "INPROGRESS"},
            "validation": {"S": _digest(BY_IDS.to_dict())},
            "expires_at": {"N": str(int(zoho.clock.now()) + 10**9)},
        },
    )
    with pytest.raises(RequestInProgress):
        submit_mass_update(BY_IDS, idempotency_key="busy")
    assert posts(zoho) == []


def _digest(value: Any) -> str:
    """Powertools 3.37's digest of a key's fields or of a request: MD5 of sorted JSON (pinned: an upgrade
    that changes it fails here)."""
    return hashlib.md5(json.dumps(value, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


@pytest.mark.parametrize(
    ("update", "watch", "key", "words"),
    [
        (BY_IDS, SCHEDULE, None, "no job to watch"),
        (BY_VIEW, None, "with space", "idempotency key"),
        (BY_VIEW, None, "x" * 256, "idempotency key"),
    ],
)
def test_bad_input_calls_nothing(
    library: Services,
    zoho: FakeZoho,
    update: MassUpdate,
    watch: WatchOptions | None,
    key: str | None,
    words: str,
) -> None:
    with pytest.raises(InvalidInput, match=words):
        submit_mass_update(update, watch, idempotency_key=key)
    assert posts(zoho) == []


def test_an_aws_failure_keeping_the_answer_is_retryable(
    library: Services, zoho: FakeZoho, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    real = library.dynamodb.put_item

    def throttled(**kwargs: Any) -> Any:
        if kwargs["Item"]["pk"]["S"] == IDEMPOTENCY_PARTITION:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")
        return real(**kwargs)

    monkeypatch.setattr(library.dynamodb, "put_item", throttled)
    with pytest.raises(AwsUnavailable):
        submit_mass_update(BY_VIEW, SCHEDULE, idempotency_key="aws-down")
    assert posts(zoho) == []
