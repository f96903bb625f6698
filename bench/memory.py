"""Memory: the peak RSS of each handler's process, and of the sweep checking 1,000 due jobs, against
`import boto3, requests`.

What is measured: the peak resident set size of a fresh Python process once the handler has run, the figure
Lambda reports as a function's "Max Memory Used" (the runtime process's RSS). RSS counts all of the process:
the interpreter, C extensions (pydantic-core, OpenSSL) and the stacks of the sweep's worker threads.
tracemalloc would count only the Python objects allocated while it traces (none of the interpreter, the
extensions' own memory or the stacks), would slow the run, and its bookkeeping would add to the RSS beside
it, so it is not used. On Linux the peak is read from `/proc/self/status` (`VmHWM`, the high-water mark of
the process's own address space), not from `resource.getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries
`ru_maxrss` across `exec`, so a child started by the bench's process (over 200 MB, with moto) read the
bench's peak, 217 MB for every handler and for `import boto3, requests` alike. Elsewhere `ru_maxrss` is used.

Each handler is loaded by path in its own process with only the layer on `sys.path` (as Lambda loads it), and
invoked with its `events/` sample against a moto server on 127.0.0.1 (`bench.cold_start.stored_job_server`:
the table with one stored job, plus the event bus and the connection's credentials secret) and the Zoho
emulator in its own process: neither is in the measured process, as AWS and Zoho are not in Lambda's. api:
one stored `GET` then one live check (`?live=true`, a check of Zoho) in the same process; check_job: one
check of a running job; sweep: one run over a few due jobs; watch_request: one schedule-mode watch. Then
the sweep alone over 1,000 due jobs watched in schedule mode, as `bench.sweep` sets them up (long jobs, all
due, the emulator over HTTPS with 100 ms held on every CRM call), at the template's largest SweepConcurrency
(25: the most threads and TLS connections at once), given Lambda's longest time-out so that every job is
checked (the figure is its memory, not its time). The baseline is a fresh process's RSS after
`import boto3, requests`, by the same method.

The goal: every peak below half of the function's MemorySize (template.yaml). The other half is headroom for
what this process does not hold and Lambda's does: the runtime interface client in the same process, a newer
Python (the stack runs python3.13), longer Zoho replies and what a warm container keeps across invocations.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoho_watch.jobs import JobKey

from bench import BENCH_ENVIRONMENT, REPO_ROOT
from bench.cold_start import (
    EVENTS_DIR,
    STORED_JOB_ID,
    _run_probe,
    probe_path,
    probe_python_name,
    stored_job_server,
)
from bench.stack import BUS_NAME, SECRET_PREFIX, Certificate, ZohoProcess, base_environment, environment
from bench.sweep import BUDGETS
from bench.table import Row, not_measured
from fake_zoho import JobProfile

BASELINE = "`import boto3, requests`"
# The sweep of 1,000 due jobs: jobs and latency as bench.sweep's defaults, budget the template's largest.
SWEEP_JOBS = 1000
SWEEP_LATENCY_SECONDS = 0.1
SWEEP_BUDGET = max(BUDGETS)
SWEEP_DUE_JOBS = 5  # "a few due jobs": the sweep's row among the handlers
LAMBDA_MAX_TIMEOUT_SECONDS = 900.0
# A handler's peak must stay below this share of its MemorySize.
HEADROOM_SHARE = 0.5
# Each handler's resource in template.yaml, its events (in order, one process) and what they do.
HANDLERS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "api": ("ApiFunction", ("api_get_job.json", "api_get_job_live.json"), "one stored GET, one live check"),
    "check_job": ("CheckJobFunction", ("check_job.json",), "one check of a running job"),
    "sweep": ("SweepFunction", ("sweep.json",), f"one run over {SWEEP_DUE_JOBS} due jobs"),
    "watch_request": ("WatchRequestFunction", ("watch_request.json",), "one schedule-mode watch request"),
}

_PROBE = """
import importlib.util, json, resource, sys, time
target, name, memory, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
events = sys.argv[5:]

def rss_mb():
    # Linux: the address space's own high-water mark (ru_maxrss keeps the parent's peak across exec).
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # Elsewhere: ru_maxrss, in bytes on macOS, in kB on other systems.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)

class Context:
    function_name = "zoho-watch-" + name
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:zoho-watch-" + name
    memory_limit_in_mb = memory
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/zoho-watch-" + name
    log_stream_name = "bench"
    def __init__(self):
        self.deadline = time.monotonic() + timeout
    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)

if target == "baseline":
    import boto3, requests
    imported, replies = rss_mb(), []
