"""A threaded werkzeug server in a daemon thread, sized for hundreds of concurrent requests."""

from __future__ import annotations

import threading
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
    """Serves a WSGI app on ``host:port`` (port 0: a free one) until ``stop``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server(host, port, app, handler=QuietRequestHandler)
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
