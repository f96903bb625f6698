"""zoho-watch benchmarks: `python -m bench` (or `make bench`) measures six figures side by side
with their baselines in one run and prints one markdown table.

Every module measures one thing and returns `table.Row`s; `__main__` runs them and prints the table. The
layer (`layers/zoho_watch`) is put on `sys.path` here, the way Lambda sees it under /opt/python.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_PATH = REPO_ROOT / "layers" / "zoho_watch"

for _path in (str(LAYER_PATH), str(REPO_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# What the bench's process runs with (`prepare_environment`): nothing it runs may reach AWS (moto and the
# emulator only), and the handlers' Powertools objects, created at import, need their settings first.
BENCH_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "zoho-watch-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "ZohoWatchBench",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def prepare_environment() -> None:
    """Set the bench's environment (fake AWS credentials, quiet Powertools); `python -m bench` does first."""
    os.environ.update(BENCH_ENVIRONMENT)
    os.environ.pop("AWS_PROFILE", None)
