"""Overhead of one warm check on the Zoho path, against a bare `requests.get` on the same session.

Against the Zoho emulator (in this process, so both sides pay the same server time), three calls are
timed in rounds, their order shuffled every round to cancel drift:
- bare: `session.get(url, params, headers, timeout)` on the library client's own `requests.Session`;
- client: `ZohoClient.get_mass_update_status` (URL, validation, the call, strict parsing into a Snapshot);
- ask_zoho_timed: what `check_job` does on the Zoho path (token from memory, then the client call), on
  moto.
The result is the ratio of medians.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from zoho_watch.jobs import JobKey

from bench.stack import local_stack
from bench.table import Row, median, seconds
from fake_zoho import FakeZoho, JobProfile

MODULE = "Leads"


def timed_rounds(
    calls: dict[str, Callable[[], object]], rounds: int, seed: int = 1
) -> dict[str, list[float]]:
    """Time each call once per round, in a shuffled order each round; seconds per call by name."""
    rng = random.Random(seed)
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            started = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - started)
    return times


def measure(rounds: int = 800, warmup: int = 50) -> list[Row]:
    """Rows: the client call and ask_zoho_timed against the bare get (ratio of medians)."""
    from zoho_watch.check import ask_zoho_timed

    with FakeZoho() as zoho, local_stack(zoho) as stack:
        services = stack.services
        client = services.zoho
        token = services.tokens(stack.connection).get()  # refresh now: later checks find it in memory
        job_id = zoho.create_job(MODULE, total=5000, profile=JobProfile(queue_delay=0, duration=86400))
        url = f"{token.api_domain}/crm/{client.api_version}/{MODULE}/actions/mass_update"
        headers = {"Authorization": f"Zoho-oauthtoken {token.access_token}", "Accept": "application/json"}

        def bare() -> object:
            return client.session.get(url, params={"job_id": job_id}, headers=headers, timeout=client.timeout)

        calls: dict[str, Callable[[], object]] = {
            "bare": bare,
            "client": lambda: client.get_mass_update_status(
                token.access_token, token.api_domain, MODULE, job_id
            ),
            "ask_zoho_timed": lambda: ask_zoho_timed(services, JobKey(stack.connection, MODULE, job_id)),
        }
        timed_rounds(calls, warmup)
        times = timed_rounds(calls, rounds)
        refreshes = zoho.counters["token_refreshes"]
    bare_median = median(times["bare"])
    goal = "under 1.2x"
    out = []
    for name, label in (
        ("client", "2. warm Zoho call: `ZohoClient.get_mass_update_status`"),
        (
            "ask_zoho_timed",
            f"2. warm check's Zoho path: `ask_zoho_timed` (token from memory; {refreshes} refresh in all)",
        ),
    ):
        ratio = median(times[name]) / bare_median
        out.append(
            Row(
                f"{label} vs bare `requests.get`, median of {rounds}",
                seconds(median(times[name])),
                seconds(bare_median),
                f"{ratio:.3f}x",
                goal,
                ratio < 1.2,
            )
        )
    return out
