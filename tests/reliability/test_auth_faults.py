"""Auth faults end a watch with a clear error on the job, within at most 3 calls to Zoho and no retry storm.

Three ways credentials go bad: the refresh token is revoked, the client is refused (`invalid_client`), the
grant lacks the mass update scope (`OAUTH_SCOPE_MISMATCH`). Each is shown on the library (`check_job`, exact
call counts) and through the real state machine on the embedded stack (the execution fails with
`ZohoAuthError`, nothing retries it, and the count of calls to Zoho stays put afterwards).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from zoho_watch import services
from zoho_watch.check import check_job
from zoho_watch.errors import ZohoAuthError
from zoho_watch.jobs import JobKey

from fake_zoho import FakeZoho, JobProfile
from tests.fixtures.aws import AwsStack
from tests.integration.test_watch_on_embedded_stack import execution, wait_execution_end, watch
from zoho_watch_local.stack import EmbeddedStack

MAX_ZOHO_CALLS = 3
WRONG_SECRET = "0" * 42
NO_MASS_UPDATE_SCOPE = "ZohoCRM.modules.ALL"
# What the job's last_error says for each fault: the error, its code, and Zoho's own code.
EXPECTED_ERROR = {
    "revoked": ("ZohoAuthError", "ZOHO_AUTH_ERROR", "invalid_code"),
    "invalid_client": ("ZohoAuthError", "ZOHO_AUTH_ERROR", "invalid_client"),
    "scope_mismatch": ("ZohoAuthError", "ZOHO_AUTH_ERROR", "OAUTH_SCOPE_MISMATCH"),
}


def break_credentials(fault: str, zoho: FakeZoho, credentials: dict[str, str], write: Any) -> None:
    """Make the connection's credentials fail the way `fault` says; `write(creds)` stores new ones."""
    if fault == "revoked":
        zoho.revoke_refresh_token(credentials["refresh_token"])
    elif fault == "invalid_client":
        write({**credentials, "client_secret": WRONG_SECRET})
    elif fault == "scope_mismatch":
        write(zoho.credentials(scopes=NO_MASS_UPDATE_SCOPE))
    else:
        raise ValueError(fault)
    zoho.expire_access_tokens()  # the next check needs a new token


def assert_clear_error(last_error: dict[str, Any] | None, fault: str) -> None:
    """The job's `last_error` names the error, its stable code, Zoho's code, and says what to do."""
    assert last_error is not None
    error, code, zoho_code = EXPECTED_ERROR[fault]
    assert (last_error["error"], last_error["code"], last_error["zoho_code"]) == (error, code, zoho_code)
    assert last_error["retryable"] is False
    assert zoho_code in last_error["message"]
    assert last_error["at"]


# ---- library -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", sorted(EXPECTED_ERROR))
@pytest.mark.parametrize("when", ["first check", "mid-watch"])
def test_auth_fault_is_recorded_on_the_job_within_three_calls(
    library,
    aws: AwsStack,
    zoho: FakeZoho,
    zoho_credentials: dict[str, str],
    fault: str,
    when: str,
) -> None:
    job_id = zoho.create_job("Leads", total=100, profile=JobProfile(queue_delay=0, duration=600))
    if when == "mid-watch":
        assert check_job(JobKey("default", "Leads", job_id), watcher="schedule")["status"] == "RUNNING"
        # Past the refresh spacing of the first refresh, so a new token may be asked for at once.
        zoho.clock.advance(120)
    # A container that holds no token in memory (the check above left one in its provider's).
    library = services.set_services(services.Services(clock=zoho.clock.now))
    break_credentials(fault, zoho, zoho_credentials, lambda creds: aws.write_credentials("default", creds))
    library.secrets.clear_cache()  # the credentials secret changed: as once its cache's max_age has passed
    calls = zoho.counters["calls_total"]

    with pytest.raises(ZohoAuthError):
        check_job(JobKey("default", "Leads", job_id))

    made = zoho.counters["calls_total"] - calls
    assert 1 <= made <= MAX_ZOHO_CALLS
    state = library.store.get(JobKey("default", "Leads", job_id))
    assert_clear_error(state["last_error"], fault)
    assert state["watched"] is False  # out of the sweep's index: nothing will retry it on its own
    assert library.store.due_jobs(zoho.clock.now() + 10**6) == []


# ---- the watch on the embedded stack -------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("fault", sorted(EXPECTED_ERROR))
def test_auth_fault_ends_the_watch_with_a_clear_error_and_no_retry_storm(
    embedded_stack: EmbeddedStack, fault: str
) -> None:
    stack = embedded_stack
    prefix = stack.deployment_parameter("SecretPrefix", "zoho-watch")
    credentials = stack.connect_emulator()
    job_id = stack.zoho.create_job("Leads", total=1_000, profile=JobProfile(queue_delay=0, duration=3_600))
    secret = f"{prefix}/default/credentials"
    secrets = stack.client("secretsmanager")
    break_credentials(
        fault,
        stack.zoho,
        credentials,
        lambda creds: secrets.put_secret_value(SecretId=secret, SecretString=json.dumps(creds)),
    )
    calls = stack.zoho.counters["calls_total"]

    reply = watch(stack, "Leads", job_id)
    assert reply.status_code == 202, reply.text
    described = wait_execution_end(stack, reply.json()["execution_name"])

    assert (described["status"], described["error"]) == ("FAILED", "ZohoAuthError")
    assert EXPECTED_ERROR[fault][2] in described["cause"]
    made = stack.zoho.counters["calls_total"] - calls
    assert 1 <= made <= MAX_ZOHO_CALLS, stack.zoho.request_log[-10:]
    state = stack.job_state("Leads", job_id)
    assert_clear_error(state["last_error"], fault)
    assert "active" not in state  # no sweep will pick it up
    # No retry storm: ten simulated minutes later nothing has called Zoho again.
    before = stack.clock.now()
    stack.sleep(600)
    assert stack.clock.now() == before + 600
    assert stack.zoho.counters["calls_total"] - calls == made
    assert execution(stack, f"Leads-{job_id}-g1") is None
