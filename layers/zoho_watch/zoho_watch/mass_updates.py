"""A mass update to submit to Zoho: the request, checked before anything leaves the process, the body Zoho
takes, and Zoho's reply, parsed strictly.

`POST /crm/{version}/{module}/actions/mass_update` takes `data` (one object: field API name to value) and
the records to update: a custom view (`cvid`) or a territory, which Zoho runs as a background job of up to
50,000 records (the reply names the job), or up to 500 record `ids`, updated at once (the reply gives each
record's result, and there is no job). `over_write` is passed on as given. When a job already runs for that
custom view, Zoho answers `ALREADY_SCHEDULED` (HTTP 202) and schedules nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from zoho_watch.errors import InvalidInput, JobAlreadyScheduled, ZohoUnavailable, ZohoWatchError
from zoho_watch.jobs import (
    DEFAULT_CONNECTION,
    JOB_ID_PATTERN,
    MODULE_PATTERN,
    JobKey,
    validate_connection,
    validate_module,
)
from zoho_watch.zoho_errors import error_from_reply

# At most this many records by id in one request (Zoho's limit for the update that runs at once).
MAX_IDS = 500
# Field API names are spelled like module names (letters, digits, underscores); custom view, territory and
# record ids like job ids (digits).
FIELD_PATTERN = MODULE_PATTERN
ID_PATTERN = JOB_ID_PATTERN
ALREADY_SCHEDULED = "ALREADY_SCHEDULED"

REQUEST_FIELDS = frozenset({"connection", "module", "data", "cvid", "territory", "ids", "over_write"})


@dataclass(frozen=True)
class Territory:
    """A territory to update the records of, with or without its child territories."""

    id: str
    include_child: bool = False


@dataclass(frozen=True)
class MassUpdate:
    """One mass update, checked: `fields` set on the records of exactly one of `cvid`, `territory`, `ids`."""

    connection: str
    module: str
    fields: Mapping[str, Any]
    cvid: str | None = None
    territory: Territory | None = None
    ids: tuple[str, ...] | None = None
    over_write: bool | None = None

    def __post_init__(self) -> None:
        validate_connection(self.connection)
        validate_module(self.module)
        if not isinstance(self.fields, Mapping) or not self.fields:
            raise InvalidInput("data must hold one object of field API names and their values")
        for name in self.fields:
            if not isinstance(name, str) or not re.fullmatch(FIELD_PATTERN, name):
                raise InvalidInput(f"invalid field API name {str(name)[:40]!r}: letters, digits and _")
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        chosen = [name for name in ("cvid", "territory", "ids") if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise InvalidInput("give exactly one of cvid, territory and ids: the records to update")
        if self.cvid is not None:
            _check_id("cvid", self.cvid)
        if self.territory is not None:
            _check_id("territory.id", self.territory.id)
        if self.ids is not None:
            if not 1 <= len(self.ids) <= MAX_IDS:
                raise InvalidInput(f"ids must hold 1 to {MAX_IDS} record ids")
            for record_id in self.ids:
                _check_id("ids", record_id)
            if len(set(self.ids)) != len(self.ids):
                raise InvalidInput("ids must not repeat a record id")

    @property
    def scheduled(self) -> bool:
        """True when Zoho runs this update as a background job (a custom view or a territory)."""
        return self.ids is None

    def zoho_body(self) -> dict[str, Any]:
        """The JSON body of Zoho's mass update call."""
        body: dict[str, Any] = {"data": [dict(self.fields)]}
        if self.cvid is not None:
            body["cvid"] = self.cvid
        if self.territory is not None:
            body["territory"] = {"id": self.territory.id, "include_child": self.territory.include_child}
        if self.ids is not None:
            body["ids"] = list(self.ids)
        if self.over_write is not None:
            body["over_write"] = self.over_write
        return body

    def to_dict(self) -> dict[str, Any]:
        """The request as JSON (what `parse_mass_update` takes back)."""
        return {"connection": self.connection, "module": self.module, **self.zoho_body()}


def _check_id(name: str, value: Any) -> None:
    if not isinstance(value, str) or not re.fullmatch(ID_PATTERN, value):
        raise InvalidInput(f"{name} must be a string of digits")


