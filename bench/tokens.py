"""Token economy: 20 workers checking continuously for a simulated 24 hours, tokens living 1 hour.

Each worker plays one Lambda container: its own `TokenProvider` (own memory, own Powertools secret cache, own
Zoho client) sharing only what containers share on AWS (the access-token secret and the lease item, on moto).
The emulator's clock is the providers' clock, so expiry, the refresh margin and the lease are all judged in
emulated time; it is frozen at `SIMULATION_EPOCH` and moved a step (default 120 s) each time every worker has
checked once, so a day passes in seconds without a refresh's real duration ever outliving its 30 s lease (a
running clock scaled 3600x did exactly that and drew 212 refreshes: an artifact of scaling, not of the
design). Zoho Accounts (the emulator) counts every refresh; the figure is the total and the most in any
10-minute window.

The figures are the same on any machine under any load: nothing real-time decides an outcome.
- Time moves only at the barrier between steps; within a step all 20 checks run at one simulated instant.
- Which worker wins the refresh lease depends on the scheduler, but that exactly one wins does not: moto's
  item operations are atomic (`local_stack(simulated=True)`), as DynamoDB's are.
- A worker that finds the lease held waits through the provider's `sleep` (`lease_wait`): it returns once
  the lease is no longer held by a refresh in flight, so the next look at the secret finds the new token
  however long the refresh took in real time. With `time.sleep` the provider gave up after 15 real seconds
  (its `time.monotonic` patience) and the check failed: a figure of the machine's load.
- The Powertools secret caches age on the simulated clock (`simulated_secrets`).
- The Zoho clients' HTTP time-outs are the library's maxima (`SIMULATION_ZOHO_TIMEOUTS`): a slow reply on a
  busy machine is not a failed check.
- The emulator's limit on concurrent CRM calls (10 per org) is lifted: the 20 checks of a step all run at
  one instant, which real containers do not, and a 429 would count as a failed check as the scheduler
  happened to overlap them.

Baseline, in the same run: the same workers with the official SDK's behaviour (each container keeps its own
token and refreshes it itself when it is within 5 s of expiry, as Zoho's own SDKs do). Its workers are
alike, so which of them Zoho throttles or whose token it evicts depends on the scheduler, but how many
does not. Each step runs every worker's refresh first, then (a second barrier) every worker's call: Zoho
keeps at most 15 live tokens per refresh token and evicts the oldest, and with refreshes and calls
interleaved a call with an evicted token failed or not as the scheduler put it before or after the refresh
that evicted it (10,945, 10,952 and 10,939 checks done in three runs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.stack import (
    SIMULATION_ZOHO_TIMEOUTS,
    Stack,
    local_stack,
    simulated_secrets,
    start_simulated_clock,
)
from bench.table import Row
from fake_zoho import FakeZoho, JobProfile

DAY = 86400.0
WINDOW = 600.0
MODULE = "Leads"
# Real seconds after which a simulation that makes no progress is stopped with an error (never a figure): a
# worker waiting for a refresh, or all of them at the barrier. Generous: a step takes well under a second.
STALL_SECONDS = 300.0


class SimulationStalled(RuntimeError):
    """The simulation made no progress for STALL_SECONDS of real time (a bench failure, not a figure)."""


@dataclass(frozen=True)
class Economy:
    """Refreshes Zoho Accounts granted and refused (throttled), and checks done, over the run."""

    refreshes: int
    throttled: int
    max_in_window: int
    checks: int
    failed_checks: int


def max_in_window(times: list[float], window: float = WINDOW) -> int:
    """The most events in any half-open window [t, t + window) of the sorted-or-not `times`."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


Phase = Callable[[int], bool | None]
"""One part of a worker's check: False = the check failed (its later parts are skipped), True = it is done,
None = go on with the next part. The last part returns True or False."""


