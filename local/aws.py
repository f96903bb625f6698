"""The local AWS: a moto server in this process, with the few patches that make it run zoho-watch.

moto (pinned, see `MOTO_VERSION`) serves every AWS API the stack uses. Four gaps are closed here by
patching moto's private parts, and `tests/integration/test_moto_glue.py` pins each one down so that a moto
upgrade fails loudly instead of quietly changing behaviour:

1. Lambda code: moto runs functions in Docker. `LambdaFunction._invoke_lambda` is replaced so that the
   invocation goes to an in-process `Invoker` (see `local.lambda_runtime`), which returns the payload,
   whether it is an error, and the logs. moto writes those logs to the function's CloudWatch log group
   as Lambda does, and its Step Functions engine reads `errorType` from an error payload to name the ASL
   error, so `Retry` and `Catch` see our exception class names.
2. Time: a `Wait` state and a retrier really sleep, and executions are dated with the real time.
   `WaitFunction._wait_interval` and the retrier module's `time` are replaced by versions that wait on the
   stack's simulated clock (`TimeScale`: simulated seconds per real second, or frozen), so a two-hour job
   is watched in seconds; the `datetime` of moto's execution modules is replaced by one whose `now()` is
   that clock, so `$$.Execution.StartTime` and the start and stop dates are in the library's time too.
3. `StartExecution` is not atomic in moto (check for a running execution with that name, then append):
   it is serialised with a lock, so concurrent starts of one watch give one execution, as on AWS.
4. The `arn:aws:states:::states:startExecution` integration (continue-as-new) hands the Task's
   `StateMachineArn`, `Name`, `Input` to boto3 as they are, and boto3 wants `stateMachineArn`, `name`,
   `input`: `StateTaskServiceSfn._normalise_parameters` also maps them onto the operation's input shape,
   with moto's own `_to_boto_request`, as AWS (and LocalStack, where this code comes from) does.
5. DynamoDB item operations are not atomic in moto's backend (a conditional write reads, checks and writes
   with no lock, so two threads can both pass one condition): `DynamoDBBackend`'s item operations run under
   one lock, which restores the guarantee the store's conditional writes rely on. The in-process `aws`
   test fixture applies the same wrapper (`atomic_dynamodb_operation`).
6. Step Functions execution is switched on through moto's config API.

Patches are process-wide (moto's backends are too): one embedded AWS per process.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import threading
import time
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import moto
import requests
from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.stepfunctions.parser import models as sfn_models
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend import execution as sfn_execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local.fake_zoho.clock import EmulatorClock

MOTO_VERSION = "5.2.5"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

logger = logging.getLogger(__name__)

_MAX_NAP = 0.05  # real seconds between two readings of the simulated clock by a waiting thread
# moto's modules that date executions with `datetime.datetime.now` (start: `$$.Execution.StartTime`; stop).
_DATED_MODULES = (sfn_models, sfn_execution)


@dataclass(frozen=True)
class Invocation:
    """What an in-process Lambda invocation gives back to moto."""

    payload: str  # the JSON response, or Lambda's error payload
    errored: bool  # True when payload is an error payload (moto sets X-Amz-Function-Error)
    logs: str  # what the function wrote, saved to its CloudWatch log group
    log_group: str | None = None  # default: moto's /aws/lambda/{function name}
    log_stream: str | None = None  # default: a new stream per invocation


class Invoker(Protocol):
    """Runs one Lambda invocation in this process (implemented by `local.lambda_runtime.LambdaRuntime`)."""

    def __call__(self, function: LambdaFunction, event: Any) -> Invocation:
        """Invoke `function` (moto's model: name, handler, environment, timeout...) with `event`."""
        ...


class TimeScale:
    """The embedded stack's simulated clock: one clock for everything that tells time on the stack.

    It is an `EmulatorClock` (the Zoho emulator's own, when the stack has one): epoch seconds that run
    `factor` simulated seconds per real second, or stand still while frozen until `advance` or `set`
    moves them. Every patched sleep (Wait states, retriers), the scheduler's ticks, moto's execution
    dates, the library's clock (`local.lambda_runtime`) and the emulator's job timelines and token
    lifetimes read it, so what the polling policy observes and what it waits are in the same time.
    """

    def __init__(self, factor: float = 1.0, clock: EmulatorClock | None = None) -> None:
        self.clock = clock if clock is not None else EmulatorClock(factor)
        self.set(factor)
        self._released = threading.Event()

    @property
    def factor(self) -> float:
        """The current factor (1 = real time, 100 = a hundred simulated seconds per real second)."""
        return self.clock.scale

    def set(self, factor: float) -> None:
        """Change the factor; it must be positive (simulated time already passed is kept)."""
        if not factor > 0:
            raise ValueError(f"time scale must be > 0, got {factor!r}")
        self.clock.set_scale(float(factor))

    def now(self) -> float:
        """Simulated time, epoch seconds (the library's `Services.clock` on the stack)."""
        return self.clock.now()

    def real_seconds(self, simulated_seconds: float) -> float:
        """How long `simulated_seconds` take in real time at the current factor (inf while frozen)."""
        return self.clock.real_seconds(max(0.0, float(simulated_seconds)))

    def wait_until(
        self,
        moment: float,
        wake: threading.Event | None = None,
        keep_waiting: Callable[[], bool] | None = None,
    ) -> bool:
        """Block until the simulated clock shows `moment`; True then, False when cut short.

        It follows the clock rather than a real-time deadline computed once: a change of factor, a
        frozen clock (it waits until the clock moves) and `advance` all count. `wake` set (and not
        cleared) or `keep_waiting()` turning false cuts the wait short, and so does `release()`.
        """
        while keep_waiting is None or keep_waiting():
            left = moment - self.now()
            if left <= 0:
                return True
            if self._released.is_set():
                return False
            # Nap at most _MAX_NAP real seconds: the factor may change and the clock may be advanced.
            nap = min(self.real_seconds(left), _MAX_NAP)
            if wake is None:
                time.sleep(nap)
            elif wake.wait(nap):
                if keep_waiting is None:
                    return False
                time.sleep(min(nap, 0.001))  # an unrelated wake-up: re-check, without spinning on the flag
        return False

    def sleep(self, simulated_seconds: float) -> None:
        """Sleep `simulated_seconds` of simulated time (what the retriers' `time.sleep` becomes)."""
        self.wait_until(self.now() + max(0.0, float(simulated_seconds)))

    def release(self) -> None:
        """End every wait now and from now on (the stack is stopping: no thread may stay blocked)."""
        self._released.set()

    def restore(self) -> None:
        """Let waits wait again (the stack started)."""
        self._released.clear()


@dataclass
class _Glue:
    """The process-wide state the patched functions read."""

    invoker: Invoker | None = None
    time_scale: TimeScale | None = None
    installed: bool = False
    original_invoke_lambda: Callable[..., Any] | None = None
    original_wait_interval: Callable[..., Any] | None = None
    original_retrier_time: Any = None
    original_datetime_modules: dict[Any, Any] | None = None
    original_start_execution: Callable[..., Any] | None = None
    original_sfn_normalise: Callable[..., Any] | None = None
    original_dynamodb: dict[str, Callable[..., Any]] | None = None


_glue = _Glue()
_start_execution_lock = threading.Lock()
_dynamodb_lock = threading.RLock()
# The item operations of moto's DynamoDB backend that the store's guarantees depend on.
ATOMIC_DYNAMODB_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "query",
    "scan",
)
_logs_lock = threading.Lock()


