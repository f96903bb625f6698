"""HTTP routes of Zoho CRM's mass actions: mass update (schedule, status, every documented error), the other
mass actions and tag deletion (`fake_zoho.creation`, `fake_zoho.status`), and INVALID_URL_PATTERN for every
other CRM path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from .accounts import IssuedToken
from .creation import MAX_IDS, each_record, schedule
from .gate import DIGITS, body_field, check_access, check_module, endpoint, zoho_time
from .kinds import MASS_UPDATE, ORG_MODULE, kind_of_action
from .metadata import CURRENT_USER
from .replies import empty_reply, json_reply, zoho_error
from .scopes import family
from .status import job_status

if TYPE_CHECKING:
    from .emulator import FakeZoho

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def crm_blueprint(zoho: FakeZoho) -> Blueprint:
    """``/crm/{version}/{module}/actions/{mass_update|mass_convert|mass_delete|mass_change_owner}`` and
    ``/crm/{version}/settings/tags/actions/mass_delete`` (GET status, POST schedule), and INVALID_URL_PATTERN
    for every other CRM path."""
    blueprint = Blueprint("zoho_crm", __name__)

    @blueprint.route("/crm/<version>/<module>/actions/mass_update", methods=METHODS)
    def mass_update(version: str, module: str) -> Response:
        return endpoint(zoho, version, lambda token: _authorised(zoho, module, token))

    @blueprint.route("/crm/<version>/<module>/actions/<action>", methods=METHODS)
    def mass_action(version: str, module: str, action: str) -> Response:
        kind = kind_of_action(action, module)
        if kind is None:
            return zoho.serve("crm", lambda: zoho_error("INVALID_URL_PATTERN"))
        return endpoint(zoho, version, lambda token: _action(zoho, token, kind, module, version))

    @blueprint.route("/crm/<version>/settings/tags/actions/mass_delete", methods=METHODS)
    def mass_delete_tags(version: str) -> Response:
        return endpoint(
            zoho, version, lambda token: _action(zoho, token, "mass_delete_tags", ORG_MODULE, version)
        )

    @blueprint.route("/crm/", methods=METHODS)
    @blueprint.route("/crm/<path:rest>", methods=METHODS)
    def other(rest: str = "") -> Response:
        return zoho.serve("crm", lambda: zoho_error("INVALID_URL_PATTERN"))

    @blueprint.app_errorhandler(404)
    def not_found(_error: Exception) -> Response:
        return zoho.serve("crm", lambda: zoho_error("INVALID_URL_PATTERN"))

    return blueprint


def _action(zoho: FakeZoho, token: IssuedToken, kind: str, module: str, version: str) -> tuple[Response, str]:
    """Another mass action's status call (GET) or creation call (POST)."""
    if request.method == "GET":
        return job_status(zoho, token, kind, module, request.args.get("job_id"), version)
    return schedule(zoho, token, kind, module)


def _authorised(zoho: FakeZoho, module: str, token: IssuedToken) -> tuple[Response, str]:
    """Mass update's own checks: the module, then READ (status) or UPDATE (schedule) scope and permission."""
    check_module(zoho, module)
    operation = "read" if request.method == "GET" else "update"
    check_access(zoho, token, (family("mass_update", operation, module=module),), f"{operation} records")
    return _status(zoho, module) if operation == "read" else _create(zoho, module)


def _status(zoho: FakeZoho, module: str) -> tuple[Response, str]:
    job_id = request.args.get("job_id")
    if job_id is None or not job_id.strip():
        return zoho_error("MANDATORY_NOT_FOUND")
    job = zoho.jobs.find(module, job_id, MASS_UPDATE) if DIGITS.match(job_id) else None
    if job is None:
        mode = zoho.config.not_found_mode
        if mode == "invalid_data":
            return zoho_error("INVALID_DATA")
        if mode == "json":
            return zoho_error("NOT_FOUND")
        return empty_reply(404), "NOT_FOUND"
    body = job.body(zoho.clock.now())
    return json_reply({"data": [body]}), body["Status"]


def _create(zoho: FakeZoho, module: str) -> tuple[Response, str]:
    # Zoho reads the body as JSON whatever the Content-Type (its own Python SDK sends none).
    payload = request.get_json(silent=True, force=True)
    if not isinstance(payload, dict):
        return zoho_error("INVALID_DATA", "invalid data", {})
    data = payload.get("data")
    if not isinstance(data, list) or not data or not all(isinstance(item, dict) and item for item in data):
        return zoho_error("MANDATORY_NOT_FOUND", "required field not found", body_field("data"))
    if "ids" in payload:
        return _update_ids(zoho, payload["ids"])
    territory = payload.get("territory")
    cvid = payload.get("cvid")
    if cvid is None and isinstance(territory, dict) and territory.get("id"):
        cvid = f"territory:{territory['id']}"
    elif cvid is None:
        return zoho_error("MANDATORY_NOT_FOUND", "required field not found", body_field("cvid"))
    elif not isinstance(cvid, str | int) or not DIGITS.match(str(cvid)):
        return zoho_error("INVALID_DATA", "invalid data", body_field("cvid"))
    cvid = str(cvid)
    busy = zoho.jobs.busy_with_cvid(module, cvid)
    if busy is not None:
        # The v8 specification's message and details (no job id); HTTP 202 as Zoho's docs say.
        item = {
            "code": "ALREADY_SCHEDULED",
            "details": {},
            "message": "Already a Mass Action scheduler is running for the given cvid",
            "status": "error",
        }
        return json_reply({"data": [item]}, 202), "ALREADY_SCHEDULED"
    total, profile = zoho.job_plan(MASS_UPDATE, module, cvid.removeprefix("territory:"))
    job = zoho.jobs.create(module, total, profile, cvid)
    item = {
        "code": "SUCCESS",
        "details": {"job_id": job.job_id},
        "message": "mass update scheduled successfully",
        "status": "success",
    }
    return json_reply({"data": [item]}), "SCHEDULED"


def _update_ids(zoho: FakeZoho, ids: Any) -> tuple[Response, str]:
    """The non-scheduler mode: records given by id are updated at once; no job."""
    if not isinstance(ids, list) or not ids:
        return zoho_error("MANDATORY_NOT_FOUND", "required field not found", body_field("ids"))
    if len(ids) > MAX_IDS:
        return zoho_error("INVALID_DATA", "Record count exceeded", {**body_field("ids"), "limit": MAX_IDS})
    now = zoho_time(zoho.clock.now())

    def updated(record_id: str) -> dict[str, Any]:
        return {
            "Modified_Time": now,
            "Modified_By": dict(CURRENT_USER),
            "Created_Time": now,
            "Created_By": dict(CURRENT_USER),
            "id": record_id,
        }

    return json_reply({"data": each_record(ids, "record updated", updated)}), "UPDATED"
