"""zoho-watch REST API (API Gateway REST proxy, Powertools resolver with request validation).

Routes:
- `GET /jobs`: stored jobs, filtered by status, connection and kind, a page at a time;
- `GET /jobs/{kind}/{module}/{job_id}`: the stored state, or with `?live=true` a check of Zoho now;
- `GET /jobs/{kind}/{module}/{job_id}/history`: the job's checks, newest first, a page at a time;
- `PUT /jobs/{kind}/{module}/{job_id}/watch`: watch the job with a Step Functions execution (idempotent) or
  the sweep;
- `DELETE /jobs/{kind}/{module}/{job_id}/watch`: stop watching;
- the same without `{kind}` (`/jobs/{module}/{job_id}`...): a mass update, as before there were kinds;
- `POST /mass-updates`: schedule a mass update on Zoho with zoho-watch's tokens, then watch its job (an
  `Idempotency-Key` header makes a retried request return the first answer and never schedule twice);
- `GET /openapi.json`: the OpenAPI document of these routes.

Every error is JSON, `{"code", "message"}` with a stable `code`, and never a stack trace. Bad input is refused
with a 4xx before any call to Zoho or AWS.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from zoho_watch.aws_errors import classify
from zoho_watch.errors import (
    InvalidInput,
    JobAlreadyScheduled,
    JobNotRecorded,
    ZohoRateLimited,
    ZohoWatchError,
)
from zoho_watch.job_kinds import KIND_PATTERN, ORG_MODULE
from zoho_watch.jobs import (
    CONNECTION_PATTERN,
    DEFAULT_CONNECTION,
    DEFAULT_KIND,
    JOB_ID_PATTERN,
    MODULE_PATTERN,
    JobKey,
)
from zoho_watch.mass_updates import ID_PATTERN, MAX_IDS
from zoho_watch.services import get_services
from zoho_watch.waiters import MAX_HEARTBEAT_SECONDS, MAX_TASK_TOKEN_LENGTH, MIN_HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme, Server
    from zoho_watch import watches

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)

API_TITLE = "zoho-watch"
API_VERSION = "1.0.0"
API_DESCRIPTION = (
    "Know when a Zoho CRM background job (mass update, mass convert, mass delete, mass change owner, tag"
    " deletion, bulk read, bulk write, audit log export, user transfer and deletion) has finished: stored"
    " states, live checks, watches, and mass updates submitted and watched."
)
API_STAGE = "v1"  # template.yaml's ZohoWatchApi StageName (a test keeps them equal)


@cache
def api_servers() -> list[Server]:
    """Where the API is served: the stack's REST API, at its stage."""
    # Powertools' OpenAPI models are built on first use: importing them costs a cold start more than any
    # route does, and only the OpenAPI document needs them.
    from aws_lambda_powertools.event_handler.openapi.models import Server, ServerVariable

    return [
        Server(
            url="https://{api_id}.execute-api.{region}.amazonaws.com/" + API_STAGE,
            description="The stack's API (its ApiUrl output)",
            variables={
                "api_id": ServerVariable(default="api-id", description="The REST API's id"),
                "region": ServerVariable(default="us-east-1", description="The stack's region"),
            },
        )
    ]


