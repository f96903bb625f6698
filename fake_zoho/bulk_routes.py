"""HTTP routes of Zoho CRM's bulk APIs: bulk read (create, status, result zip) and bulk write (upload, create,
status, result zip). The upload is Zoho's content server's and the result zip its download server's; the
emulator serves both on its own URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response

from .accounts import IssuedToken
from .bulk import read_module, read_result, write_result
from .bulk_create import create_read, create_write, upload
from .files import download
from .gate import Reply, check_access, endpoint, is_digits, refuse
from .kinds import ORG_MODULE
from .metadata import ORG_ZGID
from .scopes import status_need
from .status import job_status

if TYPE_CHECKING:
    from .emulator import FakeZoho

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CREATE = {"POST": "create"}
STATUS = {"GET": "status"}
DOWNLOAD = {"GET": "download"}


def _read_download(zoho: FakeZoho, token: IssuedToken, job_id: str) -> Reply:
    """A COMPLETED bulk read's result zip: 10 downloads a minute per org (emulator clock), then 429."""
    job = zoho.jobs.find(ORG_MODULE, job_id, "bulk_read") if is_digits(job_id) else None
    check_access(zoho, token, status_need("bulk_read", read_module(job) if job else None), "read records")
    if job is None or job.body(zoho.clock.now())["Status"] != "COMPLETED":
        refuse("RESOURCE_NOT_FOUND", details={"resource": job_id}, status=400)
    if not zoho.bulk.try_download(token.org_id):
        refuse("TOO_MANY_REQUESTS", "at most 10 bulk read results can be downloaded a minute")
    name, content = read_result(job)
    return download(content, name), "DOWNLOADED"


def _write_download(zoho: FakeZoho, token: IssuedToken, zgid: str, job_id: str, name: str) -> Reply:
    """A COMPLETED bulk write's result zip, at the download_url its status gave."""
    check_access(zoho, token, status_need("bulk_write", None), "read records")
    job = zoho.jobs.find(ORG_MODULE, job_id, "bulk_write") if is_digits(job_id) else None
    body = job.body(zoho.clock.now()) if job else None
    if (
        job is None
        or body is None
        or body["Status"] != "COMPLETED"
        or (zgid, name) != (ORG_ZGID, f"{job_id}.zip")
    ):
        refuse("RESOURCE_NOT_FOUND", details={"resource": job_id})
    return download(write_result(job, body, zoho.bulk, token.org_id), name), "DOWNLOADED"


def bulk_blueprint(zoho: FakeZoho) -> Blueprint:
    """``/crm/bulk/{version}/read[/{job_id}[/result]]``, ``/crm/{version}/upload``,
    ``/crm/bulk/{version}/write[/{job_id}]`` and the bulk write result's ``/v2/crm/{zgid}/bulk-write/...``."""
    blueprint = Blueprint("zoho_bulk", __name__)

    @blueprint.route("/crm/bulk/<version>/read", methods=METHODS)
    def read(version: str) -> Response:
        return endpoint(zoho, version, lambda token: create_read(zoho, token), CREATE)

    def status(kind: str, version: str, job_id: str) -> Response:
        def answer(token: IssuedToken) -> Reply:
            return job_status(zoho, token, kind, ORG_MODULE, job_id, version)

        return endpoint(zoho, version, answer, STATUS)

    @blueprint.route("/crm/bulk/<version>/read/<job_id>", methods=METHODS)
    def read_status(version: str, job_id: str) -> Response:
        return status("bulk_read", version, job_id)

    @blueprint.route("/crm/bulk/<version>/read/<job_id>/result", methods=METHODS)
    def read_download(version: str, job_id: str) -> Response:
        return endpoint(zoho, version, lambda token: _read_download(zoho, token, job_id), DOWNLOAD)

    @blueprint.route("/crm/<version>/upload", methods=METHODS)
    def file_upload(version: str) -> Response:
        return endpoint(zoho, version, lambda token: upload(zoho, token), CREATE)

    @blueprint.route("/crm/bulk/<version>/write", methods=METHODS)
    def write(version: str) -> Response:
        return endpoint(zoho, version, lambda token: create_write(zoho, token), CREATE)

    @blueprint.route("/crm/bulk/<version>/write/<job_id>", methods=METHODS)
    def write_status(version: str, job_id: str) -> Response:
        return status("bulk_write", version, job_id)

    @blueprint.route("/v2/crm/<zgid>/bulk-write/<job_id>/<name>", methods=METHODS)
    def write_download(zgid: str, job_id: str, name: str) -> Response:
        return endpoint(zoho, None, lambda token: _write_download(zoho, token, zgid, job_id, name), DOWNLOAD)

    return blueprint
