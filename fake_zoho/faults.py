"""Fault injection: by share (random, seedable) or by script (consumed in order), per route.

The emulator's injector knows Zoho's routes and fault kinds; another server can reuse it with its own.
"""

from __future__ import annotations

import collections
import random
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import ZOHO_ERRORS

# Transport-level faults; any Zoho error code of errors.ZOHO_ERRORS is a fault kind too.
TRANSPORT_FAULTS = ("500", "429", "429_retry_after", "timeout", "reset", "non_json", "html", "502_empty")
FAULT_KINDS = (*TRANSPORT_FAULTS, *ZOHO_ERRORS)
# status: a job's status call; create: a job's creation call (and a bulk write upload); download: a job's
# result file (all after authentication); token, revoke: Zoho Accounts.
ROUTES = ("status", "create", "download", "token", "revoke")


@dataclass(frozen=True)
class _ShareRule:
    kind: str
    share: float
    routes: frozenset[str]


class FaultInjector:
    """Decides, per request, whether a fault replaces the normal reply.

    ``script([...])`` queues kinds (None = a normal reply) that the next matching requests take in order;
    once it is used up, ``inject`` rules apply, each with its own share. ``seed`` makes shares repeatable.
    ``routes`` and ``kinds`` are what may be named (default: the emulator's); a rule or script that names no
    routes (None or "*") applies to all of them.
    """

    def __init__(
        self,
        seed: int | None = None,
        *,
        routes: Sequence[str] = ROUTES,
        kinds: Sequence[str] = FAULT_KINDS,
    ) -> None:
        self.routes = tuple(routes)
        self.kinds = tuple(kinds)
        self._lock = threading.Lock()
        self._rules: list[_ShareRule] = []
        self._script: collections.deque[tuple[str | None, frozenset[str]]] = collections.deque()
        self._random = random.Random(seed)
        self._injected: collections.Counter[str] = collections.Counter()
        # Set by reset/stop so that sleeping "timeout" faults wake up at once.
        self.wake = threading.Event()

    def _routes(self, routes: str | Iterable[str] | None) -> frozenset[str]:
        if routes is None or routes == "*":
            return frozenset(self.routes)
        chosen = frozenset([routes] if isinstance(routes, str) else routes)
        unknown = sorted(chosen - set(self.routes))
        if unknown or not chosen:
            raise ValueError(f"routes must be among {self.routes} (or '*'), got {sorted(chosen)}")
        return chosen

    def _kind(self, kind: str | None, allow_none: bool) -> str | None:
        if kind is None and allow_none:
            return None
        if kind not in self.kinds:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(self.kinds)}")
        return kind

    def inject(self, kind: str, share: float = 0.2, routes: str | Iterable[str] | None = ("status",)) -> None:
        """Give ``share`` (0..1) of the requests to ``routes`` the fault ``kind``, until ``clear``."""
        self._kind(kind, allow_none=False)
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValueError(f"share must be a number between 0 and 1, got {share!r}")
        rule = _ShareRule(kind, float(share), self._routes(routes))
        with self._lock:
            self._rules.append(rule)

    def script(self, kinds: Sequence[str | None], routes: str | Iterable[str] | None = ("status",)) -> None:
        """Queue faults taken in order by the next requests to ``routes``; None means a normal reply."""
        if isinstance(kinds, str) or not isinstance(kinds, Sequence):
            raise ValueError("script takes a list of fault kinds (or null for a normal reply)")
        chosen = self._routes(routes)
        checked = [self._kind(kind, allow_none=True) for kind in kinds]
        with self._lock:
            self._script.extend((kind, chosen) for kind in checked)

    def clear(self) -> None:
        """Remove every rule and the rest of the script."""
        with self._lock:
            self._rules.clear()
            self._script.clear()

    def seed(self, value: int) -> None:
        """Make share-based faults repeatable."""
        with self._lock:
            self._random.seed(value)

    def reset(self) -> None:
        """Clear rules, script and counts; wake any request sleeping in a ``timeout`` fault."""
        self.clear()
        with self._lock:
            self._injected.clear()
        self.wake.set()
        self.wake = threading.Event()

    def pick(self, route: str) -> str | None:
        """The fault for this request to ``route``, or None for a normal reply."""
        with self._lock:
            for index, (kind, routes) in enumerate(self._script):
                if route in routes:
                    del self._script[index]
                    if kind is not None:
                        self._injected[kind] += 1
                    return kind
            for rule in self._rules:
                if route in rule.routes and self._random.random() < rule.share:
                    self._injected[rule.kind] += 1
                    return rule.kind
        return None

    def state(self) -> dict[str, object]:
        """JSON-ready view: rules, what is left of the script, faults injected so far by kind."""
        with self._lock:
            return {
                "rules": [
                    {"kind": r.kind, "share": r.share, "routes": sorted(r.routes)} for r in self._rules
                ],
                "script": [{"kind": k, "routes": sorted(r)} for k, r in self._script],
                "injected": dict(self._injected),
            }
