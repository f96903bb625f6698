"""Each documented error of every kind's status call (one case each), and the scopes each status call accepts:
the v8 specification's and the docs' where they differ."""

from __future__ import annotations

from typing import Any

import pytest

from fake_zoho import FakeZoho

from .helpers import EVERY_SCOPE, access_token, crm_call, error_of, refresh

UPDATE_ONLY = ["ZohoCRM.mass_update.READ"]


JOB_ID = {"job_id": "123"}
NO_JOB = {"param_name": "job_id"}


def case(method: str, path: str, status: int, code: str | None, details: Any = None, **given: Any) -> Any:
    """One status call and the error it must get (``code`` None: an empty body); ``given``: params, scopes,
    config, envelope."""
    path = path if path.startswith("/") else f"/crm/v8/{path}"
    return pytest.param(method, path, given, status, code, details, id=f"{method} {path} {code or status}")


@pytest.mark.parametrize(
    ("method", "path", "given", "status", "code", "details"),
    [
        # Mass convert (Leads): the docs' two errors.
        case("GET", "Leads/actions/mass_convert", 400, "REQUIRED_PARAM_MISSING", NO_JOB),
        case("GET", "Leads/actions/mass_convert", 400, "INVALID_DATA", NO_JOB, params=JOB_ID),
        # Inventory mass convert: the docs' three.
        case("GET", "Quotes/actions/mass_convert", 400, "REQUIRED_PARAM_MISSING", NO_JOB),
        case("GET", "Quotes/actions/mass_convert", 400, "INVALID_DATA", NO_JOB, params=JOB_ID),
        case("PUT", "Quotes/actions/mass_convert", 400, "INVALID_REQUEST_METHOD", {}, params=JOB_ID),
        # Mass delete: INVALID_MODULE (the docs); an unknown job is INVALID_DATA as for mass convert.
        case("GET", "Gadgets/actions/mass_delete", 400, "INVALID_MODULE", {"resource_path_index": 0},
             params=JOB_ID),
        case("GET", "Contacts/actions/mass_delete", 400, "INVALID_DATA", NO_JOB, params=JOB_ID),
        # Mass change owner: the docs' four errors (REQUIRED_PARAM_MISSING with HTTP 404); no such job: 204.
        case("GET", "Deals/actions/mass_change_owner", 404, "REQUIRED_PARAM_MISSING", NO_JOB),
        case("GET", "Deals/actions/mass_change_owners", 404, "INVALID_URL_PATTERN", {}, params=JOB_ID),
        case("GET", "Deals/actions/mass_change_owner", 401, "OAUTH_SCOPE_MISMATCH", {}, params=JOB_ID,
             scopes=UPDATE_ONLY),
        case("GET", "Deals/actions/mass_change_owner", 204, None, params=JOB_ID),
        # Mass delete tags: REQUIRED_PARAM_MISSING{param_name}; INVALID_DATA{job_id} wrapped in mass_delete[].
        case("GET", "settings/tags/actions/mass_delete", 400, "REQUIRED_PARAM_MISSING", NO_JOB),
        case("GET", "settings/tags/actions/mass_delete", 400, "INVALID_DATA", JOB_ID, params=JOB_ID,
             envelope="mass_delete"),
        # Bulk read: 404 RESOURCE_NOT_FOUND{resource}; bulk write: the specification's 400 RESOURCE_NOT_FOUND.
        case("GET", "/crm/bulk/v8/read/123", 404, "RESOURCE_NOT_FOUND", {"resource": "123"}),
        case("PUT", "/crm/bulk/v8/read/123", 400, "INVALID_REQUEST_METHOD", {}),
        case("GET", "/crm/bulk/v8/write/123", 400, "RESOURCE_NOT_FOUND", {"resource": "123"}),
        # Audit log export: 204 (the specification) or 400 NO_CONTENT (the docs), for one export or for all;
        # INVALID_URL_PATTERN; INVALID_REQUEST_METHOD.
        case("GET", "settings/audit_log_export/123", 204, None),
        case("GET", "settings/audit_log_export/123", 400, "NO_CONTENT", {},
             config={"audit_log_not_found": "no_content"}),
        case("GET", "settings/audit_log_export", 204, None),
        case("GET", "settings/audit_log_export", 400, "NO_CONTENT", {},
             config={"audit_log_not_found": "no_content"}),
        case("GET", "settings/audit_log_export/123/x", 404, "INVALID_URL_PATTERN", {}),
        case("DELETE", "settings/audit_log_export/123", 400, "INVALID_REQUEST_METHOD", {}),
        # Transfer and delete user: REQUIRED_PARAM_MISSING 400, 204 for no such job.
        case("GET", "users/actions/transfer_and_delete", 400, "REQUIRED_PARAM_MISSING", NO_JOB),
        case("GET", "users/actions/transfer_and_delete", 204, None, params=JOB_ID),
    ],
)  # fmt: skip
def test_each_documented_status_error(
    zoho: FakeZoho, method: str, path: str, given: dict[str, Any], status: int, code: str | None, details: Any
) -> None:
    zoho.config.update(**given.get("config", {}))
    token = access_token(zoho, given.get("scopes", EVERY_SCOPE))
    reply = crm_call(zoho, token, method, path, params=given.get("params", {}))
    if code is None:
        assert (reply.status_code, reply.content) == (status, b"")
    else:
        assert error_of(reply, status, code, given.get("envelope"))["details"] == details


