"""Cold start: import time of each handler module in fresh processes, against `import boto3, requests`.

Each sample is a new Python process that times, with `perf_counter` around the import only (interpreter
start-up is the same for both and left out), either loading `functions/<name>/app.py` by path with the layer
on `sys.path` (as Lambda loads a handler) or `import boto3, requests`. Samples of all kinds are interleaved,
bytecode caches are warmed first, and each figure is the median of its samples; the result is the ratio.

Import alone would reward moving work from import to the first call, so the api function is also timed
from import to the end of its first invocation (`GET /jobs/{module}/{job_id}` of a stored job, with
request and response validation) against a bare handler's cold start: `import boto3, requests`, a
DynamoDB client and the same GetItem. Both talk to one moto server on 127.0.0.1 started by the bench.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import BENCH_ENVIRONMENT, LAYER_PATH, REPO_ROOT
from bench.stack import TABLE_NAME, base_environment, create_jobs_table, handler_names
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


def _run_probe(script: str, args: list[str], env: dict[str, str], what: str) -> Any:
    """Run a probe script in a fresh interpreter, from the layer folder, and return its last JSON line."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=LAYER_PATH,  # like /var/task: nothing of the repository but the layer on the path
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_seconds(target: str, bytecode_dir: str | None = None) -> float:
    """Seconds one fresh process takes to import `target` (a handler path, or "baseline").

    With `bytecode_dir` (an empty directory) no bytecode cache is found or written: every module is
    compiled from source, as on Lambda when the deployed code carries no `.pyc` files.
    """
    env = {**os.environ, **BENCH_ENVIRONMENT, **base_environment(), "PYTHONPATH": str(LAYER_PATH)}
    env.pop("AWS_ENDPOINT_URL", None)
    if bytecode_dir is not None:
        env.update(PYTHONPYCACHEPREFIX=bytecode_dir, PYTHONDONTWRITEBYTECODE="1")
    return float(_run_probe(_PROBE, [target], env, f"importing {target}"))


def measure(repeats: int = 11) -> list[Row]:
    """The import rows of every handler, the api's import without bytecode, its init plus first invocation."""
    return measure_imports(repeats) + measure_without_bytecode(repeats) + measure_first_call(repeats)


def measure_without_bytecode(repeats: int = 11) -> list[Row]:
    """The api's import compiled from source (no `.pyc` anywhere) against the same import with caches.

    `sam build` unpacks the layer's and the functions' packages without compiling them, and Lambda's code
    directories are read-only, so there a cold start compiles every module it imports. Informational: the
    goal of figure 3 is the cached import above.
    """
    target = REPO_ROOT / "functions" / "api" / "app.py"
    name = (
        "3. cold start: import `functions/api/app.py` compiled from source (no .pyc, as sam build ships it)"
    )
    if not target.exists():
        return [not_measured(name, "functions/api/app.py does not exist yet")]
    import_seconds(str(target))  # warm the caches the cached samples use
    with tempfile.TemporaryDirectory(prefix="zoho-watch-no-bytecode-") as empty:
        samples = [(import_seconds(str(target), empty), import_seconds(str(target))) for _ in range(repeats)]
    source = median([cold for cold, _ in samples])
    cached = median([warm for _, warm in samples])
    return [
        Row(
            name + f", median of {repeats}",
            seconds(source),
            f"with .pyc: {seconds(cached)}",
            f"{source / cached:.1f}x the import with bytecode",
        )
    ]


def measure_imports(repeats: int = 11) -> list[Row]:
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


# ---- init plus first invocation (api) ---------------------------------------------------------------------

FIRST_CALL_EVENT = REPO_ROOT / "events" / "api_get_job.json"
_STORED_KEY = {"pk": {"S": "JOB#default#Leads#554023000000506003"}, "sk": {"S": "STATE"}}

_FIRST_CALL_PROBE = """
import importlib.util, json, os, sys, time
target, event_path = sys.argv[1], sys.argv[2]
key = {"pk": {"S": "JOB#default#Leads#554023000000506003"}, "sk": {"S": "STATE"}}

class Context:
    function_name = "zoho-watch-api"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:zoho-watch-api"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/zoho-watch-api"
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 30000

started = time.perf_counter()
if target == "baseline":
    import boto3, requests
    imported = time.perf_counter()
    item = boto3.client("dynamodb").get_item(TableName=os.environ["TABLE_NAME"], Key=key, ConsistentRead=True)
    assert item["Item"]["job_id"]["S"] == "554023000000506003"
else:
    spec = importlib.util.spec_from_file_location("app", target)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    imported = time.perf_counter()
    with open(event_path, encoding="utf-8") as source:
        event = json.load(source)
    reply = module.lambda_handler(event, Context())
    assert reply["statusCode"] == 200, reply
done = time.perf_counter()
print(json.dumps([imported - started, done - imported]))
"""


@contextmanager
def stored_job_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 with the stack's table and one stored job; yields its endpoint URL."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - moto's fake credentials
        )
        create_jobs_table(dynamodb)
        dynamodb.put_item(
            TableName=TABLE_NAME,
            Item={
                **_STORED_KEY,
                "connection": {"S": "default"},
                "module": {"S": "Leads"},
                "job_id": {"S": "554023000000506003"},
                "status": {"S": "RUNNING"},
                "total": {"N": "500"},
                "updated": {"N": "200"},
                "failed": {"N": "0"},
                "not_updated": {"N": "300"},
                "progress": {"N": "0.4"},
                "checks": {"N": "3"},
                "version": {"N": "3"},
            },
        )
        yield endpoint
    finally:
        server.stop()


def first_call_seconds(target: str, endpoint: str) -> tuple[float, float]:
    """(import, first invocation) seconds of one fresh process (`target`: a handler path or "baseline")."""
    env = {
        **os.environ,
        **BENCH_ENVIRONMENT,
        **base_environment(),
        "PYTHONPATH": str(LAYER_PATH),
        "AWS_ENDPOINT_URL": endpoint,
    }
    imported, called = _run_probe(
        _FIRST_CALL_PROBE, [target, str(FIRST_CALL_EVENT)], env, f"first call of {target}"
    )
    return float(imported), float(called)


def measure_first_call(repeats: int = 11) -> list[Row]:
    """api: import plus its first invocation against a bare boto3 handler's, median of `repeats` each."""
    name = "3. cold start: api init + first `GET /jobs/{module}/{job_id}` (stored) vs bare boto3 GetItem"
    target = REPO_ROOT / "functions" / "api" / "app.py"
    if not target.exists():
        return [not_measured(name, "functions/api/app.py does not exist yet", "under 1.3x")]
    with stored_job_server() as endpoint:
        targets = {"baseline": "baseline", "api": str(target)}
        for path in targets.values():  # warm the bytecode caches; not counted
            first_call_seconds(path, endpoint)
        samples: dict[str, list[tuple[float, float]]] = {kind: [] for kind in targets}
        for _ in range(repeats):
            for kind, path in targets.items():
                samples[kind].append(first_call_seconds(path, endpoint))
    total = {kind: median([imported + called for imported, called in runs]) for kind, runs in samples.items()}
    call = {kind: median([called for _, called in runs]) for kind, runs in samples.items()}
    return [
        Row(
            name + f", median of {repeats}",
            f"{seconds(total['api'])} (first call {seconds(call['api'])})",
            f"{seconds(total['baseline'])} (GetItem {seconds(call['baseline'])})",
            f"{total['api'] / total['baseline']:.2f}x",
            "under 1.3x",
            total["api"] / total["baseline"] < 1.3,
        )
    ]
