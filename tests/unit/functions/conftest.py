"""Load the Lambda handlers and the sample events for handler tests.

The three handler modules are all called `app` (Lambda imports `app.lambda_handler` from each function's
folder), so they are loaded by file path under a unique module name and never shadow one another.
`load_handler` is the one place that does it; tests get a fresh module per test through the fixtures, so
module-level state (clients, the API resolver) never leaks from one test to the next.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from zoho_watch_local.lambda_runtime import import_function_module

REPO_ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS_DIR = REPO_ROOT / "functions"
EVENTS_DIR = REPO_ROOT / "events"
_loads = itertools.count()


def load_handler(function: str, module_name: str | None = None) -> ModuleType:
    """Import `functions/<function>/app.py` as a new module (unique name unless `module_name` is given)."""
    source = FUNCTIONS_DIR / function / "app.py"
    name = module_name or f"zoho_watch_functions_{function}_app_{next(_loads)}"
    return import_function_module(source, name)


def library_errors() -> list[type]:
    """Every error class of the library (`zoho_watch.errors` and the store's StoreConflict), base excluded."""
    from zoho_watch import errors
    from zoho_watch.store import StoreConflict

    return [
        kind
        for kind in (*vars(errors).values(), StoreConflict)
        if isinstance(kind, type)
        and issubclass(kind, errors.ZohoWatchError)
        and kind is not errors.ZohoWatchError
    ]


def load_event(name: str) -> dict[str, Any]:
    """A sample event of `events/` by file stem (a fresh copy each call)."""
    return copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8")))


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context object the handlers and Powertools read."""

    function_name: str = "zoho-watch-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/zoho-watch-test"
    log_stream_name: str = "2026/11/29/[$LATEST]test"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        """The function's ARN."""
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (pretend) time-out."""
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    """A Lambda context with 30 s to go."""
    return FakeLambdaContext()


@pytest.fixture
def check_job_app() -> ModuleType:
    """A fresh import of functions/check_job/app.py."""
    return load_handler("check_job")


@pytest.fixture
def api_app() -> ModuleType:
    """A fresh import of functions/api/app.py."""
    return load_handler("api")


@pytest.fixture
def sweep_app() -> ModuleType:
    """A fresh import of functions/sweep/app.py."""
    return load_handler("sweep")


@pytest.fixture
def watch_request_app() -> ModuleType:
    """A fresh import of functions/watch_request/app.py."""
    return load_handler("watch_request")
