"""Scheduling the mass actions other than mass update: mass convert (Leads; Quotes and Sales_Orders), mass
delete, mass change owner and mass delete tags, each with the body checks, limits, reply and HTTP status of
Zoho's v8 specification and docs.

Ids give a job of that many records (mass delete by ids runs at once, no job, as mass update by ids does); a
cvid or territory gives a job over the view's records (``FakeZoho.define_view``); tags give one of that many.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from .accounts import IssuedToken
from .gate import (
    Reply,
    body_field,
    check_access,
    check_module,
    enveloped,
    invalid,
    is_digits,
    json_body,
    mandatory,
    refuse,
)
from .kinds import ORG_MODULE
from .metadata import canonical_module
from .replies import json_reply
from .scopes import create_need

if TYPE_CHECKING:
    from .emulator import FakeZoho

MAX_CONVERT_IDS = 50
MAX_IDS = 500
MAX_TAGS = 200
# Where each inventory module's records may be converted to.
CONVERT_TARGETS = {"quotes": ("Sales_Orders", "Invoices"), "sales_orders": ("Invoices",)}
CONVERT_MESSAGE = "Mass Convert scheduled successfully"
VERBS = {
    "mass_convert": "convert records",
    "inventory_mass_convert": "convert records",
    "mass_delete": "delete records",
    "mass_change_owner": "update records",
    "mass_delete_tags": "delete tags",
}


def each_record(
    ids: list[Any], message: str, details: Callable[[str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """One result per id of a mass action by ids (done at once, no job): SUCCESS, or INVALID_DATA for an id
    that is not one."""
    results = []
    for record_id in ids:
        if is_digits(record_id):
            item = {
                "code": "SUCCESS",
                "details": details(str(record_id)),
                "message": message,
                "status": "success",
            }
        else:
            item = {
                "code": "INVALID_DATA",
                "details": {"id": str(record_id)},
                "message": "the id given seems to be invalid",
                "status": "error",
            }
        results.append(item)
    return results


def _ids(payload: dict[str, Any], limit: int, over: Callable[[], None]) -> list[str]:
    """The body's record ids: present, at most ``limit`` (else ``over()`` refuses), each a Zoho id."""
    ids = payload.get("ids")
    if not isinstance(ids, list) or not ids:
        mandatory("ids")
    if len(ids) > limit:
        over()
    for index, record_id in enumerate(ids):
        if not is_digits(record_id):
            invalid(f"ids[{index}]", "ids")
    return [str(record_id) for record_id in ids]


def _scheduled(reply: dict[str, Any], status: int = 200) -> Reply:
    return json_reply(reply, status), "SCHEDULED"


def _convert_leads(zoho: FakeZoho, module: str, payload: dict[str, Any]) -> Reply:
    """Mass convert Leads: at most 50 ids (the docs); 200 SCHEDULED, flat (the v8 specification)."""

    def over() -> None:
        # The Leads specification lists no LIMIT_EXCEEDED: the limit is told as mass update tells its own.
        invalid("ids", message="Record count exceeded", limit=MAX_CONVERT_IDS)

    ids = _ids(payload, MAX_CONVERT_IDS, over)
    assign_to = payload.get("assign_to")
    if assign_to is not None and not (isinstance(assign_to, dict) and is_digits(assign_to.get("id"))):
        invalid("assign_to.id")
    _, profile = zoho.job_plan("mass_convert", module)
    job = zoho.jobs.create(module, len(ids), profile, None, "mass_convert", {"ids": ids})
    return _scheduled({"code": "SCHEDULED", "details": {"job_id": job.job_id}, "message": CONVERT_MESSAGE,
                       "status": "success"})  # fmt: skip


def _convert_inventory(zoho: FakeZoho, module: str, payload: dict[str, Any]) -> Reply:
    """Mass convert Quotes or Sales_Orders: convert_to and at most 50 ids; 202 SCHEDULED."""
    convert_to = payload.get("convert_to")
    if not isinstance(convert_to, list) or not convert_to:
        mandatory("convert_to")
    targets = CONVERT_TARGETS[module.lower()]
    for index, target in enumerate(convert_to):
        named = target.get("module") if isinstance(target, dict) else None
        if not isinstance(named, dict) or not named.get("api_name"):
            mandatory(f"convert_to[{index}].module", "module")
        if canonical_module(str(named["api_name"])) not in targets:
            invalid(f"convert_to[{index}].module.api_name", supported_values=list(targets))

    def over() -> None:
        refuse("LIMIT_EXCEEDED", details={"limit": MAX_CONVERT_IDS, "limit_due_to": [body_field("ids")]})

    ids = _ids(payload, MAX_CONVERT_IDS, over)
    _, profile = zoho.job_plan("inventory_mass_convert", module)
    job = zoho.jobs.create(module, len(ids), profile, None, "inventory_mass_convert", {"ids": ids})
    return _scheduled({"code": "SCHEDULED", "details": {"job_id": job.job_id}, "message": CONVERT_MESSAGE,
                       "status": "success"}, 202)  # fmt: skip


