"""`python -m bench` (`make bench`): every measurement, one markdown table, the cost arithmetic.

Options: `--only polling,overhead,cold_start,sweep,tokens,cost,memory`, `--jobs N` and `--seed S` (polling
profile), `--repeats N` (cold start). A part that fails prints "not measured: <why>" in its row; the run goes
on.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

from bench import prepare_environment
from bench.table import Row, machine_line, not_measured, render

PARTS = ("polling", "overhead", "cold_start", "sweep", "tokens", "cost", "memory")


def _parts(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(PARTS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"--only takes a comma list of {', '.join(PARTS)}; got {text!r}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=_parts, default=list(PARTS), help="comma list of " + ",".join(PARTS))
    parser.add_argument("--jobs", type=int, default=250, help="jobs in the polling profile (>= 200)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the polling profile")
    parser.add_argument("--repeats", type=int, default=11, help="fresh processes per handler (cold start)")
    args = parser.parse_args(argv)
    if args.jobs < 200:
        parser.error("--jobs must be at least 200")
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts, print the machine, the table, the polling detail and the cost arithmetic."""
    args = parse_args(argv)
    prepare_environment()
    from bench import cold_start, cost, families, memory, overhead, polling, sweep, tokens

    notes: dict[str, str] = {}

    def run_polling() -> list[Row]:
        rows, notes["polling"] = polling.measure(args.jobs, args.seed)
        family_rows, notes["families"] = families.measure(args.jobs, args.seed)
        return [*rows, *family_rows]

    def run_cost() -> list[Row]:
        rows, notes["cost"] = cost.measure()
        return rows

    runners: dict[str, Callable[[], list[Row]]] = {
        "polling": run_polling,
        "overhead": overhead.measure,
        "cold_start": lambda: cold_start.measure(args.repeats),
        "sweep": sweep.measure,
        "tokens": tokens.measure,
        "cost": run_cost,
        "memory": memory.measure,
    }
    print(f"zoho-watch bench · {machine_line()}\n", flush=True)
    rows: list[Row] = []
    started = time.perf_counter()
    for name in PARTS:
        if name not in args.only:
            continue
        part_started = time.perf_counter()
        try:
            rows.extend(runners[name]())
        except Exception as error:  # one broken part must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            rows.append(not_measured(name, f"{type(error).__name__}: {str(error)[:200]}"))
        print(f"  {name}: {time.perf_counter() - part_started:.1f} s", file=sys.stderr, flush=True)
    print(render(rows))
    if "polling" in notes:
        print(f"\nPolling, every watcher over the same {args.jobs} jobs (seed {args.seed}):\n")
        print(notes["polling"])
    if "families" in notes:
        print(f"\nPolling by kind family, each kind apart ({args.jobs} jobs a family, seed {args.seed}):\n")
        print(notes["families"])
    if notes.get("cost"):
        print("\nCost of one 1-hour job, state machine and schedule modes (us-east-1 list prices):\n")
        print(notes["cost"])
    print(f"\nTotal run time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
