"""The bench's in-process stack: moto (`mock_aws`) with template.yaml's table, the event bus, the emulator's
credentials secret, and the library's Services on it, with a count of every AWS API call it makes.

It reuses the test fixtures' `create_table_and_bus` (the table exactly as template.yaml defines it, and the
bus) and their environment (docs/interfaces.md names, and the ones always unset).
"""

from __future__ import annotations

import collections
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from bench import REPO_ROOT
from local.fake_zoho import FakeZoho, JobProfile
from local.lambda_runtime import LambdaContext
from tests.fixtures.aws import ENVIRONMENT, REGION, SECRET_PREFIX, UNSET_ENVIRONMENT, create_table_and_bus


@dataclass
class ApiCalls:
    """AWS API calls by "service.Operation" (thread-safe), counted by a botocore hook on each client."""

    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def hook(self, service: str) -> Callable[..., None]:
        """A `before-call` handler that counts calls of `service`."""

        def count(model: Any, **_: Any) -> None:
            with self._lock:
                self.counts[f"{service}.{model.name}"] += 1

        return count

    def watch(self, client: Any, service: str) -> None:
        """Count every call `client` makes from now on."""
        client.meta.events.register("before-call", self.hook(service))

    def snapshot(self) -> dict[str, int]:
        """The counts so far."""
        with self._lock:
            return dict(self.counts)

    def reset(self) -> None:
        """Forget the counts."""
        with self._lock:
            self.counts.clear()


class RemoteClock:
    """The clock of an emulator in another process: its time read locally, moved through /__admin/clock.

    The emulator's clock runs at scale 1 from the epoch time it started at, so it reads as this process's
    `time.time()` plus an offset, learned from /__admin/clock and again after every move. Reading it costs
    no request: the library reads its clock on every check.
    """

    def __init__(self, admin: ZohoProcess) -> None:
        self._admin = admin
        self._offset = 0.0
        self.sync()

    def sync(self) -> None:
        """Learn the offset from the emulator's clock now."""
        state = self._admin.admin("GET", "clock")
        if state["frozen"] or state["scale"] != 1:
            raise ValueError(f"the emulator's clock must run at scale 1 to be read locally, it is {state}")
        self._offset = state["now"] - time.time()

    def now(self) -> float:
        """The emulator's time now (epoch seconds)."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward by `seconds`."""
        self._admin.admin("POST", "clock", {"advance": seconds})
        self.sync()