@cache
def api_security_schemes() -> dict[str, SecurityScheme]:
    """How callers authenticate: one of the two, as the stack's ApiAuth parameter chooses (AWS_IAM or
    API_KEY)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey

    return {
        name: APIKey.model_validate(
            {"type": "apiKey", "in": "header", "name": header, "description": description}
        )
        for name, header, description in (
            (
                "sigv4",
                "Authorization",
                "AWS Signature Version 4 (ApiAuth=AWS_IAM, the default), service execute-api",
            ),
            ("api_key", "x-api-key", "An API key of the stack (ApiAuth=API_KEY)"),
        )
    }


# The library's patterns, checked at the edge so bad input never reaches Zoho.
STATUS_PATTERN = r"^[A-Z][A-Z0-9_]{0,63}$"

ModuleParam = Annotated[
    str,
    Path(
        pattern=MODULE_PATTERN,
        description=f"Zoho module API name, e.g. Leads; `{ORG_MODULE}` for the kinds whose status names no"
        " module (mass_delete_tags, bulk_read, bulk_write, audit_log_export, transfer_and_delete)",
    ),
]
JobIdParam = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="The job's id (digits)")]
KindParam = Annotated[
    str,
    Path(
        pattern=KIND_PATTERN,
        description="The kind of job (the routes without it are mass updates'): mass_update, mass_convert"
        " (Leads), inventory_mass_convert (Quotes, Sales_Orders), mass_delete, mass_change_owner,"
        " mass_delete_tags, bulk_read, bulk_write, audit_log_export, transfer_and_delete (module"
        f" `{ORG_MODULE}` for the last five)",
    ),
]
ConnectionQuery = Annotated[
    str | None, Query(pattern=CONNECTION_PATTERN, description="Connection name (default `default`)")
]
CursorQuery = Annotated[str | None, Query(max_length=2048, description="`next_cursor` of the previous page")]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="Items per page")]


# ---- models ---------------------------------------------------------------------------------------------


class _Model(BaseModel):
    """Every model of the API: its validator and schema are built when first used, not at import (a cold
    start builds only those of the route it serves)."""

    model_config = ConfigDict(defer_build=True)


class PollSettings(_Model):
    """Bounds of the wait between two checks of one job."""

    model_config = ConfigDict(extra="forbid")

    min_seconds: int | None = Field(default=None, ge=1, le=86400)
    max_seconds: int | None = Field(default=None, ge=1, le=86400)

    @model_validator(mode="after")
    def _ordered(self) -> PollSettings:
        if (
            self.min_seconds is not None
            and self.max_seconds is not None
            and self.min_seconds > self.max_seconds
        ):
            raise ValueError("min_seconds must not exceed max_seconds")
        return self


class WatchSettings(_Model):
    """How to watch a job."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["stepfunctions", "schedule"] = "stepfunctions"
    poll: PollSettings | None = None
    deadline: AwareDatetime | None = Field(
        default=None, description="Stop watching at this time (stepfunctions mode; default from the stack)"
    )
    task_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TASK_TOKEN_LENGTH,
        description="A Step Functions task token (`$$.Task.Token` of a `.waitForTaskToken` task) to answer"
        " when the job ends: SendTaskSuccess with its final state, or SendTaskFailure (`MassUpdateFailed`, or"
        " the error that ended the watch). Answered at once when the job has already finished.",
    )

    heartbeat_seconds: int | None = Field(
        default=None,
        ge=MIN_HEARTBEAT_SECONDS,
        le=MAX_HEARTBEAT_SECONDS,
        description="With task_token: its task's HeartbeatSeconds. The job is then checked at least twice"
        " that often, each check sending the task a heartbeat (SendTaskHeartbeat).",
    )

    def options(self) -> watches.WatchOptions:
        """The library's `WatchOptions` of these settings."""
        from zoho_watch.watches import WatchOptions  # the watch routes' library: imported when first used

        poll = self.poll.model_dump(exclude_none=True) if self.poll else None
        return WatchOptions(self.mode, poll, self.deadline, self.task_token, self.heartbeat_seconds)


class WatchRequest(WatchSettings):
    """Body of `PUT /jobs/{module}/{job_id}/watch`."""

    connection: str | None = Field(default=None, pattern=CONNECTION_PATTERN)


class Counts(_Model):
    """A job's counts: for a mass update Zoho's four; for another kind its records in all, done (converted,
    deleted, added or updated...), failed and not done (0 where the kind reports no counts)."""

    total: int | None = None
    updated: int | None = None
    failed: int | None = None
    not_updated: int | None = None


