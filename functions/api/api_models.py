"""The API's declarations: what each route takes and answers, and the OpenAPI document's own parts.

Path and query parameters (their patterns are the library's, checked at the edge so bad input never reaches
Zoho), the request and answer models (pydantic, built when a route first needs them), the answers each route
documents, and the document's servers and security schemes. `app.py` declares its routes with them; Powertools
validates each request and answer against them and derives the OpenAPI document from the same declarations.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from zoho_watch.job_kinds import KIND_PATTERN, ORG_MODULE
from zoho_watch.jobs import CONNECTION_PATTERN, DEFAULT_KIND, JOB_ID_PATTERN, MODULE_PATTERN
from zoho_watch.mass_updates import ID_PATTERN, MAX_IDS
from zoho_watch.waiters import MAX_HEARTBEAT_SECONDS, MAX_TASK_TOKEN_LENGTH, MIN_HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme, Server
    from zoho_watch import watches

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
LiveQuery = Annotated[bool, Query(description="Check Zoho now instead of reading the stored state")]


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


def json_answer(description: str, model: type[BaseModel]) -> OpenAPIResponse:
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


WATCH_RESPONSES: dict[int, OpenAPIResponse] = {
    202: json_answer("Watching", WatchAnswer),
    200: json_answer("Already finished", WatchAnswer),
    409: json_answer("Watched in the other mode", ErrorBody),
    **ERROR_RESPONSES,
}

SUBMIT_RESPONSES: dict[int, OpenAPIResponse] = {
    202: json_answer("Scheduled, and the job watched", MassUpdateAnswer),
    200: json_answer("Records updated (ids)", MassUpdateAnswer),
    409: json_answer("ALREADY_SCHEDULED (a job runs for this custom view), REQUEST_IN_PROGRESS", ErrorBody),
    422: json_answer("IDEMPOTENCY_KEY_REUSED: the key was used for another request", ErrorBody),
    **ERROR_RESPONSES,
}


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