def _scale() -> TimeScale:
    return _glue.time_scale or TimeScale(1.0)


def _in_process_invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for `LambdaFunction._invoke_lambda`: same signature and return shape, no Docker."""
    invoker = _glue.invoker
    if invoker is None:
        message = f"no in-process runtime is attached to run {self.function_name}"
        return json.dumps({"errorType": "Runtime.Unavailable", "errorMessage": message}), True, message
    result = invoker(self, event)
    _save_logs(self, result)
    return result.payload, result.errored, result.logs


def _save_logs(function: LambdaFunction, result: Invocation) -> None:
    """Append the invocation's output to its log group and stream, as Lambda does."""
    group = result.log_group or function.logs_group_name
    stream = result.log_stream or uuid.uuid4().hex
    logs = function.logs_backend
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in (result.logs or "(no output)").splitlines()]
    with _logs_lock:  # moto's log streams are not thread-safe, and invocations run concurrently
        logs.ensure_log_group(group)
        logs.ensure_log_stream(group, stream)
        logs.put_log_events(group, stream, events)


def _scaled_wait_interval(self: WaitFunction, env: Any, wait_seconds: float) -> None:
    """Replacement for `WaitFunction._wait_interval`: waits `wait_seconds` of simulated time.

    Like the original it wakes early when the execution stops (`program_state_event`), and it keeps
    waiting after an unrelated wake-up while the execution is still running.
    """
    scale = _scale()
    scale.wait_until(scale.now() + wait_seconds, wake=env.program_state_event, keep_waiting=env.is_running)


