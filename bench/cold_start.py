"""Cold start: import time of each handler module in fresh processes, against `import boto3, requests`.

Each sample is a new Python process that times, with `perf_counter` around the import only (interpreter
start-up is the same for both and left out), either loading `functions/<name>/app.py` by path with the layer
on `sys.path` (as Lambda loads a handler) or `import boto3, requests`. Samples of all kinds are interleaved,
bytecode caches are warmed first, and each figure is the median of its samples; the result is the ratio.

Import alone would reward moving work from import to the first call, so every handler is also timed from
import to the end of its first invocation with its `events/` sample (`FIRST_CALLS`), against a bare handler's
cold start: `import boto3, requests`, a DynamoDB client and one GetItem. They talk to one moto server on
127.0.0.1 and the Zoho emulator in its own process, both started by the bench. The api's row (a stored GET,
with request and response validation) has the goal; the others are context.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from bench import BENCH_ENVIRONMENT, LAYER_PATH, REPO_ROOT
from bench.stack import TABLE_NAME, base_environment, create_jobs_table, handler_names
from bench.table import Row, median, not_measured, seconds

BASELINE = "import boto3, requests"
# The goals: every handler's import within 1.20x the baseline's; the api's init plus first stored GET within
# 1.30x a bare boto3 handler's import, client and GetItem.
IMPORT_LIMIT = 1.20
IMPORT_GOAL = "<= 1.20x"
FIRST_CALL_LIMIT = 1.30
FIRST_CALL_GOAL = "<= 1.30x"

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


# The Lambda runtime's interpreter (template.yaml: python3.13), which `make bench` installs as the 3.13 tests'
# (.venv-313): a cold start is measured on the Python that has it. Without it, this interpreter (and its name
# in every row).
RUNTIME_PYTHON = REPO_ROOT / ".venv-313" / "bin" / "python"


def probe_python() -> str:
    """The interpreter the probes run on: the Lambda runtime's if installed, else the bench's own."""
    return str(RUNTIME_PYTHON) if RUNTIME_PYTHON.exists() else sys.executable


@cache
def probe_python_name() -> str:
    """ "Python X.Y.Z", the probes' interpreter, for the rows."""
    version = subprocess.run(
        [probe_python(), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"Python {version}"


def probe_path(target: str) -> str:
    """A probe's PYTHONPATH: the layer, and the handler's own folder (its other modules), as on Lambda."""
    folders = [str(LAYER_PATH)] if target == "baseline" else [str(LAYER_PATH), str(Path(target).parent)]
    return os.pathsep.join(folders)


def _run_probe(script: str, args: list[str], env: dict[str, str], what: str) -> Any:
    """Run a probe script in a fresh interpreter (`probe_python`), from the layer folder, and return its last
    JSON line."""
    done = subprocess.run(
        [probe_python(), "-c", script, *args],
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
    env = {**os.environ, **BENCH_ENVIRONMENT, **base_environment(), "PYTHONPATH": probe_path(target)}
    env.pop("AWS_ENDPOINT_URL", None)
    if bytecode_dir is not None:
        env.update(PYTHONPYCACHEPREFIX=bytecode_dir, PYTHONDONTWRITEBYTECODE="1")
    return float(_run_probe(_PROBE, [target], env, f"importing {target}"))


def measure(repeats: int = 11) -> list[Row]:
    """Every handler's import, the api's import without bytecode, every handler's first invocation."""
    return measure_imports(repeats) + measure_without_bytecode(repeats) + measure_first_calls(repeats)


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
            name + f", median of {repeats}, {probe_python_name()}",
            seconds(source),
            f"with .pyc: {seconds(cached)}",
            f"{source / cached:.1f}x the import with bytecode",
        )
    ]


def measure_imports(repeats: int = 11) -> list[Row]:
    """One row per handler: median import time against the baseline's, in the same run."""
    names = handler_names()
    if not names:
        return [not_measured("3. cold start", "no functions/<name>/app.py yet", IMPORT_GOAL)]
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
            f"3. cold start: import `functions/{name}/app.py` vs `{BASELINE}`, median of {repeats},"
            f" {probe_python_name()}",
            seconds(median(samples[name])),
            seconds(baseline),
            f"{median(samples[name]) / baseline:.2f}x",
            IMPORT_GOAL,
            median(samples[name]) / baseline <= IMPORT_LIMIT,
        )
        for name in names
    ]


