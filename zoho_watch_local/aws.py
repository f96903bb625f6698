"""The local AWS: a moto server in this process, with the few patches that make it run zoho-watch.

moto (pinned, see `MOTO_VERSION`) serves every AWS API the stack uses. Four gaps are closed here by
patching moto's private parts, and `tests/integration/test_moto_glue.py` pins each one down so that a moto
upgrade fails loudly instead of quietly changing behaviour:

1. Lambda code: moto runs functions in Docker. `LambdaFunction._invoke_lambda` is replaced so that the
   invocation goes to an in-process `Invoker` (see `zoho_watch_local.lambda_runtime`), which returns the
   payload, whether it is an error, and the logs. moto writes those logs to the function's CloudWatch log
   group as Lambda does, and its Step Functions engine reads `errorType` from an error payload to name the ASL
   error, so `Retry` and `Catch` see our exception class names.
2. Time: a `Wait` state and a retrier really sleep, executions are dated with the real time, and nothing
   tells when an execution is working. The stack's `VirtualClock` (see `zoho_watch_local.clock`) replaces all
   three: `WaitFunction._wait_interval` and the retrier module's `time` wait on it; the `datetime` of moto's
   execution modules tells its time (`$$.Execution.StartTime`, start and stop dates); and
   `ExecutionWorker.start` gives each execution a clock hold, taken before StartExecution returns and let go
   only while the execution waits on the clock and when it ends, so the clock never skips a step of an
   execution. moto runs an execution's states in threads of its own: they inherit the hold through
   `zoho_watch_local.thread_context`. A Wait or a retry back-off ends early when its execution stops: the
   `Environment` methods that end an execution (stopped, failed, timed out, ended) nudge the clock about
   that execution, whose waiters then look at whether it still runs (none polls for it).
   `join_executions` waits for the executions' threads (a stack reset waits for the ones it stopped).
3. `StartExecution` is not atomic in moto (check for a running execution with that name, then append):
   it is serialised with a lock, so concurrent starts of one watch give one execution, as on AWS.
4. The `arn:aws:states:::states:startExecution` integration (continue-as-new) hands the Task's
   `StateMachineArn`, `Name`, `Input` to boto3 as they are, and boto3 wants `stateMachineArn`, `name`,
   `input`: `StateTaskServiceSfn._normalise_parameters` also maps them onto the operation's input shape,
   with moto's own `_to_boto_request`, as AWS (and LocalStack, where this code comes from) does.
5. DynamoDB item operations are not atomic in moto's backend (a conditional write reads, checks and writes
   with no lock, so two threads can both pass one condition): `DynamoDBBackend`'s item operations, and each
   whole DynamoDB request, run under one lock (`ATOMIC_DYNAMODB`), which restores the guarantee the store's
   conditional writes rely on. The in-process `aws` test fixture applies the same wrapper
   (`atomic_dynamodb_operation`).
6. Step Functions execution is switched on through moto's config API.
7. The server holds the clock while it handles a request (WSGI middleware): a call to AWS is work. The
   requests of this process's boto3 clients are served in-process, without a socket
   (`zoho_watch_local.loopback`).
8. moto's `ActionCountValidator` checks an UpdateExpression's clause counts at every nested UpdateExpression
   node, each time over the whole subtree: quadratic in the number of actions, most of the CPU of the
   store's long updates. Checking them once at the root counts every clause of the expression (the root's
   `find_clauses` recurses into the nested ones) and so accepts and refuses exactly what moto does.
10. A Task waiting for a task token (`.waitForTaskToken`) waits on `CallbackEndpoint.wait`, a real-time event:
   the execution would hold the clock while nobody can answer until the clock moves (the job's end comes
   from a watch's Wait). `_callback_wait_without_hold` lets go of the execution's hold while it waits (the
   wait has no moment of its own: whoever answers the token works under a hold of its own), and holds again
   once answered. With `HeartbeatSeconds`, the task waits on `HeartbeatEndpoint.clear_and_wait` instead, a
   real-time wait of that many seconds: `_clocked_heartbeat_wait` waits that long on the stack's clock, its
   hold let go, and ends early when a heartbeat or the answer comes (`HeartbeatEndpoint.notify` nudges it).
9. moto re-parses every JSONPath and every execution's state machine, lists its own package folder and its
   response classes' methods and builds a Step Functions client again and again, and writes DynamoDB's item
   replies member by member: `zoho_watch_local.moto_shortcuts` keeps what the first five return and writes
   those replies with `json.dumps`, the same answers for less CPU.

Patches are process-wide (moto's backends are too): one embedded AWS per process.
"""

from __future__ import annotations

