"""HTTP replies: Zoho JSON bodies, error replies, and the replies of injected faults."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from flask import Response, request

from .errors import ZOHO_ERRORS, error_body, error_status

JSON_TYPE = "application/json;charset=UTF-8"
# What a proxy in front of Zoho shows when it gives up: an HTML page, not JSON.
HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><h1>Service Temporarily Unavailable</h1><p>Zoho CRM is under maintenance.</p></body></html>"
)
# A body cut short: valid JSON's beginning, then nothing.
TRUNCATED_JSON = '{"data":[{"Status":"RUNN'


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON reply with Zoho's content type and key order kept as given."""
    return Response(
        json.dumps(body, separators=(",", ":")), status=status, headers=headers, content_type=JSON_TYPE
    )


def zoho_error(
    code: str, message: str | None = None, details: dict[str, Any] | None = None, status: int | None = None
) -> tuple[Response, str]:
    """(reply, kind) for a Zoho error code with its documented HTTP status (``status``: where a call documents
    another one for the same code)."""
    return json_reply(error_body(code, message, details), status or error_status(code)), code


def empty_reply(status: int) -> Response:
    """A reply without body (Zoho's documented NOT_FOUND, a bare 502 from a proxy)."""
    return Response(b"", status=status, content_type=JSON_TYPE)


RESET_KIND = "fault:reset"


def reset_connection() -> None:
    """Abort the client's TCP connection with a RST (SO_LINGER 0, then close) so it sees a reset."""
    sock: socket.socket | None = request.environ.get("werkzeug.socket")
    if sock is None:
        raise RuntimeError("the server does not expose its socket; cannot reset the connection")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # detach() leaves werkzeug's socket object closed (writes fail at once) and hands us the descriptor,
    # whose close with linger 0 sends the RST.
    fd = sock.detach()
    socket.close(fd)


def fault_reply(kind: str, retry_after_seconds: int) -> tuple[Response, str]:
    """(reply, kind) that replaces the normal one for an injected fault (not timeout, which only delays)."""
    if kind == "500":
        return json_reply(error_body("INTERNAL_ERROR"), 500), "fault:500"
    if kind == "429":
        return json_reply(error_body("TOO_MANY_REQUESTS"), 429), "fault:429"
    if kind == "429_retry_after":
        headers = {"Retry-After": str(retry_after_seconds)}
        return json_reply(error_body("TOO_MANY_REQUESTS"), 429, headers), "fault:429_retry_after"
    if kind == "non_json":
        return Response(TRUNCATED_JSON, status=200, content_type=JSON_TYPE), "fault:non_json"
    if kind == "html":
        return Response(HTML_ERROR_PAGE, status=503, content_type="text/html"), "fault:html"
    if kind == "502_empty":
        return Response(b"", status=502), "fault:502_empty"
    if kind == "reset":
        # The caller resets the connection once the request is logged (see FakeZoho.serve).
        return Response(b"", status=500), RESET_KIND
    if kind in ZOHO_ERRORS:
        reply, code = zoho_error(kind)
        return reply, f"fault:{code}"
    raise ValueError(f"no reply for fault kind {kind!r}")
