"""HTTP routes of Zoho Accounts: token (grant code and refresh) and revoke."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, request

from .replies import fault_reply, json_reply

if TYPE_CHECKING:
    from .emulator import FakeZoho


def accounts_blueprint(zoho: FakeZoho) -> Blueprint:
    """``POST /oauth/v2/token`` and ``POST /oauth/v2/token/revoke``; Zoho answers errors with HTTP 200."""
    blueprint = Blueprint("zoho_accounts", __name__)

    def faulted(route: str) -> tuple[Response, str] | None:
        fault = zoho.faults.pick(route)
        if fault == "timeout":
            zoho.sleep(zoho.config.fault_timeout_seconds)
            return None
        if fault is not None:
            return fault_reply(fault, zoho.config.retry_after_seconds)
        return None

    @blueprint.post("/oauth/v2/token")
    def token() -> Response:
        def handle() -> tuple[Response, str]:
            # Zoho takes the parameters in the query string or as a form; both are accepted.
            reply = faulted("token")
            if reply is not None:
                return reply
            body, kind = zoho.accounts.token_request(request.values)
            return json_reply(body), kind

        return zoho.serve("token", handle)

    @blueprint.post("/oauth/v2/token/revoke")
    def revoke() -> Response:
        def handle() -> tuple[Response, str]:
            reply = faulted("revoke")
            if reply is not None:
                return reply
            body, kind = zoho.accounts.revoke_request(request.values.get("token", ""))
            return json_reply(body), kind

        return zoho.serve("revoke", handle)

    return blueprint
