"""A threaded werkzeug server in a daemon thread, sized for hundreds of concurrent requests: plain HTTP, or
HTTPS with a certificate the caller gives. werkzeug closes each connection after its reply."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler


class QuietRequestHandler(WSGIRequestHandler):
    """No access log on stderr (the emulator keeps its own request log); keep-alive like Zoho's front end."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are recorded in the emulator's request log instead."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Silence werkzeug's own messages, including the write errors a deliberate reset causes."""


class _Server(ThreadedWSGIServer):
    # werkzeug listens with a backlog of 128; bursts of hundreds of connections must queue, not be refused.
    request_queue_size = 1024

    def log(self, type: str, message: str, *args: Any) -> None:
        """Silence werkzeug's server log (see QuietRequestHandler)."""


class ServerThread:
    """Serves a WSGI app on ``host:port`` (port 0: a free one) until ``stop``.

    ``tls``: (certificate file, private key file), PEM: serve HTTPS with them (``scheme`` says which).
    """

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, tls: tuple[str, str] | None = None
    ) -> None:
        self._server = _Server(host, port, app, handler=QuietRequestHandler, ssl_context=tls)
        self.scheme = "https" if tls else "http"
        self.host = host
        self.port = self._server.server_port
        # A short poll interval lets stop() return quickly (serve_forever checks for shutdown between polls).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-zoho", daemon=True
        )

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class StopSignals:
    """SIGINT and SIGTERM as a request to stop, for a server process started from a shell.

    Create it once the servers are up and before announcing them (whoever waits for that announcement may
    signal at once), then ``wait()``. The handlers are installed explicitly because a job started in the
    background by a non-interactive shell inherits SIGINT ignored (Python then raises no KeyboardInterrupt),
    and SIGTERM would otherwise end the process without its servers being stopped. They stay installed
    after the first signal, so a second one while the caller stops its servers is a no-op rather than a
    traceback mid-shutdown.
    """

    def __init__(self) -> None:
        self._stopped = threading.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, self._handle)

    def _handle(self, signal_number: int, frame: object) -> None:
        self._stopped.set()

    def wait(self) -> None:
        """Block until SIGINT or SIGTERM has arrived."""
        # Poll rather than Event.wait(): a handler runs in the main thread, and if it ran while the main
        # thread held the event's internal lock inside wait(), its set() would deadlock on that lock.
        while not self._stopped.is_set():
            time.sleep(0.1)
