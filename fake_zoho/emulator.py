"""FakeZoho: one emulated Zoho data centre (Accounts + CRM) served over HTTP (or HTTPS), with its controls."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from flask import Flask, Response, request

from .accounts import DEFAULT_ORG, Accounts, Client
from .bulk import BulkState
from .clock import Clock, EmulatorClock
from .config import MODULE_NAME, ZohoConfig
from .counters import Counters
from .errors import error_body
from .faults import FaultInjector
from .jobs import Job, JobBook
from .kinds import ALL_KINDS, MASS_UPDATE, MAX_TOTAL
from .profile import JobProfile
from .replies import RESET_KIND, json_reply, reset_connection
from .server import ServerThread

logger = logging.getLogger(__name__)
CRM_ROUTES = ("status", "create", "download", "crm")


class FakeZoho:
    """The Zoho emulator. See the package docstring for the whole API."""

    def __init__(
        self,
        *,
        dc: str = "us",
        host: str = "127.0.0.1",
        port: int = 0,
        scale: float = 1.0,
        clock: Clock | None = None,
        holding_back: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
        tls: tuple[str, str] | None = None,
        **config: Any,
    ) -> None:
        self._initial_config = {"dc": dc, **config}
        self._initial_scale = scale
        self._host = host
        self._port = port
        # (certificate file, key file), PEM: served over HTTPS with them; None (the default): plain HTTP.
        self._tls = tls
        self.config = ZohoConfig()
        self.config.update(**self._initial_config)
        # A clock given by the caller (an embedded stack's, say) is the caller's: `reset` leaves it alone.
        self._own_clock = clock is None
        self.clock: Clock = EmulatorClock(scale) if clock is None else clock
        # Entered while a reply is held back in real time (`sleep`): a host sharing its clock can tell
        # that this is no work (see `FakeZoho` in the package docstring).
        self._holding_back = holding_back
        self.faults = FaultInjector()
        # The live tallies behind ``counters`` and ``request_log`` (the CRM routes take org slots from it).
        self.tallies = Counters(self.config.request_log_limit)
        self.accounts = Accounts(self.clock, self.config, self.tallies, self._api_domain)
        self.jobs = JobBook(self.clock, id_seed=lambda: self.config.job_id_seed)
        self._views: dict[tuple[str, str], tuple[int, JobProfile]] = {}
        # define_kind: the size and profile of jobs created over HTTP, by kind.
        self._kinds: dict[str, tuple[int | None, JobProfile | None]] = {}
        # Bulk jobs' org-wide state: uploaded files, bulk read page tokens and result downloads.
        self.bulk = BulkState(self.clock)
        self._latency = 0.0
        self._server: ServerThread | None = None
        self.app = self._build_app()

    # ----- life cycle -----

    def _build_app(self) -> Flask:
        from .accounts_routes import accounts_blueprint
        from .admin import admin_blueprint
        from .bulk_routes import bulk_blueprint
        from .crm_routes import crm_blueprint
        from .metadata_routes import metadata_blueprint
        from .org_routes import org_blueprint

        app = Flask("fake_zoho")
        app.register_blueprint(accounts_blueprint(self))
        app.register_blueprint(metadata_blueprint(self))
        app.register_blueprint(bulk_blueprint(self))
        app.register_blueprint(org_blueprint(self))
        app.register_blueprint(crm_blueprint(self))
        app.register_blueprint(admin_blueprint(self))
        return app

    def start(self) -> FakeZoho:
        """Serve on 127.0.0.1 (a free port unless one was given) in a daemon thread; return self."""
        if self._server is None:
            self._server = ServerThread(self.app, self._host, self._port, self._tls)
            self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving; wake requests held by latency or time-out faults."""
        self.faults.wake.set()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeZoho:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def serving(self) -> bool:
        """True once started (its HTTP server runs), until stopped."""
        return self._server is not None

    @property
    def url(self) -> str:
        """Base URL of both Zoho Accounts and the CRM API (``accounts_url`` and ``api_domain``)."""
        if self._server is None:
            raise RuntimeError("FakeZoho is not started: call start() first")
        return f"{self._server.scheme}://{self._server.host}:{self._server.port}"

    def _api_domain(self) -> str:
        return self.config.api_domain or self.url

    def reset(self) -> None:
        """Back to a fresh emulator on the same URL: no clients, tokens, jobs, faults or counts;
        default settings, no latency, its own clock running at the initial scale (a clock given to it is
        left as it is)."""
        self.faults.reset()
        self.config.update(**{**ZohoConfig().to_dict(), **self._initial_config})
        if self._own_clock:
            self.clock.reset(self._initial_scale)
        self.tallies.reset(self.config.request_log_limit)
        self.accounts.reset()
        self.jobs.reset()
        self.bulk.reset()
        self._views.clear()
        self._kinds.clear()
        self._latency = 0.0

    # ----- accounts -----

    def add_client(
        self,
        scopes: Iterable[str] | str | None = None,
        *,
        dc: str | None = None,
        org_id: str = DEFAULT_ORG,
        permission: str = "ok",
    ) -> Client:
        """Register a self client (``client_id``, ``client_secret``); scopes default to the config's."""
        return self.accounts.add_client(scopes, dc=dc, org_id=org_id, permission=permission)

    def issue_refresh_token(self, client_id: str, scopes: Iterable[str] | str | None = None) -> str:
        """A refresh token for ``client_id`` with ``scopes`` (default: the client's)."""
        return self.accounts.issue_refresh_token(client_id, scopes)

    def issue_grant_code(
        self, client_id: str, scopes: Iterable[str] | str | None = None, ttl: float | None = None
    ) -> str:
        """A single-use self-client grant code, valid ``ttl`` emulated seconds (default 180)."""
        return self.accounts.issue_grant_code(client_id, scopes, ttl)

    def credentials(
        self,
        scopes: Iterable[str] | str | None = None,
        *,
        org_id: str = DEFAULT_ORG,
        permission: str = "ok",
    ) -> dict[str, str]:
        """A new client and refresh token, as the credentials secret holds them."""
        client = self.add_client(scopes, org_id=org_id, permission=permission)
        return {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": self.issue_refresh_token(client.client_id),
            "accounts_url": self.url,
            "api_domain": self._api_domain(),
        }

    def set_permission(self, client_id: str, permission: str) -> None:
        """Make ``client_id``'s user allowed (``ok``), ``no_permission`` or ``authorization_failed``."""
        self.accounts.set_permission(client_id, permission)

    def revoke_refresh_token(self, refresh_token: str) -> bool:
        """Revoke a refresh token and its access tokens; False if it was unknown."""
        return self.accounts.revoke_refresh_token(refresh_token)

    def expire_access_tokens(self) -> int:
        """Expire every live access token now; return how many."""
        return self.accounts.expire_access_tokens()

    def foreign_access_token(self, dc: str = "eu", scopes: Iterable[str] | str | None = None) -> str:
        """An access token of another data centre: this emulator's API answers INVALID_TOKEN."""
        return self.accounts.foreign_access_token(dc, scopes)

    # ----- jobs -----

    def create_job(
        self,
        module: str,
        total: int = 50,
        profile: JobProfile | None = None,
        *,
        cvid: str | None = None,
        kind: str = MASS_UPDATE,
    ) -> str:
        """Schedule a job now (no HTTP, no token) of any kind (`fake_zoho.kinds.ALL_KINDS`; `module` "org" for
        the kinds whose paths name none); return its job_id. Bulk jobs made so read or write Leads."""
        return self.jobs.create(module, total, profile, cvid, kind).job_id

    def define_kind(self, kind: str, total: int | None = None, profile: JobProfile | None = None) -> None:
        """Say how jobs of ``kind`` created over HTTP behave (``profile``) and, where the request gives no
        size (a bulk read without a cvid, an audit log export, a transfer), how many records they cover."""
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(ALL_KINDS)}")
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or not 0 <= total <= MAX_TOTAL[kind]
        ):
            raise ValueError(f"total must be an integer between 0 and {MAX_TOTAL[kind]}")
        if profile is not None and not isinstance(profile, JobProfile):
            raise ValueError("profile must be a JobProfile")
        self._kinds[kind] = (total, profile)

    def job_plan(
        self, kind: str, module: str | None = None, cvid: str | None = None
    ) -> tuple[int, JobProfile]:
        """(records, profile) of a job of ``kind`` created over HTTP: a defined view's (``define_view``), else
        the kind's (``define_kind``), else ``config.cvid_default_total`` records and the default profile."""
        if module is not None and cvid is not None and (module.lower(), cvid) in self._views:
            return self._views[(module.lower(), cvid)]
        total, profile = self._kinds.get(kind, (None, None))
        return (self.config.cvid_default_total if total is None else total), profile or JobProfile()

    def define_view(self, module: str, cvid: str, total: int, profile: JobProfile | None = None) -> None:
        """Say how many records custom view ``cvid`` holds and how its jobs behave (HTTP job creation)."""
        if not isinstance(module, str) or not MODULE_NAME.match(module):
            raise ValueError("module must be a module API name")
        if not isinstance(cvid, str) or not cvid.isdigit():
            raise ValueError("cvid must be a string of digits")
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError("total must be an integer >= 0")
        if profile is not None and not isinstance(profile, JobProfile):
            raise ValueError("profile must be a JobProfile")
        self._views[(module.lower(), cvid)] = (total, profile or JobProfile())

    def view(self, module: str, cvid: str) -> tuple[int, JobProfile]:
        """(records, profile) of a custom view; unknown views hold config.cvid_default_total records."""
        return self._views.get((module.lower(), cvid), (self.config.cvid_default_total, JobProfile()))

    def job(self, job_id: str) -> Job:
        """The job record (module, total, profile, created_at, ...); KeyError if unknown."""
        return self.jobs.get(job_id)

    def job_truth(self, job_id: str) -> dict[str, Any]:
        """The status body's data[0] as of now: the same dict the API would return."""
        return self.jobs.get(job_id).body(self.clock.now())

    def job_reply(self, job_id: str) -> Any:
        """The body the job's status call answers now, in its kind's words and shape (links on ``url``)."""
        from .status import reply_of

        return reply_of(self, self.jobs.get(job_id))

    def job_finished_at(self, job_id: str) -> float | None:
        """Emulator-clock time the job reached its terminal status, or None if not yet."""
        return self.jobs.get(job_id).finished_at(self.clock.now())

    # ----- behaviour -----

    def set_latency(self, seconds: float) -> None:
        """Real seconds added to every CRM call (not scaled by the clock)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 600:
            raise ValueError("latency must be a number of seconds between 0 and 600")
        self._latency = float(seconds)

    @property
    def latency(self) -> float:
        """Real seconds added to every CRM call."""
        return self._latency

    def sleep(self, seconds: float) -> None:
        """Sleep real ``seconds``, cut short by reset() or stop(): a reply held back (latency, time-out)."""
        if seconds > 0:
            with self._holding_back():
                self.faults.wake.wait(seconds)

    # ----- observation -----

    @property
    def counters(self) -> dict[str, Any]:
        """Snapshot: calls by route and HTTP status, token refreshes and their times, grants, concurrency."""
        snapshot = self.tallies.snapshot()
        snapshot["faults_injected"] = self.faults.state()["injected"]
        return snapshot

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """Every request, oldest first: time, method, path, route, status, kind (never a secret)."""
        return self.tallies.log()

    def serve(self, route: str, handler: Callable[[], tuple[Response, str]]) -> Response:
        """Run one request's ``handler`` under observation: in-flight count, request log, counters."""
        started = time.monotonic()
        emulated = self.clock.now()
        tracked = self.tallies.in_flight() if route in CRM_ROUTES else contextlib.nullcontext()
        with tracked:
            try:
                response, kind = handler()
            except Exception:
                logger.exception("fake_zoho: unexpected error on %s %s", request.method, request.path)
                response, kind = json_reply(error_body("INTERNAL_ERROR"), 500), "emulator_error"
        entry: dict[str, Any] = {
            "time": emulated,
            "method": request.method,
            # The path only: query strings of Accounts calls may carry secrets.
            "path": request.path,
            "route": route,
            "status": 0 if kind == RESET_KIND else response.status_code,
            "kind": kind,
            "duration": round(time.monotonic() - started, 6),
        }
        if route == "status" and "job_id" in request.args:
            entry["job_id"] = request.args.get("job_id", "")[:40]
        elif route in ("status", "download") and "job_id" in (request.view_args or {}):
            entry["job_id"] = str((request.view_args or {})["job_id"])[:40]
        self.tallies.record(entry)
        if kind == RESET_KIND:
            # Only now: the client sees the reset at once and may ask again at once, and its next request
            # must come after this one in the log and must not overlap it in flight.
            reset_connection()
        return response