class JobState(_Model):
    """A job's state as zoho-watch knows it (the store's bookkeeping, such as its write version and the
    sweep's next check time, stays inside: only these fields are answered)."""

    model_config = ConfigDict(extra="ignore")

    connection: str
    kind: str = Field(default=DEFAULT_KIND, description="The kind of job")
    module: str
    job_id: str
    status: str | None = Field(
        default=None, description="SCHEDULED, RUNNING, COMPLETED or FAILED (a mass update: Zoho's own status)"
    )
    zoho_status: str | None = Field(
        default=None, description="Zoho's own status word, for kinds other than mass update"
    )
    results: dict[str, Any] | None = Field(
        default=None,
        description="The result's links, for kinds that give them: bulk read's download_url, more_records and"
        " next_page_token, bulk write's download_url, the audit log export's download_links",
    )
    counts: Counts | None = None
    progress: float | None = None
    terminal: bool = False
    first_seen_at: str | None = None
    last_checked_at: str | None = None
    finished_at: str | None = None
    checks: int = 0
    last_error: dict[str, Any] | None = None
    watcher: str | None = None
    watched: bool | None = None
    # A live check's answer also says when Zoho was asked, whether the status changed, and when to ask again.
    checked_at: str | None = Field(default=None, description="When Zoho answered this live check")
    changed: bool | None = Field(default=None, description="Whether this live check changed the status")
    next_check_in: int | None = Field(
        default=None, description="Seconds the polling policy would wait before the next check (live checks)"
    )


class JobPage(_Model):
    """One page of jobs."""

    items: list[JobState]
    next_cursor: str | None = None


class HistoryItem(_Model):
    """One check of a job."""

    checked_at: str
    status: str
    counts: Counts
    progress: float | None = None


class HistoryPage(_Model):
    """One page of a job's checks, newest first."""

    items: list[HistoryItem]
    next_cursor: str | None = None


class WatchAnswer(_Model):
    """What `PUT` or `DELETE .../watch` did."""

    watching: bool
    already: bool = Field(description="True when the job was already in the requested state")
    mode: Literal["stepfunctions", "schedule"] | None = None
    message: str
    execution_arn: str | None = None
    execution_name: str | None = None
    deadline: str | None = None
    state: JobState | None = None


IdText = Annotated[str, Field(pattern=ID_PATTERN)]


class TerritoryRecords(_Model):
    """The records of a territory."""

    model_config = ConfigDict(extra="forbid")

    id: IdText
    include_child: bool = False


class MassUpdateRequest(_Model):
    """Body of `POST /mass-updates`: Zoho's mass update body, its module and connection, and the watch."""

    model_config = ConfigDict(extra="forbid")

    connection: str | None = Field(default=None, pattern=CONNECTION_PATTERN)
    module: str = Field(pattern=MODULE_PATTERN, description="Zoho module API name, e.g. Leads")
    data: list[dict[str, Any]] = Field(
        min_length=1, max_length=1, description="One object: the field API names to set and their values"
    )
    cvid: IdText | None = Field(default=None, description="A custom view: Zoho schedules a job")
    territory: TerritoryRecords | None = Field(default=None, description="A territory: Zoho schedules a job")
    ids: list[IdText] | None = Field(
        default=None, min_length=1, max_length=MAX_IDS, description="Record ids: updated at once, no job"
    )
    over_write: bool | None = None
    watch: WatchSettings | None = Field(default=None, description="How to watch the job (cvid, territory)")


class RecordAnswer(_Model):
    """Zoho's result for one record of an update by ids."""

    id: str
    status: Literal["success", "error"]
    code: str
    message: str


class MassUpdateAnswer(_Model):
    """What `POST /mass-updates` did: the job Zoho scheduled and its watch, or each record's result."""

    connection: str
    module: str
    job_id: str | None = Field(default=None, description="The job Zoho scheduled (cvid, territory)")
    message: str = Field(description="Zoho's message")
    watch: WatchAnswer | None = None
    records: list[RecordAnswer] | None = Field(default=None, description="Each record's result (ids)")
    replayed: bool = Field(description="True when this is the answer kept for an earlier request (same key)")


class ErrorBody(_Model):
    """Every error answer: a stable `code` and a message for people."""

    code: str
    message: str
    details: list[dict[str, Any]] | None = None


