"""Live progress bars of watched jobs (rich), read from the zoho-watch API, and the tables shown after.

`follow` polls each job's state (`GET /jobs/{module}/{job_id}`, `/jobs/{kind}/{module}/{job_id}` for other
kinds) and draws one bar per job (done + failed out of total, the status, the number of checks) until every
job is finished or no longer watched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from zoho_watch.jobs import DEFAULT_KIND

from zoho_watch_cli.api_client import ApiError, ZohoWatchApi

TERMINAL = ("COMPLETED", "FAILED")


@dataclass(frozen=True)
class WatchedJob:
    """A job to follow, and the label of its bar."""

    module: str
    job_id: str
    label: str = ""
    kind: str = DEFAULT_KIND

    @property
    def name(self) -> str:
        """Its label, else `Leads 5540...` (a mass update) or `bulk_read org 5540...`."""
        if self.label:
            return self.label
        base = f"{self.module} {self.job_id}"
        return base if self.kind == DEFAULT_KIND else f"{self.kind} {base}"


def _counts(state: dict[str, Any]) -> tuple[int, int, int]:
    counts = state.get("counts") or {}
    return int(counts.get("updated") or 0), int(counts.get("failed") or 0), int(counts.get("total") or 0)


def describe(state: dict[str, Any] | None) -> str:
    """`RUNNING  updated 120  failed 3  / 500  (7 checks)` for one job state (`done` for other kinds)."""
    if not state:
        return "[dim]waiting for the first check[/dim]"
    updated, failed, total = _counts(state)
    status = state.get("status") or "NOT CHECKED YET"
    colour = {"COMPLETED": "green", "FAILED": "red"}.get(status, "yellow")
    done = "updated" if state.get("kind", DEFAULT_KIND) == DEFAULT_KIND else "done"
    text = f"[{colour}]{status:<10}[/{colour}] {done} {updated:>6,}  failed {failed:>5,}  / {total:,}"
    text += f"  ({state.get('checks', 0)} checks)"
    if state.get("last_error"):
        text += f"  [red]{(state['last_error'] or {}).get('code', 'error')}[/red]"
    return text


def finished(state: dict[str, Any] | None) -> bool:
    """True when the job ended, or nobody watches it any more (deadline, error, stopped)."""
    if not state:
        return False
    return bool(state.get("terminal")) or state.get("status") in TERMINAL or state.get("watched") is False


def follow(
    api: ZohoWatchApi,
    jobs: Sequence[WatchedJob],
    console: Console | None = None,
    interval: float = 0.25,
    timeout: float | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> dict[WatchedJob, dict[str, Any] | None]:
    """Draw a bar per job until all are finished (or `timeout` real seconds pass); return the last states.

    `pause(interval)` comes between two looks (the embedded stack's driver lets its clock run meanwhile).
    """
    console = console or Console()
    states: dict[WatchedJob, dict[str, Any] | None] = dict.fromkeys(jobs)
    started = time.monotonic()
    columns = (
        TextColumn("{task.fields[label]:<28}"),
        BarColumn(bar_width=30),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks = {job: progress.add_task("", total=None, label=job.name, detail="") for job in jobs}
        while True:
            for job in jobs:
                if finished(states[job]):
                    continue
                try:
                    states[job] = api.job(job.module, job.job_id, kind=job.kind)
                except ApiError as error:
                    if error.code != "JOB_NOT_RECORDED":
                        raise
                state = states[job]
                updated, failed, total = _counts(state or {})
                progress.update(
                    tasks[job], completed=updated + failed, total=total or None, detail=describe(state)
                )
                if finished(state):
                    progress.stop_task(tasks[job])
            if all(finished(state) for state in states.values()):
                return states
            if timeout is not None and time.monotonic() - started > timeout:
                return states
            pause(interval)


def summary_table(
    states: dict[WatchedJob, dict[str, Any] | None], planned: dict[WatchedJob, int] | None = None
) -> Table:
    """One row per job: status, counts, checks, how it was watched; with `planned`, the checks the polling
    policy alone plans for each job (`zoho_watch_local.replay`) next to the checks made."""
    table = Table(title="Jobs")
    columns = ["job", "status", "updated", "failed", "total", "checks"]
    if planned is not None:
        columns.append("policy's plan")
    for column in (*columns, "watched by"):
        table.add_column(column)
    for job, state in states.items():
        state = state or {}
        updated, failed, total = _counts(state)
        watcher = str(state.get("watcher") or "")
        table.add_row(
            job.name,
            str(state.get("status") or "-"),
            f"{updated:,}",
            f"{failed:,}",
            f"{total:,}",
            str(state.get("checks", 0)),
            *([str(planned.get(job, "-"))] if planned is not None else []),
            "schedule" if watcher == "schedule" else ("step functions" if watcher else "-"),
        )
    return table
