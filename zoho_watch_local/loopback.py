"""boto3 calls from this process to the embedded AWS are served in-process, without a socket.

The embedded AWS is a moto server on 127.0.0.1 (see `zoho_watch_local.aws`): the CLI, the AWS CLI and a
user's own code reach it over HTTP. Most of its requests, though, come from this very process: the Lambda
handlers' boto3 clients, moto's own Step Functions integrations (a Task invoking Lambda, continue-as-new)
and the test or demo driver. Over HTTP each of them opens a connection (the server closes it after every
reply), starts a server thread and writes and parses HTTP twice: a fifth of the CPU of a watch.

`install(server)` wraps botocore's `URLLib3Session.send`, process-wide: a request whose URL is the server's
(on 127.0.0.1 or localhost, at its port) is handed to the server's WSGI application directly, the clock's
middleware included, in a copy of the context the server's threads start in, as a server thread would
run it; every other request goes out as before. The reply is moto's own (status, headers, body), and an
application error is a 500 as the server would send it. `set_faults` lets a hook answer first (the embedded
AWS's faults, `zoho_watch_local.aws_faults`). The SDK's back-off before retrying a request the embedded AWS
answered is not slept: the stack's clock stands still while the caller works, so on it the back-off takes no
time at all, and sleeping it in real time would only slow the run. `tests/integration/test_loopback.py` pins
botocore's part and compares the replies with the server's.
"""

from __future__ import annotations

import contextvars
import io
import logging
import threading
import time
import types
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from botocore import endpoint as botocore_endpoint
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.httpsession import URLLib3Session
from werkzeug.exceptions import InternalServerError
from werkzeug.test import EnvironBuilder

logger = logging.getLogger(__name__)

_HOSTS = frozenset({"127.0.0.1", "localhost"})

_lock = threading.Lock()


# Decides, in the caller's thread and context, whether a fault answers a request instead of the server: it
# returns that answer, raises the network error, or returns None (see `zoho_watch_local.aws_faults`).
FaultHook = Callable[[AWSPreparedRequest], "AWSResponse | None"]


class _Server:
    """Where the embedded AWS listens, the WSGI application it serves and its threads' starting context."""

    def __init__(self, port: int, app: Callable[..., Any]) -> None:
        self.port = port
        self.app = app
        self.context = contextvars.copy_context()
        self.faults: FaultHook | None = None

    def serves(self, url: str) -> bool:
        """Whether `url` is addressed to this server."""
        parts = urlsplit(url)
        return parts.hostname in _HOSTS and parts.port == self.port


_server: _Server | None = None
_original_send: Callable[[URLLib3Session, AWSPreparedRequest], AWSResponse] | None = None
_original_endpoint_time: Any = None
# Whether this thread's last request went to the embedded AWS (its retry back-off is then not slept).
_last_request = threading.local()


class _BackOffTime(types.SimpleNamespace):
    """Stands in for the `time` module in botocore's endpoint, which sleeps a retry's back-off with it."""

    @staticmethod
    def sleep(seconds: float) -> None:
        """No sleep after a request the embedded AWS answered (see the module docstring); else a real one."""
        if not getattr(_last_request, "served", False):
            time.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class _Body(io.BytesIO):
    """A reply body as botocore reads a raw urllib3 response: `read(amt)` and `stream()`."""

    def stream(self, **_: Any) -> Any:
        """The body in one chunk (what is left of it)."""
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _text(value: str | bytes) -> str:
    """A header value as text (botocore keeps some as bytes; HTTP sends them as Latin-1)."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _request_body(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return body.read()  # type: ignore[no-any-return]  # a file-like body (an upload)


def reply(request: AWSPreparedRequest, status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
    """A reply to `request`, as botocore reads one from the network."""
    return AWSResponse(request.url, status, headers, _Body(body))


def serve(app: Callable[..., Any], request: AWSPreparedRequest) -> AWSResponse:
    """`request`, answered by the WSGI `app` in this thread: the reply botocore would have read."""
    parts = urlsplit(request.url)
    environ = EnvironBuilder(
        method=request.method,
        base_url=f"{parts.scheme}://{parts.netloc}",
        path=parts.path or "/",
        query_string=parts.query,
        headers=[(name, _text(value)) for name, value in request.headers.items()],
        data=_request_body(request),
    ).get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [status, headers]

    try:
        chunks = app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    except Exception:  # what werkzeug's server does with an application error: log it, answer 500
        logger.exception("error on request %s %s", request.method, parts.path)
        error = InternalServerError()
        started[:] = [f"{error.code} {error.name}", error.get_headers(environ)]
        body = error.get_body(environ).encode("utf-8")
    status, headers = started
    return reply(request, int(status.split(" ", 1)[0]), dict(headers), body)


def _send(self: URLLib3Session, request: AWSPreparedRequest) -> AWSResponse:
    server = _server
    _last_request.served = server is not None and server.serves(request.url)
    if server is None or not _last_request.served:
        assert _original_send is not None
        return _original_send(self, request)
    if server.faults is not None:
        fault = server.faults(request)
        if fault is not None:
            return fault
    return server.context.copy().run(serve, server.app, request)


def install(port: int, app: Callable[..., Any]) -> None:
    """Serve botocore's requests to `127.0.0.1:port` (or `localhost:port`) with `app`, in-process.

    Call it from the thread that started the server, right after it started: the requests run in a copy of
    that thread's context, as the server's own threads do.
    """
    global _server, _original_send, _original_endpoint_time
    with _lock:
        if _original_send is None:
            _original_send = URLLib3Session.send
            URLLib3Session.send = _send  # type: ignore[method-assign]
            _original_endpoint_time = botocore_endpoint.time
            botocore_endpoint.time = _BackOffTime()  # type: ignore[assignment]
        _server = _Server(port, app)


def set_faults(hook: FaultHook | None) -> None:
    """Let `hook` answer requests to the embedded AWS before the server does (None: no faults)."""
    with _lock:
        if _server is None:
            raise RuntimeError("the loopback is not installed")
        _server.faults = hook


def uninstall() -> None:
    """Send every request over the network again and put botocore's `send` back."""
    global _server, _original_send, _original_endpoint_time
    with _lock:
        _server = None
        if _original_send is not None:
            URLLib3Session.send = _original_send  # type: ignore[method-assign]
            _original_send = None
            botocore_endpoint.time = _original_endpoint_time
            _original_endpoint_time = None


def installed() -> bool:
    """Whether botocore's requests to the embedded AWS are served in-process."""
    return _server is not None
