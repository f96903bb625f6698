"""`make demo`: zoho-watch at work in half a minute, offline, on the embedded stack.

It starts the embedded stack (Zoho emulator, moto, the real template, state machine and handlers), schedules
jobs of different lengths and kinds on the emulator (mass updates, one of which ends FAILED, a mass delete
watched by the scheduled sweep instead of Step Functions, and a bulk read whose result link it prints), asks
the API to watch them, draws their progress from the API until they end, then prints what DynamoDB holds and
the events that were published. Last, a caller's own
workflow (`examples/caller-workflow`) submits a mass update through zoho-watch and waits for its end with a
task token. The stack's clock is
virtual (see `zoho_watch_local.clock`): it stands still while anything works and skips ahead when everything
waits, so an hour-long job ends in the CPU time of its checks, and each job gets exactly the checks the
polling policy plans for it, on any machine. `--time-scale` runs the clock with real time instead, to watch it
at leisure. Exit status 0 when every job ended as planned.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from zoho_watch.jobs import DEFAULT_KIND

from zoho_watch_cli.api_client import ZohoWatchApi
from zoho_watch_cli.progress import WatchedJob, follow, summary_table
from zoho_watch_local.replay import planned_checks
from zoho_watch_local.scheduler import rate_seconds
from zoho_watch_local.stack import EmbeddedStack
from zoho_watch_local.template import REPO_ROOT

FIXED_INTERVAL = 30.0  # seconds between checks of a naive fixed-interval poller, for comparison
# The emulator's job ids, drawn from one seed: the policy's jitter is seeded by the job, so every run of the
# demo makes the same checks (and prints the same ids).
DEMO_JOB_ID_SEED = 2026
# The caller's workflow of examples/ and the mass update it submits (a custom view of the emulator).
CALLER_WORKFLOW = REPO_ROOT / "examples" / "caller-workflow" / "template.yaml"
CALLER_VIEW = ("Contacts", "4150868000000087011", 2_500)


@dataclass(frozen=True)
class DemoJob:
    """One job of the demo: its shape on the emulator, its kind and how it is watched."""

    module: str
    total: int
    queue_delay: float  # simulated seconds SCHEDULED
    duration: float  # simulated seconds RUNNING
    final_status: str = "COMPLETED"
    failure_share: float = 0.0
    fail_at: float = 1.0
    mode: str = "stepfunctions"
    kind: str = DEFAULT_KIND

    def profile(self) -> Any:
        """The job's profile on the Zoho emulator."""
        from fake_zoho import JobProfile

        return JobProfile(
            queue_delay=self.queue_delay,
            duration=self.duration,
            final_status=self.final_status,
            failure_share=self.failure_share,
            fail_at=self.fail_at,
        )

    def label(self) -> str:
        """`Deals (47 min, SFN)`, with the kind for other kinds: `org (bulk_read, 8 min, SFN)`."""
        minutes = f"{self.seconds / 60:.0f} min, {'sweep' if self.mode == 'schedule' else 'SFN'}"
        return (
            f"{self.module} ({minutes})"
            if self.kind == DEFAULT_KIND
            else f"{self.module} ({self.kind}, {minutes})"
        )

    @property
    def seconds(self) -> float:
        """Simulated seconds from creation to its end."""
        return self.queue_delay + self.duration


DEMO_JOBS = (
    DemoJob("Contacts", total=800, queue_delay=60, duration=8 * 60),
    DemoJob("Leads", total=5_000, queue_delay=60, duration=20 * 60, failure_share=0.01),
    DemoJob("Deals", total=20_000, queue_delay=120, duration=45 * 60),
    DemoJob("Accounts", total=3_000, queue_delay=30, duration=30 * 60, final_status="FAILED", fail_at=0.4),
    DemoJob("Campaigns", total=1_200, queue_delay=0, duration=10 * 60, mode="schedule", kind="mass_delete"),
    DemoJob("org", total=30_000, queue_delay=90, duration=6 * 60, kind="bulk_read"),
)


def _records_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="DynamoDB: job records (sk = STATE) and their check history")
    for column in (
        "pk",
        "status",
        "updated/failed/total",
        "checks",
        "CHECK# items",
        "watcher",
        "finished_at",
    ):
        table.add_column(column)
    history: dict[str, int] = {}
    for item in items:
        if str(item.get("sk", "")).startswith("CHECK#"):
            history[item["pk"]] = history.get(item["pk"], 0) + 1
    for item in items:
        if item.get("sk") != "STATE":
            continue
        watcher = str(item.get("watcher") or "")
        table.add_row(
            str(item["pk"]),
            str(item.get("status")),
            f"{item.get('updated', '-')}/{item.get('failed', '-')}/{item.get('total', '-')}",
            str(item.get("checks")),
            str(history.get(item["pk"], 0)),
            "schedule" if watcher == "schedule" else watcher.rsplit(":", 1)[-1],
            str(item.get("finished_at") or "-"),
        )
    return table


