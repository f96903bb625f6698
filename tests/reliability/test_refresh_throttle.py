"""Zoho Accounts' refresh throttle ("Access Denied", 10 tokens per refresh token per 10 minutes): checks wait
and succeed later, and no job is marked failed for it.

On the library the whole ten-minute window is walked through on the emulator's manual clock, counting the
calls to Zoho Accounts; on the embedded stack a throttled watch is retried by the state machine and ends
with the job completed and no error recorded.
"""

from __future__ import annotations

import pytest
from zoho_watch import tokens
from zoho_watch.check import check_job
from zoho_watch.errors import ZohoRateLimited
from zoho_watch.jobs import JobKey
from zoho_watch.zoho import ZohoClient

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack
from tests.integration.test_watch_on_embedded_stack import (
    assert_finished_as,
    execution,
    failure_names,
    wait_execution_end,
    watch,
)
from zoho_watch_local.stack import EmbeddedStack


def exhaust_refresh_limit(zoho: FakeZoho, credentials: dict[str, str], count: int | None = None) -> None:
    """Use up the refresh token's new access tokens for this window, as other callers would have."""
    throttled = zoho.counters["token_throttled"]
    client = ZohoClient()
    for _ in range(zoho.config.refresh_limit if count is None else count):
        grant = client.refresh_access_token(
            credentials["accounts_url"],
            credentials["client_id"],
            credentials["client_secret"],
            credentials["refresh_token"],
        )
        assert grant.access_token
    assert zoho.counters["token_throttled"] == throttled


def token_calls(zoho: FakeZoho) -> int:
    """Calls made to Zoho Accounts' token endpoint so far."""
    return sum(zoho.counters["calls"].get("token", {}).values())


def test_throttled_refresh_waits_and_succeeds_later_without_failing_the_job(
    library,
    aws: AwsStack,
    zoho: FakeZoho,
    zoho_credentials: dict[str, str],
) -> None:
    job_id = zoho.create_job("Leads", total=300, profile=JobProfile(queue_delay=0, duration=900))
    exhaust_refresh_limit(zoho, zoho_credentials)
    before = token_calls(zoho)

    # First check: Zoho Accounts answers "Access Denied" (HTTP 200): a transient error, nothing recorded.
    with pytest.raises(ZohoRateLimited) as caught:
        check_job(JobKey("default", "Leads", job_id), watcher="schedule")
    assert caught.value.retryable and caught.value.zoho_code == "Access Denied"
    assert zoho.counters["token_throttled"] == 1
    assert (
        library.store.get(JobKey("default", "Leads", job_id)) is None
    )  # no state, no last_error: not failed

    # Each later check within the window asks Accounts once more at most, never more often than the
    # refresh spacing allows, and is still only a transient error.
    for _ in range(3):
        zoho.clock.advance(tokens.MIN_REFRESH_SPACING + 1)
        with pytest.raises(ZohoRateLimited):
            check_job(JobKey("default", "Leads", job_id), watcher="schedule")
    assert token_calls(zoho) - before == 4
    assert library.store.get(JobKey("default", "Leads", job_id)) is None

    # Past Zoho's window the next check gets a token and records the job; nothing says it failed.
    zoho.clock.advance(zoho.config.refresh_window)
    result = check_job(JobKey("default", "Leads", job_id), watcher="schedule")
    assert result["status"] == "RUNNING" and result["last_error"] is None
    assert token_calls(zoho) - before == 5
    zoho.clock.advance(900)
    done = check_job(JobKey("default", "Leads", job_id))
    assert (done["status"], done["terminal"], done["last_error"]) == ("COMPLETED", True, None)
    assert done["counts"]["updated"] == zoho.job_truth(job_id)["Updated_Count"]
    assert zoho.counters["token_refreshes"] == zoho.config.refresh_limit + 1


@pytest.mark.integration
def test_a_throttled_watch_is_retried_until_the_job_completes(embedded_stack: EmbeddedStack) -> None:
    stack = embedded_stack
    # The library's refresh spacing is on the stack's clock (`Services.clock`): its real value applies.
    zoho = stack.zoho
    # Frozen until the throttle has been met: the state machine's retries of the throttled check then wait
    # on the clock instead of running down Zoho's window on their own, however fast this machine is.
    zoho.clock.freeze()
    credentials = stack.connect_emulator()  # its refresh is 1 of the 10 of this window
    exhaust_refresh_limit(zoho, credentials, zoho.config.refresh_limit - 1)
    zoho.expire_access_tokens()  # the next check must refresh, and Zoho Accounts says "Access Denied"
    job_id = zoho.create_job("Leads", total=500, profile=JobProfile(queue_delay=0, duration=600))

    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    # Until the first attempt has failed in the execution's history: Zoho's counter moves while that check
    # still runs, and the clock must not move before the check has kept the refresh lease.
    name = reply.json()["execution_name"]
    first = stack.wait_for(
        lambda: (found := execution(stack, name)) and failure_names(stack, found["executionArn"])
    )
    assert first == ["ZohoRateLimited"] and zoho.counters["token_throttled"] == 1
    watched = stack.job_state("Leads", job_id)  # the API recorded the watch; the check recorded nothing
    assert watched is not None and watched.get("last_error") is None and watched.get("status") is None
    zoho.clock.set(zoho.clock.now() + zoho.config.refresh_window)  # ten minutes later
    zoho.clock.resume()
    described = wait_execution_end(stack, name)

    assert described["status"] == "SUCCEEDED", described
    # Throttled once: the retry after the window got a token (the library's spacing had long ended).
    assert zoho.counters["token_throttled"] == 1
    assert failure_names(stack, described["executionArn"]) == ["ZohoRateLimited"]
    state = assert_finished_as(stack, "Leads", job_id, "COMPLETED")
    assert state.get("last_error") is None
