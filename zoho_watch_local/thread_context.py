"""Threads inherit the context of the thread that starts them, as asyncio tasks do.

Two things follow the work of the embedded stack into the threads it starts: a Lambda invocation's scope
(`zoho_watch_local.invocation_scope`: its container's environment and log buffer; the sweep runs checks in a
thread pool) and a Step Functions execution's clock hold (`zoho_watch_local.clock.current_hold`: moto runs an
execution's states in threads of its own). Python starts every thread in an empty context, so
`threading.Thread.start` is wrapped, process-wide, to run the new thread in a copy of the starter's context.
`install()` is idempotent and counted: `uninstall()` restores the original once every installer has
uninstalled.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable

_lock = threading.Lock()
_installs = 0
_original_start: Callable[[threading.Thread], None] | None = None


def _start_in_starter_context(self: threading.Thread) -> None:
    context = contextvars.copy_context()
    run = self.run
    self.run = lambda: context.run(run)  # type: ignore[method-assign]
    assert _original_start is not None
    _original_start(self)


def install() -> None:
    """Make new threads inherit their starter's context (see module docstring)."""
    global _installs, _original_start
    with _lock:
        _installs += 1
        if _original_start is None:
            _original_start = threading.Thread.start
            threading.Thread.start = _start_in_starter_context  # type: ignore[method-assign]


def uninstall() -> None:
    """Undo one `install`; the last one restores `threading.Thread.start`."""
    global _installs, _original_start
    with _lock:
        if _installs == 0:
            return
        _installs -= 1
        if _installs == 0 and _original_start is not None:
            threading.Thread.start = _original_start  # type: ignore[method-assign]
            _original_start = None


def installed() -> bool:
    """True while new threads inherit their starter's context."""
    return _original_start is not None
