"""AWS faults on the embedded stack: the functions' AWS calls and the state machine's Lambda invocations fail
on demand, the way AWS fails, by share (random, seedable) or by script (taken in order).

Routes are the services the functions call (`dynamodb`, `secretsmanager`, `events`, `stepfunctions`) and
`lambda`, the state machine's invocations of a function. A fault answers in the caller's place of the network
(`zoho_watch_local.loopback`), before moto sees the request: an error reply with AWS's status and error code
(`throttling`, `provisioned_throughput`, `too_many_requests`, `internal_error`, `service_unavailable`,
`access_denied`), or botocore's own network error (`read_timeout`, `connection_error`). The SDK's retries
see them as they would on AWS. Calls of the test or demo driver, the gateway and moto itself are never
faulted. On the `lambda` route Step Functions names the error `Lambda.<code>`: only `too_many_requests`
(`Lambda.TooManyRequestsException`) and `internal_error` (`Lambda.ServiceException`) exist there.
"""

from __future__ import annotations

import collections
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from fake_zoho.faults import FaultInjector
from zoho_watch_local.loopback import reply

FUNCTION_ROUTES = ("dynamodb", "secretsmanager", "events", "stepfunctions")
STATE_MACHINE_ROUTE = "lambda"
ROUTES = (*FUNCTION_ROUTES, STATE_MACHINE_ROUTE)


@dataclass(frozen=True)
class AwsErrorReply:
    """An error answer of an AWS API: HTTP status, error code, message."""

    status: int
    code: str
    message: str


ERROR_REPLIES = {
    "throttling": AwsErrorReply(400, "ThrottlingException", "Rate exceeded"),
    "provisioned_throughput": AwsErrorReply(
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    "too_many_requests": AwsErrorReply(429, "TooManyRequestsException", "Rate exceeded"),
    "internal_error": AwsErrorReply(500, "InternalFailure", "We encountered an internal error."),
    "service_unavailable": AwsErrorReply(503, "ServiceUnavailable", "Service is unavailable."),
    "access_denied": AwsErrorReply(400, "AccessDeniedException", "User is not authorized to do this."),
}
# Lambda's Invoke names its errors its own way.
LAMBDA_REPLIES = {
    "too_many_requests": AwsErrorReply(429, "TooManyRequestsException", "Rate Exceeded."),
    "internal_error": AwsErrorReply(500, "ServiceException", "Error invoking the function."),
}
NETWORK_FAULTS = ("read_timeout", "connection_error")
KINDS = (*ERROR_REPLIES, *NETWORK_FAULTS)

# The route of each service the functions call, by the name requests to it are signed with.
_SIGNING_NAMES = {
    "dynamodb": "dynamodb",
    "secretsmanager": "secretsmanager",
    "events": "events",
    "states": "stepfunctions",
}
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_INVOKE_PATH = re.compile(r"/2015-03-31/functions/[^/]+/invocations$")


def _text(value: str | bytes | None) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value or ""


def request_route(request: AWSPreparedRequest) -> tuple[str, str]:
    """The service a signed request is for (its SigV4 scope's name) and its operation (`X-Amz-Target`, or
    Invoke)."""
    match = _CREDENTIAL_SCOPE.search(_text(request.headers.get("Authorization")))
    service = match.group(1) if match else ""
    target = _text(request.headers.get("X-Amz-Target"))
    if target:
        return service, target.rsplit(".", 1)[-1]
    return service, "Invoke" if _INVOKE_PATH.search(request.url.split("?", 1)[0]) else ""


class AwsFaults:
    """The embedded AWS's fault controls (see module docstring); `reply` is the loopback's hook."""

    def __init__(
        self, in_function: Callable[[], bool], in_execution: Callable[[], bool], seed: int | None = None
    ) -> None:
        """`in_function` and `in_execution` tell who makes the current call: a function, or an execution."""
        self._in_function = in_function
        self._in_execution = in_execution
        self._injector = FaultInjector(seed, routes=ROUTES, kinds=KINDS)
        self._lock = threading.Lock()
        self._injected: collections.Counter[tuple[str, str]] = collections.Counter()

    @staticmethod
    def _check(kinds: Iterable[str | None], routes: str | Iterable[str]) -> None:
        chosen = set(ROUTES if routes == "*" else [routes] if isinstance(routes, str) else routes)
        if STATE_MACHINE_ROUTE in chosen:
            wrong = sorted({kind for kind in kinds if kind is not None and kind not in LAMBDA_REPLIES})
            if wrong:
                raise ValueError(f"Lambda invocations fail only with {sorted(LAMBDA_REPLIES)}, not {wrong}")

    def inject(self, kind: str, share: float, routes: str | Iterable[str] = FUNCTION_ROUTES) -> None:
        """Give `share` (0..1) of the calls on `routes` the fault `kind`, until `clear`."""
        self._check([kind], routes)
        self._injector.inject(kind, share, routes)

    def script(self, kinds: Sequence[str | None], routes: str | Iterable[str] = FUNCTION_ROUTES) -> None:
        """Queue faults that the next calls on `routes` take in order; None lets one call through."""
        self._check(kinds, routes)
        self._injector.script(kinds, routes)

    def clear(self) -> None:
        """No more faults: rules and the rest of the script dropped (the counts stay)."""
        self._injector.clear()

    def reset(self) -> None:
        """No faults and no counts."""
        self._injector.reset()
        with self._lock:
            self._injected.clear()

    def injected(self) -> dict[str, dict[str, int]]:
        """Faults injected so far: by route, then by kind."""
        with self._lock:
            counts: dict[str, dict[str, int]] = {}
            for (route, kind), count in sorted(self._injected.items()):
                counts.setdefault(route, {})[kind] = count
            return counts

    def reply(self, request: AWSPreparedRequest) -> AWSResponse | None:
        """The fault answering `request` (an error reply or a raised network error), or None."""
        service, operation = request_route(request)
        if self._in_function() and service in _SIGNING_NAMES:
            route = _SIGNING_NAMES[service]
        elif self._in_execution() and service == "lambda" and operation == "Invoke":
            route = STATE_MACHINE_ROUTE
        else:
            return None
        kind = self._injector.pick(route)
        if kind is None:
            return None
        with self._lock:
            self._injected[(route, kind)] += 1
        if kind == "read_timeout":
            raise ReadTimeoutError(endpoint_url=request.url, error="injected read time-out")
        if kind == "connection_error":
            raise EndpointConnectionError(endpoint_url=request.url)
        answer = (LAMBDA_REPLIES if route == STATE_MACHINE_ROUTE else ERROR_REPLIES)[kind]
        body = json.dumps({"__type": answer.code, "message": answer.message}).encode("utf-8")
        headers = {
            "x-amzn-ErrorType": answer.code,
            "x-amzn-RequestId": str(uuid.uuid4()),
            "Content-Type": "application/x-amz-json-1.0",
        }
        if route == STATE_MACHINE_ROUTE:
            headers["Content-Type"] = "application/json"
        return reply(request, answer.status, headers, body)
