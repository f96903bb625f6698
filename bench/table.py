"""The bench's result rows and their markdown rendering."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Row:
    """One line of the table: what was measured, zoho-watch's figure, the baseline's, the result and the goal.

    `met` is None when the row has no goal of its own (context rows) or could not be measured.
    """

    measure: str
    zoho_watch: str
    baseline: str
    result: str
    goal: str = ""
    met: bool | None = None


def not_measured(measure: str, why: str, goal: str = "") -> Row:
    """A row for a part that could not be measured in this run, saying why (never a made-up figure)."""
    return Row(measure, "not measured", "-", f"not measured: {why}", goal, None)


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` (0..1) percentile of `values`, linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def median(values: Sequence[float]) -> float:
    """The median of `values`."""
    return float(statistics.median(values))


def seconds(value: float) -> str:
    """A duration for the table: ms below one second, else seconds or minutes."""
    if value < 1:
        return f"{value * 1000:.1f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def cpu_model() -> str:
    """The CPU model name (Linux /proc/cpuinfo, else what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line(now: datetime | None = None) -> str:
    """Date, cores, CPU model, OS and Python version: the header of every run."""
    now = now or datetime.now(UTC)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{now.strftime('%Y-%m-%d %H:%M UTC')} · {cores} cores · {cpu_model()} · "
        f"{platform.system()} {platform.release()} · Python {sys.version.split()[0]}"
    )


def render(rows: Iterable[Row]) -> str:
    """The rows as one markdown table."""
    lines = [
        "| measure | zoho-watch | baseline | result | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        cells = [row.measure, row.zoho_watch, row.baseline, row.result, row.goal, met]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
