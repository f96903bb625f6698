"""check_job handler: driven by events/check_job.json on moto and the Zoho emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from zoho_watch import services
from zoho_watch.errors import InvalidInput, JobNotFound

from fake_zoho import JobProfile
from tests.unit.functions.conftest import load_event


def task_event(job_id: str, **changes: Any) -> dict[str, Any]:
    """The sample Step Functions task input, for an emulator job, with `changes` to its loop state."""
    event = load_event("check_job")
    event["input"].update(job_id=job_id, **changes)
    return event


def stored_state(aws: Any, job_id: str, module: str = "Leads") -> dict[str, Any]:
    item = aws.dynamodb.get_item(
        TableName=aws.table_name, Key={"pk": {"S": f"JOB#default#{module}#{job_id}"}, "sk": {"S": "STATE"}}
    )
    return item.get("Item", {})


def test_running_job_is_checked_recorded_and_announced(
    aws, zoho, zoho_connection, check_job_app, lambda_context
) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=400, profile=JobProfile(queue_delay=0, duration=100))
    zoho.clock.advance(25)
    event = task_event(job_id)

    answer = check_job_app.lambda_handler(event, lambda_context)

    truth = zoho.job_truth(job_id)
    assert answer["status"] == "RUNNING" == truth["Status"]
    assert answer["counts"]["updated"] == truth["Updated_Count"]
    assert answer["counts"]["not_updated"] == truth["Not_Updated_Count"]
    assert answer["terminal"] is False
    assert answer["polls"] == 1
    assert answer["deadline_passed"] is False
    assert answer["continue_as_new"] is False
    assert 5 <= answer["next_check_in"] <= 300  # the sample's poll bounds
    # What the next check and the next generation need travels with the answer.
    assert answer["poll"] == {"min_seconds": 5, "max_seconds": 300}
    assert answer["deadline"] == "2030-01-01T00:00:00Z"
    assert (answer["generation"], answer["max_polls"]) == (0, 1000)
    item = stored_state(aws, job_id)
    assert item["status"]["S"] == "RUNNING"
    assert item["watcher"]["S"] == "stepfunctions:" + event["execution_id"]
    assert item["active"]["S"] == "ACTIVE#stepfunctions"  # the index partition of executions' jobs
    changed = aws.events("Mass Update Job Status Changed")
    assert [e["detail"]["job_id"] for e in changed] == [job_id]
    assert aws.events("Mass Update Job Finished") == []


def test_the_answer_is_the_next_input(aws, zoho, zoho_connection, check_job_app, lambda_context) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=0, duration=100))
    first = check_job_app.lambda_handler(task_event(job_id), lambda_context)
    zoho.clock.advance(10)
    event = task_event(job_id)
    event["input"] = first  # the state machine feeds the answer back (OutputPath $.Payload)

    second = check_job_app.lambda_handler(event, lambda_context)

    assert second["polls"] == 2
    assert second["checks"] == 2
    assert second["counts"]["updated"] > first["counts"]["updated"]


def test_completed_job_ends_the_loop_with_a_finished_event(
    aws, zoho, zoho_connection, check_job_app, lambda_context
) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=50, profile=JobProfile(queue_delay=0, duration=10))
    zoho.clock.advance(11)

    answer = check_job_app.lambda_handler(task_event(job_id), lambda_context)

    assert (answer["status"], answer["terminal"]) == ("COMPLETED", True)
    assert answer["continue_as_new"] is False
    assert answer["counts"] == {"total": 50, "updated": 50, "failed": 0, "not_updated": 0}
    finished = aws.events("Mass Update Job Finished")
    assert len(finished) == 1
    assert finished[0]["detail"]["status"] == "COMPLETED"
    assert "active" not in stored_state(aws, job_id)


def test_the_wait_never_passes_the_deadline(
    aws, zoho, zoho_connection, check_job_app, lambda_context
) -> None:
    zoho.clock.freeze()
    # The handler decides on the library's clock: frozen here, so however slow the check, 3 s are left.
    services.set_services(services.Services(clock=zoho.clock.now))
    job_id = zoho.create_job("Leads", total=1000, profile=JobProfile(queue_delay=600))
    deadline = (datetime.fromtimestamp(zoho.clock.now(), UTC) + timedelta(seconds=3)).isoformat()
    event = task_event(job_id, poll={"min_seconds": 60, "max_seconds": 600}, deadline=deadline)

    answer = check_job_app.lambda_handler(event, lambda_context)

    assert answer["deadline_passed"] is False
    assert 1 <= answer["next_check_in"] <= 3  # below the poll minimum: the deadline wins


def test_a_passed_deadline_stops_the_watch(aws, zoho, zoho_connection, check_job_app, lambda_context) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=1000, profile=JobProfile(queue_delay=600))
    event = task_event(job_id, deadline="2020-01-01T00:00:00+00:00")

    answer = check_job_app.lambda_handler(event, lambda_context)

    assert answer["status"] == "SCHEDULED"
    assert answer["deadline_passed"] is True
    assert answer["continue_as_new"] is False
    item = stored_state(aws, job_id)
    assert item["status"]["S"] == "SCHEDULED"  # the last check is still recorded
    assert "active" not in item and "watcher" not in item  # nobody watches it any more


def test_max_polls_hands_over_to_a_new_generation(
    aws, zoho, zoho_connection, check_job_app, lambda_context
) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=1000, profile=JobProfile(queue_delay=600))

    answer = check_job_app.lambda_handler(task_event(job_id, polls=9, max_polls=10), lambda_context)

    assert (answer["polls"], answer["continue_as_new"]) == (10, True)
    assert answer["generation"] == 0  # the state machine starts generation 1 from this


BAD_INPUT: list[dict[str, Any]] = [
    {"module": "Leads/../x"},
    {"job_id": "12ab"},
    {"connection": "Not Valid"},
    {"poll": {"min_seconds": 600, "max_seconds": 60}},
    {"deadline": "tomorrow"},
    {"deadline": "2030-01-01T00:00:00"},  # no time zone
    {"max_polls": 0},
]


def test_bad_input_is_refused_before_any_call(
    aws, zoho, zoho_connection, check_job_app, lambda_context
) -> None:
    for changes in BAD_INPUT:
        event = task_event("554023000000506003")
        event["input"].update(changes)

        with pytest.raises(InvalidInput):
            check_job_app.lambda_handler(event, lambda_context)

    assert zoho.counters["calls_total"] == 0
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0


def test_unknown_job_raises_its_typed_error_and_records_it(
    aws, zoho, zoho_connection, check_job_app, lambda_context
) -> None:
    with pytest.raises(JobNotFound) as raised:
        check_job_app.lambda_handler(task_event("111111111111111111"), lambda_context)

    assert type(raised.value).__name__ == "JobNotFound"  # the error name the state machine's Catch sees
    assert stored_state(aws, "111111111111111111")["last_error"]["M"]["code"]["S"] == "JOB_NOT_FOUND"
