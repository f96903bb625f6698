"""HTTP routes of Zoho CRM's metadata that Zoho's SDKs read (`fake_zoho.metadata`): fields, modules, the
current user and the organisation, each behind its own OAuth scope as on Zoho."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from .config import API_VERSIONS, STANDARD_MODULES
from .errors import UNSUPPORTED_MODULE_MESSAGE
from .metadata import (
    CURRENT_USER,
    ORG_ZGID,
    canonical_module,
    current_user_reply,
    fields_reply,
    module_reply,
    modules_reply,
)
from .replies import json_reply, zoho_error

if TYPE_CHECKING:
    from .emulator import FakeZoho

ROUTE = "metadata"
# The scopes that open each kind of metadata (Zoho's names, compared without case).
SCOPES = {
    "fields": {"zohocrm.settings.fields.read", "zohocrm.settings.fields.all", "zohocrm.settings.all"},
    "modules": {"zohocrm.settings.modules.read", "zohocrm.settings.modules.all", "zohocrm.settings.all"},
    "users": {"zohocrm.users.read", "zohocrm.users.all"},
    "org": {"zohocrm.org.read", "zohocrm.org.all"},
}
USER_TYPES = {"ActiveUsers", "CurrentUser", "ActiveConfirmedUsers", "ConfirmedUsers"}


def metadata_blueprint(zoho: FakeZoho) -> Blueprint:
    """GET ``/crm/{version}/settings/fields?module=``, ``/settings/modules[/{api_name}]``, ``/users`` and
    ``/org``."""
    blueprint = Blueprint("zoho_metadata", __name__)

    def serve(kind: str, version: str, answer: Any) -> Response:
        return zoho.serve(ROUTE, lambda: _authorised(zoho, kind, version, answer))

    @blueprint.get("/crm/<version>/settings/fields")
    def fields(version: str) -> Response:
        return serve("fields", version, lambda: _fields(zoho))

    @blueprint.get("/crm/<version>/settings/modules")
    def modules(version: str) -> Response:
        return serve("modules", version, lambda: (json_reply(modules_reply(zoho.config.extra_modules)), "OK"))

    @blueprint.get("/crm/<version>/settings/modules/<module>")
    def module(version: str, module: str) -> Response:
        return serve("modules", version, lambda: _module(zoho, module))

    @blueprint.get("/crm/<version>/users")
    def users(version: str) -> Response:
        return serve("users", version, _users)

    @blueprint.get("/crm/<version>/org")
    def org(version: str) -> Response:
        return serve("org", version, lambda: _org(zoho))

    return blueprint


def _authorised(zoho: FakeZoho, kind: str, version: str, answer: Any) -> tuple[Response, str]:
    """Zoho's checks before a metadata reply: the URL's version, the token, the scope."""
    if version not in API_VERSIONS:
        return zoho_error("INVALID_URL_PATTERN")
    token, problem = zoho.accounts.authenticate(request.headers.get("Authorization"))
    if token is None:
        return zoho_error(problem or "INVALID_TOKEN")
    if not any(scope.strip().lower() in SCOPES[kind] for scope in token.scopes):
        return zoho_error("OAUTH_SCOPE_MISMATCH")
    result: tuple[Response, str] = answer()
    return result


def _known_module(zoho: FakeZoho, module: str) -> tuple[Response, str] | None:
    """None for a module the API serves, else the error Zoho gives for it."""
    verdict = zoho.config.module_verdict(module)
    if verdict == "unsupported":
        return zoho_error("INVALID_MODULE", UNSUPPORTED_MODULE_MESSAGE, {"api_name": "module"})
    if verdict != "ok":
        return zoho_error("INVALID_MODULE", details={"api_name": "module"})
    return None


def _fields(zoho: FakeZoho) -> tuple[Response, str]:
    module = request.args.get("module")
    if not module:
        return zoho_error("REQUIRED_PARAM_MISSING", details={"param_name": "module"})
    refused = _known_module(zoho, module)
    return refused or (json_reply(fields_reply(canonical_module(module))), "OK")


def _module(zoho: FakeZoho, module: str) -> tuple[Response, str]:
    refused = _known_module(zoho, module)
    name = canonical_module(module)
    return refused or (json_reply(module_reply(name, custom=name not in STANDARD_MODULES)), "OK")


def _users() -> tuple[Response, str]:
    kind = request.args.get("type", "ActiveUsers")
    if kind not in USER_TYPES | {"DeactiveUsers", "NotConfirmedUsers"}:
        return zoho_error("INVALID_DATA", details={"param_name": "type"})
    if kind not in USER_TYPES:  # the emulated org's one user is active and confirmed
        return Response(b"", status=204), "NO_CONTENT"
    return json_reply(current_user_reply()), "OK"


def _org(zoho: FakeZoho) -> tuple[Response, str]:
    body = {
        "org": [
            {
                "id": "554023000000000001",
                "zgid": ORG_ZGID,
                "company_name": "Emulated Org",
                "primary_email": "emulated.user@example.com",
                "primary_zuid": "746539263",
                "currency": "US Dollar",
                "iso_code": "USD",
                "time_zone": "UTC",
                "country_code": zoho.config.dc.upper(),
                "domain_name": f"org{ORG_ZGID}",
                "type": "production",
                "created_by": dict(CURRENT_USER),
            }
        ]
    }
    return json_reply(body), "OK"