# ---- init plus first invocation (every handler) -----------------------------------------------------------

EVENTS_DIR = REPO_ROOT / "events"
# The representative event of each handler (events/), and what its first invocation does with it.
FIRST_CALLS = {
    "api": (
        "api_get_job.json",
        "`GET /jobs/{module}/{job_id}` of a stored job, request and response validated",
    ),
    "check_job": (
        "check_job.json",
        "one check: token (secret, one refresh in all), Zoho status, store, events",
    ),
    "sweep": ("sweep.json", "one sweep run: due jobs from the index, their checks, pending events, healing"),
    "watch_request": ("watch_request.json", "a schedule-mode watch with a task token (direct invocation)"),
}
FIRST_CALL_BASELINE = "bare boto3 handler: `import boto3, requests`, a DynamoDB client, one GetItem"
# The floors of the api's design (`bench.api_floors`): the same GET served by the least Powertools REST API,
# without and with Powertools' validation. Context rows: what the api's cold start cannot go below.
API_FLOORS_DIR = REPO_ROOT / "bench" / "api_floors"
API_FLOORS = {
    "bare_resolver": "a bare Powertools REST resolver (no validation), Logger, Metrics, one GetItem route",
    "validating_resolver": "the same with Powertools' validation: path patterns and a pydantic answer model",
}
STORED_JOB_ID = "554023000000506003"  # the job of events/api_get_job.json, stored by the bench
_STORED_KEY = {"pk": {"S": f"JOB#default#Leads#{STORED_JOB_ID}"}, "sk": {"S": "STATE"}}

_FIRST_CALL_PROBE = """
import importlib.util, json, os, sys, time
target, event_path, name = sys.argv[1], sys.argv[2], sys.argv[3]
key = {"pk": {"S": "JOB#default#Leads#554023000000506003"}, "sk": {"S": "STATE"}}

class Context:
    function_name = "zoho-watch-" + name
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:zoho-watch-" + name
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/zoho-watch-" + name
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 60000

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
    assert isinstance(reply, dict), reply
    assert name not in ("api", "bare_resolver", "validating_resolver") or reply["statusCode"] == 200, reply
    assert not name.endswith("_resolver") or json.loads(reply["body"])["status"] == "RUNNING", reply
    assert name != "watch_request" or reply["watching"], reply
done = time.perf_counter()
print(json.dumps([imported - started, done - imported]))
"""


@contextmanager
def first_call_stack() -> Iterator[tuple[str, dict[str, Path]]]:
    """moto on 127.0.0.1 (table with one stored job, event bus, a connection's credentials) and the Zoho
    emulator in its own process with one running job; yields moto's endpoint and each handler's event file
    (the events of `FIRST_CALLS`, naming the emulator's job). Nothing leaves the machine."""
    from bench.stack import BUS_NAME, SECRET_PREFIX, ZohoProcess
    from fake_zoho import JobProfile

    with (
        ZohoProcess.running() as zoho,
        stored_job_server() as endpoint,
        tempfile.TemporaryDirectory() as folder,
    ):
        import boto3

        options = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench",
        }
        boto3.client("events", **options).create_event_bus(Name=BUS_NAME)
        boto3.client("secretsmanager", **options).create_secret(
            Name=f"{SECRET_PREFIX}/default/credentials", SecretString=json.dumps(zoho.credentials())
        )
        # A job per watching handler: a state machine watcher and a schedule watcher exclude each other.
        profile = JobProfile(queue_delay=0.0, duration=3600.0)
        job_ids = {name: zoho.create_job("Leads", 500, profile) for name in ("check_job", "watch_request")}
        events: dict[str, Path] = {}
        for name, (file_name, _) in FIRST_CALLS.items():
            event = json.loads((EVENTS_DIR / file_name).read_text(encoding="utf-8"))
            if name == "check_job":
                event["input"]["job_id"] = job_ids[name]
            elif name == "watch_request":
                event["job_id"] = job_ids[name]
            events[name] = Path(folder) / file_name
            events[name].write_text(json.dumps(event), encoding="utf-8")
        yield endpoint, events


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
                "job_id": {"S": STORED_JOB_ID},
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