else:
    spec = importlib.util.spec_from_file_location("app", target)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    imported, replies = rss_mb(), []
    for path in events:
        with open(path, encoding="utf-8") as source:
            replies.append(module.lambda_handler(json.load(source), Context()))
print(json.dumps({"imported": imported, "peak": rss_mb(), "replies": replies}, default=str))
"""


@dataclass(frozen=True)
class Peak:
    """One fresh process: its RSS once imported, its peak RSS at the end (MB), the handler's replies."""

    imported: float
    peak: float
    replies: list[Any]


def measure_process(
    target: str,
    name: str = "baseline",
    events: tuple[Path, ...] = (),
    env: dict[str, str] | None = None,
    memory: int = 256,
    timeout: float = 60.0,
) -> Peak:
    """Peak RSS of a fresh process that imports `target` (a handler's path, or "baseline") and invokes it
    with each of `events` in turn; `env` is added to the bench's and the stack's environment."""
    child_env = {
        **os.environ,
        **BENCH_ENVIRONMENT,
        **base_environment(),
        "PYTHONPATH": probe_path(target),
        **(env or {}),
    }
    args = [target, name, str(memory), f"{timeout:g}", *map(str, events)]
    result = _run_probe(_PROBE, args, child_env, f"memory of {name}")
    return Peak(float(result["imported"]), float(result["peak"]), list(result["replies"]))


def memory_size(logical_id: str) -> int:
    """A function's MemorySize in template.yaml: its own, else the Globals'."""
    from zoho_watch_local.template import project_template, resource

    template = project_template()
    own = resource(template, logical_id)["Properties"].get("MemorySize")
    return int(own or template["Globals"]["Function"]["MemorySize"])


@dataclass(frozen=True)
class MemoryStack:
    """The handlers' AWS (a moto server's endpoint) and Zoho (the emulator's process)."""

    endpoint: str
    zoho: ZohoProcess
    services: Any  # the library's Services on the moto server, for the set-up

    def watch_due(self, count: int) -> None:
        """`count` long jobs on the emulator, watched in schedule mode and all due (as `bench.sweep` does)."""
        profile = JobProfile(queue_delay=0, duration=6 * 3600)
        now = self.zoho.clock.now()
        for _ in range(count):
            job_id = self.zoho.create_job("Leads", total=5000, profile=profile)
            self.services.store.watch(JobKey("default", "Leads", job_id), "schedule", next_check_at=now - 1)


@contextmanager
def memory_stack(certificate: Certificate | None = None) -> Iterator[MemoryStack]:
    """moto on 127.0.0.1 (the table with one stored job, the event bus, the connection's credentials secret)
    and the Zoho emulator in its own process (HTTPS with `certificate`), its concurrency limit lifted."""
    from zoho_watch.config import Settings
    from zoho_watch.services import Services

    trust = {} if certificate is None else {"REQUESTS_CA_BUNDLE": str(certificate.certfile)}
    reset_moto()
    try:
        with (
            ZohoProcess.running(certificate, concurrency_limit=None) as zoho,
            stored_job_server() as endpoint,
            environment({**base_environment(), "AWS_ENDPOINT_URL": endpoint, **trust}),
        ):
            services = Services(Settings.from_env())
            services.events_client.create_event_bus(Name=BUS_NAME)
            services.secrets_client.create_secret(
                Name=f"{SECRET_PREFIX}/default/credentials", SecretString=json.dumps(zoho.credentials())
            )
            # The connection's access token in its secret already, as a stack in use has it: the measured
            # process reads it (as a new container does) and its first checks do not race to refresh it.
            services.tokens("default").get()
            yield MemoryStack(endpoint, zoho, services)
    finally:
        reset_moto()


def reset_moto() -> None:
    """Forget every moto resource of this process (what a moto server's `POST /moto-api/reset` does).

    A moto server started in this process serves the process's own moto state, and that outlives the server:
    a second stack (or the cold start's, earlier in the run) would find the table already there.
    """
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()


def handler_events(stack: MemoryStack, name: str, folder: Path) -> tuple[Path, ...]:
    """The handler's `events/` samples written to `folder`, each job but the stored one an emulator job."""
    paths = []
    for file_name in HANDLERS[name][1]:
        text = (EVENTS_DIR / file_name).read_text(encoding="utf-8")
        if file_name != "api_get_job.json":  # the stored GET reads the moto server's stored job
            job_id = stack.zoho.create_job("Leads", 500, JobProfile(queue_delay=0.0, duration=3600.0))
            text = text.replace(STORED_JOB_ID, job_id)
        paths.append(folder / f"{name}-{file_name}")
        paths[-1].write_text(text, encoding="utf-8")
    return tuple(paths)