def _run_workers(
    workers: int, zoho: FakeZoho, phases: Sequence[Phase], hours: float, step: float
) -> tuple[int, int]:
    """Run `workers` threads, each doing one check per step of `step` emulated seconds; (done, failed).

    A check is `phases` run in turn; every worker finishes a phase before any starts the next (a barrier
    after each), and the emulator's clock, which must be frozen (`start_simulated_clock`), is moved by `step`
    once every worker has finished its check. So each step's checks run concurrently at the same emulated
    moment (all workers see a token expire at once), a refresh that takes long in real time never outlives its
    lease in emulated time, and what one phase does to Zoho (say, a refresh that evicts an older token) is
    seen by every worker's next phase, whatever order the scheduler ran them in. An exception in a worker
    stops them all and is raised here.
    """
    if not zoho.clock.frozen:
        raise ValueError("the simulation needs the emulator's clock frozen (start_simulated_clock)")
    if not phases:
        raise ValueError("a check needs at least one phase")
    steps = round(hours * 3600 / step)
    counts = [0, 0]
    errors: list[BaseException] = []
    lock = threading.Lock()
    barriers = [threading.Barrier(workers) for _ in phases[:-1]]
    barriers.append(threading.Barrier(workers, action=lambda: zoho.clock.advance(step)))

    def abort() -> None:
        for barrier in barriers:
            barrier.abort()

    def work(worker: int) -> None:
        done = failed = 0
        try:
            for _ in range(steps):
                outcome: bool | None = None
                for phase, barrier in zip(phases, barriers, strict=True):
                    if outcome is None:
                        outcome = phase(worker)
                    barrier.wait(timeout=STALL_SECONDS)
                if outcome:
                    done += 1
                else:
                    failed += 1
        except threading.BrokenBarrierError as error:
            with lock:
                errors.append(SimulationStalled(f"worker {worker}: a step barrier broke ({error!r})"))
            abort()
            return
        except BaseException as error:
            with lock:
                errors.append(error)
            abort()
            return
        with lock:
            counts[0] += done
            counts[1] += failed

    threads = [threading.Thread(target=work, args=(worker,), daemon=True) for worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        # The first error that is not a mere consequence of another worker's (a broken barrier).
        raise next((e for e in errors if not isinstance(e, SimulationStalled)), errors[0])
    return counts[0], counts[1]


def lease_wait(
    dynamodb: Any, table: str, connection: str, clock: Callable[[], float]
) -> Callable[[float], None]:
    """A `TokenProvider` `sleep` for the simulation: return once no refresh of `connection` is in flight.

    The provider calls it after losing the race for the refresh lease, then reads the secret again. Here it
    returns when the lease item is gone, is in phase "spacing" (the refresher wrote the secret first), or has
    run out on the simulated clock, looking every `seconds` of real time; so however long the refresh takes
    in real time, the provider's next look finds its outcome, and the provider's own real-time patience
    (`time.monotonic`, 15 s, in `TokenProvider._obtain_new`) never decides a check. A refresh that makes no
    progress for STALL_SECONDS raises SimulationStalled.
    """
    from zoho_watch.tokens import lease_key

    key = lease_key(connection)

    def sleep(seconds: float) -> None:
        give_up = time.monotonic() + STALL_SECONDS
        while True:
            item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
            if item is None:
                return
            phase = item.get("phase", {}).get("S", "refreshing")
            if phase != "refreshing" or float(item.get("lease_until", {}).get("N", "0")) <= clock():
                return
            if time.monotonic() > give_up:
                raise SimulationStalled(f"a token refresh held the lease for {STALL_SECONDS:g} real seconds")
            time.sleep(seconds)

    return sleep


def _economy(zoho: FakeZoho, started: float, checks: int, failed: int) -> Economy:
    counters = zoho.counters
    times = [moment for moment in counters["token_refresh_times"] if moment >= started]
    return Economy(len(times), counters["token_throttled"], max_in_window(times), checks, failed)


def run_zoho_watch(workers: int, hours: float, step: float) -> Economy:
    """zoho-watch's TokenProvider in every worker, sharing the secret and the lease on moto."""
    with FakeZoho(concurrency_limit=None) as zoho:
        start_simulated_clock(zoho)
        with local_stack(zoho, simulated=True) as stack:
            return _zoho_watch_day(stack, zoho, workers, hours, step)


def _zoho_watch_day(stack: Stack, zoho: FakeZoho, workers: int, hours: float, step: float) -> Economy:
    """`run_zoho_watch` on its stack: one provider and client per worker, then the simulated day."""
    from zoho_watch.errors import ZohoAuthError, ZohoWatchError
    from zoho_watch.tokens import TokenProvider
    from zoho_watch.zoho import ZohoClient
    from zoho_watch.zoho_errors import INVALID_TOKEN

    services = stack.services
    settings = services.settings
    job_id = zoho.create_job(MODULE, total=5000, profile=JobProfile(queue_delay=0, duration=10 * DAY))
    sleep = lease_wait(services.dynamodb, settings.table_name, stack.connection, zoho.clock.now)
    containers = []
    for _ in range(workers):
        client = ZohoClient(
            settings.zoho_api_version, settings.zoho_connect_timeout, settings.zoho_read_timeout
        )
        provider = TokenProvider(
            stack.connection,
            settings=settings,
            secrets=simulated_secrets(zoho.clock.now, services.secrets_client),
            secrets_client=services.secrets_client,
            dynamodb=services.dynamodb,
            zoho=client,
            clock=zoho.clock.now,
            sleep=sleep,
        )
        containers.append((provider, client))

    def check(worker: int) -> bool:
        provider, client = containers[worker]
        try:
            token = provider.get()
            try:
                client.get_mass_update_status(token.access_token, token.api_domain, MODULE, job_id)
            except ZohoAuthError as error:  # check.ask_zoho_timed's one retry with a new token
                if error.zoho_code != INVALID_TOKEN:
                    raise
                token = provider.replace_rejected(token)
                client.get_mass_update_status(token.access_token, token.api_domain, MODULE, job_id)
        except ZohoWatchError:
            return False
        return True

    started = zoho.clock.now()
    checks, failed = _run_workers(workers, zoho, [check], hours, step)
    return _economy(zoho, started, checks, failed)


def run_sdk_style(workers: int, hours: float, step: float) -> Economy:
    """Baseline: each worker refreshes its own token when it is within 5 s of expiry (the official SDK)."""
    from zoho_watch.errors import ZohoWatchError
    from zoho_watch.zoho import ZohoClient

    with FakeZoho(concurrency_limit=None) as zoho:
        start_simulated_clock(zoho)
        credentials = zoho.credentials()
        job_id = zoho.create_job(MODULE, total=5000, profile=JobProfile(queue_delay=0, duration=10 * DAY))
        clients = [ZohoClient("v8", *SIMULATION_ZOHO_TIMEOUTS) for _ in range(workers)]
        tokens: list[tuple[str, str, float] | None] = [None] * workers

        def get_token(worker: int) -> bool | None:
            token = tokens[worker]
            if token is not None and zoho.clock.now() < token[2] - 5:
                return None
            asked = zoho.clock.now()
            try:
                grant = clients[worker].refresh_access_token(
                    credentials["accounts_url"],
                    credentials["client_id"],
                    credentials["client_secret"],
                    credentials["refresh_token"],
                )
            except ZohoWatchError:
                return False
            tokens[worker] = (grant.access_token, grant.api_domain or zoho.url, asked + grant.expires_in)
            return None

        def call(worker: int) -> bool:
            token = tokens[worker]
            assert token is not None  # get_token returned None: there is one
            try:
                clients[worker].get_mass_update_status(token[0], token[1], MODULE, job_id)
            except ZohoWatchError:
                return False
            return True

        started = zoho.clock.now()
        # Every worker's refresh of a step, then every call: a refresh that makes Zoho evict an older token
        # (15 live per refresh token) fails its owner's call of that step whatever the scheduler's order.
        checks, failed = _run_workers(workers, zoho, [get_token, call], hours, step)
        return _economy(zoho, started, checks, failed)


def measure(workers: int = 20, hours: float = 24.0, step: float = 120.0) -> list[Row]:
    """Rows: refreshes in the simulated day and the most in 10 minutes, zoho-watch against SDK style."""
    ours = run_zoho_watch(workers, hours, step)
    sdk = run_sdk_style(workers, hours, step)
    name = f"5. token refreshes, {workers} workers checking every {step:g} s, simulated {hours:g} h"

    def figure(economy: Economy) -> str:
        return (
            f"{economy.refreshes} (+{economy.throttled} throttled); "
            f"{economy.checks} checks, {economy.failed_checks} failed"
        )

    return [
        Row(
            name,
            figure(ours),
            "SDK style: " + figure(sdk),
            f"{ours.refreshes} refreshes, {sdk.refreshes / max(1, ours.refreshes):.0f}x fewer",
            "at most 25",
            ours.refreshes <= 25 and ours.throttled == 0,
        ),
        Row(
            "5. most refreshes in any 10 minutes",
            str(ours.max_in_window),
            f"SDK style: {sdk.max_in_window}",
            f"{ours.max_in_window} of Zoho's 10",
            "never over 10",
            ours.max_in_window <= 10,
        ),
    ]
