"""Powertools' process-wide state, one copy per container of the in-process Lambda runtime.

On AWS a container is a process, and it runs one invocation at a time: Powertools for AWS Lambda (Python)
can keep an invocation's state at class level, shared by every instance in the process. Here the
containers of every function are threads of one process (see `zoho_watch_local.lambda_runtime`), and
three pieces of that state would be shared by concurrent invocations:

- the event handler's current event and Lambda context: every `resolve` sets `BaseRouter.current_event`
  and `BaseRouter.lambda_context` on the class, and the resolver then matches the route on
  `self.current_event`. Two concurrent API requests could each be routed with the other's path: the
  answer to `PUT /jobs/Leads/1/watch` would start the watch of job 2.
- the metrics, dimensions and metadata that all `Metrics` instances share (class-level dicts, mutated in
  place): an invocation would flush another one's metrics with its own.
- the keys a `Logger` appends (its formatter's `log_format`; every Logger of one service shares one
  formatter): an invocation's log lines would carry another one's request id and correlation id.

`install()` gives each of them one value per *container state* (a dict the runtime keeps per container
and enters around each call of the handler with `container()`), and outside any container the process-wide
value Powertools would have used. The handler module is imported outside it: what an import sets up (a
Logger's formatter and its keys, default dimensions) is shared, as every container's own import would set
up the same, and each container starts from it. It does so through Powertools' private parts, pinned by
`POWERTOOLS_VERSION` and by `tests/unit/embedded/test_powertools_scope.py`, so an upgrade fails loudly.

Left as they are (process-wide, observability only): the `cold_start` flag of log lines and metrics,
true only for the first invocation of the process rather than of each container.
"""

from __future__ import annotations

import contextvars
import copy
import threading
from abc import ABCMeta
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.shared.version import VERSION

POWERTOOLS_VERSION = "3.37.0"
# The class attributes of `BaseRouter` that `resolve` sets on the class, for the invocation it runs.
ROUTER_ATTRIBUTES = ("current_event", "lambda_context")
# The instance attributes that hold an invocation's state: `Metrics` and its provider hold the class-level
# dicts that every `Metrics` shares; a formatter holds the keys its Loggers append.
INSTANCE_ATTRIBUTES: dict[type, tuple[str, ...]] = {
    Metrics: ("metric_set", "dimension_set", "metadata_set", "default_dimensions"),
    AmazonCloudWatchEMFProvider: (
        "metric_set",
        "dimension_set",
        "metadata_set",
        "default_dimensions",
        "dimension_sets",
    ),
    LambdaPowertoolsFormatter: ("log_format",),
}
# What a container starts with. An invocation's metrics start empty, as in a new process (Powertools flushes
# them at the end of each invocation); the rest (default dimensions and the dimensions they make, a
# formatter's keys) starts as a copy of the process-wide value.
STARTS_EMPTY = frozenset({"metric_set", "metadata_set", "dimension_sets"})

_current: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar(
    "powertools_container_state", default=None
)
_lock = threading.Lock()
_installed: dict[str, Any] = {}


@contextmanager
def container(state: dict[Any, Any]) -> Iterator[None]:
    """Run the block as the container whose Powertools state is `state` (an empty dict at its cold start)."""
    token = _current.set(state)
    try:
        yield
    finally:
        _current.reset(token)


