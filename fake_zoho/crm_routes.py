"""HTTP routes of Zoho CRM: schedule a mass update and read its status, with every documented error."""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from .accounts import IssuedToken, has_scope
from .config import API_VERSIONS
from .errors import UNSUPPORTED_MODULE_MESSAGE
from .kinds import MASS_UPDATE, kind_of_action, shapes
from .metadata import CURRENT_USER
from .replies import empty_reply, fault_reply, json_reply, zoho_error

if TYPE_CHECKING:
    from .emulator import FakeZoho

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
MAX_IDS = 500
DIGITS = re.compile(r"^[0-9]+$")


def crm_blueprint(zoho: FakeZoho) -> Blueprint:
    """``/crm/{version}/{module}/actions/mass_update`` (GET status, POST schedule) and INVALID_URL_PATTERN
    for every other CRM path."""
    blueprint = Blueprint("zoho_crm", __name__)

    @blueprint.route("/crm/<version>/<module>/actions/mass_update", methods=METHODS)
    def mass_update(version: str, module: str) -> Response:
        route = {"GET": "status", "POST": "create"}.get(request.method, "crm")
        return zoho.serve(route, lambda: _mass_update(zoho, route, version, module))

    @blueprint.route("/crm/<version>/<module>/actions/<action>", methods=METHODS)
    def mass_action(version: str, module: str, action: str) -> Response:
        kind = kind_of_action(action, module)
        if kind is None:
            return zoho.serve("crm", lambda: zoho_error("INVALID_URL_PATTERN"))
        route = "status" if request.method == "GET" else "crm"
        return zoho.serve(route, lambda: _mass_update(zoho, route, version, module, kind))

    @blueprint.route("/crm/<version>/settings/tags/actions/mass_delete", methods=METHODS)
    def mass_delete_tags(version: str) -> Response:
        route = "status" if request.method == "GET" else "crm"
        return zoho.serve(route, lambda: _mass_update(zoho, route, version, ORG_MODULE, "mass_delete_tags"))

    @blueprint.route("/crm/", methods=METHODS)
    @blueprint.route("/crm/<path:rest>", methods=METHODS)
    def other(rest: str = "") -> Response:
        return zoho.serve("crm", lambda: zoho_error("INVALID_URL_PATTERN"))

    @blueprint.app_errorhandler(404)
    def not_found(_error: Exception) -> Response:
        return zoho.serve("crm", lambda: zoho_error("INVALID_URL_PATTERN"))

    return blueprint


# The module of a kind whose path names none (tags): the organisation.
ORG_MODULE = "org"


def _mass_update(
    zoho: FakeZoho, route: str, version: str, module: str, kind: str = MASS_UPDATE
) -> tuple[Response, str]:
    """Checks in Zoho's order: URL, method, token, concurrency, (latency, fault), module, scope, user."""
    if version not in API_VERSIONS:
        return zoho_error("INVALID_URL_PATTERN")
    if route == "crm":
        return zoho_error("INVALID_REQUEST_METHOD")
    token, problem = zoho.accounts.authenticate(request.headers.get("Authorization"))
    if token is None:
        return zoho_error(problem or "INVALID_TOKEN")
    if not zoho.tallies.try_enter_org(token.org_id, zoho.config.concurrency_limit):
        return zoho_error("TOO_MANY_REQUESTS")
    try:
        zoho.sleep(zoho.latency)
        fault = zoho.faults.pick(route)
        if fault == "timeout":
            # Hold the reply past the client's read time-out, then answer normally (a slow Zoho).
            zoho.sleep(zoho.config.fault_timeout_seconds)
        elif fault is not None:
            return fault_reply(fault, zoho.config.retry_after_seconds)
        if kind != MASS_UPDATE:
            return _kind_authorised(zoho, kind, module, token)
        return _authorised(zoho, route, module, token)
    finally:
        zoho.tallies.leave_org(token.org_id)


def _authorised(zoho: FakeZoho, route: str, module: str, token: IssuedToken) -> tuple[Response, str]:
    verdict = zoho.config.module_verdict(module)
    if verdict == "unsupported":
        return zoho_error("INVALID_MODULE", UNSUPPORTED_MODULE_MESSAGE)
    if verdict != "ok":
        return zoho_error("INVALID_MODULE")
    operation = "READ" if route == "status" else "UPDATE"
    if not has_scope(token.scopes, module, operation):
        return zoho_error("OAUTH_SCOPE_MISMATCH")
    permission = zoho.accounts.permission_of(token)
    verb = "read" if operation == "READ" else "update"
    if permission == "no_permission":
        return zoho_error("NO_PERMISSION", f"Permission denied to {verb} records")
    if permission == "authorization_failed":
        return zoho_error(
            "AUTHORIZATION_FAILED", f"User does not have sufficient privilege to {verb} records"
        )
    if route == "status":
        return _status(zoho, module)
    return _create(zoho, module)


