"""What every Zoho CRM call of the emulator goes through, in Zoho's order, before its own checks: the URL's
version, the method, the token, the org's concurrency slot, then latency and injected faults; and the helpers
its own checks share (scopes and the user's permission, the JSON body, a body field's error details, times).

A check that fails raises ``Refused`` with Zoho's reply; ``guarded`` answers with it.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from flask import Response, request

from .accounts import IssuedToken
from .config import API_VERSIONS
from .errors import UNSUPPORTED_MODULE_MESSAGE
from .replies import fault_reply, json_reply, zoho_error
from .scopes import Need, granted

if TYPE_CHECKING:
    from .emulator import FakeZoho

Reply = tuple[Response, str]
# The route (counters, faults) of each method on a path that schedules a job (POST) and reports it (GET).
JOB_ROUTES = {"GET": "status", "POST": "create"}
DIGITS = re.compile(r"^[0-9]+$")


def route_of(method: str, routes: dict[str, str] = JOB_ROUTES) -> str:
    """The route a request's method takes; "crm" (INVALID_REQUEST_METHOD) for one the path does not serve."""
    return routes.get(method, "crm")


class Refused(Exception):
    """A request Zoho refuses: raised by a check, answered with ``reply`` by ``guarded``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply[1])
        self.reply = reply


def endpoint(
    zoho: FakeZoho,
    version: str | None,
    answer: Callable[[IssuedToken], Reply],
    routes: dict[str, str] = JOB_ROUTES,
) -> Response:
    """Serve a CRM call: its route by method (``routes``; any other method is INVALID_REQUEST_METHOD), under
    observation (``FakeZoho.serve``) and Zoho's checks (``guarded``), then ``answer(token)``."""
    route = route_of(request.method, routes)
    return zoho.serve(route, lambda: guarded(zoho, route, version, answer))


def refuse(
    code: str, message: str | None = None, details: dict[str, Any] | None = None, status: int | None = None
) -> NoReturn:
    """Refuse the request with Zoho's error ``code`` (see ``replies.zoho_error``)."""
    raise Refused(zoho_error(code, message, details, status))


@contextmanager
def enveloped(envelope: str) -> Iterator[None]:
    """Refusals with HTTP 400 raised inside come wrapped in ``{envelope: [error]}``, as the v8 specification
    gives the body errors of some creation calls (mass delete, audit log export, transfer and delete)."""
    try:
        yield
    except Refused as refused:
        response, kind = refused.reply
        if response.status_code != 400:
            raise
        error = json.loads(response.get_data())
        raise Refused((json_reply({envelope: [error]}, 400), kind)) from None


def guarded(zoho: FakeZoho, route: str, version: str | None, answer: Callable[[IssuedToken], Reply]) -> Reply:
    """Zoho's checks in its order: URL version (None: a path without one), method, token, the org's
    concurrency slot, (latency, fault); then ``answer(token)``."""
    if version is not None and version not in API_VERSIONS:
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
        try:
            return answer(token)
        except Refused as refused:
            return refused.reply
    finally:
        zoho.tallies.leave_org(token.org_id)


def check_access(zoho: FakeZoho, token: IssuedToken, need: Need, verb: str) -> None:
    """Refuse a token without the scopes ``need`` names, or a user who may not ``verb``."""
    if not granted(token.scopes, need):
        refuse("OAUTH_SCOPE_MISMATCH")
    permission = zoho.accounts.permission_of(token)
    if permission == "no_permission":
        refuse("NO_PERMISSION", f"Permission denied to {verb}")
    if permission == "authorization_failed":
        refuse("AUTHORIZATION_FAILED", f"User does not have sufficient privilege to {verb}")


def check_module(zoho: FakeZoho, module: str) -> None:
    """Refuse, with INVALID_MODULE, a module the API does not know or does not support."""
    verdict = zoho.config.module_verdict(module)
    if verdict == "unsupported":
        refuse("INVALID_MODULE", UNSUPPORTED_MODULE_MESSAGE)
    if verdict != "ok":
        refuse("INVALID_MODULE")


def json_body() -> Any:
    """The request's JSON body whatever its Content-Type (Zoho's Python SDK sends none); None if not JSON."""
    return request.get_json(silent=True, force=True)


def body_field(path: str, name: str | None = None) -> dict[str, str]:
    """The details of an error in a body field, as the v8 specification gives them: its name and JSON path."""
    return {"api_name": name or path.rsplit(".", 1)[-1], "json_path": f"$.{path}"}


def mandatory(path: str, name: str | None = None) -> NoReturn:
    """Refuse a body without a field it needs: MANDATORY_NOT_FOUND with the v8 specification's message."""
    refuse("MANDATORY_NOT_FOUND", "required field not found", body_field(path, name))


def invalid(path: str, name: str | None = None, message: str = "invalid data", **extra: Any) -> NoReturn:
    """Refuse a body field whose value cannot be used: INVALID_DATA."""
    refuse("INVALID_DATA", message, {**body_field(path, name), **extra})


def zoho_time(epoch: float) -> str:
    """An emulator-clock time as Zoho writes times (ISO 8601 with offset; the emulated org runs in UTC)."""
    return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).isoformat()


def is_digits(value: Any) -> bool:
    """True for an id as Zoho writes them: a string (or int) of digits."""
    return isinstance(value, str | int) and not isinstance(value, bool) and bool(DIGITS.match(str(value)))