def _events_table(events: list[dict[str, Any]]) -> Table:
    table = Table(title="EventBridge: events published on the zoho-watch bus")
    for column in ("checked_at", "detail-type", "job", "previous → status", "updated/failed/total"):
        table.add_column(column)
    for event in events:
        detail = event.get("detail") or {}
        counts = detail.get("counts") or {}
        table.add_row(
            str(detail.get("checked_at", ""))[11:23],
            str(event.get("detail-type")).removeprefix("Mass Update Job ").removeprefix("Zoho CRM Job "),
            " ".join(
                str(part) for part in (detail.get("kind"), detail.get("module"), detail.get("job_id")) if part
            ),
            f"{detail.get('previous_status') or '-'} → {detail.get('status')}",
            f"{counts.get('updated')}/{counts.get('failed')}/{counts.get('total')}",
        )
    return table


def planned_checks_of(stack: EmbeddedStack, jobs: dict[WatchedJob, DemoJob]) -> dict[WatchedJob, int]:
    """The checks the polling policy alone plans for each demo job, with the stack's poll bounds and sweep
    period (`zoho_watch_local.replay`)."""
    bounds = (
        int(stack.deployment_parameter("PollMinSeconds", "5")),
        int(stack.deployment_parameter("PollMaxSeconds", "900")),
    )
    period = rate_seconds(stack.deployment_parameter("SweepSchedule", "rate(1 minute)"))
    return {
        watched: planned_checks(
            job.module,
            job.total,
            job.profile(),
            default_poll=bounds,
            schedule_period=period if job.mode == "schedule" else None,
            job_id=watched.job_id,
            kind=job.kind,
        ).checks
        for watched, job in jobs.items()
    }


def checks_explained(
    stack: EmbeddedStack,
    states: dict[WatchedJob, dict[str, Any] | None],
    planned: dict[WatchedJob, int],
    jobs: dict[WatchedJob, DemoJob],
) -> str:
    """What the checks columns mean, with this run's figures."""
    made = sum(int((state or {}).get("checks") or 0) for state in states.values())
    plan = sum(planned.values())
    fixed = sum(math.floor(job.seconds / FIXED_INTERVAL) + 1 for job in jobs.values())
    if stack.clock.virtual:
        timing = (
            f"Everything runs on one virtual clock: Zoho's jobs, Step Functions' waits, the sweep's schedule "
            f"and zoho-watch's own clock. It stands still while a check runs and skips ahead to the next "
            f"wake-up when everything waits ({stack.clock.jumps} jumps), so the policy chose its waits as it "
            f"would on AWS and each job got exactly the checks planned."
        )
    else:
        timing = (
            f"Everything runs on one clock, {stack.clock.scale:g}x faster than real time: a check's own real "
            f"time delays the next one, so a job may get fewer checks than planned, never more."
        )
    return (
        f"checks: the times zoho-watch asked Zoho about the job ({made} in all). {timing}\n"
        f"policy's plan: the checks the policy alone makes for that job, replayed without any processing "
        f"time ({plan} in all; polling every {FIXED_INTERVAL:g} s would take {fixed}).\n"
    )