def _kind_authorised(zoho: FakeZoho, kind: str, module: str, token: IssuedToken) -> tuple[Response, str]:
    """The status call of another kind: its module, its scopes, the user, then the job in its own words."""
    if module != ORG_MODULE and zoho.config.module_verdict(module) != "ok":
        return zoho_error("INVALID_MODULE")
    if kind == "mass_convert" and module.lower() != "leads":
        return zoho_error("INVALID_MODULE")
    shape = shapes(zoho.config.inventory_reply_shape)[kind]
    if not {scope.strip().lower() for scope in token.scopes} & shape.scopes(module):
        return zoho_error("OAUTH_SCOPE_MISMATCH")
    if zoho.accounts.permission_of(token) != "ok":
        return zoho_error("NO_PERMISSION", "Permission denied to read records")
    job_id = request.args.get("job_id")
    if job_id is None or not job_id.strip():
        return zoho_error("REQUIRED_PARAM_MISSING", details={"param_name": "job_id"})
    job = zoho.jobs.find(module, job_id, kind) if DIGITS.match(job_id) else None
    if job is None:
        if shape.not_found == "no_content":
            return empty_reply(204), "NO_CONTENT"
        return zoho_error("INVALID_DATA")
    body = job.body(zoho.clock.now())
    return json_reply(shape.reply(body, job.job_id)), body["Status"]


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
        return zoho_error("MANDATORY_NOT_FOUND", "required field not found", _body_field("data"))
    if "ids" in payload:
        return _update_ids(zoho, payload["ids"])
    territory = payload.get("territory")
    cvid = payload.get("cvid")
    if cvid is None and isinstance(territory, dict) and territory.get("id"):
        cvid = f"territory:{territory['id']}"
    elif cvid is None:
        return zoho_error("MANDATORY_NOT_FOUND", "required field not found", _body_field("cvid"))
    elif not isinstance(cvid, str | int) or not DIGITS.match(str(cvid)):
        return zoho_error("INVALID_DATA", "invalid data", _body_field("cvid"))
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
    total, profile = zoho.view(module, cvid.removeprefix("territory:"))
    job = zoho.jobs.create(module, total, profile, cvid)
    item = {
        "code": "SUCCESS",
        "details": {"job_id": job.job_id},
        "message": "mass update scheduled successfully",
        "status": "success",
    }
    return json_reply({"data": [item]}), "SCHEDULED"


def _body_field(name: str) -> dict[str, str]:
    """The details of an error in a top-level body field, as the v8 specification gives them."""
    return {"api_name": name, "json_path": f"$.{name}"}


def _update_ids(zoho: FakeZoho, ids: Any) -> tuple[Response, str]:
    """The non-scheduler mode: records given by id are updated at once; no job."""
    if not isinstance(ids, list) or not ids:
        return zoho_error("MANDATORY_NOT_FOUND", "required field not found", _body_field("ids"))
    if len(ids) > MAX_IDS:
        return zoho_error("INVALID_DATA", "Record count exceeded", {**_body_field("ids"), "limit": MAX_IDS})
    now = datetime.datetime.fromtimestamp(int(zoho.clock.now()), datetime.UTC).isoformat()
    results = []
    for record_id in ids:
        if (
            isinstance(record_id, str | int)
            and not isinstance(record_id, bool)
            and DIGITS.match(str(record_id))
        ):
            details = {
                "Modified_Time": now,
                "Modified_By": dict(CURRENT_USER),
                "Created_Time": now,
                "Created_By": dict(CURRENT_USER),
                "id": str(record_id),
            }
            results.append(
                {"code": "SUCCESS", "details": details, "message": "record updated", "status": "success"}
            )
        else:
            results.append(
                {
                    "code": "INVALID_DATA",
                    "details": {"id": str(record_id)},
                    "message": "the id given seems to be invalid",
                    "status": "error",
                }
            )
    return json_reply({"data": results}), "UPDATED"
