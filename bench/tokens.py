"""Token economy: 20 workers checking continuously for a simulated 24 hours, tokens living 1 hour.

Each worker plays one Lambda container: its own `TokenProvider` (own memory, own Powertools secret cache, own
Zoho client) sharing only what containers share on AWS (the access-token secret and the lease item, on moto).
The emulator's clock is the providers' clock, so expiry, the refresh margin and the lease are all judged in
emulated time; it is frozen and moved a step (default 120 s) each time every worker has checked once, so a day
passes in seconds without a refresh's real duration ever outliving its 30 s lease (a running clock scaled
3600x did exactly that and drew 212 refreshes: an artifact of scaling, not of the design). Zoho Accounts
(the emulator) counts every refresh; the figure is the total and the most in any 10-minute window.

Baseline, in the same run: the same workers with the official SDK's behaviour (each container keeps its own
token and refreshes it itself when it is within 5 s of expiry; see shared/zoho-api.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from bench.stack import local_stack
from bench.table import Row
from local.fake_zoho import FakeZoho, JobProfile

DAY = 86400.0
WINDOW = 600.0
MODULE = "Leads"


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


def _run_workers(
    workers: int, zoho: FakeZoho, check: Callable[[int], bool], hours: float, step: float
) -> tuple[int, int]:
    """Run `workers` threads, each doing one `check(worker)` per step of `step` emulated seconds.

    The emulator's clock is frozen and moved by `step` once every worker has checked (a barrier), so each
    step's checks run concurrently at the same emulated moment (all workers see a token expire at once), and
    a refresh that takes long in real time never outlives its lease in emulated time.
    """
    steps = round(hours * 3600 / step)
    counts = [0, 0]
    lock = threading.Lock()
    zoho.clock.freeze()
    barrier = threading.Barrier(workers, action=lambda: zoho.clock.advance(step))

    def work(worker: int) -> None:
        done = failed = 0
        for _ in range(steps):
            if check(worker):
                done += 1
            else:
                failed += 1
            barrier.wait()
        with lock:
            counts[0] += done
            counts[1] += failed

    threads = [threading.Thread(target=work, args=(worker,), daemon=True) for worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts[0], counts[1]


def _economy(zoho: FakeZoho, started: float, checks: int, failed: int) -> Economy:
    counters = zoho.counters
    times = [moment for moment in counters["token_refresh_times"] if moment >= started]
    return Economy(len(times), counters["token_throttled"], max_in_window(times), checks, failed)


def run_zoho_watch(workers: int, hours: float, step: float) -> Economy:
    """zoho-watch's TokenProvider in every worker, sharing the secret and the lease on moto."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from zoho_watch.errors import ZohoAuthError, ZohoWatchError
    from zoho_watch.tokens import TokenProvider
    from zoho_watch.zoho import INVALID_TOKEN, ZohoClient

    with FakeZoho() as zoho, local_stack(zoho) as stack:
        services = stack.services
        settings = services.settings
        job_id = zoho.create_job(MODULE, total=5000, profile=JobProfile(queue_delay=0, duration=10 * DAY))
        containers = []
        for _ in range(workers):
            client = ZohoClient(
                settings.zoho_api_version, settings.zoho_connect_timeout, settings.zoho_read_timeout
            )
            provider = TokenProvider(
                stack.connection,
                settings=settings,
                secrets=SecretsProvider(boto3_client=services.secrets_client),
                secrets_client=services.secrets_client,
                dynamodb=services.dynamodb,
                zoho=client,
                clock=zoho.clock.now,
            )
            containers.append((provider, client))

        def check(worker: int) -> bool:
            provider, client = containers[worker]
            try:
                token = provider.get()
                try:
                    client.get_mass_update_status(token.access_token, token.api_domain, MODULE, job_id)
                except ZohoAuthError as error:  # check.ask_zoho's one retry with a new token
                    if error.zoho_code != INVALID_TOKEN:
                        raise
                    token = provider.replace_rejected(token)
                    client.get_mass_update_status(token.access_token, token.api_domain, MODULE, job_id)
            except ZohoWatchError:
                return False
            return True

        started = zoho.clock.now()
        checks, failed = _run_workers(workers, zoho, check, hours, step)
        return _economy(zoho, started, checks, failed)


def run_sdk_style(workers: int, hours: float, step: float) -> Economy:
    """Baseline: each worker refreshes its own token when it is within 5 s of expiry (the official SDK)."""
    from zoho_watch.errors import ZohoWatchError
    from zoho_watch.zoho import ZohoClient

    with FakeZoho() as zoho:
        credentials = zoho.credentials()
        job_id = zoho.create_job(MODULE, total=5000, profile=JobProfile(queue_delay=0, duration=10 * DAY))
        clients = [ZohoClient("v8", 3.05, 10.0) for _ in range(workers)]
        tokens: list[tuple[str, str, float] | None] = [None] * workers

        def check(worker: int) -> bool:
            client = clients[worker]
            try:
                token = tokens[worker]
                if token is None or zoho.clock.now() >= token[2] - 5:
                    asked = zoho.clock.now()
                    grant = client.refresh_access_token(
                        credentials["accounts_url"],
                        credentials["client_id"],
                        credentials["client_secret"],
                        credentials["refresh_token"],
                    )
                    token = (grant.access_token, grant.api_domain or zoho.url, asked + grant.expires_in)
                    tokens[worker] = token
                client.get_mass_update_status(token[0], token[1], MODULE, job_id)
            except ZohoWatchError:
                return False
            return True

        started = zoho.clock.now()
        checks, failed = _run_workers(workers, zoho, check, hours, step)
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