def _answer(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    """An answer of the OpenAPI document: JSON of `model`."""
    return {"description": description, "content": {"application/json": {"model": model}}}


ERROR_RESPONSES: dict[int, OpenAPIResponse] = {
    400: {"description": "Invalid input", "content": {"application/json": {"model": ErrorBody}}},
    404: {"description": "Not found", "content": {"application/json": {"model": ErrorBody}}},
    502: {"description": "Zoho refused the call", "content": {"application/json": {"model": ErrorBody}}},
    503: {
        "description": "Zoho unavailable or throttling",
        "content": {"application/json": {"model": ErrorBody}},
    },
}


# ---- errors ---------------------------------------------------------------------------------------------


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    """A JSON error answer with a stable `code`."""
    headers = extra.pop("headers", None)
    body = {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


@app.exception_handler(ZohoWatchError)
def handle_zoho_watch_error(error: ZohoWatchError) -> Response:
    """Typed errors of the library: their own `code` and HTTP status (`api_status`)."""
    status = int(error.api_status)
    headers = None
    if isinstance(error, ZohoRateLimited) and error.retry_after:
        headers = {"Retry-After": str(max(1, round(error.retry_after)))}
    logger.warning("request failed", extra={"code": error.code, "status": status})
    running = error.running_job_id if isinstance(error, JobAlreadyScheduled) else None
    return error_response(status, error.code, error.message, headers=headers, running_job_id=running)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response:
    """Invalid path, query or body: 400 INVALID_INPUT with where and what (never Python internals)."""
    details = [
        {"loc": [str(part) for part in item.get("loc", ())], "type": item.get("type"), "msg": item.get("msg")}
        for item in error.errors()
    ]
    return error_response(400, "INVALID_INPUT", "the request is not valid", details=details)


@app.not_found
def handle_not_found(_: NotFoundError) -> Response:
    """An unknown route."""
    return error_response(
        404, "ROUTE_NOT_FOUND", f"no route {app.current_event.http_method} {app.current_event.path}"
    )


@app.exception_handler(Exception)
def handle_unexpected(error: Exception) -> Response:
    """An AWS failure as its typed error (503 when passing); anything else logged with its trace, answered
    without it."""
    typed = classify(error)
    if typed is not None:
        return handle_zoho_watch_error(typed)
    logger.exception("unexpected error")
    request_id = app.current_event.request_context.request_id
    return error_response(500, "INTERNAL_ERROR", "internal error", request_id=request_id)


def watch_answer(outcome: watches.WatchOutcome) -> WatchAnswer:
    """The `WatchAnswer` of a `zoho_watch.watches.WatchOutcome`."""
    return WatchAnswer(
        watching=outcome.watching,
        already=outcome.already,
        mode=outcome.mode,
        message=outcome.message,
        execution_arn=outcome.execution_arn,
        execution_name=outcome.execution_name,
        deadline=outcome.deadline,
        state=JobState.model_validate(outcome.state) if outcome.state is not None else None,
    )


def _json(status: int, answer: BaseModel, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=answer.model_dump_json(),
        headers=headers,
    )


# ---- routes ---------------------------------------------------------------------------------------------


@app.get("/jobs", summary="List jobs", responses=ERROR_RESPONSES)
def list_jobs(
    status: Annotated[
        str | None, Query(pattern=STATUS_PATTERN, description="Only jobs in this status")
    ] = None,
    connection: ConnectionQuery = None,
    kind: Annotated[str | None, Query(pattern=KIND_PATTERN, description="Only jobs of this kind")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> JobPage:
    """Jobs zoho-watch knows, by status, connection, module and job id; follow `next_cursor` for more.

    A page filtered by connection alone, or by kind, may hold fewer than `limit` jobs while `next_cursor` is
    set.
    """
    items, next_cursor = get_services().store.list_jobs(
        status=status, connection=connection, kind=kind, limit=limit, cursor=cursor
    )
    return JobPage(items=[JobState.model_validate(item) for item in items], next_cursor=next_cursor)


def _job_key(connection: str | None, kind: str, module: str, job_id: str) -> JobKey:
    """The job a request names (the connection defaults to `default`); InvalidInput for a kind that does not
    exist in the module."""
    return JobKey.parse(connection or DEFAULT_CONNECTION, module, job_id, kind)


LiveQuery = Annotated[bool, Query(description="Check Zoho now instead of reading the stored state")]
WATCH_RESPONSES: dict[int, OpenAPIResponse] = {
    202: _answer("Watching", WatchAnswer),
    200: _answer("Already finished", WatchAnswer),
    409: _answer("Watched in the other mode", ErrorBody),
    **ERROR_RESPONSES,
}


# The mass update routes come first: Powertools tries routes in the order they are registered, and
# `/jobs/{module}/{job_id}/history` must not be read as a job of kind {module} in module {job_id}.
@app.get("/jobs/<module>/<job_id>", summary="Get a mass update job", responses=ERROR_RESPONSES)
def get_job(
    module: ModuleParam, job_id: JobIdParam, live: LiveQuery = False, connection: ConnectionQuery = None
) -> JobState:
    """A mass update's stored state, or with `live=true` the result of a check of Zoho made now."""
    return get_kind_job(DEFAULT_KIND, module, job_id, live, connection)


@app.get("/jobs/<module>/<job_id>/history", summary="Get a mass update's checks", responses=ERROR_RESPONSES)
def get_job_history(
    module: ModuleParam,
    job_id: JobIdParam,
    connection: ConnectionQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> HistoryPage:
    """A mass update's checks, newest first; follow `next_cursor` for more."""
    return get_kind_job_history(DEFAULT_KIND, module, job_id, connection, limit, cursor)


@app.put("/jobs/<module>/<job_id>/watch", summary="Watch a mass update job", responses=WATCH_RESPONSES)
def start_watch(
    module: ModuleParam,
    job_id: JobIdParam,
    request: Annotated[WatchRequest | None, Body(embed=False)] = None,
    connection: ConnectionQuery = None,
) -> Any:  # a Response with 200 or 202 (see `responses`); Powertools validates typed returns, errors too
    """Watch a mass update until it finishes: a Step Functions execution (default) or the scheduled sweep."""
    return start_kind_watch(DEFAULT_KIND, module, job_id, request, connection)


@app.delete("/jobs/<module>/<job_id>/watch", summary="Stop watching a mass update", responses=ERROR_RESPONSES)
def stop_watch(module: ModuleParam, job_id: JobIdParam, connection: ConnectionQuery = None) -> WatchAnswer:
    """Stop watching a mass update: stop its Step Functions execution, or take it out of the sweep."""
    return stop_kind_watch(DEFAULT_KIND, module, job_id, connection)


@app.get("/jobs/<kind>/<module>/<job_id>", summary="Get a job", responses=ERROR_RESPONSES)
def get_kind_job(
    kind: KindParam,
    module: ModuleParam,
    job_id: JobIdParam,
    live: LiveQuery = False,
    connection: ConnectionQuery = None,
) -> JobState:
    """The job's stored state, or with `live=true` the result of a check of Zoho made now."""
    job = _job_key(connection, kind, module, job_id)
    if live:
        from zoho_watch.check import check_job  # Zoho's client (requests) only for live checks

        metrics.add_metric(name="LiveChecks", unit=MetricUnit.Count, value=1)
        return JobState.model_validate(check_job(job))
    state = get_services().store.get(job)
    if state is None:
        raise JobNotRecorded(job)
    return JobState.model_validate(state)


@app.get("/jobs/<kind>/<module>/<job_id>/history", summary="Get a job's checks", responses=ERROR_RESPONSES)
def get_kind_job_history(
    kind: KindParam,
    module: ModuleParam,
    job_id: JobIdParam,
    connection: ConnectionQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> HistoryPage:
    """The job's checks, newest first; follow `next_cursor` for more."""
    items, next_cursor = get_services().store.history(
        _job_key(connection, kind, module, job_id), limit=limit, cursor=cursor
    )
    return HistoryPage(items=[HistoryItem.model_validate(item) for item in items], next_cursor=next_cursor)


@app.put("/jobs/<kind>/<module>/<job_id>/watch", summary="Watch a job", responses=WATCH_RESPONSES)
def start_kind_watch(
    kind: KindParam,
    module: ModuleParam,
    job_id: JobIdParam,
    request: Annotated[WatchRequest | None, Body(embed=False)] = None,
    connection: ConnectionQuery = None,
) -> Any:  # a Response with 200 or 202 (see `responses`)
    """Watch the job until it finishes: a Step Functions execution (default) or the scheduled sweep."""
    # Powertools takes a one-item JSON array for its item: the body must be an object (or absent).
    if isinstance(app.current_event.json_body, list):
        raise InvalidInput("the request body must be a JSON object")
    request = request or WatchRequest()
    job = _job_key(request.connection or connection, kind, module, job_id)
    from zoho_watch.watches import start_watch_with

    outcome = start_watch_with(job, request.options())
    if outcome.finished:
        return _json(200, watch_answer(outcome))
    if not outcome.already:
        metrics.add_metric(name="WatchesStarted", unit=MetricUnit.Count, value=1)
    return _json(202, watch_answer(outcome))


@app.delete("/jobs/<kind>/<module>/<job_id>/watch", summary="Stop watching a job", responses=ERROR_RESPONSES)
def stop_kind_watch(
    kind: KindParam, module: ModuleParam, job_id: JobIdParam, connection: ConnectionQuery = None
) -> WatchAnswer:
    """Stop watching the job: stop its Step Functions execution, or take it out of the sweep. Idempotent."""
    from zoho_watch.watches import stop_watch

    return watch_answer(stop_watch(_job_key(connection, kind, module, job_id)))


@app.post(
    "/mass-updates",
    summary="Submit a mass update and watch it",
    responses={
        202: _answer("Scheduled, and the job watched", MassUpdateAnswer),
        200: _answer("Records updated (ids)", MassUpdateAnswer),
        409: _answer("ALREADY_SCHEDULED (a job runs for this custom view), REQUEST_IN_PROGRESS", ErrorBody),
        422: _answer("IDEMPOTENCY_KEY_REUSED: the key was used for another request", ErrorBody),
        **ERROR_RESPONSES,
    },
)
def submit_mass_update(
    request: Annotated[MassUpdateRequest, Body(embed=False)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="A key of the caller's choice: a retried request with the same key gets the first"
            " answer back and never schedules twice (kept 24 hours, per connection)",
        ),
    ] = None,
) -> Any:  # a Response with 200 or 202 (see `responses`)
    """Schedule a mass update on Zoho with zoho-watch's own tokens (a custom view or a territory: a job, then
    watched like `PUT .../watch`), or update up to 500 records by id at once."""
    from zoho_watch.mass_updates import parse_mass_update
    from zoho_watch.submissions import submit_mass_update as submit

    update = parse_mass_update(request.model_dump(exclude={"watch"}, exclude_none=True))
    done = submit(
        update,
        request.watch.options() if request.watch else None,
        idempotency_key=idempotency_key,
        lambda_context=app.lambda_context,
    )
    records = [RecordAnswer.model_validate(record, from_attributes=True) for record in done.reply.records]
    answer = MassUpdateAnswer(
        connection=update.connection,
        module=update.module,
        job_id=done.reply.job_id,
        message=done.reply.message or (f"{len(records)} record(s) answered" if records else ""),
        watch=watch_answer(done.watch) if done.watch else None,
        records=records if not update.scheduled else None,
        replayed=done.replayed,
    )
    headers = {"Idempotent-Replayed": "true"} if done.replayed else {}
    if not done.replayed:
        metrics.add_metric(name="MassUpdatesSubmitted", unit=MetricUnit.Count, value=1)
    if done.reply.job_id is None:
        return _json(200, answer, headers)
    if not done.replayed and done.watch is not None and not done.watch.already:
        metrics.add_metric(name="WatchesStarted", unit=MetricUnit.Count, value=1)
    location = f"/jobs/{update.module}/{done.reply.job_id}"
    if update.connection != DEFAULT_CONNECTION:
        location += f"?connection={update.connection}"
    return _json(202, answer, headers | {"Location": location})


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Any:
    """The OpenAPI document of this API."""
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json())


def openapi_json() -> str:
    """The OpenAPI document, generated from the routes (docs/openapi.json is a copy a test keeps current)."""
    return app.get_openapi_json_schema(
        title=API_TITLE,
        version=API_VERSION,
        description=API_DESCRIPTION,
        servers=api_servers(),
        security_schemes=api_security_schemes(),
        security=[{"sigv4": []}, {"api_key": []}],
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway REST proxy entry point."""
    return app.resolve(event, context)
