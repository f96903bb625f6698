"""Creating bulk jobs: a bulk read job, the upload of a bulk write file, and a bulk write job over uploaded
files, each with the body checks and errors of Zoho's v8 specification and docs."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import TYPE_CHECKING, Any

from flask import request

from .accounts import IssuedToken
from .bulk import Upload, created
from .gate import (
    Reply,
    body_field,
    check_access,
    invalid,
    is_digits,
    json_body,
    mandatory,
    refuse,
    zoho_time,
)
from .kinds import MAX_TOTAL, ORG_MODULE
from .metadata import ORG_ZGID, canonical_module, module_id
from .replies import json_reply
from .scopes import UPLOAD_NEED, create_need

if TYPE_CHECKING:
    from .emulator import FakeZoho

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_ROWS = 25_000
MAX_COLUMNS = 200
OPERATIONS = ("insert", "update", "upsert")
FILE_TYPES = ("csv", "ics")
# Zoho's content server answers a request without its two headers in its own shape, not Zoho CRM's.
MISSING_HEADERS = {
    "ERROR_CODE": 400,
    "ERROR_MESSAGE": "Bad Request",
    "x-error": "check if headers [feature, X-CRM-ORG] are present and valid",
}


def _module_name(value: Any) -> str | None:
    """A module named as ``{"api_name": ...}`` (v2 on) or as a bare string (v1)."""
    name = value.get("api_name") if isinstance(value, dict) else value
    return name if isinstance(name, str) and name else None


def _check_module(zoho: FakeZoho, module: str, path: str) -> str:
    """The module as Zoho spells it; refused with the bulk APIs' error when they cannot use it."""
    verdict = zoho.config.module_verdict(module)
    if verdict == "unsupported":
        refuse("MODULE_NOT_SUPPORTED", details=body_field(path))
    if verdict != "ok":
        refuse("MODULE_NOT_AVAILABLE", f"Requested module '{module}' is not available.", body_field(path))
    return canonical_module(module)


def _check_callback(callback: Any) -> None:
    """A callback must be ``{"url": http(s)..., "method": "post"}`` (kept, never called, by the emulator)."""
    if callback is None:
        return
    if not isinstance(callback, dict) or callback.get("method") != "post":
        refuse("INVALID_CALLBACK_METHOD")
    url = callback.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        refuse("INVALID_CALLBACK_URL", details=body_field("callback.url"))


def create_read(zoho: FakeZoho, token: IssuedToken) -> Reply:
    """``POST /crm/bulk/{version}/read``: 201 ADDED_SUCCESSFULLY with the job's id in ``details.id``."""
    # The bulk scope is checked first; the module's own scope once the body has named the module.
    check_access(zoho, token, create_need("bulk_read", None)[:1], "create bulk read jobs")
    payload = json_body()
    if not isinstance(payload, dict):
        refuse("REQUEST_BODY_NOT_SUPPORTED")
    query = payload.get("query")
    if not isinstance(query, dict) or not query:
        mandatory("query")
    named = _module_name(query.get("module"))
    if named is None:
        mandatory("query.module", "module")
    module = _check_module(zoho, named, "query.module.api_name")
    check_access(zoho, token, create_need("bulk_read", module), "create bulk read jobs")
    echo: dict[str, Any] = {"module": {"api_name": module, "id": module_id(module)}}
    cvid = query.get("cvid")
    if cvid is not None and not is_digits(cvid):
        invalid("query.cvid")
    fields = query.get("fields")
    if fields is not None and (
        not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields)
    ):
        invalid("query.fields")
    page = query.get("page", 1)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        invalid("query.page")
    if query.get("page_token") is not None:
        page = zoho.bulk.page_of_token(str(query["page_token"]))
        if page is None:
            invalid("query.page_token")
    file_type = payload.get("file_type", query.get("file_type", "csv"))
    if file_type not in FILE_TYPES:
        invalid("file_type", supported_values=list(FILE_TYPES))
    if file_type == "ics" and module.lower() not in ("meetings", "events"):
        invalid("file_type", message="the ics file type is supported only for the Events module")
    _check_callback(payload.get("callback"))
    for name, value in (("cvid", None if cvid is None else str(cvid)), ("fields", fields)):
        if value is not None:
            echo[name] = value
    if query.get("criteria") is not None:
        echo["criteria"] = query["criteria"]
    echo["page"] = page
    total, profile = zoho.job_plan("bulk_read", module, None if cvid is None else str(cvid))
    details = {"query": echo, "file_type": file_type, "callback": payload.get("callback")}
    job = zoho.jobs.create(ORG_MODULE, total, profile, None, "bulk_read", details)
    item = {
        "code": "ADDED_SUCCESSFULLY",
        "details": {"id": job.job_id, "operation": "read", "state": "ADDED", **created(job)},
        "message": "Added successfully.",
        "status": "success",
    }
    return json_reply({"data": [item], "info": {}}, 201), "ADDED"