class _ScaledTime(types.SimpleNamespace):
    """Stands in for the `time` module inside moto's retrier: `sleep` waits simulated seconds."""

    @staticmethod
    def sleep(seconds: float) -> None:
        """Sleep `seconds` of simulated time."""
        _scale().sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class _SimulatedDatetime(datetime.datetime):
    """`datetime.datetime` whose `now()` is the simulated clock's (moto's execution start and stop dates)."""

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> _SimulatedDatetime:  # type: ignore[override]
        """The simulated time, as `datetime.now` gives it (naive local time without `tz`)."""
        return cls.fromtimestamp(_scale().now(), tz)


class _SimulatedDatetimeModule(types.SimpleNamespace):
    """Stands in for the `datetime` module inside moto's Step Functions execution code."""

    datetime = _SimulatedDatetime

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime, name)


def _atomic_start_execution(self: StepFunctionsParserBackend, *args: Any, **kwargs: Any) -> Any:
    """`StartExecution` under a lock: the same name and input started twice gives one execution."""
    assert _glue.original_start_execution is not None
    with _start_execution_lock:
        return _glue.original_start_execution(self, *args, **kwargs)


def atomic_dynamodb_operation(operation: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap one of moto's DynamoDB backend operations so it runs under the process-wide DynamoDB lock."""
    if getattr(operation, "__zoho_watch_atomic__", False):
        return operation

    @functools.wraps(operation)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _dynamodb_lock:
            return operation(*args, **kwargs)

    locked.__zoho_watch_atomic__ = True  # type: ignore[attr-defined]
    return locked


def _sfn_normalise_parameters(
    self: StateTaskServiceSfn,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """moto's normalisation, then the Task's parameter names mapped onto boto3's (see module docstring)."""
    assert _glue.original_sfn_normalise is not None
    _glue.original_sfn_normalise(self, parameters, boto_service_name, service_action_name)
    if service_action_name is not None:
        return  # moto normalising a call of its own (the .sync resolvers): already boto3's names
    import botocore.session

    action = self.resource.api_action
    model = botocore.session.get_session().get_service_model(self._get_boto_service_name())
    operation = model.operation_model(action[:1].upper() + action[1:])
    if operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def check_moto_version() -> None:
    """Fail with a clear message when the installed moto is not the version the patches were written for."""
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"local/aws.py patches moto {MOTO_VERSION} internals but moto {moto.__version__} is installed: "
            "re-check the patched functions (see tests/integration/test_moto_glue.py) before changing the pin"
        )


def install_patches(invoker: Invoker | None, time_scale: TimeScale) -> None:
    """Patch moto: in-process Lambda, scaled waits, atomic starts and DynamoDB items, startExecution params.

    Idempotent; see the module docstring.
    """
    check_moto_version()
    _glue.invoker = invoker
    _glue.time_scale = time_scale
    if _glue.installed:
        return
    _glue.original_invoke_lambda = LambdaFunction._invoke_lambda
    _glue.original_wait_interval = WaitFunction._wait_interval
    _glue.original_retrier_time = retrier_decl.time
    _glue.original_start_execution = StepFunctionsParserBackend.start_execution
    _glue.original_sfn_normalise = StateTaskServiceSfn._normalise_parameters
    StateTaskServiceSfn._normalise_parameters = _sfn_normalise_parameters  # type: ignore[method-assign]
    LambdaFunction._invoke_lambda = _in_process_invoke_lambda  # type: ignore[method-assign]
    WaitFunction._wait_interval = _scaled_wait_interval  # type: ignore[method-assign]
    retrier_decl.time = _ScaledTime()  # type: ignore[assignment]
    _glue.original_datetime_modules = {module: module.datetime for module in _DATED_MODULES}
    for module in _DATED_MODULES:
        module.datetime = _SimulatedDatetimeModule()  # type: ignore[assignment]
    StepFunctionsParserBackend.start_execution = _atomic_start_execution  # type: ignore[method-assign]
    _glue.original_dynamodb = {name: getattr(DynamoDBBackend, name) for name in ATOMIC_DYNAMODB_OPERATIONS}
    for name, operation in _glue.original_dynamodb.items():
        setattr(DynamoDBBackend, name, atomic_dynamodb_operation(operation))
    _glue.installed = True


def remove_patches() -> None:
    """Undo `install_patches` (used when the embedded AWS stops)."""
    if not _glue.installed:
        return
    LambdaFunction._invoke_lambda = _glue.original_invoke_lambda  # type: ignore[method-assign]
    WaitFunction._wait_interval = _glue.original_wait_interval  # type: ignore[method-assign]
    retrier_decl.time = _glue.original_retrier_time
    for module, original in (_glue.original_datetime_modules or {}).items():
        module.datetime = original
    StepFunctionsParserBackend.start_execution = _glue.original_start_execution  # type: ignore[method-assign]
    StateTaskServiceSfn._normalise_parameters = _glue.original_sfn_normalise  # type: ignore[method-assign]
    for name, operation in (_glue.original_dynamodb or {}).items():
        setattr(DynamoDBBackend, name, operation)
    _glue.invoker = None
    _glue.installed = False


class LocalAws:
    """A moto server on 127.0.0.1 in this process, patched to run zoho-watch (see module docstring).

    `start()` returns self; `endpoint_url` is what boto3 and the AWS CLI take as `--endpoint-url`.
    """

    def __init__(
        self, invoker: Invoker | None = None, time_scale: TimeScale | None = None, port: int = 0
    ) -> None:
        self.time_scale = time_scale or TimeScale(1.0)
        self._invoker = invoker
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.port: int | None = None
        self._saved: dict[str, Any] = {}

    @property
    def endpoint_url(self) -> str:
        """The server's base URL."""
        if self.port is None:
            raise RuntimeError("the local AWS is not started")
        return f"http://127.0.0.1:{self.port}"

    def attach(self, invoker: Invoker) -> None:
        """Run Lambda invocations with `invoker` from now on."""
        self._invoker = invoker
        _glue.invoker = invoker

    def start(self) -> LocalAws:
        """Start the server, patch moto, switch Step Functions execution on and reset moto's state."""
        install_patches(self._invoker, self.time_scale)
        self.time_scale.restore()
        # One access-log line per AWS call would drown the CLI's output, and moto logs every Fail state
        # (a job that FAILED, a watch past its deadline: normal outcomes) at ERROR level.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        # moto's own clients (Step Functions calling Lambda) find the server through MOTO_PORT.
        self._saved = {
            "MOTO_PORT": os.environ.get("MOTO_PORT"),
            "stepfunctions": dict(default_user_config.get("stepfunctions", {})),
        }
        os.environ["MOTO_PORT"] = str(self.port)
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        config = {"stepfunctions": {"execute_state_machine": True}}
        reply = requests.post(f"{self.endpoint_url}/moto-api/config", json=config, timeout=10)
        reply.raise_for_status()
        # The config API does not echo this setting back: read it where moto keeps it.
        if default_user_config.get("stepfunctions", {}).get("execute_state_machine") is not True:
            raise RuntimeError("moto did not switch Step Functions execution on")
        return self

    def stop(self) -> None:
        """Stop the server and undo the patches (waits on the simulated clock end at once)."""
        self.time_scale.release()
        if self.port is not None:
            self._server.stop()
            self.port = None
            # Leave the process as it was: moto's config and MOTO_PORT matter to in-memory moto users too.
            previous_port = self._saved["MOTO_PORT"]
            if previous_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = previous_port
            default_user_config["stepfunctions"] = self._saved["stepfunctions"]  # type: ignore[typeddict-item]
        remove_patches()

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `boto3.client(service, **kwargs)` that point at this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "aws_session_token": "testing",
        }

    def client(self, service: str) -> Any:
        """A boto3 client for `service` on this server."""
        import boto3

        return boto3.client(service, **self.client_kwargs())  # type: ignore[call-overload]
