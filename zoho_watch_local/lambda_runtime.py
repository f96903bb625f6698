"""Run Lambda handlers in this process, the way the Lambda service runs them in containers.

moto keeps each function's configuration (handler, environment, timeout, memory); this runtime keeps its
code location and runs invocations:

- A function has a pool of *containers*. A container is one import of the handler module (loaded by
  file path under a unique module name: all handlers are called `app`) plus its own environment dict.
  It serves one invocation at a time; a busy pool grows by a cold start, an idle container is reused
  warm, as on AWS. So module-level state of a handler is never shared by two concurrent invocations, and
  neither is the state Powertools keeps per process (the resolver's current event, metrics, appended log
  keys): `zoho_watch_local.powertools_scope` keeps one copy of it per container.
- The environment of an invocation is the function's environment in moto (template Globals and its own
  variables, resolved by `zoho_watch_local.deploy`), the runtime's `extra_environment` (where the embedded AWS
  and the Zoho emulator are), then Lambda's reserved variables. It is applied with
  `zoho_watch_local.invocation_scope`, which explains why that is sound when invocations run in concurrent
  threads.
- Layers go on `sys.path` as Lambda's /opt/python would put them.
- The zoho_watch library's per-container singletons (`zoho_watch.services`: settings, clients, token memory)
  are per function here, as each function has its own containers on AWS: the runtime installs a router as
  the library's `Services` that hands each invocation (and the threads it starts) its function's own
  `Services`, made on first use inside the invocation, so its settings are read once from that function's
  environment. Each tells time with the runtime's clock (the stack's `VirtualClock`), so the store's
  `checked_at`, the polling policy, deadlines and token expiry run on the same time as the Zoho emulator
  and the state machine's Waits. `reset_library()` drops them all.
- An invocation holds the clock still while it runs (see `zoho_watch_local.clock`).
- A context object carries function_name, function_version, invoked_function_arn, memory_limit_in_mb,
  aws_request_id, log_group_name, log_stream_name and get_remaining_time_in_millis().
- An exception becomes Lambda's error payload, `{"errorType": <class name>, "errorMessage", ...}`, so
  Step Functions' Retry and Catch match on the class name; a result that is not JSON-serialisable
  becomes `Runtime.MarshalError`, as on AWS.

Not emulated: the time-out does not kill a handler (its context reports the remaining time).
"""

from __future__ import annotations

import contextvars
import importlib.util
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from zoho_watch_local import invocation_scope, powertools_scope
from zoho_watch_local.aws import Invocation
from zoho_watch_local.clock import VirtualClock

_INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")


@dataclass(frozen=True)
class FunctionCode:
    """Where a function's code is: its folder (CodeUri) and its layers' Python roots."""

    code_dir: Path
    layer_paths: tuple[Path, ...] = ()
    log_group: str | None = None  # LoggingConfig.LogGroup; Lambda's /aws/lambda/{name} when None


@dataclass
class LambdaContext:
    """The context object handed to a handler (the attributes Lambda's Python runtime provides)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's time-out."""
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


@dataclass
class _Container:
    name: str
    module: ModuleType | None
    environment: dict[str, str]
    log_stream_name: str
    configuration: tuple[Any, ...] = ()
    invocations: int = 0
    powertools: dict[Any, Any] = field(default_factory=dict)  # see zoho_watch_local.powertools_scope


@dataclass
class _Pool:
    code: FunctionCode
    idle: list[_Container] = field(default_factory=list)
    created: int = 0
    configuration: tuple[Any, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)
    services: Any = None  # the library's Services of this function's current configuration


# The library Services of the function whose invocation runs in this context (threads inherit it).
_function_services: contextvars.ContextVar[Any] = contextvars.ContextVar("function_services", default=None)


# The events client's time-outs on the embedded stack (real seconds). On AWS they end a publication well
# within the finished event's claim, a lease on the library's clock; here that clock stands still while the
# function runs, so the lease cannot run out meanwhile, and a real-time time-out would only make the outcome
# depend on how busy the machine is (the in-process AWS answers as fast as the machine allows).
EMBEDDED_EVENTS_CLIENT_TIMEOUTS = {
    "connect_timeout": 60,
    "read_timeout": 300,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}


def _embedded_services(services_module: Any, clock: VirtualClock) -> Any:
    """The library's Services on the stack's clock, with the events client's time-outs above."""

    class EmbeddedServices(services_module.Services):  # type: ignore[name-defined,misc]
        @cached_property
        def events_client(self) -> Any:
            return self._client("events", **EMBEDDED_EVENTS_CLIENT_TIMEOUTS)

    return EmbeddedServices(clock=clock.now)


# The name of the function whose invocation runs in this context (threads inherit it).
_function_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("function_name", default=None)


def in_function() -> bool:
    """Whether this thread runs (a thread started by) a Lambda function's invocation."""
    return _function_name.get() is not None


def current_function() -> str | None:
    """The name of the function whose invocation this thread runs (or a thread it started), if any."""
    return _function_name.get()


