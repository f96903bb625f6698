"""Counters and the request log: what the emulator was asked, how it answered, and how busy it was."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Counters:
    """Thread-safe tallies: calls by route and HTTP status, token refreshes, grants, concurrency."""

    def __init__(self, log_limit: int = 10000) -> None:
        self._lock = threading.Lock()
        self._log_limit = log_limit
        # Requests in flight are live state, not history: reset() keeps them so they can leave cleanly.
        self._in_flight = 0
        self._in_flight_by_org: collections.Counter[str] = collections.Counter()
        self.reset()

    def reset(self, log_limit: int | None = None) -> None:
        """Forget everything counted so far (requests still in flight stay counted as in flight)."""
        with self._lock:
            if log_limit is not None:
                self._log_limit = log_limit
            self._calls: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
            self._kinds: collections.Counter[str] = collections.Counter()
            self._refresh_times: list[float] = []
            self._throttled = 0
            self._grants = 0
            self._peak = self._in_flight
            self._peak_by_org: dict[str, int] = {org: n for org, n in self._in_flight_by_org.items() if n}
            self._log: collections.deque[dict[str, Any]] = collections.deque(maxlen=self._log_limit)

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Count a request as in flight (server-wide) while the block runs; track the peak."""
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def try_enter_org(self, org_id: str, limit: int | None) -> bool:
        """Take one of ``org_id``'s concurrent-call slots; False when ``limit`` are already taken."""
        with self._lock:
            if limit is not None and self._in_flight_by_org[org_id] >= limit:
                return False
            self._in_flight_by_org[org_id] += 1
            self._peak_by_org[org_id] = max(self._peak_by_org.get(org_id, 0), self._in_flight_by_org[org_id])
            return True

    def leave_org(self, org_id: str) -> None:
        """Give back a slot taken by ``try_enter_org``."""
        with self._lock:
            self._in_flight_by_org[org_id] -= 1

    def record(self, entry: dict[str, Any]) -> None:
        """Count one finished request and append it to the log (entries never hold secrets)."""
        with self._lock:
            self._calls[entry["route"]][str(entry["status"])] += 1
            self._kinds[entry["kind"]] += 1
            self._log.append(entry)

    def token_refreshed(self, at: float) -> None:
        """Count a new access token from a refresh token, at emulated time ``at``."""
        with self._lock:
            self._refresh_times.append(at)

    def token_throttled(self) -> None:
        """Count a refresh refused by the 10-per-10-minutes limit."""
        with self._lock:
            self._throttled += 1

    def grant_exchanged(self) -> None:
        """Count a grant code exchanged for a refresh token."""
        with self._lock:
            self._grants += 1

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready copy of every counter."""
        with self._lock:
            calls = {route: dict(statuses) for route, statuses in self._calls.items()}
            return {
                "calls": calls,
                "calls_total": sum(sum(s.values()) for s in calls.values()),
                "kinds": dict(self._kinds),
                "token_refreshes": len(self._refresh_times),
                "token_refresh_times": list(self._refresh_times),
                "token_throttled": self._throttled,
                "grants": self._grants,
                "in_flight": self._in_flight,
                "peak_concurrency": self._peak,
                "peak_concurrency_by_org": dict(self._peak_by_org),
            }

    def log(self) -> list[dict[str, Any]]:
        """Copy of the request log, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._log]
