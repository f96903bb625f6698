"""The bench's in-process stack: moto (`mock_aws`) with template.yaml's table, the event bus, the emulator's
credentials secret, and the library's Services on it, with a count of every AWS API call it makes.

The table is built by `zoho_watch_local.deploy.create_table` from template.yaml's `JobsTable` (as the deploy
and the test fixtures build it); the environment uses docs/interfaces.md's names. The bench does not import
`tests/`.

Simulations (`local_stack(..., simulated=True)`, used by bench.tokens and bench.cost) must give the same
figures on any machine under any load, so nothing in them may depend on real time or thread scheduling:
- the emulator's clock is the library's clock, frozen at `SIMULATION_EPOCH` (`start_simulated_clock`) and
  moved only by the bench, at well-defined points;
- Powertools' secret cache ages on that clock (`simulated_secrets`), not on `datetime.now()`;
- moto's DynamoDB item operations are atomic, as DynamoDB's are (`atomic_dynamodb`): without it two
  threads' conditional puts of the token refresh lease could both succeed, as often as the scheduler
  interleaves them (a second refresh in one simulated instant under load);
- the Zoho client's HTTP time-outs are the library's maxima (`SIMULATION_ZOHO_TIMEOUTS`).
"""

from __future__ import annotations

import collections
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
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import requests

from bench import REPO_ROOT
from fake_zoho import FakeZoho, JobProfile
from zoho_watch_local.lambda_runtime import LambdaContext, import_function_module

REGION = "us-east-1"
TABLE_NAME = "zoho-watch-bench-jobs"
BUS_NAME = "zoho-watch-bench-events"
SECRET_PREFIX = "zoho-watch"  # noqa: S105 - a name prefix, not a secret
# The stack's environment variables (docs/interfaces.md), with the poll bounds and TTLs the tests use too.
ENVIRONMENT = {
    "TABLE_NAME": TABLE_NAME,
    "EVENT_BUS_NAME": BUS_NAME,
    "SECRET_PREFIX": SECRET_PREFIX,
    "ZOHO_DC": "us",
    "ZOHO_API_VERSION": "v8",
    "POLL_MIN_SECONDS": "5",
    "POLL_MAX_SECONDS": "900",
    "STATE_TTL_DAYS": "30",
    "HISTORY_TTL_DAYS": "7",
    "AWS_DEFAULT_REGION": REGION,
}
# Set, these would point the library at real endpoints instead of moto and the emulator: always unset.
UNSET_ENVIRONMENT = ("ZOHO_ACCOUNTS_URL", "ZOHO_API_DOMAIN", "AWS_ENDPOINT_URL")
# The Zoho client's HTTP time-outs in a simulation (the library's maxima, ZOHO_CONNECT_TIMEOUT and
# ZOHO_READ_TIMEOUT): a reply of the in-process emulator that takes long in real time, on a busy machine, must
# not become a failed check; they are left only to stop a simulation whose emulator hangs.
SIMULATION_ZOHO_TIMEOUTS = (60.0, 300.0)
# Where every simulation's frozen clock starts (2026-01-01T00:00:00Z): whole seconds, the same every run, so
# even the rounding of simulated times is (a clock started at the machine's time differs in every run).
SIMULATION_EPOCH = 1_767_225_600.0


def create_jobs_table(dynamodb: Any, table_name: str = TABLE_NAME) -> None:
    """Create template.yaml's JobsTable (keys, the ActiveJobs index, TTL) as the deploy does."""
    from zoho_watch_local.deploy import create_table
    from zoho_watch_local.template import project_template, resource

    create_table(dynamodb, table_name, resource(project_template(), "JobsTable")["Properties"])


def create_table_and_bus() -> None:
    """Inside `mock_aws`: the stack's table and event bus."""
    import boto3

    create_jobs_table(boto3.client("dynamodb", region_name=REGION))
    boto3.client("events", region_name=REGION).create_event_bus(Name=BUS_NAME)


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


@dataclass(frozen=True)
class Certificate:
    """A self-signed TLS certificate for 127.0.0.1 and its private key (PEM files)."""

    certfile: Path
    keyfile: Path

    @classmethod
    def self_signed(cls, directory: Path) -> Certificate:
        """Make one in `directory` with the `openssl` command line (RSA 2048, as a public CA's leaf)."""
        certificate = cls(directory / "zoho-cert.pem", directory / "zoho-key.pem")
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
                *("-keyout", str(certificate.keyfile), "-out", str(certificate.certfile)),
            ],
            check=True,
            capture_output=True,
        )
        return certificate