def check_replies(name: str, replies: list[Any]) -> str:
    """What the handler answered, in a few words; RuntimeError when it did not do its work."""
    if name == "api":
        codes = [reply.get("statusCode") for reply in replies]
        if codes != [200, 200]:
            raise RuntimeError(f"api answered {codes}, not 200 and 200")
        return "2 replies 200"
    if name == "sweep":
        report = replies[-1]
        if not report.get("checked"):
            raise RuntimeError(f"the sweep checked nothing: {report}")
        return f"{report['checked']} checked, {report.get('errors', 0)} errors"
    if name == "watch_request" and not replies[-1].get("watching"):
        raise RuntimeError(f"watch_request is not watching: {replies[-1]}")
    return "done"


def peak_row(measure: str, peak: Peak, baseline: Peak, memory: int, note: str) -> Row:
    """A row: the peak against the baseline's, judged against half of `memory` (MB)."""
    limit = memory * HEADROOM_SHARE
    return Row(
        measure,
        f"{peak.peak:.0f} MB ({peak.imported:.0f} MB after import; {note})",
        f"{baseline.peak:.0f} MB",
        f"{peak.peak / baseline.peak:.2f}x the baseline; {peak.peak / memory:.0%} of MemorySize {memory} MB",
        f"below half of MemorySize ({limit:.0f} MB of {memory} MB)",
        peak.peak < limit,
    )


def measure_handlers(baseline: Peak) -> list[Row]:
    """One row per handler: the peak RSS of a fresh process that imports it and runs its events."""
    names = [name for name in HANDLERS if (REPO_ROOT / "functions" / name / "app.py").exists()]
    if not names:
        return [not_measured("7. memory: peak RSS", "no handler yet", "below half of MemorySize")]
    rows = []
    with memory_stack() as stack, tempfile.TemporaryDirectory(prefix="zoho-watch-memory-") as folder:
        stack.watch_due(SWEEP_DUE_JOBS)
        env = {"AWS_ENDPOINT_URL": stack.endpoint}
        for name in names:  # the sweep before watch_request, whose schedule-mode watch would be due too
            logical_id, _, what = HANDLERS[name]
            memory = memory_size(logical_id)
            events = handler_events(stack, name, Path(folder))
            target = str(REPO_ROOT / "functions" / name / "app.py")
            peak = measure_process(target, name, events, env, memory)
            rows.append(
                peak_row(
                    f"7. memory: peak RSS of `functions/{name}/app.py`, {what}, fresh {probe_python_name()}"
                    f" process, vs {BASELINE}",
                    peak,
                    baseline,
                    memory,
                    check_replies(name, peak.replies),
                )
            )
    return rows


def measure_sweep(baseline: Peak, jobs: int = SWEEP_JOBS, budget: int = SWEEP_BUDGET) -> Row:
    """The sweep's peak RSS over `jobs` due jobs at `budget`, Zoho over HTTPS with 100 ms latency."""
    memory = memory_size(HANDLERS["sweep"][0])
    target = str(REPO_ROOT / "functions" / "sweep" / "app.py")
    with tempfile.TemporaryDirectory(prefix="zoho-watch-memory-tls-") as folder:
        certificate = Certificate.self_signed(Path(folder))
        with memory_stack(certificate) as stack:
            stack.watch_due(jobs)
            stack.zoho.set_latency(SWEEP_LATENCY_SECONDS)
            event = Path(folder) / "sweep.json"
            event.write_text((EVENTS_DIR / "sweep.json").read_text(encoding="utf-8"), encoding="utf-8")
            env = {
                "AWS_ENDPOINT_URL": stack.endpoint,
                "SWEEP_CONCURRENCY": str(budget),
                "SWEEP_BATCH_LIMIT": str(jobs),
                "REQUESTS_CA_BUNDLE": str(certificate.certfile),
            }
            peak = measure_process(target, "sweep", (event,), env, memory, LAMBDA_MAX_TIMEOUT_SECONDS)
    return peak_row(
        f"7. memory: peak RSS of the sweep checking {jobs} due jobs ({SWEEP_LATENCY_SECONDS * 1000:.0f} ms "
        f"Zoho latency, HTTPS, budget {budget}), fresh {probe_python_name()} process, vs {BASELINE}",
        peak,
        baseline,
        memory,
        check_replies("sweep", peak.replies),
    )


def measure() -> list[Row]:
    """The baseline's RSS, each handler's peak RSS, the sweep's over 1,000 due jobs."""
    baseline = measure_process("baseline")
    return [*measure_handlers(baseline), measure_sweep(baseline)]