class _ServicesRouter:
    """What the library's `get_services()` returns on the embedded stack: the running function's Services,
    or outside any invocation a Services of the process (tests and the CLI reading the library)."""

    def __init__(self, fallback: Any) -> None:
        self._fallback = fallback

    def __getattr__(self, name: str) -> Any:
        return getattr(_function_services.get() or self._fallback, name)


_cold_start_lock = threading.RLock()


def import_function_module(source: Path, name: str, code_dir: Path | None = None) -> ModuleType:
    """Import a function's handler module from `source` under the module name `name`, as Lambda does.

    The function's code folder (`code_dir`, by default the handler's own) goes on the path, as Lambda's
    /var/task, so the handler's other modules import beside it; functions sharing one process have those
    named apart. The module is registered before it runs (dataclasses and Powertools look it up by name) and
    forgotten if it fails.
    """
    folder = str(code_dir or source.parent)
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _configuration_key(function: Any) -> tuple[Any, ...]:
    variables = tuple(sorted((function.environment_vars or {}).items()))
    return (function.handler, str(function.timeout), str(function.memory_size), variables)


def _module_name(function_name: str, number: int) -> str:
    return f"_lambda_{re.sub(r'[^0-9A-Za-z_]', '_', function_name)}_{number}"


def _handler_frames(tb: TracebackType | None) -> TracebackType | None:
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def error_payload(exc: BaseException, request_id: str) -> str:
    """Lambda's error payload for an exception: errorType is the class name."""
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "requestId": request_id,
            # The handler's frames only, as Lambda shows them (not the runtime's own frame).
            "stackTrace": traceback.format_tb(_handler_frames(exc.__traceback__)),
        }
    )