def run_caller_workflow(stack: EmbeddedStack, console: Console) -> bool:
    """Deploy the caller's workflow of examples/ and run it once: it submits a mass update through zoho-watch
    and waits for its end with a task token. True when it succeeded with the job COMPLETED."""
    import json

    from fake_zoho import JobProfile

    if not CALLER_WORKFLOW.is_file():  # an installed CLI without the repository's examples
        console.print(f"(no caller workflow shown: {CALLER_WORKFLOW} is not here)")
        return True
    module, cvid, total = CALLER_VIEW
    stack.zoho.define_view(module, cvid, total, JobProfile(queue_delay=30, duration=15 * 60))
    deployed = stack.deploy_example(
        CALLER_WORKFLOW, {"WatchRequestFunctionArn": stack.outputs["WatchRequestFunctionArn"]}
    )
    request = {"module": module, "data": [{"Lead_Source": "Trade Show"}], "cvid": cvid}
    workflow = deployed.outputs["MassUpdateWorkflowArn"]
    console.print(
        f"Your workflow ({workflow.rsplit(':', 1)[-1]}): submit a mass update of the {module} view {cvid} "
        "through zoho-watch, then wait for its end with a task token..."
    )
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=workflow,
        name="demo-nightly-update",
        input=json.dumps(request),
    )["executionArn"]
    ended = stack.wait_for(
        lambda: (found := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and found,
        timeout=300,
        interval=0.05,
    )
    job = json.loads(ended.get("output") or "{}")
    counts = job.get("counts") or {}
    console.print(
        f"  {ended['status']} after {(ended['stopDate'] - ended['startDate']).total_seconds() / 60:.1f} "
        f"simulated minutes: job "
        f"{job.get('job_id')} {job.get('status')}, {counts.get('updated')}/{counts.get('total')} records "
        "updated; the outcome published to the workflow's SNS topic"
    )
    return bool(ended["status"] == "SUCCEEDED" and job.get("status") == "COMPLETED")


def run_demo(console: Console | None = None, time_scale: float | None = None) -> int:
    """Run the demo; return the exit status (0 when every job ended as planned)."""
    console = console or Console(width=None if sys.stdout.isatty() else 130)
    began = time.monotonic()
    console.rule("[bold]zoho-watch demo[/bold]: the real stack, offline")
    with console.status("Starting the embedded stack (Zoho emulator, moto, template.yaml)..."):
        stack = EmbeddedStack(
            stack_name="zoho-watch-demo", time_scale=time_scale, zoho_config={"job_id_seed": DEMO_JOB_ID_SEED}
        ).start()
    try:
        console.print(f"API        {stack.api_url}")
        console.print(f"AWS (moto) {stack.endpoint_url}")
        pace = "virtual time" if time_scale is None else f"time runs {time_scale:g}x faster"
        console.print(f"Zoho       {stack.zoho.url}   ({pace})")
        api = ZohoWatchApi(stack.api_url)
        watched: list[WatchedJob] = []
        expected: dict[WatchedJob, str] = {}
        demo_jobs: dict[WatchedJob, DemoJob] = {}
        for job in DEMO_JOBS:
            job_id = stack.zoho.create_job(job.module, total=job.total, profile=job.profile(), kind=job.kind)
            api.start_watch(job.module, job_id, job.kind, mode=job.mode)
            item = WatchedJob(job.module, job_id, job.label(), job.kind)
            watched.append(item)
            expected[item] = job.final_status
            demo_jobs[item] = job
        kinds = sorted({job.kind for job in DEMO_JOBS})
        console.print(
            f"Scheduled {len(watched)} jobs of {len(kinds)} kinds ({', '.join(kinds)}) on the emulator;"
            " watching them through the API:"
        )
        # The driver lets the clock run while it waits between two looks; 300 real seconds only stop a hang.
        states = follow(
            api,
            watched,
            console=console,
            interval=0.05,
            timeout=300,
            pause=lambda seconds: stack.clock.idle(stack.driver, seconds),
        )
        planned = planned_checks_of(stack, demo_jobs)
        console.print(summary_table(states, planned))
        console.print(checks_explained(stack, states, planned, demo_jobs))
        console.print(_records_table(stack.table_items()))
        events = stack.events()
        console.print(_events_table(events))
        executions = stack.executions()
        outcome = {execution["name"]: execution["status"] for execution in executions}
        console.print(
            "Step Functions executions: " + ", ".join(f"{n} {s}" for n, s in sorted(outcome.items()))
        )
        wrong = [
            f"{job.name}: {(states[job] or {}).get('status')} (expected {status})"
            for job, status in expected.items()
            if (states[job] or {}).get("status") != status
        ]
        if not run_caller_workflow(stack, console):
            wrong.append("the caller's workflow did not succeed")
        if wrong:
            console.print("[red]Not as planned:[/red] " + "; ".join(wrong))
            return 1
        for followed, state in states.items():
            link = ((state or {}).get("results") or {}).get("download_url")
            if link:
                # Zoho gives the path on the API domain; GET it with a token of scope ZohoCRM.bulk.read.
                url = link if link.startswith("http") else stack.zoho.url + link
                console.print(f"{followed.name}: its result is at {url} (a zip of CSV rows)")
        finished_events = sum(1 for event in events if str(event.get("detail-type")).endswith("Job Finished"))
        console.print(
            f"[green]Done[/green] in {time.monotonic() - began:.1f} s: {len(watched)} jobs followed to their "
            f"end, {finished_events} finished events, and a workflow that waited for its own job."
        )
        return 0
    finally:
        stack.stop()
