"""A local API Gateway: HTTP requests to REST API proxy events for the functions the template routes to.

moto's API Gateway cannot call Lambda, so this small WSGI server does what API Gateway's `aws_proxy`
integration does: it matches the method and path against the template's routes (SAM `Api` events, path
templates like `/jobs` and `/jobs/{path+}`), builds the REST API proxy event (version 1.0:
path and query parameters, single and multi-value headers, requestContext with stage, request id and the
caller's identity), invokes the function through moto's Lambda API (so the invocation is logged like any
other) and turns the proxy response back into HTTP. As on AWS, an unknown route answers 403 "Missing
Authentication Token", and a function error or a malformed response answers 502 "Internal server error".

Base URL: `http://127.0.0.1:{port}/{stage}`, like `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
SigV4 signatures (AWS_IAM routes) are not verified locally: the access key id from the Authorization
header is passed on in `requestContext.identity`, with a local user ARN.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.config import Config
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from zoho_watch_local.aws import ACCOUNT_ID, LocalAws
from zoho_watch_local.deploy import Route

logger = logging.getLogger(__name__)

_PARAMETER = re.compile(r"\{([A-Za-z0-9_.-]+)(\+?)\}")


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]


def _compile(route: Route) -> _CompiledRoute:
    regex, position = "", 0
    for match in _PARAMETER.finditer(route.path):
        regex += re.escape(route.path[position : match.start()])
        name, greedy = match.group(1), match.group(2)
        group = re.sub(r"[^0-9A-Za-z_]", "_", name)
        regex += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
        position = match.end()
    regex += re.escape(route.path[position:])
    return _CompiledRoute(route, re.compile(f"^{regex}/?$"))


def _path_parameters(compiled: _CompiledRoute, match: re.Match[str]) -> dict[str, str] | None:
    # As API Gateway: a greedy `{path+}` is the parameter `path`.
    names = [name for name, _ in _PARAMETER.findall(compiled.route.path)]
    if not names:
        return None
    values = [unquote(value) for value in match.groups()]
    return dict(zip(names, values, strict=True))


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    return {key: values[-1] for key, values in multi.items()}, multi


class LocalApiGateway:
    """Serves the template's API routes on 127.0.0.1 (see module docstring); `start()` returns self."""

    def __init__(self, aws: LocalAws, routes: list[Route], api_id: str, stage: str, port: int = 0) -> None:
        self.routes = [_compile(route) for route in routes]
        self.api_id = api_id
        self.stage = stage
        self._aws = aws
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lambda: Any = None

    @property
    def url(self) -> str:
        """The API's base URL, stage included (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the local API gateway is not started")
        return f"http://127.0.0.1:{self._server.server_port}/{self.stage}"

    def start(self) -> LocalApiGateway:
        """Start serving in a background thread."""
        import boto3

        # Invocations can be as long as a function's time-out; many requests may be in flight at once.
        config = Config(read_timeout=900, max_pool_connections=64, retries={"max_attempts": 0})
        self._lambda = boto3.client("lambda", config=config, **self._aws.client_kwargs())
        # A request is work: the stack's clock stands still while the gateway handles it.
        self._server = make_server("127.0.0.1", self._port, self._aws.clock.wsgi(self._wsgi), threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-api-gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.handle(request)
        except Exception:  # never a stack trace to the caller, as API Gateway
            logger.exception("local API gateway failed on %s %s", request.method, request.path)
            response = _json_response(500, {"message": "Internal server error"})
        return response(environ, start_response)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str] | None] | None:
        """The route serving `method path` (path without the stage) and its path parameters."""
        for compiled in self.routes:
            found = compiled.pattern.match(path)
            if found and compiled.route.method in (method.upper(), "ANY"):
                return compiled.route, _path_parameters(compiled, found)
        return None

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request the way API Gateway's Lambda proxy integration does."""
        prefix = f"/{self.stage}"
        raw_path = request.path
        if not (raw_path == prefix or raw_path.startswith(prefix + "/")):
            return _json_response(403, {"message": "Missing Authentication Token"})
        path = raw_path[len(prefix) :] or "/"
        found = self.match(request.method, path)
        if found is None:
            return _json_response(403, {"message": "Missing Authentication Token"})
        route, path_parameters = found
        event = self.proxy_event(request, route, path, path_parameters)
        reply = self._lambda.invoke(FunctionName=route.function_name, Payload=json.dumps(event).encode())
        payload = reply["Payload"].read()
        if reply.get("FunctionError"):
            try:
                error = json.loads(payload)
            except ValueError:
                error = {}
            logger.warning(
                "function %s failed behind %s %s: %s: %s",
                route.function_name,
                request.method,
                path,
                error.get("errorType"),
                error.get("errorMessage"),
            )
            return _json_response(502, {"message": "Internal server error"})
        return _proxy_response(payload)

    def proxy_event(
        self, request: Request, route: Route, path: str, path_parameters: dict[str, str] | None
    ) -> dict[str, Any]:
        """The REST API (v1) proxy event for a request."""
        headers, multi_headers = _multi([(key, value) for key, value in request.headers.items()])
        query, multi_query = _multi(parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True))
        body_bytes = request.get_data()
        is_text = True
        try:
            body: str | None = body_bytes.decode("utf-8") if body_bytes else None
        except UnicodeDecodeError:
            body, is_text = base64.b64encode(body_bytes).decode("ascii"), False
        access_key = None
        match = re.search(r"Credential=([^/,\s]+)/", request.headers.get("Authorization", ""))
        if match:
            access_key = match.group(1)
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": path_parameters,
            "stageVariables": None,
            "requestContext": {
                "resourceId": uuid.uuid4().hex[:6],
                "resourcePath": route.path,
                "httpMethod": request.method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.stage}{path}",
                "accountId": ACCOUNT_ID,
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": self.api_id,
                "requestTimeEpoch": int(time.time() * 1000),
                "requestId": request_id,
                "identity": {
                    "sourceIp": request.remote_addr or "127.0.0.1",
                    "userAgent": request.headers.get("User-Agent"),
                    "accessKey": access_key,
                    "accountId": ACCOUNT_ID if access_key else None,
                    "caller": access_key,
                    "user": access_key,
                    "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/local" if access_key else None,
                },
                "domainName": request.host,
                "apiId": self.api_id,
            },
            "body": body,
            "isBase64Encoded": not is_text,
        }


def _json_response(status: int, document: dict[str, Any]) -> Response:
    return Response(json.dumps(document), status=status, content_type="application/json")


def _proxy_response(payload: bytes) -> Response:
    try:
        reply = json.loads(payload)
        status = int(reply["statusCode"])
    except (ValueError, KeyError, TypeError):
        logger.warning("malformed Lambda proxy response: %.200r", payload)
        return _json_response(502, {"message": "Internal server error"})
    body = reply.get("body") or ""
    data = base64.b64decode(body) if reply.get("isBase64Encoded") else str(body).encode("utf-8")
    response = Response(data, status=status)
    response.headers.remove("Content-Type")
    for key, values in (reply.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(key, str(value))
    for key, value in (reply.get("headers") or {}).items():
        response.headers[key] = str(value)
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response
