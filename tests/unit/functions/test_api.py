"""REST API handler: every route driven by its events/ sample on moto (Step Functions too) and Zoho."""

from __future__ import annotations

import importlib
import json
import os
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from zoho_watch.job_kinds import KINDS, ORG_MODULE

from fake_zoho import JobProfile
from tests.unit.functions.conftest import REPO_ROOT, library_errors, load_event

STATE_MACHINE_NAME = "zoho-watch-test-watch-job"
OPENAPI_COPY = REPO_ROOT / "docs" / "openapi.json"


@pytest.fixture
def state_machine(aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """The watch state machine in moto (from the real ASL; executions are recorded, not run)."""
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="watch-job", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = (REPO_ROOT / "statemachine" / "watch_job.asl.json").read_text(encoding="utf-8")
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{STATE_MACHINE_NAME}"
    definition = definition.replace("${WatchJobStateMachineArn}", arn).replace(
        "${CheckJobFunctionArn}", "arn:aws:lambda:us-east-1:123456789012:function:check-job"
    )
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    created = sfn.create_state_machine(name=STATE_MACHINE_NAME, definition=definition, roleArn=role)
    monkeypatch.setenv("STATE_MACHINE_ARN", created["stateMachineArn"])
    monkeypatch.setenv("MAX_POLLS_PER_EXECUTION", "500")
    monkeypatch.setenv("DEFAULT_DEADLINE_HOURS", "24")
    return created["stateMachineArn"]


@pytest.fixture
def configured(aws) -> str:
    """The default connection has a credentials secret (never used: executions are not run here)."""
    aws.write_credentials("default", {"client_id": "c", "client_secret": "s", "refresh_token": "r"})
    return "default"


def call(api_app: Any, context: Any, sample: str, **changes: Any) -> tuple[int, dict[str, Any]]:
    """Send a sample event (`job_id`, `module`, `query` or `body` changed); return (status, JSON body)."""
    event = load_event(sample)
    module = changes.pop("module", None)
    job_id = changes.pop("job_id", None)
    if module or job_id:
        # The sample's `{module}/{job_id}` (after `/jobs/` or `/jobs/{kind}/`), changed where asked.
        event["path"] = re.sub(
            r"/([A-Za-z][A-Za-z0-9_]*)/([0-9]+)",
            lambda found: f"/{module or found[1]}/{job_id or found[2]}",
            event["path"],
            count=1,
        )
        event["pathParameters"] = {"path": event["path"].removeprefix("/jobs/")}
    if "query" in changes:
        query = changes.pop("query")
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    if "body" in changes:
        body = changes.pop("body")
        event["body"] = body if body is None or isinstance(body, str) else json.dumps(body)
    assert not changes, f"unknown changes {changes}"
    reply = api_app.lambda_handler(event, context)
    # Powertools answers REST API (v1) events with multiValueHeaders.
    assert reply["multiValueHeaders"]["Content-Type"] == ["application/json"]
    body = json.loads(reply["body"])
    if reply["statusCode"] >= 400:
        assert set(body) >= {"code", "message"}
        assert "Traceback" not in reply["body"]
    return reply["statusCode"], body


def executions(state_machine: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return sfn.list_executions(stateMachineArn=state_machine)["executions"]


def running_job(zoho: Any, total: int = 300) -> str:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=total, profile=JobProfile(queue_delay=0, duration=100))
    zoho.clock.advance(30)
    return job_id


# ---- reading --------------------------------------------------------------------------------------------


def test_live_check_asks_zoho_and_records_the_job(
    aws, zoho, zoho_connection, api_app, lambda_context
) -> None:
    job_id = running_job(zoho)

    status, body = call(api_app, lambda_context, "api_get_job_live", job_id=job_id)

    assert status == 200
    truth = zoho.job_truth(job_id)
    assert (body["status"], body["counts"]["updated"]) == ("RUNNING", truth["Updated_Count"])
    assert body["terminal"] is False
    assert [e["detail"]["job_id"] for e in aws.events("Mass Update Job Status Changed")] == [job_id]
    # The stored state now answers without Zoho.
    calls = zoho.counters["calls_total"]
    status, stored = call(api_app, lambda_context, "api_get_job", job_id=job_id)
    assert status == 200
    assert (stored["status"], stored["checks"], stored["counts"]) == ("RUNNING", 1, body["counts"])
    assert zoho.counters["calls_total"] == calls
    # Only the documented fields: the store's bookkeeping (write version, next check time, poll) stays inside;
    # a live check also says when Zoho answered, whether the status changed and when to ask again.
    documented = set(api_app.JobState.model_fields)
    assert set(body) == set(stored) == documented
    assert not {"version", "next_check_at", "poll"} & documented
    assert body["checked_at"] == stored["last_checked_at"] and body["changed"] is True
    assert isinstance(body["next_check_in"], int) and body["next_check_in"] >= 1
    assert (stored["checked_at"], stored["changed"], stored["next_check_in"]) == (None, None, None)


def test_a_job_never_seen_is_not_found(aws, api_app, lambda_context) -> None:
    status, body = call(api_app, lambda_context, "api_get_job")

    assert (status, body["code"]) == (404, "JOB_NOT_RECORDED")


def test_list_filters_by_status(aws, zoho, zoho_connection, api_app, lambda_context) -> None:
    running = running_job(zoho)
    done = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=1))
    zoho.clock.advance(5)
    for job_id in (running, done):
        assert call(api_app, lambda_context, "api_get_job_live", job_id=job_id)[0] == 200

    status, body = call(api_app, lambda_context, "api_list_jobs")  # ?status=RUNNING&limit=20

    assert status == 200
    assert [job["job_id"] for job in body["items"]] == [running]
    assert body["next_cursor"] is None
    status, everything = call(api_app, lambda_context, "api_list_jobs", query={"limit": "1"})
    assert status == 200 and len(everything["items"]) == 1 and everything["next_cursor"]
    status, rest = call(
        api_app, lambda_context, "api_list_jobs", query={"limit": "5", "cursor": everything["next_cursor"]}
    )
    assert {job["job_id"] for job in everything["items"] + rest["items"]} == {running, done}