import contextvars
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
from moto.dynamodb.parsing.ast_nodes import UpdateExpression
from moto.dynamodb.parsing.validators import ActionCountValidator
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.stepfunctions.parser import models as sfn_models
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatEndpoint
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.backend import execution as sfn_execution
from moto.stepfunctions.parser.backend import execution_worker as sfn_execution_worker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from zoho_watch_local import loopback, moto_shortcuts, thread_context
from zoho_watch_local.clock import VirtualClock, current_hold

MOTO_VERSION = "5.2.5"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

logger = logging.getLogger(__name__)

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
    """Runs one Lambda invocation in this process (implemented by
    `zoho_watch_local.lambda_runtime.LambdaRuntime`)."""

    def __call__(self, function: LambdaFunction, event: Any) -> Invocation:
        """Invoke `function` (moto's model: name, handler, environment, timeout...) with `event`."""
        ...


@dataclass
class _Glue:
    """The process-wide state the patched functions read."""

    invoker: Invoker | None = None
    clock: VirtualClock | None = None
    installed: bool = False
    original_invoke_lambda: Callable[..., Any] | None = None
    original_wait_interval: Callable[..., Any] | None = None
    original_retrier_time: Any = None
    original_datetime_modules: dict[Any, Any] | None = None
    original_worker_start: Callable[..., Any] | None = None
    original_action_count: Callable[..., Any] | None = None
    original_start_execution: Callable[..., Any] | None = None
    original_sfn_normalise: Callable[..., Any] | None = None
    original_dynamodb: dict[tuple[type, str], Callable[..., Any]] | None = None
    original_environment_endings: dict[str, Callable[..., Any]] | None = None
    original_callback_wait: Callable[..., Any] | None = None
    original_heartbeat_wait: Callable[..., Any] | None = None
    original_heartbeat_notify: Callable[..., Any] | None = None


_glue = _Glue()
_start_execution_lock = threading.Lock()
# The threads of the executions running now (each an execution's own; its states may start more).
_execution_threads: set[threading.Thread] = set()
_execution_threads_lock = threading.Lock()
# The execution worker whose states run in this thread: its retrier's back-offs end when it stops.
_current_worker: contextvars.ContextVar[Any] = contextvars.ContextVar("execution_worker", default=None)
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
# What runs under the DynamoDB lock: those operations, and each whole DynamoDB request, because moto's
# request handlers read an item the backend returns (UpdateItem deep-copies it, GetItem writes it out) after
# the operation returned, while another request may be changing that very item.
ATOMIC_DYNAMODB: tuple[tuple[type, str], ...] = (
    *((DynamoDBBackend, name) for name in ATOMIC_DYNAMODB_OPERATIONS),
    (DynamoHandler, "call_action"),
)
_logs_lock = threading.Lock()
# The methods of moto's Step Functions `Environment` that end an execution (or a branch of one).
ENVIRONMENT_ENDINGS = ("set_ended", "set_error", "set_timed_out", "set_stop")


def in_execution() -> bool:
    """Whether this thread runs a state of a Step Functions execution (a Task's Lambda call, say)."""
    return _current_worker.get() is not None


def current_state_machine() -> str | None:
    """The ARN of the state machine whose execution this thread runs a state of, or None."""
    worker = _current_worker.get()
    env = None if worker is None else worker.env
    if env is None:
        return None
    return str(env.states.context_object.context_object_data["StateMachine"]["Id"])


def _clock() -> VirtualClock:
    if _glue.clock is None:
        raise RuntimeError("the moto glue is not installed: no clock")
    return _glue.clock


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


def _clocked_wait_interval(self: WaitFunction, env: Any, wait_seconds: float) -> None:
    """Replacement for `WaitFunction._wait_interval`: waits `wait_seconds` on the stack's clock.

    The execution's hold is let go meanwhile. Like the original it ends early when the execution stops.
    """
    clock = _clock()
    clock.wait_until(clock.now() + wait_seconds, keep_waiting=env.is_running, topic=env)


def _callback_wait_without_hold(self: CallbackEndpoint, timeout: float | None = None) -> Any:
    """Replacement for `CallbackEndpoint.wait`: the execution's clock hold is let go while it waits for its
    task token's answer (see the module docstring), and held again after."""
    hold = current_hold.get()
    if hold is None or not hold.held:
        return _glue.original_callback_wait(self, timeout)  # type: ignore[misc]
    hold.release()
    try:
        return _glue.original_callback_wait(self, timeout)  # type: ignore[misc]
    finally:
        hold.acquire()


