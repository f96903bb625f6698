"""Cold start: import time of each handler module in fresh processes, against `import boto3, requests`.

Each sample is a new Python process that times, with `perf_counter` around the import only (interpreter
start-up is the same for both and left out), either loading `functions/<name>/app.py` by path with the layer
on `sys.path` (as Lambda loads a handler) or `import boto3, requests`. Samples of all kinds are interleaved,
bytecode caches are warmed first, and each figure is the median of its samples; the result is the ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench import BENCH_ENVIRONMENT, LAYER_PATH, REPO_ROOT
from bench.stack import base_environment, handler_names
from bench.table import Row, median, not_measured, seconds

BASELINE = "import boto3, requests"

_PROBE = """
import importlib.util, json, sys, time
target = sys.argv[1]
started = time.perf_counter()
if target == "baseline":
    import boto3, requests
else:
    spec = importlib.util.spec_from_file_location("app", target)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
print(json.dumps(time.perf_counter() - started))
"""


def import_seconds(target: str) -> float:
    """Seconds one fresh process takes to import `target` (a handler path, or "baseline")."""
    env = {**os.environ, **BENCH_ENVIRONMENT, **base_environment(), "PYTHONPATH": str(LAYER_PATH)}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, target],
        cwd=LAYER_PATH,  # like /var/task: nothing of the repository but the layer on the path
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {target} failed: {done.stderr.strip()[-500:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(repeats: int = 11) -> list[Row]:
    """One row per handler: median import time against the baseline's, in the same run."""
    names = handler_names()
    if not names:
        return [not_measured("3. cold start", "no functions/<name>/app.py yet", "under 1.3x")]
    targets = {"baseline": "baseline"} | {
        name: str(REPO_ROOT / "functions" / name / "app.py") for name in names
    }
    for target in targets.values():  # warm the bytecode caches; not counted
        import_seconds(target)
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(repeats):
        for name, target in targets.items():
            samples[name].append(import_seconds(target))
    baseline = median(samples["baseline"])
    return [
        Row(
            f"3. cold start: import `functions/{name}/app.py` vs `{BASELINE}`, median of {repeats}",
            seconds(median(samples[name])),
            seconds(baseline),
            f"{median(samples[name]) / baseline:.2f}x",
            "under 1.3x",
            median(samples[name]) / baseline < 1.3,
        )
        for name in names
    ]