def test_history_lists_checks_newest_first(aws, zoho, zoho_connection, api_app, lambda_context) -> None:
    job_id = running_job(zoho)
    for _ in range(3):
        assert call(api_app, lambda_context, "api_get_job_live", job_id=job_id)[0] == 200
        zoho.clock.advance(10)

    status, body = call(api_app, lambda_context, "api_get_job_history", job_id=job_id)

    assert status == 200
    updated = [item["counts"]["updated"] for item in body["items"]]
    assert len(updated) == 3 and updated == sorted(updated, reverse=True)
    status, page = call(api_app, lambda_context, "api_get_job_history", job_id=job_id, query={"limit": "2"})
    assert len(page["items"]) == 2 and page["next_cursor"]


# ---- watching -------------------------------------------------------------------------------------------


def test_watch_starts_one_named_execution_and_is_idempotent(
    aws, state_machine, configured, api_app, lambda_context
) -> None:
    status, body = call(api_app, lambda_context, "api_start_watch")

    assert status == 202
    assert (body["watching"], body["already"], body["mode"]) == (True, False, "stepfunctions")
    assert body["execution_name"] == "Leads-554023000000506003-g0"
    started = executions(state_machine)
    assert [e["name"] for e in started] == ["Leads-554023000000506003-g0"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    watch_input = json.loads(sfn.describe_execution(executionArn=body["execution_arn"])["input"])
    assert re.fullmatch(r"[0-9a-f]{32}", watch_input.pop("start_request"))  # this request's own
    assert watch_input == {
        "connection": "default",
        "module": "Leads",
        "job_id": "554023000000506003",
        "poll": {"min_seconds": 5, "max_seconds": 300},
        "deadline": "2030-01-01T00:00:00Z",
        "generation": 0,
        "max_polls": 500,
    }
    assert body["state"]["watcher"] == "stepfunctions:" + body["execution_arn"]
    assert body["state"]["watched"] is True

    status, again = call(api_app, lambda_context, "api_start_watch")

    assert (status, again["already"], again["message"]) == (202, True, "already watching")
    assert again["execution_arn"] == body["execution_arn"]
    assert len(executions(state_machine)) == 1


def test_watch_after_a_stop_starts_the_next_generation(
    aws, state_machine, configured, api_app, lambda_context
) -> None:
    assert call(api_app, lambda_context, "api_start_watch")[0] == 202

    status, stopped = call(api_app, lambda_context, "api_stop_watch")

    assert (status, stopped["watching"], stopped["mode"]) == (200, False, "stepfunctions")
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    assert sfn.describe_execution(executionArn=stopped["execution_arn"])["status"] == "ABORTED"
    assert stopped["state"]["watched"] is False

    status, body = call(
        api_app, lambda_context, "api_start_watch", body={}
    )  # defaults: deadline from the stack

    assert (status, body["already"], body["execution_name"]) == (202, False, "Leads-554023000000506003-g1")
    assert body["deadline"] is not None
    assert sorted(e["name"] for e in executions(state_machine)) == [
        "Leads-554023000000506003-g0",
        "Leads-554023000000506003-g1",
    ]


def test_schedule_mode_only_registers_the_job_for_the_sweep(
    aws, zoho, state_machine, configured, api_app, lambda_context
) -> None:
    status, body = call(api_app, lambda_context, "api_start_watch_schedule")

    assert (status, body["mode"], body["already"]) == (202, "schedule", False)
    assert body["state"]["watcher"] == "schedule"
    assert executions(state_machine) == []
    assert zoho.counters["calls_total"] == 0
    from zoho_watch.services import get_services

    due = get_services().store.due_jobs()
    assert [(job["job_id"], job["poll"]) for job in due] == [
        ("554023000000506003", {"min_seconds": 60, "max_seconds": 900})
    ]
    assert call(api_app, lambda_context, "api_start_watch_schedule")[1]["already"] is True

    status, conflict = call(api_app, lambda_context, "api_start_watch")

    assert (status, conflict["code"]) == (409, "WATCHED_BY_SCHEDULE")
    assert executions(state_machine) == []
    status, stopped = call(api_app, lambda_context, "api_stop_watch")
    assert (status, stopped["mode"], stopped["state"]["watched"]) == (200, "schedule", False)
    assert get_services().store.due_jobs() == []


def test_a_finished_job_is_not_watched_again(
    aws, zoho, zoho_connection, state_machine, api_app, lambda_context
) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=1))
    zoho.clock.advance(5)
    assert call(api_app, lambda_context, "api_get_job_live", job_id=job_id)[1]["status"] == "COMPLETED"

    status, body = call(api_app, lambda_context, "api_start_watch", job_id=job_id)

    assert (status, body["watching"], body["already"]) == (200, False, True)
    assert executions(state_machine) == []