def _clocked_heartbeat_wait(self: HeartbeatEndpoint) -> bool:
    """Replacement for `HeartbeatEndpoint.clear_and_wait`: True when a heartbeat (or the answer) came within
    the task's `HeartbeatSeconds` on the stack's clock, False when that time passed without one. The
    execution's hold is let go meanwhile (see the module docstring)."""
    with self._mutex:
        if self._next_heartbeat_event.is_set():
            self._next_heartbeat_event.clear()
            return True
    clock = _clock()
    timed_out = clock.wait_until(
        clock.now() + self._heartbeat_seconds,
        keep_waiting=lambda: not self._next_heartbeat_event.is_set(),
        topic=self,
    )
    with self._mutex:
        came = self._next_heartbeat_event.is_set()
        self._next_heartbeat_event.clear()
    return came or not timed_out


def _nudging_notify(self: HeartbeatEndpoint) -> None:
    """Replacement for `HeartbeatEndpoint.notify`: the heartbeat, then a nudge of the task's clocked wait."""
    assert _glue.original_heartbeat_notify is not None
    _glue.original_heartbeat_notify(self)
    if _glue.clock is not None:
        _glue.clock.nudge(self)


def _nudging(ending: Callable[..., Any]) -> Callable[..., Any]:
    """An `Environment` method that ends an execution, then nudges the clock about that environment: a Wait
    of that execution looks at `env.is_running` again and ends (see `_clocked_wait_interval`). The other
    executions' Waits sleep on (an ending also ends the environment's frames, each through its own method)."""

    @functools.wraps(ending)
    def ended(env: Environment, *args: Any, **kwargs: Any) -> Any:
        try:
            return ending(env, *args, **kwargs)
        finally:
            if _glue.clock is not None:
                _glue.clock.nudge(env)

    return ended


class _ClockedTime(types.SimpleNamespace):
    """Stands in for the `time` module inside moto's retrier: `sleep` waits on the stack's clock."""

    @staticmethod
    def sleep(seconds: float) -> None:
        """Sleep `seconds` on the stack's clock (the execution's hold is let go meanwhile); a back-off ends
        early when its execution stops, as a Wait does (its state then tries no more: it is not running)."""
        worker = _current_worker.get()
        env = None if worker is None else worker.env
        _clock().sleep(seconds, keep_waiting=None if env is None else env.is_running, topic=env)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _held_worker_start(self: sfn_execution_worker.ExecutionWorker) -> None:
    """Replacement for `ExecutionWorker.start`: the execution's thread runs under a clock hold of its own."""
    hold = _clock().hold().acquire()
    logic = self._execution_logic

    def run() -> None:
        current_hold.set(hold)
        _current_worker.set(self)
        try:
            logic()
        finally:
            with _execution_threads_lock:
                _execution_threads.discard(threading.current_thread())
            hold.release()

    thread = threading.Thread(target=run, name="sfn-execution", daemon=True)
    sfn_execution_worker.TMP_THREADS.append(thread)
    with _execution_threads_lock:
        _execution_threads.add(thread)
    try:
        thread.start()
    except BaseException:
        with _execution_threads_lock:
            _execution_threads.discard(thread)
        hold.release()
        raise


def join_executions(timeout: float) -> list[str]:
    """Wait for the threads of the executions running now to end; the names of those still running after
    `timeout` real seconds (a hung execution's limit: a stopped execution's thread ends at once)."""
    deadline = time.monotonic() + timeout
    with _execution_threads_lock:
        threads = list(_execution_threads)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread.name for thread in threads if thread.is_alive()]


class _SimulatedDatetime(datetime.datetime):
    """`datetime.datetime` whose `now()` is the simulated clock's (moto's execution start and stop dates)."""

    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> _SimulatedDatetime:  # type: ignore[override]
        """The simulated time, as `datetime.now` gives it (naive local time without `tz`)."""
        return cls.fromtimestamp(_clock().now(), tz)


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


def _count_actions_once(self: ActionCountValidator, node: Any) -> Any:
    """Replacement for `ActionCountValidator.traverse`: the clause counts checked once, at the root."""
    if isinstance(node, UpdateExpression):
        return self.verify_action_counts(node)
    return self.traverse_node_recursively(node)


