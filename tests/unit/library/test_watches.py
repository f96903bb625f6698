"""watches: start and stop watches on moto (DynamoDB, Step Functions with the real ASL), no Zoho call."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from zoho_watch import services, watches
from zoho_watch.errors import (
    ConfigError,
    ConnectionNotConfigured,
    InvalidInput,
    JobNotRecorded,
    TooManyWatches,
    WatchConflict,
)
from zoho_watch.jobs import JobKey

from tests.fixtures.aws import AwsStack

REPO_ROOT = Path(__file__).resolve().parents[3]
MACHINE_NAME = "zoho-watch-test-watch-job"
JOB = JobKey("default", "Leads", "554023000000506003")
NOW = 1_900_000_000.0  # the library's frozen clock (2030-03-17T17:46:40Z)


@pytest.fixture
def machine(aws: AwsStack, monkeypatch: pytest.MonkeyPatch) -> str:
    """The watch state machine in moto (executions are recorded, not run); library clock frozen at NOW."""
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="watch-job", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{MACHINE_NAME}"
    definition = (REPO_ROOT / "statemachine" / "watch_job.asl.json").read_text(encoding="utf-8")
    definition = definition.replace("${WatchJobStateMachineArn}", arn).replace(
        "${CheckJobFunctionArn}", "arn:aws:lambda:us-east-1:123456789012:function:check-job"
    )
    created = sfn().create_state_machine(name=MACHINE_NAME, definition=definition, roleArn=role)
    monkeypatch.setenv("STATE_MACHINE_ARN", created["stateMachineArn"])
    monkeypatch.setenv("MAX_POLLS_PER_EXECUTION", "500")
    monkeypatch.setenv("DEFAULT_DEADLINE_HOURS", "24")
    services.set_services(services.Services(clock=lambda: NOW))
    # The default connection is configured (its credentials are never used: executions are not run here).
    aws.write_credentials("default", {"client_id": "c", "client_secret": "s", "refresh_token": "r"})
    return created["stateMachineArn"]


@pytest.mark.parametrize("mode", ["stepfunctions", "schedule"])
def test_a_watch_of_a_connection_that_is_not_configured_is_refused_up_front(
    machine: str, aws: AwsStack, mode: str
) -> None:
    with pytest.raises(ConnectionNotConfigured) as raised:
        watches.start_watch(JobKey("elsewhere", "Leads", "77"), mode=mode)  # type: ignore[arg-type]
    assert raised.value.code == "CONNECTION_NOT_CONFIGURED"
    assert executions(machine) == [] and stored(aws) == 0


def sfn() -> Any:
    return boto3.client("stepfunctions", region_name="us-east-1")


def executions(machine: str) -> list[dict[str, Any]]:
    return sfn().list_executions(stateMachineArn=machine)["executions"]


def stored(aws: AwsStack) -> int:
    return aws.dynamodb.scan(TableName=aws.table_name)["Count"]


def test_names_are_deterministic() -> None:
    machine = "arn:aws:states:eu-west-1:1:stateMachine:watch"
    assert watches.execution_name("Leads", "42", 7) == "Leads-42-g7"
    assert (
        watches.execution_arn(machine, "Leads-42-g7")
        == "arn:aws:states:eu-west-1:1:execution:watch:Leads-42-g7"
    )
    assert watches.generation_of("arn:aws:states:eu-west-1:1:execution:watch:Leads-42-g7") == 7
    assert watches.generation_of("arn:aws:states:eu-west-1:1:execution:watch:other") is None
    assert [watches.mode_of(w) for w in (None, "schedule", "stepfunctions:arn")] == [
        None,
        "schedule",
        "stepfunctions",
    ]


def test_start_makes_one_named_execution_with_the_loop_input(aws: AwsStack, machine: str) -> None:
    outcome = watches.start_watch(JOB, poll={"min_seconds": 30})

    assert (outcome.watching, outcome.already, outcome.mode, outcome.finished) == (
        True,
        False,
        "stepfunctions",
        False,
    )
    assert outcome.execution_name == "Leads-554023000000506003-g0"
    assert outcome.deadline == "2030-03-18T17:46:40Z"  # NOW + DEFAULT_DEADLINE_HOURS (24)
    described = sfn().describe_execution(executionArn=outcome.execution_arn)
    watch_input = json.loads(described["input"])
    assert re.fullmatch(r"[0-9a-f]{32}", watch_input.pop("start_request"))  # this request's own
    assert watch_input == {
        "connection": "default",
        "module": "Leads",
        "job_id": "554023000000506003",
        "poll": {"min_seconds": 30},
        "deadline": "2030-03-18T17:46:40Z",
        "generation": 0,
        "max_polls": 500,
    }
    assert outcome.state["watcher"] == "stepfunctions:" + outcome.execution_arn
    assert outcome.state["watched"] is True and outcome.state["poll"] == {"min_seconds": 30}

    again = watches.start_watch(JOB)

    assert (again.already, again.message, again.deadline) == (True, "already watching", None)
    assert again.execution_arn == outcome.execution_arn
    assert len(executions(machine)) == 1


def test_a_watch_someone_else_started_is_found_not_doubled(aws: AwsStack, machine: str) -> None:
    # Another start won the race: the execution exists but the store does not know it yet.
    theirs = sfn().start_execution(stateMachineArn=machine, name="Leads-554023000000506003-g0", input="{}")

    outcome = watches.start_watch(JOB)

    assert (outcome.already, outcome.execution_arn) == (True, theirs["executionArn"])
    assert len(executions(machine)) == 1


def test_ended_names_are_skipped_for_the_next_generation(aws: AwsStack, machine: str) -> None:
    first = watches.start_watch(JOB)
    stopped = watches.stop_watch(JOB)
    assert (stopped.watching, stopped.already, stopped.mode) == (False, False, "stepfunctions")
    assert stopped.execution_arn == first.execution_arn
    assert sfn().describe_execution(executionArn=first.execution_arn)["status"] == "ABORTED"
    # An ended g1 the store never saw (e.g. a stopped continue-as-new): g2 is the next free name.
    g1 = sfn().start_execution(stateMachineArn=machine, name="Leads-554023000000506003-g1", input="{}")
    sfn().stop_execution(executionArn=g1["executionArn"])

    outcome = watches.start_watch(JOB)

    assert (outcome.already, outcome.execution_name) == (False, "Leads-554023000000506003-g2")
    assert (
        json.loads(sfn().describe_execution(executionArn=outcome.execution_arn)["input"])["generation"] == 2
    )


def test_no_free_name_is_too_many_watches(aws: AwsStack, machine: str, monkeypatch) -> None:
    monkeypatch.setattr(watches, "MAX_START_ATTEMPTS", 2)
    for generation in (0, 1):
        name = f"Leads-554023000000506003-g{generation}"
        started = sfn().start_execution(stateMachineArn=machine, name=name, input="{}")
        sfn().stop_execution(executionArn=started["executionArn"])

    with pytest.raises(TooManyWatches):
        watches.start_watch(JOB)

    assert stored(aws) == 0


def test_schedule_mode_and_the_conflicts_between_modes(aws: AwsStack, machine: str) -> None:
    outcome = watches.start_watch(JOB, mode="schedule", poll={"min_seconds": 60, "max_seconds": 900})

    assert (outcome.mode, outcome.already, outcome.execution_arn) == ("schedule", False, None)
    assert outcome.state["watcher"] == "schedule"
    assert watches.start_watch(JOB, mode="schedule").already is True
    with pytest.raises(WatchConflict) as conflict:
        watches.start_watch(JOB)
    assert conflict.value.code == "WATCHED_BY_SCHEDULE"
    assert executions(machine) == []

    assert watches.stop_watch(JOB).mode == "schedule"
    watched = watches.start_watch(JOB)
    with pytest.raises(WatchConflict) as conflict:
        watches.start_watch(JOB, mode="schedule")
    assert conflict.value.code == "WATCHED_BY_STATE_MACHINE"
    assert services.get_services().store.get(JOB)["watcher"] == "stepfunctions:" + watched.execution_arn


def test_a_finished_job_is_not_watched(aws: AwsStack, machine: str) -> None:
    store = services.get_services().store
    store.watch(JOB, watcher="schedule")
    store.unwatch(JOB)
    aws.dynamodb.update_item(
        TableName=aws.table_name,
        Key={"pk": {"S": "JOB#default#Leads#554023000000506003"}, "sk": {"S": "STATE"}},
        UpdateExpression="SET #s = :done",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":done": {"S": "COMPLETED"}},
    )

    outcome = watches.start_watch(JOB)

    assert (outcome.finished, outcome.watching, outcome.already) == (True, False, True)
    assert outcome.state["status"] == "COMPLETED"
    assert executions(machine) == []


BAD_STARTS: list[dict[str, Any]] = [
    {"deadline": datetime.fromtimestamp(NOW - 1, UTC)},  # in the past
    {"deadline": datetime(2031, 1, 1)},  # no time zone
    {"mode": "schedule", "deadline": datetime(2031, 1, 1, tzinfo=UTC)},  # deadline is stepfunctions only
    {"mode": "cron"},
    {"poll": {"min_seconds": 600, "max_seconds": 60}},
    {"poll": {"every": 5}},
]


def test_bad_input_changes_nothing(aws: AwsStack, machine: str) -> None:
    for changes in BAD_STARTS:
        with pytest.raises(InvalidInput):
            watches.start_watch(JOB, **changes)
    with pytest.raises(InvalidInput):
        watches.start_watch(JobKey("default", "M" + "x" * 70, JOB.job_id))  # too long for an execution name
    with pytest.raises(InvalidInput):
        watches.start_watch(JobKey("default", "Leads", "12ab"))

    assert executions(machine) == []
    assert stored(aws) == 0


def test_without_a_state_machine_only_schedule_mode_works(aws: AwsStack, machine, monkeypatch) -> None:
    monkeypatch.delenv("STATE_MACHINE_ARN")

    with pytest.raises(ConfigError):
        watches.start_watch(JOB)

    assert watches.start_watch(JOB, mode="schedule").mode == "schedule"


def test_stop_of_an_unknown_or_unwatched_job(aws: AwsStack, machine: str) -> None:
    with pytest.raises(JobNotRecorded):
        watches.stop_watch(JOB)
    services.get_services().store.watch(JOB, watcher="schedule")
    assert watches.stop_watch(JOB).already is False

    again = watches.stop_watch(JOB)

    assert (again.already, again.mode, again.message) == (True, None, "was not watched")
    assert again.state["watched"] is False


def test_stopping_an_execution_that_already_ended_still_unwatches(aws: AwsStack, machine: str) -> None:
    started = watches.start_watch(JOB)
    sfn().stop_execution(executionArn=started.execution_arn)  # ended on its own (e.g. its deadline)

    stopped = watches.stop_watch(JOB)

    assert (stopped.already, stopped.mode, stopped.state["watched"]) == (False, "stepfunctions", False)
    assert services.get_services().store.due_jobs() == []