def test_stop_of_an_unknown_job_is_not_found(aws, state_machine, api_app, lambda_context) -> None:
    status, body = call(api_app, lambda_context, "api_stop_watch")

    assert (status, body["code"]) == (404, "JOB_NOT_RECORDED")


# ---- bad input and errors -------------------------------------------------------------------------------


BAD_INPUT: list[tuple[str, dict[str, Any], list[str]]] = [
    ("api_get_job_live", {"module": "Leads;DROP"}, ["path", "module"]),
    ("api_get_job_live", {"job_id": "12ab"}, ["path", "job_id"]),
    ("api_get_job_live", {"query": {"live": "true", "connection": "Bad Name"}}, ["query", "connection"]),
    ("api_list_jobs", {"query": {"limit": "0"}}, ["query", "limit"]),
    ("api_list_jobs", {"query": {"status": "running; x"}}, ["query", "status"]),
    ("api_start_watch", {"body": "{not json"}, ["body", "1"]),
    ("api_start_watch", {"body": {"mode": "cron"}}, ["body", "mode"]),
    ("api_start_watch", {"body": {"poll": {"min_seconds": 600, "max_seconds": 60}}}, ["body", "poll"]),
    ("api_start_watch", {"body": {"poll": {"min_seconds": 0}}}, ["body", "poll", "min_seconds"]),
    ("api_start_watch", {"body": {"deadline": "2030-01-01T00:00:00"}}, ["body", "deadline"]),
    ("api_start_watch", {"body": {"surprise": 1}}, ["body", "surprise"]),
]


def test_bad_input_is_a_400_before_any_call(aws, zoho, state_machine, api_app, lambda_context) -> None:
    # One stack for every case (a moto stack per case would cost a second each).
    for sample, changes, where in BAD_INPUT:
        status, body = call(api_app, lambda_context, sample, **changes)

        assert (status, body["code"]) == (400, "INVALID_INPUT"), (sample, changes, body)
        assert [detail["loc"] for detail in body["details"]] == [where], (sample, changes, body)
    assert zoho.counters["calls_total"] == 0
    assert executions(state_machine) == []
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0


