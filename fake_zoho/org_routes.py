"""HTTP routes of the org-level jobs of Zoho CRM other than tags and bulk: audit log export (create, status of
one or all, the download link's file) and transfer and delete user (create, status)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, request

from .accounts import IssuedToken
from .files import download
from .gate import Reply, endpoint
from .kinds import ORG_MODULE
from .org_jobs import AUDIT, TRANSFER, audit_download, create_audit, create_transfer
from .status import job_status, jobs_status

if TYPE_CHECKING:
    from .emulator import FakeZoho

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def org_blueprint(zoho: FakeZoho) -> Blueprint:
    """``/crm/{version}/settings/audit_log_export[/{id}]``, ``/v2/crm/{zgid}/auditlog/{id}/{file}`` and
    ``/crm/{version}/users[/{user_id}]/actions/transfer_and_delete``."""
    blueprint = Blueprint("zoho_org_jobs", __name__)

    @blueprint.route("/crm/<version>/settings/audit_log_export", methods=METHODS)
    def audit_log_exports(version: str) -> Response:
        def answer(token: IssuedToken) -> Reply:
            if request.method == "GET":
                return jobs_status(zoho, token, AUDIT, version)
            return create_audit(zoho, token)

        return endpoint(zoho, version, answer)

    @blueprint.route("/crm/<version>/settings/audit_log_export/<job_id>", methods=METHODS)
    def audit_log_export(version: str, job_id: str) -> Response:
        def answer(token: IssuedToken) -> Reply:
            return job_status(zoho, token, AUDIT, ORG_MODULE, job_id, version)

        return endpoint(zoho, version, answer, {"GET": "status"})

    @blueprint.route("/v2/crm/<zgid>/auditlog/<job_id>/<name>", methods=METHODS)
    def audit_log_file(zgid: str, job_id: str, name: str) -> Response:
        def answer(token: IssuedToken) -> Reply:
            content = audit_download(zoho, token, zgid, job_id, name)
            return download(
                content, name, "application/zip" if name.endswith(".zip") else "text/csv"
            ), "DOWNLOADED"

        return endpoint(zoho, None, answer, {"GET": "download"})

    @blueprint.route("/crm/<version>/users/actions/transfer_and_delete", methods=METHODS)
    def transfer_and_delete(version: str) -> Response:
        def answer(token: IssuedToken) -> Reply:
            if request.method == "GET":
                return job_status(zoho, token, TRANSFER, ORG_MODULE, request.args.get("job_id"), version)
            return create_transfer(zoho, token, None)

        return endpoint(zoho, version, answer)

    @blueprint.route("/crm/<version>/users/<user_id>/actions/transfer_and_delete", methods=METHODS)
    def transfer_and_delete_user(version: str, user_id: str) -> Response:
        return endpoint(
            zoho, version, lambda token: create_transfer(zoho, token, user_id), {"POST": "create"}
        )

    return blueprint