def test_a_user_who_may_not_read_gets_no_permission(zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Deals", total=5, kind="mass_change_owner")
    token = refresh(zoho, zoho.credentials(EVERY_SCOPE, permission="no_permission")).json()["access_token"]
    reply = crm_call(zoho, token, "GET", "/crm/v8/Deals/actions/mass_change_owner", params={"job_id": job_id})
    assert error_of(reply, 403, "NO_PERMISSION")["message"] == "Permission denied to read records"


STATUS_PATHS = {
    "mass_convert": ("Leads", "/crm/v8/Leads/actions/mass_convert?job_id={id}"),
    "inventory_mass_convert": ("Sales_Orders", "/crm/v8/Sales_Orders/actions/mass_convert?job_id={id}"),
    "mass_delete": ("Contacts", "/crm/v8/Contacts/actions/mass_delete?job_id={id}"),
    "mass_change_owner": ("Deals", "/crm/v8/Deals/actions/mass_change_owner?job_id={id}"),
    "mass_delete_tags": ("org", "/crm/v8/settings/tags/actions/mass_delete?job_id={id}"),
    "bulk_read": ("org", "/crm/bulk/v8/read/{id}"),
    "bulk_write": ("org", "/crm/bulk/v8/write/{id}"),
    "audit_log_export": ("org", "/crm/v8/settings/audit_log_export/{id}"),
    "transfer_and_delete": ("org", "/crm/v8/users/actions/transfer_and_delete?job_id={id}"),
}


@pytest.mark.parametrize(
    ("kind", "scope", "allowed"),
    [
        ("mass_convert", "ZohoCRM.mass_convert.Leads.READ", True),  # the specification's {module_API_name}
        ("mass_convert", "ZohoCRM.mass_convert.leads.READ", True),  # the docs'
        ("mass_convert", "ZohoCRM.mass_convert.Leads.CREATE", False),
        ("inventory_mass_convert", "ZohoCRM.mass_convert.SalesOrders.READ", True),
        ("inventory_mass_convert", "ZohoCRM.mass_convert.Quotes.READ", False),
        ("mass_delete", "ZohoCRM.mass_delete.READ", True),  # the docs'
        ("mass_delete", "ZohoCRM.mass_delete.Contacts.READ", True),
        ("mass_delete", "ZohoCRM.modules.ALL", True),  # the specification's
        ("mass_delete", "ZohoCRM.mass_update.READ", False),
        ("mass_change_owner", "ZohoCRM.change_owner.READ", True),
        ("mass_change_owner", "ZohoCRM.change_owner.CREATE", False),
        ("mass_delete_tags", "ZohoCRM.settings.tags.READ", True),
        ("mass_delete_tags", "ZohoCRM.settings.ALL", True),
        ("mass_delete_tags", "ZohoCRM.settings.modules.READ", False),
        ("bulk_read", "ZohoCRM.bulk.read", True),  # the docs'
        ("bulk_read", "ZohoCRM.bulk.ALL", True),  # the specification's
        ("bulk_read", "ZohoCRM.modules.leads.READ", True),  # the docs': the module the job reads
        ("bulk_read", "ZohoCRM.modules.contacts.READ", False),
        ("bulk_write", "ZohoCRM.bulk.CREATE", True),  # the docs'
        ("bulk_write", "ZohoCRM.bulk.ALL", True),  # the specification's
        ("bulk_write", "ZohoCRM.bulk.read", False),
        ("audit_log_export", "ZohoCRM.settings.audit_logs.READ", True),  # the docs'
        ("audit_log_export", "ZohoCRM.settings.audit_logs.CREATE", True),  # the specification's
        ("audit_log_export", "ZohoCRM.settings.ALL", False),
        ("transfer_and_delete", "ZohoCRM.users.READ", True),  # the docs'
        ("transfer_and_delete", "ZohoCRM.users.ALL", True),  # the specification's
        ("transfer_and_delete", "ZohoCRM.org.READ", False),
    ],
)
def test_each_status_call_takes_its_documented_scopes(
    zoho: FakeZoho, kind: str, scope: str, allowed: bool
) -> None:
    module, path = STATUS_PATHS[kind]
    job_id = zoho.create_job(module, total=5, kind=kind)
    reply = crm_call(zoho, access_token(zoho, [scope]), "GET", path.format(id=job_id))
    if allowed:
        assert reply.status_code == 200, reply.text
    else:
        error_of(reply, 401, "OAUTH_SCOPE_MISMATCH")