@pytest.mark.parametrize("body", ["[null]", '[{"mode": "schedule"}]'])
def test_a_watch_body_that_is_an_array_is_a_400(
    aws, zoho, state_machine, configured, api_app, lambda_context, body: str
) -> None:
    status, answer = call(api_app, lambda_context, "api_start_watch", body=body)
    assert (status, answer["code"]) == (400, "INVALID_INPUT")
    assert "JSON object" in answer["message"]
    assert executions(state_machine) == []
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0


def test_a_watch_of_a_connection_that_is_not_configured_is_a_400(
    aws, zoho, state_machine, configured, api_app, lambda_context
) -> None:
    status, body = call(api_app, lambda_context, "api_start_watch", body={"connection": "elsewhere"})
    assert (status, body["code"]) == (400, "CONNECTION_NOT_CONFIGURED")
    assert "zoho-watch/elsewhere/credentials" in body["message"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    assert sfn.list_executions(stateMachineArn=state_machine)["executions"] == []
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0
    assert zoho.counters["calls_total"] == 0


def test_semantic_input_errors_change_nothing(
    aws, zoho, state_machine, configured, api_app, lambda_context
) -> None:
    past = call(api_app, lambda_context, "api_start_watch", body={"deadline": "2020-01-01T00:00:00Z"})
    scheduled_deadline = call(
        api_app,
        lambda_context,
        "api_start_watch_schedule",
        body={"mode": "schedule", "deadline": "2031-01-01T00:00:00Z"},
    )
    too_long = call(api_app, lambda_context, "api_start_watch", module="M" + "x" * 70)

    for status, body in (past, scheduled_deadline, too_long):
        assert (status, body["code"]) == (400, "INVALID_INPUT")
    assert executions(state_machine) == []
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0


def test_zoho_errors_become_json_errors_with_a_stable_code(
    aws, zoho, zoho_connection, api_app, lambda_context
) -> None:
    job_id = running_job(zoho)
    for fault, status, code in (
        ("500", 503, "ZOHO_UNAVAILABLE"),
        ("429", 429, "ZOHO_RATE_LIMITED"),
        ("OAUTH_SCOPE_MISMATCH", 502, "ZOHO_AUTH_ERROR"),
    ):
        zoho.faults.script([fault])

        answer = call(api_app, lambda_context, "api_get_job_live", job_id=job_id)

        assert (answer[0], answer[1]["code"]) == (status, code), fault


def test_every_error_class_answers_with_its_own_status_and_code(
    aws, api_app, lambda_context, monkeypatch
) -> None:
    from zoho_watch import errors

    kinds = library_errors()
    assert len(kinds) >= 12
    for kind in kinds:
        try:
            error = kind(f"{kind.__name__} happened")
        except (TypeError, AttributeError):  # an error that builds its own message from what it names
            error = kind.__new__(kind)
            errors.ZohoWatchError.__init__(error, f"{kind.__name__} happened", zoho_http_status=418)

        def failing(*args: Any, error: Exception = error, **kwargs: Any) -> Any:
            raise error

        monkeypatch.setattr(api_app, "get_services", failing)
        status, body = call(api_app, lambda_context, "api_get_job")
        assert (status, body["code"], body["message"]) == (
            kind.api_status,
            kind.code,
            f"{kind.__name__} happened",
        )
        # A retryable error is the caller's to try again: never a plain 500.
        assert status in (429, 503) if kind.retryable else status != 503, kind


def test_unknown_job_live_is_a_404_with_zoho_code(
    aws, zoho, zoho_connection, api_app, lambda_context
) -> None:
    status, body = call(api_app, lambda_context, "api_get_job_live", job_id="111111111111111111")

    assert (status, body["code"]) == (404, "JOB_NOT_FOUND")


def test_unexpected_errors_are_a_500_without_details(aws, api_app, lambda_context, monkeypatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals /var/task/app.py line 12")

    monkeypatch.setattr(api_app, "get_services", broken)

    status, body = call(api_app, lambda_context, "api_get_job")

    assert (status, body["code"], body["message"]) == (500, "INTERNAL_ERROR", "internal error")
    assert "internals" not in json.dumps(body)


def test_unknown_route_is_a_json_404(aws, api_app, lambda_context) -> None:
    event = load_event("api_list_jobs")
    event["path"] = event["resource"] = "/admin"

    reply = api_app.lambda_handler(event, lambda_context)

    assert reply["statusCode"] == 404
    assert json.loads(reply["body"])["code"] == "ROUTE_NOT_FOUND"


# ---- OpenAPI --------------------------------------------------------------------------------------------


def test_openapi_document_is_served_and_docs_copy_is_current(aws, api_app, lambda_context) -> None:
    status, served = call(api_app, lambda_context, "api_openapi")

    assert status == 200
    assert set(served["paths"]) == {
        "/jobs",
        "/jobs/{module}/{job_id}",
        "/jobs/{module}/{job_id}/history",
        "/jobs/{module}/{job_id}/watch",
        "/jobs/{kind}/{module}/{job_id}",
        "/jobs/{kind}/{module}/{job_id}/history",
        "/jobs/{kind}/{module}/{job_id}/watch",
        "/mass-updates",
    }
    assert set(served["paths"]["/jobs/{module}/{job_id}/watch"]) == {"put", "delete"}
    assert set(served["paths"]["/jobs/{kind}/{module}/{job_id}/watch"]) == {"put", "delete"}
    # The kind's parameter names every kind; the module's documents the placeholder of kinds without one.
    parameters = {
        p["name"]: p for p in served["paths"]["/jobs/{kind}/{module}/{job_id}"]["get"]["parameters"]
    }
    assert set(re.findall(r"[a-z_]+", parameters["kind"]["schema"]["pattern"])) == set(KINDS)
    assert f"`{ORG_MODULE}`" in parameters["module"]["description"]
    submit = served["paths"]["/mass-updates"]["post"]
    assert [(item["in"], item["name"].lower()) for item in submit["parameters"]] == [
        ("header", "idempotency-key")
    ]
    assert set(submit["responses"]) >= {"200", "202", "409", "422"}
    # Where it is served (the stage) and how callers authenticate (either scheme, as the stack chooses).
    stage = importlib.import_module("api_models").API_STAGE  # beside app.py, on the path as on Lambda
    assert [server["url"] for server in served["servers"]] == [
        f"https://{{api_id}}.execute-api.{{region}}.amazonaws.com/{stage}"
    ]
    schemes = served["components"]["securitySchemes"]
    assert {name: (scheme["in"], scheme["name"]) for name, scheme in schemes.items()} == {
        "sigv4": ("header", "Authorization"),
        "api_key": ("header", "x-api-key"),
    }
    assert served["security"] == [{"sigv4": []}, {"api_key": []}]
    generated = json.loads(api_app.openapi_json())
    assert served == generated
    if os.environ.get("UPDATE_OPENAPI") == "1":
        OPENAPI_COPY.write_text(json.dumps(generated, indent=2) + "\n", encoding="utf-8")
    assert OPENAPI_COPY.is_file(), (
        f"{OPENAPI_COPY} is missing: run UPDATE_OPENAPI=1 pytest {Path(__file__).name}"
    )
    assert json.loads(OPENAPI_COPY.read_text(encoding="utf-8")) == generated, (
        f"{OPENAPI_COPY} is stale: run UPDATE_OPENAPI=1 .venv/bin/pytest tests/unit/functions/test_api.py"
    )


# ---- jobs of other kinds ----------------------------------------------------------------------------------


@pytest.fixture
def kinds_connection(aws, zoho) -> str:
    """The "default" connection, allowed to read mass deletes and mass updates."""
    aws.write_credentials(
        "default", zoho.credentials(scopes=["ZohoCRM.mass_update.READ", "ZohoCRM.mass_delete.READ"])
    )
    return "default"


def test_a_job_of_another_kind_is_checked_read_and_listed_on_its_own_routes(
    aws, zoho, kinds_connection, api_app, lambda_context
) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=0, duration=100)
    deleting = zoho.create_job("Contacts", total=200, profile=profile, kind="mass_delete")
    updating = zoho.create_job("Contacts", total=300, profile=profile)
    zoho.clock.advance(30)
    path = f"/jobs/mass_delete/Contacts/{deleting}"

    status, live = call_path(api_app, lambda_context, "GET", path, query={"live": "true"})
    assert status == 200
    truth = zoho.job_truth(deleting)
    assert (live["kind"], live["module"], live["job_id"]) == ("mass_delete", "Contacts", deleting)
    assert (live["status"], live["zoho_status"]) == ("RUNNING", "RUNNING")
    assert (live["counts"]["total"], live["counts"]["updated"]) == (200, truth["Updated_Count"])
    assert call(api_app, lambda_context, "api_get_job_live", module="Contacts", job_id=updating)[1][
        "kind"
    ] == ("mass_update")

    status, stored = call_path(api_app, lambda_context, "GET", path)
    assert (status, stored["kind"], stored["checks"], stored["counts"]) == (
        200,
        "mass_delete",
        1,
        live["counts"],
    )
    status, history = call_path(api_app, lambda_context, "GET", path + "/history")
    assert (status, [item["counts"] for item in history["items"]]) == (200, [live["counts"]])
    # The mass update routes name mass updates only: the same id there is another job, never seen.
    status, missing = call(api_app, lambda_context, "api_get_job", module="Contacts", job_id=deleting)
    assert (status, missing["code"]) == (404, "JOB_NOT_RECORDED")
    status, missing = call_path(api_app, lambda_context, "GET", f"/jobs/mass_delete/Contacts/{updating}")
    assert (status, missing["code"]) == (404, "JOB_NOT_RECORDED")
    assert "mass_delete Contacts job" in missing["message"]

    # The list shows each job's kind, and filters on it.
    status, page = call_path(api_app, lambda_context, "GET", "/jobs")
    assert sorted((item["kind"], item["job_id"]) for item in page["items"]) == sorted(
        [("mass_delete", deleting), ("mass_update", updating)]
    )
    for kind, job_id in (("mass_delete", deleting), ("mass_update", updating)):
        status, page = call_path(api_app, lambda_context, "GET", "/jobs", query={"kind": kind})
        assert (status, [item["job_id"] for item in page["items"]]) == (200, [job_id])
    status, page = call_path(api_app, lambda_context, "GET", "/jobs", query={"kind": "bulk_read"})
    assert (status, page["items"]) == (200, [])


def test_a_job_of_another_kind_is_watched_and_unwatched_on_its_own_routes(
    aws, zoho, kinds_connection, api_app, lambda_context, state_machine
) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job(
        "Contacts", total=200, profile=JobProfile(queue_delay=0, duration=600), kind="mass_delete"
    )
    path = f"/jobs/mass_delete/Contacts/{job_id}/watch"

    status, started = call_path(api_app, lambda_context, "PUT", path, body={"mode": "stepfunctions"})
    assert (status, started["watching"], started["mode"]) == (202, True, "stepfunctions")
    [execution] = executions(state_machine)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    loop_input = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert (loop_input["kind"], loop_input["module"], loop_input["job_id"]) == (
        "mass_delete",
        "Contacts",
        job_id,
    )

    status, stopped = call_path(api_app, lambda_context, "DELETE", path)
    assert (status, stopped["watching"]) == (200, False)
    assert sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "ABORTED"


@pytest.mark.parametrize(
    "path",
    [
        "/jobs/bulk_reads/org/554023000000612001",  # no such kind
        "/jobs/mass_convert/Contacts/554023000000612001",  # Leads only
        "/jobs/bulk_read/Leads/554023000000612001",  # org only
        "/jobs/mass_delete/Contacts/12ab",
    ],
)
def test_a_kind_route_with_bad_input_is_refused_before_any_call(
    aws, zoho, kinds_connection, api_app, lambda_context, path: str
) -> None:
    calls = zoho.counters["calls_total"]

    status, body = call_path(api_app, lambda_context, "GET", path, query={"live": "true"})

    assert (status, body["code"]) == (400, "INVALID_INPUT")
    assert zoho.counters["calls_total"] == calls
    assert aws.dynamodb.scan(TableName=aws.table_name)["Count"] == 0


def call_path(
    api_app: Any,
    context: Any,
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, dict[str, Any]]:
    """Send `method path` through API Gateway's greedy job resource (or `/jobs`); return (status, body)."""
    event = load_event("api_get_job")
    greedy = path.startswith("/jobs/")
    event.update(
        httpMethod=method,
        path=path,
        resource="/jobs/{path+}" if greedy else path,
        pathParameters={"path": path.removeprefix("/jobs/")} if greedy else None,
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        body=None if body is None else json.dumps(body),
    )
    event["requestContext"].update(httpMethod=method, path="/v1" + path)
    reply = api_app.lambda_handler(event, context)
    return reply["statusCode"], json.loads(reply["body"])