class ZohoProcess:
    """The Zoho emulator in its own process (`python -m local.fake_zoho`), driven through /__admin/.

    The few controls the bench uses, as `FakeZoho` names them, so a `Stack` can hold either: in another
    process the emulator's request handling (Zoho's CPU, on Zoho's machines in reality) does not share this
    process's interpreter lock with the code under measurement.
    """

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self._process = process
        self.url = url
        self._session = requests.Session()
        self.clock = RemoteClock(self)

    @classmethod
    @contextmanager
    def running(cls, **config: Any) -> Iterator[ZohoProcess]:
        """Start the emulator on a free port, apply `config` (its settings), stop it after the block."""
        process = subprocess.Popen(
            [sys.executable, "-m", "local.fake_zoho", "--port", "0"],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            if "running at http://" not in first:
                raise RuntimeError(f"the Zoho emulator did not start: {first!r}")
            # The rest of its output (sample credentials) is read and dropped, so a full pipe never blocks it.
            threading.Thread(target=process.stdout.read, name="fake-zoho-stdout", daemon=True).start()
            zoho = cls(process, first.rsplit(" ", 1)[1].strip())
            if config:
                zoho.admin("PATCH", "config", config)
            yield zoho
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def admin(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        """Call `/__admin/<route>`; its JSON reply, or RuntimeError with the emulator's message."""
        reply = self._session.request(method, f"{self.url}/__admin/{route}", json=body, timeout=10)
        if reply.status_code != 200:
            raise RuntimeError(f"emulator admin {method} {route}: {reply.status_code} {reply.text}")
        return reply.json()

    def credentials(self) -> dict[str, str]:
        """A new client's credentials (client_id, client_secret, refresh_token, accounts_url, api_domain)."""
        return self.admin("POST", "credentials")

    def create_job(self, module: str, total: int, profile: JobProfile) -> str:
        """A mass update job of `total` records following `profile`; its id."""
        body = {"module": module, "total": total, "profile": profile.to_dict()}
        return self.admin("POST", "jobs", body)["job_id"]

    def set_latency(self, seconds: float) -> None:
        """Hold every CRM call `seconds` from now on."""
        self.admin("POST", "latency", {"seconds": seconds})

    @property
    def counters(self) -> dict[str, Any]:
        """The emulator's counters (calls by route and status, peak concurrency)."""
        return self.admin("GET", "counters")


@dataclass
class Stack:
    """Handles on the in-process stack (its Zoho emulator in this process or its own)."""

    zoho: FakeZoho | ZohoProcess
    services: Any
    calls: ApiCalls
    connection: str = "default"


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block, then put the old values back."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def base_environment() -> dict[str, str]:
    """The stack's environment variables (docs/interfaces.md), as the tests set them."""
    return dict(ENVIRONMENT)


@contextmanager
def local_stack(
    zoho: FakeZoho | ZohoProcess, clock: Callable[[], float] | None = None, **env: str
) -> Iterator[Stack]:
    """moto with the stack's table, bus and the emulator's credentials; the library's Services installed.

    `clock` is the library's clock (default: the emulator's, so token expiry and job times agree).
    """
    import boto3
    from moto import mock_aws
    from zoho_watch import services as services_module
    from zoho_watch.config import Settings

    with environment({**base_environment(), **env}):
        for name in UNSET_ENVIRONMENT:
            os.environ.pop(name, None)
        services_module.reset()
        with mock_aws():
            create_table_and_bus()
            boto3.client("secretsmanager", region_name=REGION).create_secret(
                Name=f"{SECRET_PREFIX}/default/credentials", SecretString=json.dumps(zoho.credentials())
            )
            services = services_module.Services(Settings.from_env(), clock=clock or zoho.clock.now)
            services_module.set_services(services)
            calls = ApiCalls()
            calls.watch(services.dynamodb, "dynamodb")
            calls.watch(services.secrets_client, "secretsmanager")
            calls.watch(services.events_client, "events")
            try:
                yield Stack(zoho, services, calls)
            finally:
                services_module.reset()


def load_handler(name: str) -> ModuleType:
    """Import `functions/<name>/app.py` under a unique module name (every handler is called `app`)."""
    path = REPO_ROOT / "functions" / name / "app.py"
    if not path.exists():
        raise FileNotFoundError(f"functions/{name}/app.py does not exist yet")
    module_name = f"bench_handler_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses and Powertools look the module up by name.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def lambda_context(name: str, timeout_seconds: float, memory_mb: int = 256) -> LambdaContext:
    """A context object like Lambda's, with a real-time deadline `timeout_seconds` from now."""
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{name}"
    return LambdaContext(
        function_name=name,
        function_version="$LATEST",
        invoked_function_arn=arn,
        memory_limit_in_mb=memory_mb,
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{name}",
        log_stream_name="bench",
        deadline_monotonic=time.monotonic() + timeout_seconds,
    )


def invoke(handler: Callable[[Any, Any], Any], event: Any, context: LambdaContext) -> Any:
    """Call a handler with its EMF metrics output kept off the bench's stdout."""
    with redirect_stdout(io.StringIO()):
        return handler(event, context)


def handler_names() -> list[str]:
    """The functions that have an `app.py` now, sorted."""
    root = Path(REPO_ROOT / "functions")
    return sorted(path.parent.name for path in root.glob("*/app.py"))