def first_call_seconds(
    target: str, endpoint: str, event: Path | None = None, name: str = ""
) -> tuple[float, float]:
    """(import, first invocation) seconds of one fresh process (`target`: a handler path or "baseline").

    `probe_path` is its path."""
    env = {
        **os.environ,
        **BENCH_ENVIRONMENT,
        **base_environment(),
        "PYTHONPATH": probe_path(target),
        "AWS_ENDPOINT_URL": endpoint,
    }
    imported, called = _run_probe(
        _FIRST_CALL_PROBE, [target, str(event or ""), name], env, f"first call of {name or target}"
    )
    return float(imported), float(called)


def measure_first_calls(repeats: int = 11) -> list[Row]:
    """Each handler's import plus first invocation, against a bare boto3 handler's, median of `repeats` each.

    The api's row has the goal; the others are for context (their first call does more than one GetItem).
    """
    names = [name for name in FIRST_CALLS if (REPO_ROOT / "functions" / name / "app.py").exists()]
    if not names:
        return [not_measured("3. cold start: first invocation", "no handler yet", FIRST_CALL_GOAL)]
    with first_call_stack() as (endpoint, events):
        targets = (
            {"baseline": "baseline"}
            | {name: str(REPO_ROOT / "functions" / name / "app.py") for name in names}
            | {floor: str(API_FLOORS_DIR / f"{floor}.py") for floor in API_FLOORS}
        )
        # The floors serve the api's request.
        events = events | {floor: events["api"] for floor in API_FLOORS if "api" in events}
        for kind, path in targets.items():  # warm the bytecode caches; not counted
            first_call_seconds(path, endpoint, events.get(kind), kind)
        samples: dict[str, list[tuple[float, float]]] = {kind: [] for kind in targets}
        for _ in range(repeats):
            for kind, path in targets.items():
                samples[kind].append(first_call_seconds(path, endpoint, events.get(kind), kind))
    total = {kind: median([imported + called for imported, called in runs]) for kind, runs in samples.items()}
    loaded = {kind: median([imported for imported, _ in runs]) for kind, runs in samples.items()}
    call = {kind: median([called for _, called in runs]) for kind, runs in samples.items()}
    rows = []
    for name in names:
        ratio = total[name] / total["baseline"]
        rows.append(
            Row(
                f"3. cold start: {name} init + first invocation ({FIRST_CALLS[name][1]}) vs"
                f" {FIRST_CALL_BASELINE}, median of {repeats}, {probe_python_name()}",
                f"{seconds(total[name])} (import {seconds(loaded[name])}, first call {seconds(call[name])})",
                f"{seconds(total['baseline'])} (GetItem {seconds(call['baseline'])})",
                f"{ratio:.2f}x",
                FIRST_CALL_GOAL if name == "api" else "",
                ratio <= FIRST_CALL_LIMIT if name == "api" else None,
            )
        )
    for floor, what in API_FLOORS.items():
        spent = f"import {seconds(loaded[floor])}, first call {seconds(call[floor])}"
        rows.append(
            Row(
                f"3. cold start, the api's floor: {what}, init + the api's first GET vs"
                f" {FIRST_CALL_BASELINE}, median of {repeats}, {probe_python_name()}",
                f"{seconds(total[floor])} ({spent})",
                f"{seconds(total['baseline'])}",
                f"{total[floor] / total['baseline']:.2f}x",
            )
        )
    return rows