def _read_csv(data: bytes, now: str) -> tuple[str, list[str], list[list[str]]]:
    """(name, header, rows) of the one CSV in an uploaded zip; refused for a file that is not one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = [name for name in archive.namelist() if name.lower().endswith(".csv")]
        if len(names) != 1:
            # Zoho takes several CSVs for parent and child modules; the emulator serves one file per zip.
            refuse("FILE_NOT_SUPPORTED", details={"file_names": names})
        lines = list(csv.reader(io.StringIO(archive.read(names[0]).decode("utf-8-sig"))))
    except (zipfile.BadZipFile, UnicodeDecodeError, csv.Error):
        refuse("INVALID_FILE_FORMAT", details={"created_time": now})
    if not lines or not lines[0]:
        refuse("FILE_NOT_SUPPORTED", "the CSV file has no header line")
    rows = [row for row in lines[1:] if any(cell.strip() for cell in row)]
    if len(lines[0]) > MAX_COLUMNS:
        refuse("HEADER_LIMIT_EXCEEDED", f"at most {MAX_COLUMNS} columns per file", {"limit": MAX_COLUMNS})
    if len(rows) > MAX_ROWS:
        message = f"the file holds {len(rows)} records; at most {MAX_ROWS} can be imported per file"
        refuse("LIMIT_EXCEEDED", message, {"limit": MAX_ROWS, "api_name": "file"})
    return names[0].rsplit("/", 1)[-1], lines[0], rows


def upload(zoho: FakeZoho, token: IssuedToken) -> Reply:
    """``POST /crm/{version}/upload`` (Zoho's content server): the file_id of a zip holding one CSV."""
    if not request.headers.get("feature") or not request.headers.get("X-CRM-ORG"):
        return json_reply(MISSING_HEADERS, 400), "MISSING_HEADERS"
    if request.headers["feature"] != "bulk-write":
        refuse("NOT_SUPPORTED_FEATURE", details={"created_time": zoho_time(zoho.clock.now())})
    if request.headers["X-CRM-ORG"] != ORG_ZGID:
        return json_reply(MISSING_HEADERS, 400), "MISSING_HEADERS"
    check_access(zoho, token, UPLOAD_NEED, "create")
    sent = request.files.get("file")
    if sent is None:
        mandatory("file")
    data = sent.read(MAX_UPLOAD_BYTES + 1)
    now = zoho_time(zoho.clock.now())
    if len(data) > MAX_UPLOAD_BYTES:
        refuse("FILE_TOO_LARGE", details={"limit": MAX_UPLOAD_BYTES})
    name, header, rows = _read_csv(data, now)
    file_id = zoho.jobs.new_id()
    zoho.bulk.add_upload(Upload(file_id, token.org_id, name, header, rows, now))
    details = {"file_id": file_id, "created_time": now}
    body = {
        "code": "FILE_UPLOAD_SUCCESS",
        "details": details,
        "message": "file uploaded.",
        "status": "success",
    }
    return json_reply(body), "UPLOADED"


def _resource(zoho: FakeZoho, token: IssuedToken, index: int, resource: Any) -> dict[str, Any]:
    """One resource of a bulk write request, checked: its module, its uploaded file, its field mappings."""
    path = f"resource[{index}]"
    if not isinstance(resource, dict):
        invalid(path, "resource")
    if resource.get("type", "data") != "data":
        invalid(f"{path}.type", supported_values=["data"])
    named = _module_name(resource.get("module"))
    if named is None:
        mandatory(f"{path}.module", "module")
    module = _check_module(zoho, named, f"{path}.module.api_name")
    if resource.get("file_id") is None:
        mandatory(f"{path}.file_id")
    sent = zoho.bulk.upload(token.org_id, str(resource["file_id"]))
    if sent is None:
        refuse("INVALID_FILE_ID", details=body_field(f"{path}.file_id"))
    mappings = resource.get("field_mappings")
    if mappings is None:
        mappings = [
            {"api_name": column, "index": column_index} for column_index, column in enumerate(sent.header)
        ]
    elif not isinstance(mappings, list) or not all(
        isinstance(m, dict)
        and isinstance(m.get("api_name"), str)
        and m.get("index") in range(len(sent.header))
        for m in mappings
    ):
        invalid(f"{path}.field_mappings")
    return {
        "module": module,
        "file_id": sent.file_id,
        "name": sent.name,
        "rows": len(sent.rows),
        "field_mappings": mappings,
        "ignore_empty": bool(resource.get("ignore_empty", False)),
    }


def create_write(zoho: FakeZoho, token: IssuedToken) -> Reply:
    """``POST /crm/bulk/{version}/write``: 201 SUCCESS with the job's id in ``details.id``."""
    check_access(zoho, token, create_need("bulk_write", None), "create bulk write jobs")
    payload = json_body()
    if not isinstance(payload, dict):
        refuse("REQUEST_BODY_NOT_SUPPORTED")
    if payload.get("operation") is None:
        mandatory("operation")
    if payload["operation"] not in OPERATIONS:
        invalid("operation", supported_values=list(OPERATIONS))
    _check_callback(payload.get("callback"))
    sent = payload.get("resource")
    if not isinstance(sent, list) or not sent:
        mandatory("resource")
    resources = [_resource(zoho, token, index, item) for index, item in enumerate(sent)]
    total = sum(resource["rows"] for resource in resources)
    if total > MAX_TOTAL["bulk_write"]:
        refuse("LIMIT_EXCEEDED", details={"limit": MAX_TOTAL["bulk_write"], "api_name": "resource"})
    _, profile = zoho.job_plan("bulk_write")
    details = {"operation": payload["operation"], "callback": payload.get("callback"), "resources": resources}
    job = zoho.jobs.create(ORG_MODULE, total, profile, None, "bulk_write", details)
    item = {"code": "SUCCESS", "details": {"id": job.job_id, **created(job)}, "message": "success"}
    return json_reply({**item, "status": "success"}, 201), "ADDED"