def _view(payload: dict[str, Any]) -> tuple[str, str]:
    """(the job's cvid, the view's id) of a body naming a cvid or a territory; refused without either."""
    cvid = payload.get("cvid")
    territory = payload.get("territory")
    if cvid is None and isinstance(territory, dict) and is_digits(territory.get("id")):
        return f"territory:{territory['id']}", str(territory["id"])
    if cvid is None:
        refuse(
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "cvid", "expected_data_type": "string"},
        )
    if not is_digits(cvid):
        refuse("INVALID_DATA", "the cvid given seems to be invalid", body_field("cvid"))
    return str(cvid), str(cvid)


def _mass_delete(zoho: FakeZoho, module: str, payload: dict[str, Any]) -> Reply:
    """Mass delete: by ids (at most 500) at once, or a job over a cvid or territory; 200 SUCCESS."""
    if "ids" in payload:
        ids = payload["ids"]
        if not isinstance(ids, list) or not ids:
            mandatory("ids")
        if len(ids) > MAX_IDS:
            invalid("ids", message="Record count exceeded", limit=MAX_IDS)
        return json_reply({"data": each_record(ids, "record is deleted", lambda rid: {"id": rid})}), "DELETED"
    cvid, view = _view(payload)
    total, profile = zoho.job_plan("mass_delete", module, view)
    job = zoho.jobs.create(module, total, profile, cvid, "mass_delete")
    item = {"code": "SUCCESS", "details": {"id": view, "job_id": job.job_id},
            "message": "mass delete scheduled successfully", "status": "success"}  # fmt: skip
    return _scheduled({"data": [item]})


def _change_owner(zoho: FakeZoho, module: str, payload: dict[str, Any]) -> Reply:
    """Mass change owner: a cvid and the new owner's id; 200 SUCCESS."""
    cvid, view = _view(payload)
    owner = payload.get("owner")
    if not isinstance(owner, dict) or owner.get("id") is None:
        refuse(
            "MANDATORY_NOT_FOUND",
            "required field not found",
            {"api_name": "Owner", "expected_data_type": "jsonobject"},
        )
    if not is_digits(owner["id"]):
        invalid("owner.id")
    total, profile = zoho.job_plan("mass_change_owner", module, view)
    job = zoho.jobs.create(module, total, profile, cvid, "mass_change_owner", {"owner": str(owner["id"])})
    item = {"code": "SUCCESS", "details": {"id": view, "job_id": job.job_id},
            "message": "owner is successfully updated", "status": "success"}  # fmt: skip
    return _scheduled({"data": [item]})


def _delete_tags(zoho: FakeZoho, payload: dict[str, Any]) -> Reply:
    """Mass delete tags: one module per call, at most 200 tags; 202 SCHEDULED."""
    items = payload.get("mass_delete")
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        mandatory("mass_delete")
    if len(items) > 1:
        refuse("NOT_ALLOWED", "tags of one module can be deleted per call", body_field("mass_delete"))
    module = items[0].get("module")
    if not isinstance(module, dict) or not (module.get("api_name") or module.get("id")):
        mandatory("mass_delete[0].module", "module")
    if module.get("api_name") and zoho.config.module_verdict(str(module["api_name"])) != "ok":
        invalid("mass_delete[0].module.api_name")
    if not module.get("api_name") and not is_digits(module["id"]):
        invalid("mass_delete[0].module.id")
    tags = items[0].get("tags")
    if not isinstance(tags, list) or not tags:
        mandatory("mass_delete[0].tags")
    if len(tags) > MAX_TAGS:
        refuse(
            "INVALID_DATA", "invalid data", {**body_field("mass_delete[0].tags"), "maximum_length": MAX_TAGS}
        )
    for index, tag in enumerate(tags):
        if not isinstance(tag, dict) or not is_digits(tag.get("id")):
            invalid(f"mass_delete[0].tags[{index}].id")
    _, profile = zoho.job_plan("mass_delete_tags")
    details = {"module": module.get("api_name") or module.get("id")}
    job = zoho.jobs.create(ORG_MODULE, len(tags), profile, None, "mass_delete_tags", details)
    return _scheduled({"code": "SCHEDULED", "details": {"job_id": job.job_id},
                       "message": "tags scheduled successfully", "status": "success"}, 202)  # fmt: skip


CREATORS: dict[str, Callable[[FakeZoho, str, dict[str, Any]], Reply]] = {
    "mass_convert": _convert_leads,
    "inventory_mass_convert": _convert_inventory,
    "mass_delete": _mass_delete,
    "mass_change_owner": _change_owner,
    "mass_delete_tags": lambda zoho, module, payload: _delete_tags(zoho, payload),
}


def schedule(zoho: FakeZoho, token: IssuedToken, kind: str, module: str) -> Reply:
    """A mass action's creation call in Zoho's order: its module, its scopes, the user, then the body."""
    # Mass delete's specification wraps its body errors (INVALID_MODULE included) in data[].
    wrapper: AbstractContextManager[None] = enveloped("data") if kind == "mass_delete" else nullcontext()
    with wrapper:
        if module != ORG_MODULE:
            check_module(zoho, module)
        if kind == "mass_convert" and module.lower() != "leads":
            refuse("INVALID_MODULE")
        check_access(zoho, token, create_need(kind, None if module == ORG_MODULE else module), VERBS[kind])
        payload = json_body()
        if not isinstance(payload, dict):
            refuse("INVALID_DATA", "invalid data", {})
        return CREATORS[kind](zoho, canonical_module(module), payload)