class LambdaRuntime:
    """In-process Lambda runtime: `register` a function's code, then moto calls `self(function, event)`."""

    def __init__(self, clock: VirtualClock, extra_environment: dict[str, str] | None = None) -> None:
        self.extra_environment = dict(extra_environment or {})
        self.clock = clock
        self._router: _ServicesRouter | None = None
        self._library_lock = threading.Lock()
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self.cold_starts: dict[str, int] = {}
        self._in_flight = 0
        invocation_scope.install()
        powertools_scope.install()

    def register(self, function_name: str, code: FunctionCode) -> None:
        """Tell the runtime where the code of `function_name` is (replaces earlier code and containers)."""
        handler_root = code.code_dir
        if not handler_root.is_dir():
            raise FileNotFoundError(f"code folder of {function_name} not found: {handler_root}")
        for layer_path in code.layer_paths:
            if not layer_path.is_dir():
                raise FileNotFoundError(f"layer folder of {function_name} not found: {layer_path}")
            if str(layer_path) not in sys.path:
                sys.path.append(str(layer_path))  # after the app's own path entries, like /opt/python
        with self._lock:
            self._pools[function_name] = _Pool(code=code)

    def registered(self) -> list[str]:
        """Names of the functions this runtime can run."""
        return sorted(self._pools)

    def drain(self, timeout: float) -> bool:
        """Wait for the invocations in flight to end; False if some still run after `timeout` real seconds."""
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._in_flight

    def close(self, drain_seconds: float = 5.0) -> None:
        """Wait a little for invocations in flight, forget every function, restore environment and streams."""
        self.drain(drain_seconds)
        with self._lock:
            self._pools.clear()
        invocation_scope.uninstall()
        powertools_scope.uninstall()

    def _library_services(self) -> Any:
        """The zoho_watch services module when the library is importable (a layer registered), else None."""
        try:
            from zoho_watch import services
        except ImportError:
            return None
        return services

    def install_library_services(self) -> None:
        """Make the library's `get_services()` route to each function's own Services (module docstring)."""
        services = self._library_services()
        if services is None:
            return
        with self._library_lock:
            if self._router is None or services.get_services() is not self._router:
                # Someone reset the library (or another stack ran before): nothing cached is kept.
                services.reset()
                for pool in self._pools.values():
                    if pool.services is not None and "zoho" in pool.services.__dict__:
                        pool.services.zoho.session.close()
                    pool.services = None
                self._router = _ServicesRouter(_embedded_services(services, self.clock))
                services.set_services(self._router)

    def reset_library(self) -> None:
        """Forget the library's per-container caches (clients, tokens, parameters) of every function."""
        services = self._library_services()
        if services is None:
            return
        with self._library_lock:
            self._router = None
        self.install_library_services()

    def _function_services_of(self, function_name: str) -> Any:
        """The library Services of a function's configuration, made on first use (settings read lazily)."""
        services = self._library_services()
        pool = self._pools.get(function_name)
        if services is None or pool is None:
            return None
        with pool.lock:
            if pool.services is None:
                pool.services = _embedded_services(services, self.clock)
            return pool.services

    def _reserved_environment(self, function: Any, log_stream_name: str) -> dict[str, str]:
        return {
            "_HANDLER": function.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
            "AWS_LAMBDA_LOG_GROUP_NAME": self._log_group(function),
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "LAMBDA_TASK_ROOT": str(self._pools[function.function_name].code.code_dir),
        }

    def _log_group(self, function: Any) -> str:
        return self.log_group_for(function.function_name)

    def log_group_for(self, function_name: str) -> str:
        """The log group a function writes to: its LoggingConfig.LogGroup, else /aws/lambda/{name}."""
        pool = self._pools.get(function_name)
        return (pool.code.log_group if pool else None) or f"/aws/lambda/{function_name}"

    def _acquire(self, function: Any) -> tuple[_Container, bool]:
        name = function.function_name
        with self._lock:
            pool = self._pools.get(name)
        if pool is None:
            raise LookupError(f"no code registered for Lambda function {name}")
        configuration = _configuration_key(function)
        with pool.lock:
            if pool.configuration != configuration:
                # UpdateFunctionConfiguration: Lambda starts new containers with the new settings.
                pool.idle.clear()
                pool.configuration = configuration
                pool.services = None  # its settings come from the new environment
            if pool.idle:
                return pool.idle.pop(), False
            pool.created += 1
            number = pool.created
        stream = f"{time.strftime('%Y/%m/%d')}/[{function.version}]{uuid.uuid4().hex}"
        # A container does not inherit the host's environment (its AWS profile, say): a few basics only.
        environment = {key: os.environ[key] for key in _INHERITED_VARIABLES if key in os.environ}
        environment.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
        environment.update(self.extra_environment)
        environment.update(self._reserved_environment(function, stream))
        container = _Container(
            name=_module_name(name, number),
            module=None,
            environment=environment,
            log_stream_name=stream,
            configuration=configuration,
        )
        return container, True

    def _release(self, function_name: str, container: _Container) -> None:
        pool = self._pools.get(function_name)
        if pool is not None:
            with pool.lock:
                if container.configuration == pool.configuration:  # else it ran with outdated settings
                    pool.idle.append(container)

    def _load_handler(self, function: Any, container: _Container) -> Any:
        module_path, _, attribute = function.handler.rpartition(".")
        if not module_path or not attribute:
            raise ValueError(
                f"handler {function.handler!r} of {function.function_name} is not module.function"
            )
        code_dir = self._pools[function.function_name].code.code_dir
        source = code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        if container.module is None:
            # One cold start imports at a time. On Lambda each container is a process of its own; here they
            # share one, and concurrent first imports of the layer's modules (which import each other) can
            # let a thread see a module another is still executing ("partially initialized module").
            with _cold_start_lock:
                container.module = import_function_module(source, container.name, code_dir)
        handler = getattr(container.module, attribute, None)
        if not callable(handler):
            raise AttributeError(f"{source} has no handler function {attribute!r}")
        return handler

    def __call__(self, function: Any, event: Any) -> Invocation:
        """Invoke `function` (moto's LambdaFunction) with `event`; never raises."""
        if isinstance(event, (str, bytes)):
            event = json.loads(event or "{}")
        request_id = str(uuid.uuid4())
        try:
            container, cold = self._acquire(function)
        except Exception as exc:
            return Invocation(payload=error_payload(exc, request_id), errored=True, logs=str(exc))
        if cold:
            with self._lock:
                self.cold_starts[function.function_name] = self.cold_starts.get(function.function_name, 0) + 1
        context = LambdaContext(
            function_name=function.function_name,
            function_version=str(function.version),
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            aws_request_id=request_id,
            log_group_name=self._log_group(function),
            log_stream_name=container.log_stream_name,
            deadline_monotonic=time.monotonic() + float(function.timeout),
        )
        started = time.monotonic()
        with self._lock:
            self._in_flight += 1
        token = None
        try:
            self.install_library_services()
            token = _function_services.set(self._function_services_of(function.function_name))
            name_token = _function_name.set(function.function_name)
            with self.clock.busy(), invocation_scope.scope(container.environment) as scope:
                print(f"START RequestId: {request_id} Version: {function.version}")
                try:
                    # What the import (the cold start) sets up in Powertools is every container's, as each
                    # container's own import would set up the same; what the handler changes is its own.
                    handler = self._load_handler(function, container)
                    with powertools_scope.container(container.powertools):
                        result = handler(event, context)
                    try:
                        payload, errored = json.dumps(result), False
                    except (TypeError, ValueError) as exc:
                        payload = json.dumps({"errorType": "Runtime.MarshalError", "errorMessage": str(exc)})
                        errored = True
                except Exception as exc:
                    payload, errored = error_payload(exc, request_id), True
                    print(f"[ERROR] {type(exc).__name__}: {exc}")
                    traceback.print_exception(exc, file=sys.stdout)
                elapsed_ms = (time.monotonic() - started) * 1000
                print(f"END RequestId: {request_id}")
                print(f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms")
                container.invocations += 1
        finally:
            if token is not None:
                _function_services.reset(token)
                _function_name.reset(name_token)
            self._release(function.function_name, container)
            with self._lock:
                self._in_flight -= 1
        return Invocation(
            payload=payload,
            errored=errored,
            logs=scope.output.getvalue(),
            log_group=context.log_group_name,
            log_stream=container.log_stream_name,
        )