def atomic_dynamodb_operation(operation: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap one of moto's DynamoDB operations (see `ATOMIC_DYNAMODB`) so it runs under the process-wide
    DynamoDB lock (reentrant: a request holds it around its operations)."""
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
            f"zoho_watch_local/aws.py patches moto {MOTO_VERSION} internals but moto {moto.__version__} "
            "is installed: re-check the patched functions (see tests/integration/test_moto_glue.py) before "
            "changing the pin"
        )


def install_patches(invoker: Invoker | None, clock: VirtualClock) -> None:
    """Patch moto: in-process Lambda, clocked waits and executions, atomic starts and DynamoDB items,
    startExecution params.

    Idempotent; see the module docstring.
    """
    check_moto_version()
    _glue.invoker = invoker
    _glue.clock = clock
    if _glue.installed:
        return
    thread_context.install()
    moto_shortcuts.install()
    _glue.original_invoke_lambda = LambdaFunction._invoke_lambda
    _glue.original_wait_interval = WaitFunction._wait_interval
    _glue.original_retrier_time = retrier_decl.time
    _glue.original_start_execution = StepFunctionsParserBackend.start_execution
    _glue.original_sfn_normalise = StateTaskServiceSfn._normalise_parameters
    StateTaskServiceSfn._normalise_parameters = _sfn_normalise_parameters  # type: ignore[method-assign]
    LambdaFunction._invoke_lambda = _in_process_invoke_lambda  # type: ignore[method-assign]
    WaitFunction._wait_interval = _clocked_wait_interval  # type: ignore[method-assign]
    retrier_decl.time = _ClockedTime()  # type: ignore[assignment]
    _glue.original_worker_start = sfn_execution_worker.ExecutionWorker.start
    sfn_execution_worker.ExecutionWorker.start = _held_worker_start  # type: ignore[method-assign]
    _glue.original_action_count = ActionCountValidator.traverse
    ActionCountValidator.traverse = _count_actions_once  # type: ignore[method-assign]
    _glue.original_datetime_modules = {module: module.datetime for module in _DATED_MODULES}
    for module in _DATED_MODULES:
        module.datetime = _SimulatedDatetimeModule()  # type: ignore[assignment]
    StepFunctionsParserBackend.start_execution = _atomic_start_execution  # type: ignore[method-assign]
    _glue.original_callback_wait = CallbackEndpoint.wait
    CallbackEndpoint.wait = _callback_wait_without_hold  # type: ignore[method-assign]
    _glue.original_heartbeat_wait = HeartbeatEndpoint.clear_and_wait
    _glue.original_heartbeat_notify = HeartbeatEndpoint.notify
    HeartbeatEndpoint.clear_and_wait = _clocked_heartbeat_wait  # type: ignore[method-assign]
    HeartbeatEndpoint.notify = _nudging_notify  # type: ignore[method-assign]
    _glue.original_environment_endings = {name: getattr(Environment, name) for name in ENVIRONMENT_ENDINGS}
    for name, ending in _glue.original_environment_endings.items():
        setattr(Environment, name, _nudging(ending))
    _glue.original_dynamodb = {(owner, name): getattr(owner, name) for owner, name in ATOMIC_DYNAMODB}
    for (owner, name), operation in _glue.original_dynamodb.items():
        setattr(owner, name, atomic_dynamodb_operation(operation))
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
    CallbackEndpoint.wait = _glue.original_callback_wait  # type: ignore[method-assign]
    HeartbeatEndpoint.clear_and_wait = _glue.original_heartbeat_wait  # type: ignore[method-assign]
    HeartbeatEndpoint.notify = _glue.original_heartbeat_notify  # type: ignore[method-assign]
    for (owner, name), operation in (_glue.original_dynamodb or {}).items():
        setattr(owner, name, operation)
    for name, ending in (_glue.original_environment_endings or {}).items():
        setattr(Environment, name, ending)
    sfn_execution_worker.ExecutionWorker.start = _glue.original_worker_start  # type: ignore[method-assign]
    ActionCountValidator.traverse = _glue.original_action_count  # type: ignore[method-assign]
    moto_shortcuts.uninstall()
    thread_context.uninstall()
    _glue.invoker = None
    _glue.installed = False


class LocalAws:
    """A moto server on 127.0.0.1 in this process, patched to run zoho-watch (see module docstring).

    `start()` returns self; `endpoint_url` is what boto3 and the AWS CLI take as `--endpoint-url`.
    """

    def __init__(self, clock: VirtualClock, invoker: Invoker | None = None, port: int = 0) -> None:
        self.clock = clock
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

    def start(self) -> LocalAws:
        """Start the server, patch moto, switch Step Functions execution on and reset moto's state."""
        install_patches(self._invoker, self.clock)
        self.clock.restore()
        # One access-log line per AWS call would drown the CLI's output, and moto logs every Fail state
        # (a job that FAILED, a watch past its deadline: normal outcomes) at ERROR level.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._server.start()
        wsgi_server = self._server._server  # moto's werkzeug server: each request reads its `app`
        assert wsgi_server is not None
        wsgi_server.app = self.clock.wsgi(wsgi_server.app)
        self.port = self._server.get_host_and_port()[1]
        loopback.install(self.port, wsgi_server.app)
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
        """Stop the server and undo the patches (waits on the clock end at once)."""
        self.clock.release_waiters()
        if self.port is not None:
            loopback.uninstall()
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
