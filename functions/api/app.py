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
with a 4xx before any call to Zoho or AWS. What each route takes and answers is declared in `api_models.py`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from api_models import (  # a module of this function's code, beside this one (Lambda's /var/task)
    API_DESCRIPTION,
    API_TITLE,
    API_VERSION,
    ERROR_RESPONSES,
    STATUS_PATTERN,
    SUBMIT_RESPONSES,
    WATCH_RESPONSES,
    ConnectionQuery,
    CursorQuery,
    HistoryItem,
    HistoryPage,
    JobIdParam,
    JobPage,
    JobState,
    KindParam,
    LimitQuery,
    LiveQuery,
    MassUpdateAnswer,
    MassUpdateRequest,
    ModuleParam,
    RecordAnswer,
    WatchAnswer,
    WatchRequest,
    api_security_schemes,
    api_servers,
    watch_answer,
)
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel
from zoho_watch.aws_errors import classify
from zoho_watch.errors import (
    InvalidInput,
    JobAlreadyScheduled,
    JobNotRecorded,
    ZohoRateLimited,
    ZohoWatchError,
)
from zoho_watch.job_kinds import KIND_PATTERN
from zoho_watch.jobs import DEFAULT_CONNECTION, DEFAULT_KIND, JobKey
from zoho_watch.services import get_services

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)


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
    responses=SUBMIT_RESPONSES,
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