class _ClassSlot:
    """A class attribute with one value per container (and one outside any container).

    Placed both on the class (for reads through an instance) and on its metaclass (for `Class.name = v`,
    which a descriptor on the class itself cannot intercept)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.process_value: Any = None

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        state = _current.get()
        if state is None:
            return self.process_value
        return state.get((_ClassSlot, self.name))

    def __set__(self, obj: Any, value: Any) -> None:
        state = _current.get()
        if state is None:
            self.process_value = value
        else:
            state[(_ClassSlot, self.name)] = value


class _InstanceSlot:
    """An instance attribute with one value per container.

    The value in the instance's own `__dict__` is the process-wide one (Powertools' as it would be without
    this module); each container sees its own, made on first use (see `STARTS_EMPTY`). Instances that share
    one process-wide object (every `Metrics` and its provider share the class-level dicts) therefore share
    one copy per container. A container that sets the attribute to its copy of a shared object (as a provider
    made inside a container is handed the `Metrics` instance's view) links the instance to the shared
    object; setting it to a new object replaces the container's copy only.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.fresh: Callable[[Any], Any] = _empty_like if name in STARTS_EMPTY else copy.deepcopy

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        state = _current.get()
        try:
            shared = obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        if state is None:
            return shared
        copies = _copies_of(state)
        return copies.view_of(shared, self.fresh)

    def __set__(self, obj: Any, value: Any) -> None:
        state = _current.get()
        if state is None:
            obj.__dict__[self.name] = value
            return
        copies = _copies_of(state)
        shared = copies.shared_of(value)
        if shared is not None:  # the container's own view of a shared object
            obj.__dict__[self.name] = shared
        elif self.name in obj.__dict__:  # a new object for this container only
            copies.replace(obj.__dict__[self.name], value)
        else:  # set for the first time, inside a container: the instance was made here
            obj.__dict__[self.name] = value


def _copies_of(state: dict[Any, Any]) -> _Copies:
    """The container's copies (made once: every log line and metric reads them)."""
    copies = state.get(_InstanceSlot)
    return copies if copies is not None else state.setdefault(_InstanceSlot, _Copies())


def _empty_like(shared: Any) -> Any:
    return type(shared)()


class _Copies:
    """A container's copies of process-wide objects: shared object -> its copy, and back."""

    def __init__(self) -> None:
        self._views: dict[int, tuple[Any, Any]] = {}  # id(shared) -> (shared, the container's view)
        self._shared: dict[int, Any] = {}  # id(view) -> shared
        # The threads an invocation starts (the sweep's pool) share its container: one copy for all of them.
        self._lock = threading.RLock()

    def view_of(self, shared: Any, fresh: Callable[[Any], Any]) -> Any:
        """The container's view of `shared`, made on first use by `fresh(shared)`."""
        with self._lock:
            found = self._views.get(id(shared))
            if found is None:
                self.replace(shared, fresh(shared))
                found = self._views[id(shared)]
            return found[1]

    def shared_of(self, view: Any) -> Any:
        """The shared object that `view` stands for in this container, or None."""
        return self._shared.get(id(view))

    def replace(self, shared: Any, view: Any) -> None:
        """Make `view` the container's view of `shared` (both are kept alive, so their ids stay theirs)."""
        with self._lock:
            previous = self._views.get(id(shared))
            if previous is not None:
                self._shared.pop(id(previous[1]), None)
            self._views[id(shared)] = (shared, view)
            self._shared[id(view)] = shared


def check_powertools_version() -> None:
    """Fail with a clear message when the installed Powertools is not the one this module was written for."""
    if VERSION != POWERTOOLS_VERSION:
        raise RuntimeError(
            f"zoho_watch_local/powertools_scope.py relies on Powertools {POWERTOOLS_VERSION} internals but"
            f" {VERSION} is installed: re-check them (see tests/unit/embedded/test_powertools_scope.py)"
        )


_MISSING = object()
_RECHECK = "re-check zoho_watch_local/powertools_scope.py"


def install() -> None:
    """Give Powertools' process-wide state one value per container (module docstring). Idempotent."""
    with _lock:
        if _installed:
            return
        check_powertools_version()
        metaclass = type(BaseRouter)
        if metaclass is not ABCMeta:
            raise RuntimeError(
                f"BaseRouter's metaclass is {metaclass}, not ABCMeta: re-check powertools_scope"
            )
        for cls, names in INSTANCE_ATTRIBUTES.items():
            for name in names:
                if name in cls.__dict__:
                    raise RuntimeError(
                        f"{cls.__name__}.{name} is a class attribute now: re-check powertools_scope"
                    )
        slots = {name: _ClassSlot(name) for name in ROUTER_ATTRIBUTES}
        _installed["router"] = {name: BaseRouter.__dict__.get(name, _MISSING) for name in ROUTER_ATTRIBUTES}
        for name, slot in slots.items():
            original = _installed["router"][name]
            slot.process_value = None if original is _MISSING else original
            setattr(BaseRouter, name, slot)
        BaseRouter.__class__ = type("ContainerRouterMeta", (metaclass,), dict(slots))
        for cls, names in INSTANCE_ATTRIBUTES.items():
            for name in names:
                setattr(cls, name, _InstanceSlot(name))
        _installed["metaclass"] = metaclass


def uninstall() -> None:
    """Undo `install`: Powertools' state is process-wide again (the values set outside containers stay)."""
    with _lock:
        if not _installed:
            return
        BaseRouter.__class__ = _installed["metaclass"]
        for name, original in _installed["router"].items():
            if original is _MISSING:
                delattr(BaseRouter, name)
            else:
                setattr(BaseRouter, name, original)
        for cls, names in INSTANCE_ATTRIBUTES.items():
            for name in names:
                delattr(cls, name)
        _installed.clear()


def installed() -> bool:
    """True while Powertools' state is per container."""
    return bool(_installed)
