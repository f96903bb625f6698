"""Per-invocation environment variables and output for Lambda handlers that run as threads of one process.

On AWS each function runs in its own container with its own environment and its own stdout. Here the
handlers of every function run in one process, several at a time in threads, and `os.environ` and
`sys.stdout` are process-wide. Writing a function's variables into `os.environ` around an invocation
would leak them into concurrent invocations of other functions; locking around invocations would
serialise the whole stack. Instead:

- `os.environ` is replaced, once, by `LayeredEnviron`, a subclass of `os._Environ` that first looks in
  the *scope* of the current invocation (a `ContextVar` holding that container's environment dict) and
  then in the real process environment. Code outside any invocation (tests, the CLI, moto) sees the
  process environment unchanged. Inside an invocation, writes go to the container's own dict, as they
  would inside a Lambda container. `os.getenv`, boto3, botocore and Powertools all read `os.environ` at
  call time, so they see the function's variables.
- Threads started inside an invocation (a `ThreadPoolExecutor` in the sweep, say) would start with an
  empty context and lose the scope: `zoho_watch_local.thread_context` makes them inherit their starter's
  context.
- `sys.stdout` and `sys.stderr` are replaced by `RoutingStream`s that send what an invocation writes to
  that invocation's log buffer (later saved to the function's CloudWatch log group by moto), and
  everything else to the original stream. Powertools' Logger binds `sys.stdout` when it is created,
  which happens when the handler module is first imported, inside a scope: its handler holds the router.

`install()` is idempotent; `uninstall()` restores the originals if nothing replaced them since.
"""

from __future__ import annotations

import contextvars
import io
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from zoho_watch_local import thread_context


@dataclass
class Scope:
    """One invocation's view of the process: its container's environment and its log buffer."""

    environment: dict[str, str]
    output: io.StringIO = field(default_factory=io.StringIO)


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("lambda_scope", default=None)


class LayeredEnviron(os._Environ):  # type: ignore[type-arg]
    """`os.environ` that reads the current invocation's environment first (see module docstring)."""

    def __init__(self, base: os._Environ) -> None:  # type: ignore[type-arg]
        super().__init__(
            base._data,  # the same underlying dict: process-level writes stay visible to everyone
            base.encodekey,
            base.decodekey,
            base.encodevalue,
            base.decodevalue,
        )
        self.base = base

    def __getitem__(self, key: str) -> str:
        scope = _current.get()
        if scope is not None:
            return scope.environment[key]
        return super().__getitem__(key)

    def __setitem__(self, key: str, value: str) -> None:
        scope = _current.get()
        if scope is not None:
            scope.environment[key] = str(value)
            return
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        scope = _current.get()
        if scope is not None:
            del scope.environment[key]
            return
        super().__delitem__(key)

    def __iter__(self) -> Iterator[str]:
        scope = _current.get()
        if scope is not None:
            return iter(list(scope.environment))
        return super().__iter__()

    def __len__(self) -> int:
        scope = _current.get()
        if scope is not None:
            return len(scope.environment)
        return super().__len__()

    def __contains__(self, key: object) -> bool:
        scope = _current.get()
        if scope is not None:
            return key in scope.environment
        return super().__contains__(key)

    def copy(self) -> dict[str, str]:
        """A plain dict of what the caller sees now."""
        return dict(self.items())


class RoutingStream(io.TextIOBase):
    """A text stream that writes to the current invocation's log buffer, or else to `fallback`."""

    def __init__(self, fallback: TextIO) -> None:
        super().__init__()
        self.fallback = fallback

    def write(self, text: str) -> int:  # type: ignore[override]
        """Write to the invocation's buffer when inside one, else to the fallback stream."""
        scope = _current.get()
        if scope is not None:
            return scope.output.write(text)
        return self.fallback.write(text)

    def flush(self) -> None:
        """Flush the fallback stream (an invocation buffer needs no flush)."""
        if _current.get() is None:
            self.fallback.flush()

    def writable(self) -> bool:
        """Always writable."""
        return True

    def __getattr__(self, name: str) -> Any:
        # encoding, isatty, fileno, buffer...: whatever the original stream offers.
        return getattr(self.fallback, name)


_install_lock = threading.Lock()
_originals: dict[str, Any] = {}


def install() -> None:
    """Replace `os.environ`, `sys.stdout` and `sys.stderr`; make threads inherit their starter's context."""
    with _install_lock:
        if _originals:
            return
        _originals["environ"] = os.environ
        _originals["stdout"] = sys.stdout
        _originals["stderr"] = sys.stderr
        os.environ = LayeredEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003 - replaced on purpose
        sys.stdout = RoutingStream(sys.stdout)
        sys.stderr = RoutingStream(sys.stderr)
        thread_context.install()


def uninstall() -> None:
    """Restore what `install` replaced (a stream someone else replaced since is left alone)."""
    with _install_lock:
        if not _originals:
            return
        if isinstance(os.environ, LayeredEnviron):
            os.environ = _originals["environ"]  # noqa: B003
        if isinstance(sys.stdout, RoutingStream):
            sys.stdout = _originals["stdout"]
        if isinstance(sys.stderr, RoutingStream):
            sys.stderr = _originals["stderr"]
        thread_context.uninstall()
        _originals.clear()


@contextmanager
def scope(environment: dict[str, str]) -> Iterator[Scope]:
    """Run the body as an invocation with `environment` (used as is, and mutated by the handler)."""
    entered = Scope(environment=environment)
    # Someone (pytest's capsys, say) may have replaced the streams since `install`: route them again.
    for name in ("stdout", "stderr"):
        if not isinstance(getattr(sys, name), RoutingStream):
            setattr(sys, name, RoutingStream(getattr(sys, name)))
    token = _current.set(entered)
    try:
        yield entered
    finally:
        _current.reset(token)
