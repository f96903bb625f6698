"""Who calls what on the embedded AWS: every call a function's code makes, and every call the state machine
makes for its tasks, with the IAM action and the resource ARNs it touches.

moto does not evaluate IAM, so a grant missing from template.yaml would only show on AWS. The stack records
the calls here (`stack.aws_calls`), in the caller's thread (`zoho_watch_local.loopback`), and the tests check
each one against the caller's role as deployed. Calls of the test or demo driver, the gateway and moto
itself are not recorded: they have no role in the template.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest

from zoho_watch_local.aws_faults import request_route

STATE_MACHINE = "state-machine"  # the caller of the state machine's own task calls
# IAM's name for an operation, where it is not the operation's own name.
_ACTIONS = {("lambda", "Invoke"): "lambda:InvokeFunction"}
# The IAM prefix of each service, by the name requests to it are signed with.
_PREFIXES = {
    "dynamodb": "dynamodb",
    "secretsmanager": "secretsmanager",
    "events": "events",
    "states": "states",
}
# A stand-in for the six random characters Secrets Manager appends to a secret's name in its ARN.
SECRET_SUFFIX = "-Ab1Cd2"  # noqa: S105 - part of an ARN, not a secret


@dataclass(frozen=True)
class AwsCall:
    """One call: who made it (a function's name, or STATE_MACHINE), the IAM action and the resources."""

    caller: str
    action: str
    resources: tuple[str, ...]


def _body(request: AWSPreparedRequest) -> dict[str, Any]:
    body = request.body
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    try:
        parsed = json.loads(body) if isinstance(body, str) and body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _arn(service: str, region: str, account: str, rest: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{rest}"


def _dynamodb_resources(body: dict[str, Any], region: str, account: str) -> Iterator[str]:
    tables = [body["TableName"]] if "TableName" in body else []
    tables += list(body.get("RequestItems") or {})
    for item in body.get("TransactItems") or []:
        tables += [operation["TableName"] for operation in item.values() if "TableName" in operation]
    for table in tables:
        yield _arn("dynamodb", region, account, f"table/{table}")
        if "IndexName" in body:
            yield _arn("dynamodb", region, account, f"table/{table}/index/{body['IndexName']}")


def _secret_resources(body: dict[str, Any], region: str, account: str) -> Iterator[str]:
    name = body.get("SecretId") or body.get("Name")
    if isinstance(name, str):
        yield (
            name
            if name.startswith("arn:")
            else _arn("secretsmanager", region, account, f"secret:{name}{SECRET_SUFFIX}")
        )


def _event_bus_resources(body: dict[str, Any], region: str, account: str) -> Iterator[str]:
    for entry in body.get("Entries") or []:
        bus = entry.get("EventBusName") or "default"
        yield bus if bus.startswith("arn:") else _arn("events", region, account, f"event-bus/{bus}")


def resources_of(
    service: str, operation: str, request: AWSPreparedRequest, region: str, account: str
) -> tuple[str, ...]:
    """The ARNs a call touches, read from its request as IAM would name them."""
    body = _body(request)
    if service == "dynamodb":
        found = list(_dynamodb_resources(body, region, account))
    elif service == "secretsmanager":
        found = list(_secret_resources(body, region, account))
    elif service == "events":
        found = list(_event_bus_resources(body, region, account))
    elif service == "states":
        found = [str(body[key]) for key in ("stateMachineArn", "executionArn") if key in body]
    elif service == "lambda":
        function = unquote(urlsplit(request.url).path.split("/functions/", 1)[1].split("/", 1)[0])
        found = [
            function
            if function.startswith("arn:")
            else _arn("lambda", region, account, f"function:{function}")
        ]
    else:
        found = []
    return tuple(dict.fromkeys(found))


class AwsCallLog:
    """The calls recorded on one embedded stack (see the module docstring)."""

    def __init__(
        self,
        current_function: Callable[[], str | None],
        in_execution: Callable[[], bool],
        region: str,
        account: str,
    ) -> None:
        self._current_function = current_function
        self._in_execution = in_execution
        self._region = region
        self._account = account
        self._lock = threading.Lock()
        self._calls: list[AwsCall] = []

    def record(self, request: AWSPreparedRequest) -> None:
        """Note the call `request` makes, when a function or the state machine makes it."""
        function = self._current_function()
        caller = function or (STATE_MACHINE if self._in_execution() else None)
        if caller is None:
            return
        service, operation = request_route(request)
        prefix = "lambda" if service == "lambda" else _PREFIXES.get(service)
        if prefix is None or not operation:
            return
        action = _ACTIONS.get((service, operation), f"{prefix}:{operation}")
        call = AwsCall(caller, action, resources_of(service, operation, request, self._region, self._account))
        with self._lock:
            self._calls.append(call)

    def calls(self) -> list[AwsCall]:
        """Every call recorded so far, in order."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        with self._lock:
            self._calls.clear()
