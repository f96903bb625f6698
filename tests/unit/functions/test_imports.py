"""What each handler's cold import loads: nothing its first call does not need.

Each handler is imported in a fresh interpreter, as Lambda loads it (the layer alone on the path, the stack's
environment), and the modules it left in `sys.modules` are compared with what it must not load at import:
boto3 and requests come with the first AWS or Zoho call, pydantic and Powertools' event handler only with the
api, and Powertools' OpenAPI models only with the OpenAPI document. Deterministic: module names, no timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
LAYER = REPO_ROOT / "layers" / "zoho_watch"
HANDLERS = ("api", "check_job", "sweep", "watch_request")

_PROBE = """
import importlib.util, json, sys
for target in sys.argv[1:]:
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location("app", target)
        module = importlib.util.module_from_spec(spec)
        sys.modules["app"] = module
        spec.loader.exec_module(module)
    else:
        importlib.import_module(target)
print(json.dumps(sorted(sys.modules)))
"""

# Loaded by the first call that needs them, never at import.
NOT_AT_IMPORT = {"boto3", "requests", "urllib3", "aws_lambda_powertools.event_handler.openapi.models"}
# The api's alone: request validation and its routes' models.
API_ONLY = {"pydantic", "aws_lambda_powertools.event_handler"}
# Not at the api's import: the watch routes' library and the store come with the first request that uses them.
API_LATER = {"zoho_watch.watches", "zoho_watch.store"}


def loaded_modules(*targets: str) -> set[str]:
    """The modules a fresh interpreter holds after importing `targets` (handler paths or module names)."""
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYTHON"))},
        # The layer, and each handler's own folder (its other modules), as on Lambda.
        "PYTHONPATH": os.pathsep.join(
            [str(LAYER), *(str(Path(t).parent) for t in targets if t.endswith(".py"))]
        ),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "zoho-watch-test",
        "POWERTOOLS_METRICS_NAMESPACE": "ZohoWatchTest",
        "TABLE_NAME": "zoho-watch-test-jobs",
        "EVENT_BUS_NAME": "zoho-watch-test-events",
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *targets],
        cwd=LAYER,  # like /var/task: the repository is not on the path
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def packages(modules: set[str], names: set[str]) -> set[str]:
    """Which of `names` (packages or modules) `modules` holds, themselves or any of their submodules."""
    return {name for name in names if any(m == name or m.startswith(name + ".") for m in modules)}


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_cold_import_leaves_the_first_calls_modules_to_the_first_call(handler: str) -> None:
    modules = loaded_modules(str(REPO_ROOT / "functions" / handler / "app.py"))
    assert "aws_lambda_powertools.logging" in modules  # the probe sees what the handler imported
    forbidden = NOT_AT_IMPORT | API_LATER if handler == "api" else NOT_AT_IMPORT | API_ONLY
    assert packages(modules, forbidden) == set()


def test_the_probe_sees_what_a_zoho_client_import_loads() -> None:
    # The same probe finds requests once the Zoho client's module is imported: the test above can fail.
    modules = loaded_modules(str(REPO_ROOT / "functions" / "check_job" / "app.py"), "zoho_watch.zoho")
    assert packages(modules, {"requests", "urllib3"}) == {"requests", "urllib3"}