class ZohoProcess:
    """The Zoho emulator in its own process (`python -m fake_zoho`), driven through /__admin/.

    The few controls the bench uses, as `FakeZoho` names them, so a `Stack` can hold either: in another
    process the emulator's request handling (Zoho's CPU, on Zoho's machines in reality) does not share this
    process's interpreter lock with the code under measurement.
    """

    def __init__(self, process: subprocess.Popen[str], url: str, verify: str | bool = True) -> None:
        self._process = process
        self.url = url
        self._session = requests.Session()
        # Given with each request: requests prefers REQUESTS_CA_BUNDLE, when set, to a session's `verify`.
        self._verify = verify
        self.clock = RemoteClock(self)

    @classmethod
    @contextmanager
    def running(cls, certificate: Certificate | None = None, **config: Any) -> Iterator[ZohoProcess]:
        """Start the emulator on a free port, apply `config` (its settings), stop it after the block.

        With `certificate` it serves HTTPS with it (its clients must trust it: `REQUESTS_CA_BUNDLE`).
        """
        tls = [] if certificate is None else ["--certfile", str(certificate.certfile)]
        tls += [] if certificate is None else ["--keyfile", str(certificate.keyfile)]
        process = subprocess.Popen(
            [sys.executable, "-m", "fake_zoho", "--port", "0", *tls],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            if "running at http" not in first:
                raise RuntimeError(f"the Zoho emulator did not start: {first!r}")
            # The rest of its output (sample credentials) is read and dropped, so a full pipe never blocks it.
            threading.Thread(target=process.stdout.read, name="fake-zoho-stdout", daemon=True).start()
            verify = True if certificate is None else str(certificate.certfile)
            zoho = cls(process, first.rsplit(" ", 1)[1].strip(), verify)
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
        url = f"{self.url}/__admin/{route}"
        reply = self._session.request(method, url, json=body, timeout=60, verify=self._verify)
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


def start_simulated_clock(zoho: FakeZoho, epoch: float = SIMULATION_EPOCH) -> float:
    """Freeze the emulator's clock at `epoch`: from now on only the bench moves it (`advance`). Returns it."""
    zoho.clock.freeze()
    zoho.clock.set(epoch)
    return zoho.clock.now()


def simulated_secrets(clock: Callable[[], float], boto3_client: Any) -> Any:
    """A Powertools `SecretsProvider` whose cache ages on `clock` (the simulation's), not on real time.

    Powertools judges `max_age` with `datetime.now()`: in a simulation a cached secret (the credentials,
    `credentials_max_age_seconds`) would then expire after so many seconds of the machine's time, that is
    after more or fewer simulated checks as the machine is faster or busier. Here it expires after `max_age`
    simulated seconds, as it does on AWS, where both clocks are one.
    """
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.base import ExpirableValue

    class SimulatedSecretsProvider(SecretsProvider):
        def _now(self) -> datetime:
            return datetime.fromtimestamp(clock(), UTC)

        def has_not_expired_in_cache(self, key: tuple) -> bool:
            return key in self.store and self.store[key].ttl >= self._now()

        def add_to_cache(self, key: tuple, value: Any, max_age: int) -> None:
            if max_age <= 0:
                return
            self.store[key] = ExpirableValue(value, self._now() + timedelta(seconds=max_age))

    return SimulatedSecretsProvider(boto3_client=boto3_client)


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """moto's DynamoDB item operations made atomic for the block (as DynamoDB's are), then put back.

    moto's backend evaluates a put's condition and writes the item in separate steps, with no lock: two
    threads racing for the token refresh lease (`attribute_not_exists(pk) OR lease_until <= :now`) could
    both win, and how often depended on the scheduler (a busy machine drew 27 refreshes, 2 in one instant,
    where one is drawn). The lock is the one the embedded stack and the test fixtures use.
    """
    from zoho_watch_local.aws import ATOMIC_DYNAMODB, atomic_dynamodb_operation

    originals = {(owner, name): getattr(owner, name) for owner, name in ATOMIC_DYNAMODB}
    for (owner, name), operation in originals.items():
        setattr(owner, name, atomic_dynamodb_operation(operation))
    try:
        yield
    finally:
        for (owner, name), operation in originals.items():
            setattr(owner, name, operation)


@contextmanager
def local_stack(
    zoho: FakeZoho | ZohoProcess,
    clock: Callable[[], float] | None = None,
    *,
    simulated: bool = False,
    **env: str,
) -> Iterator[Stack]:
    """moto with the stack's table, bus and the emulator's credentials; the library's Services installed.

    `clock` is the library's clock (default: the emulator's, so token expiry and job times agree).
    `simulated`: for a simulation on a frozen clock (see the module docstring): DynamoDB's item operations
    atomic, the Services' Powertools secret cache aging on `clock`, the Zoho client's time-outs at their
    maxima.
    """
    import boto3
    from moto import mock_aws
    from zoho_watch import services as services_module
    from zoho_watch.config import Settings

    clock = clock or zoho.clock.now
    timeouts = {}
    if simulated:
        connect, read = SIMULATION_ZOHO_TIMEOUTS
        timeouts = {"ZOHO_CONNECT_TIMEOUT": f"{connect:g}", "ZOHO_READ_TIMEOUT": f"{read:g}"}
    with environment({**base_environment(), **timeouts, **env}), ExitStack() as scope:
        for name in UNSET_ENVIRONMENT:
            os.environ.pop(name, None)
        services_module.reset()
        if simulated:
            scope.enter_context(atomic_dynamodb())
        with mock_aws():
            create_table_and_bus()
            boto3.client("secretsmanager", region_name=REGION).create_secret(
                Name=f"{SECRET_PREFIX}/default/credentials", SecretString=json.dumps(zoho.credentials())
            )
            services = services_module.Services(Settings.from_env(), clock=clock)
            if simulated:
                # Before anything asks for it: `Services.tokens` hands it to every TokenProvider.
                services.secrets = simulated_secrets(clock, services.secrets_client)
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
    return import_function_module(path, module_name)


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