def parse_mass_update(payload: Any) -> MassUpdate:
    """The `MassUpdate` a JSON request asks for (the fields of `REQUEST_FIELDS`), else InvalidInput.

    `data` is Zoho's own shape, a list holding one object; ids may be given as numbers or strings.
    """
    if not isinstance(payload, dict):
        raise InvalidInput("a mass update request is a JSON object")
    unknown = sorted(str(name)[:40] for name in set(payload) - REQUEST_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown fields in the mass update request: {', '.join(unknown)}")
    data = payload.get("data")
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
        raise InvalidInput("data must be a list holding one object of field API names and their values")
    connection = payload.get("connection") or DEFAULT_CONNECTION
    if not isinstance(connection, str) or not isinstance(payload.get("module"), str):
        raise InvalidInput("module (and connection, when given) must be strings")
    over_write = payload.get("over_write")
    if over_write is not None and not isinstance(over_write, bool):
        raise InvalidInput("over_write must be true or false")
    return MassUpdate(
        connection,
        payload["module"],
        data[0],
        cvid=_id_text(payload.get("cvid")),
        territory=_territory(payload.get("territory")),
        ids=_ids(payload.get("ids")),
        over_write=over_write,
    )


def _id_text(value: Any) -> str | None:
    """An id given as a string or a whole number, as text (None stays None; anything else is refused
    later by the request's checks)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return value


def _territory(value: Any) -> Territory | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"id", "include_child"} or "id" not in value:
        raise InvalidInput("territory must be an object with id and, optionally, include_child")
    include_child = value.get("include_child", False)
    if not isinstance(include_child, bool):
        raise InvalidInput("territory.include_child must be true or false")
    return Territory(_id_text(value["id"]), include_child)  # type: ignore[arg-type]


def _ids(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput(f"ids must be a list of 1 to {MAX_IDS} record ids")
    return tuple(_id_text(item) for item in value)  # type: ignore[misc]


# ---- Zoho's reply ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordResult:
    """Zoho's result for one record of an update by ids."""

    id: str
    status: str  # "success" or "error"
    code: str
    message: str


@dataclass(frozen=True)
class MassUpdateReply:
    """What Zoho did: scheduled a job (`job_id`), or updated records at once (`records`)."""

    job_id: str | None = None
    records: tuple[RecordResult, ...] = ()
    message: str = ""


def parse_mass_update_reply(
    update: MassUpdate, status: int, body: Any, headers: Any = None
) -> MassUpdateReply:
    """Parse Zoho's reply to `update`: a `MassUpdateReply`, else raise its typed error
    (`JobAlreadyScheduled` for ALREADY_SCHEDULED)."""
    items = body.get("data") if isinstance(body, dict) and set(body) == {"data"} else None
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        if 200 <= status < 300:
            raise ZohoUnavailable('Zoho\'s mass update reply is not {"data": [...]}', zoho_http_status=status)
        raise (_item_error if isinstance(body, dict) else error_from_reply)(status, body, headers)
    if update.scheduled:
        return _scheduled(status, items, headers)
    if status not in (200, 207):
        raise _item_error(status, items[0], headers)
    return MassUpdateReply(records=tuple(_record(status, item) for item in items))


def _scheduled(status: int, items: list[dict[str, Any]], headers: Any) -> MassUpdateReply:
    if len(items) != 1:
        raise ZohoUnavailable("Zoho's mass update reply must hold one item", zoho_http_status=status)
    item = items[0]
    if item.get("code") == ALREADY_SCHEDULED:
        details = _details(item)
        running = details.get("job_id")
        running = running if isinstance(running, str) and re.fullmatch(JOB_ID_PATTERN, running) else None
        named = f" (job {running})" if running else ""
        raise JobAlreadyScheduled(
            f"Zoho already runs a mass update for this custom view{named}: wait for it to end, then submit"
            " again",
            running_job_id=running,
            zoho_http_status=status,
        )
    if status != 200 or item.get("status") != "success":
        raise _item_error(status, item, headers)
    job_id = _details(item).get("job_id")
    if not isinstance(job_id, str) or not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise ZohoUnavailable(
            "Zoho scheduled the mass update without a valid job_id", zoho_http_status=status
        )
    return MassUpdateReply(job_id=job_id, message=str(item.get("message") or ""))


def _details(item: dict[str, Any]) -> dict[str, Any]:
    """An item's `details` object ({} when it has none)."""
    details = item.get("details")
    return details if isinstance(details, dict) else {}


def _item_error(status: int, item: dict[str, Any], headers: Any) -> ZohoWatchError:
    """The typed error of an error item, with the field Zoho names (its `details.api_name`) in the message."""
    error = error_from_reply(status, item, headers)
    details = _details(item)
    where = details.get("json_path") or details.get("api_name")
    if isinstance(where, str) and where:
        error.message = f"{error.message} (at {where[:80]})"
        error.args = (error.message,)
    return error


def _record(status: int, item: dict[str, Any]) -> RecordResult:
    details = _details(item)
    record_id, outcome, code = details.get("id"), item.get("status"), item.get("code")
    if not isinstance(record_id, str) or outcome not in ("success", "error") or not isinstance(code, str):
        raise ZohoUnavailable(
            "Zoho's result for a record lacks its id, status or code", zoho_http_status=status
        )
    message = item.get("message")
    message = message if isinstance(message, str) else ""
    return RecordResult(record_id[:30], outcome, code[:64], message[:200])


def job_of(update: MassUpdate, reply: MassUpdateReply) -> JobKey:
    """The job Zoho scheduled for `update`."""
    if reply.job_id is None:
        raise InvalidInput("an update by ids runs at once: it has no job")
    return JobKey(update.connection, update.module, reply.job_id)
