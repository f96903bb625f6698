"""Zoho's error replies: one table of code -> HTTP status, message and details, and the body builder."""

from __future__ import annotations

import copy
from typing import Any

# code: (HTTP status, message, details). Messages follow Zoho's documentation of the status call.
ZOHO_ERRORS: dict[str, tuple[int, str, dict[str, Any]]] = {
    "NOT_FOUND": (404, "the requested job_id is not found", {}),
    "INVALID_DATA": (400, "invalid data", {"param_name": "job_id"}),
    "UNABLE_TO_PARSE_DATA_TYPE": (
        400,
        "the data type of job_id could not be parsed",
        {"param_name": "job_id"},
    ),
    "MANDATORY_NOT_FOUND": (400, "mandatory param missing", {"param_name": "job_id"}),
    "INVALID_URL_PATTERN": (404, "Please check if the URL trying to access is a correct one", {}),
    "OAUTH_SCOPE_MISMATCH": (401, "Unauthorized", {}),
    "INVALID_TOKEN": (401, "invalid oauth token", {}),
    "AUTHENTICATION_FAILURE": (401, "Authentication failed", {}),
    "NO_PERMISSION": (403, "Permission denied to read records", {}),
    "AUTHORIZATION_FAILED": (400, "User does not have sufficient privilege to read records", {}),
    "INVALID_MODULE": (400, "The module name given seems to be invalid", {"resource_path_index": 0}),
    "INVALID_REQUEST_METHOD": (400, "The http request method type is not a valid one", {}),
    "INTERNAL_ERROR": (500, "Internal Server Error", {}),
    "TOO_MANY_REQUESTS": (429, "too many requests", {}),
    "REQUIRED_PARAM_MISSING": (400, "One of the expected parameter is missing", {}),
    # The other kinds' calls (fake_zoho.kinds): their creation, status, upload and result errors.
    "RESOURCE_NOT_FOUND": (404, "The requested resource doesn't exist.", {}),
    "NO_CONTENT": (400, "No audit log has been scheduled", {}),
    "LIMIT_EXCEEDED": (400, "limit exceeded", {}),
    "NOT_ALLOWED": (400, "not allowed", {}),
    "INVALID_REQUEST": (400, "invalid request", {}),
    "INVALID_FILE_FORMAT": (400, "invalid file format. only zip format is supported", {}),
    "FILE_TOO_LARGE": (413, "File size too large to process", {}),
    "FILE_NOT_SUPPORTED": (400, "File not supported for bulk write", {}),
    "HEADER_LIMIT_EXCEEDED": (400, "the file has more columns than allowed", {}),
    "INVALID_FILE_ID": (400, "improper file id", {}),
    "NOT_SUPPORTED_FEATURE": (400, "Feature is not supported", {}),
    "MODULE_NOT_AVAILABLE": (400, "Requested module is not available.", {}),
    "MODULE_NOT_SUPPORTED": (400, "the module is not supported for this operation", {}),
    "REQUEST_BODY_NOT_SUPPORTED": (400, "request body contains invalid format", {}),
    "INVALID_CALLBACK_METHOD": (400, "invalid callback method", {"supported_callback_methods": ["post"]}),
    "INVALID_CALLBACK_URL": (400, "invalid callback url", {}),
}
UNSUPPORTED_MODULE_MESSAGE = "The given module is not supported in API"


def error_body(
    code: str, message: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Zoho's error body, keys in Zoho's order: code, details, message, status."""
    _, default_message, default_details = ZOHO_ERRORS[code]
    return {
        "code": code,
        "details": copy.deepcopy(default_details if details is None else details),
        "message": default_message if message is None else message,
        "status": "error",
    }


def error_status(code: str) -> int:
    """The HTTP status Zoho gives with ``code``."""
    return ZOHO_ERRORS[code][0]
