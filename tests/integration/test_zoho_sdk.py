"""Zoho's official Python SDK (zohocrmsdk8-0, pinned in requirements-dev.txt) against the emulator, as a user
of `zoho-watch local up` drives it: initialised with a refresh token from the emulator and the SDK's own
defaults (it asks for the current user and the org at start-up, and a module's fields before a mass update),
it schedules a mass update by cvid, polls jobs to COMPLETED, and meets Zoho's errors as Zoho's docs say.

The SDK keeps process-wide state (a singleton initializer, its logger's handlers, a fields cache on disk):
each test starts it afresh in its own temporary folder and clears it after (`sdk` fixture).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.exception import SDKException
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.parameter_map import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.record import (
    APIException,
    GetMassUpdateStatusParam,
    MassUpdate,
    MassUpdateActionWrapper,
    MassUpdateBodyWrapper,
    MassUpdateResponseWrapper,
    MassUpdateSuccessResponse,
    Record,
    RecordOperations,
)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.util import Choice, Utility

from fake_zoho import FakeZoho, JobProfile
from tests.unit.functions.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

# What an integration that schedules mass updates asks for: the SDK reads fields, the user and the org too.
SCOPES = ["ZohoCRM.mass_update.ALL", "ZohoCRM.settings.fields.READ", "ZohoCRM.users.READ", "ZohoCRM.org.READ"]
CVID = "554023000000087501"


def start_sdk(zoho: FakeZoho, credentials: dict[str, str], folder: Path) -> None:
    """Initialise the SDK on the emulator: its URL for the API, its token endpoint for Accounts."""
    reset_sdk()
    folder.mkdir(parents=True, exist_ok=True)
    environment = DataCenter.Environment(zoho.url, f"{zoho.url}/oauth/v2/token", zoho.url)
    token = OAuthToken(
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        refresh_token=credentials["refresh_token"],
    )
    Initializer.initialize(
        environment=environment,
        token=token,
        store=FileStore(str(folder / "tokens.csv")),
        sdk_config=SDKConfig(),
        resource_path=str(folder),
        logger=Logger.get_instance(Logger.Levels.INFO, str(folder / "sdk.log")),
    )


def reset_sdk() -> None:
    """Forget the SDK's process-wide state: the initializer, its log handlers, its module caches."""
    Initializer.initializer = None
    Initializer.LOCAL.init = None
    sdk_logger = logging.getLogger("SDKLogger")
    for handler in list(sdk_logger.handlers):
        sdk_logger.removeHandler(handler)
        handler.close()
    Utility.api_supported_modules = {}
    Utility.new_file = Utility.get_modified_modules = Utility.force_refresh = False
    Utility.module_api_name = None


@pytest.fixture
def sdk(zoho: FakeZoho, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The SDK started on the emulator (frozen clock) with a new client's credentials, which it yields."""
    zoho.clock.freeze()
    credentials = zoho.credentials(SCOPES)
    start_sdk(zoho, credentials, tmp_path)
    try:
        yield credentials
    finally:
        reset_sdk()


def value(choice: Any) -> Any:
    return choice.get_value() if isinstance(choice, Choice) else choice


def schedule(module: str, cvid: str, field: str, new_value: Any) -> Any:
    """`mass_update_records` by cvid; the SDK's reply (an APIResponse)."""
    record = Record()
    record.add_key_value(field, new_value)
    body = MassUpdateBodyWrapper()
    body.set_data([record])
    body.set_cvid(cvid)
    body.set_over_write(True)
    return RecordOperations(module).mass_update_records(body)


def status(module: str, job_id: str) -> Any:
    """`get_mass_update_status`; the SDK's reply (an APIResponse)."""
    params = ParameterMap()
    params.add(GetMassUpdateStatusParam.job_id, job_id)
    return RecordOperations(module).get_mass_update_status(params)


def counts(reply: Any) -> tuple[str, int, int, int, int]:
    """(Status, Total, Updated, Not updated, Failed) of a status reply the SDK parsed as a MassUpdate."""
    wrapper = reply.get_object()
    assert isinstance(wrapper, MassUpdateResponseWrapper), reply.get_response_json()
    [job] = wrapper.get_data()
    assert isinstance(job, MassUpdate)
    return (
        value(job.get_status()),
        job.get_total_count(),
        job.get_updated_count(),
        job.get_not_updated_count(),
        job.get_failed_count(),
    )


def truth(zoho: FakeZoho, job_id: str) -> tuple[str, int, int, int, int]:
    body = zoho.job_truth(job_id)
    return (
        body["Status"],
        body["Total_Count"],
        body["Updated_Count"],
        body["Not_Updated_Count"],
        body["Failed_Count"],
    )


def error_of(reply: Any) -> APIException:
    """The APIException the SDK made of an error reply (top level, or the first item of `data`)."""
    found = reply.get_object()
    if isinstance(found, MassUpdateActionWrapper):
        found = found.get_data()[0]
    assert isinstance(found, APIException), reply.get_response_json()
    return found


def test_the_sdk_schedules_by_cvid_and_polls_to_completed(sdk: dict[str, str], zoho: FakeZoho) -> None:
    zoho.define_view("Leads", CVID, total=400, profile=JobProfile(queue_delay=30, duration=100))
    reply = schedule("Leads", CVID, "Lead_Status", Choice("Contacted"))
    wrapper = reply.get_object()
    assert isinstance(wrapper, MassUpdateActionWrapper), reply.get_response_json()
    [scheduled] = wrapper.get_data()
    assert isinstance(scheduled, MassUpdateSuccessResponse)
    assert value(scheduled.get_code()) == "SUCCESS"
    assert value(scheduled.get_message()) == "mass update scheduled successfully"
    job_id = scheduled.get_details()["job_id"]
    assert zoho.job(job_id).cvid == CVID
    seen = [counts(status("Leads", job_id))]
    for seconds in (40, 40, 50):  # 10 s into its run, 50 s, then past its end (30 s queued, 100 s running)
        zoho.clock.advance(seconds)
        seen.append(counts(status("Leads", job_id)))
        assert seen[-1] == truth(zoho, job_id)
    assert [item[0] for item in seen] == ["SCHEDULED", "RUNNING", "RUNNING", "COMPLETED"]
    assert seen[-1] == ("COMPLETED", 400, 400, 0, 0)
    assert 0 < seen[1][2] < seen[2][2] < 400  # the counts grew while it ran
    # What the SDK asked, in order: a token, the user and the org (start-up), the module's fields (to type the
    # values), the mass update (a JSON body without Content-Type), then the status calls.
    calls = [(entry["method"], entry["path"], entry["status"]) for entry in zoho.request_log]
    assert calls[:6] == [
        ("POST", "/oauth/v2/token", 200),
        ("GET", "/crm/v8/users", 200),
        ("GET", "/crm/v8/org", 200),
        ("GET", "/crm/v8/settings/fields", 200),
        ("POST", "/crm/v8/Leads/actions/mass_update", 200),
        ("GET", "/crm/v8/Leads/actions/mass_update", 200),
    ]
    assert len(calls) == 9


def test_the_sdk_polls_a_deals_job(sdk: dict[str, str], zoho: FakeZoho) -> None:
    job_id = zoho.create_job(
        "Deals", total=120, profile=JobProfile(queue_delay=0, duration=60, failure_share=0.25)
    )
    assert counts(status("Deals", job_id))[0] == "RUNNING"
    zoho.clock.advance(60)
    final = counts(status("Deals", job_id))
    assert final == truth(zoho, job_id) and final[0] == "COMPLETED" and final[4] == 30


def test_the_sdk_reads_already_scheduled(sdk: dict[str, str], zoho: FakeZoho) -> None:
    zoho.define_view("Leads", CVID, total=50, profile=JobProfile(queue_delay=10, duration=100))
    first = schedule("Leads", CVID, "Lead_Status", Choice("Contacted"))
    assert isinstance(first.get_object(), MassUpdateActionWrapper)
    again = schedule("Leads", CVID, "Lead_Status", Choice("Contacted"))
    refused = error_of(again)
    assert again.get_status_code() == 202
    assert value(refused.get_code()) == "ALREADY_SCHEDULED"
    assert value(refused.get_message()) == "Already a Mass Action scheduler is running for the given cvid"
    assert len(zoho.jobs.all()) == 1


def test_an_unknown_job_is_a_404_without_a_body(sdk: dict[str, str], zoho: FakeZoho) -> None:
    reply = status("Leads", "554023000000999999")
    assert reply.get_status_code() == 404 and reply.get_object() is None  # as Zoho's docs describe it


def test_a_wrong_value_type_is_refused_by_the_sdk_before_any_request(
    sdk: dict[str, str], zoho: FakeZoho
) -> None:
    # The emulator's fields say Lead_Status is a picklist: the SDK wants a Choice, as it would on Zoho.
    with pytest.raises(SDKException) as refused:
        schedule("Leads", CVID, "Lead_Status", "Contacted")
    assert refused.value.code == "TYPE ERROR"
    assert zoho.jobs.all() == []


def test_an_expired_token_is_invalid_token(sdk: dict[str, str], zoho: FakeZoho) -> None:
    job_id = zoho.create_job("Leads", total=10)
    # The emulator's hour passes; the SDK, which counts real time, still holds its token as good.
    zoho.clock.advance(zoho.config.access_token_ttl + 1)
    refused = error_of(status("Leads", job_id))
    assert value(refused.get_code()) == "INVALID_TOKEN"
    assert value(refused.get_message()) == "invalid oauth token"


def test_a_missing_scope_is_oauth_scope_mismatch(zoho: FakeZoho, tmp_path: Path) -> None:
    zoho.clock.freeze()
    job_id = zoho.create_job("Leads", total=10)
    start_sdk(
        zoho,
        zoho.credentials(["ZohoCRM.mass_update.Deals.READ", "ZohoCRM.users.READ", "ZohoCRM.org.READ"]),
        tmp_path,
    )
    try:
        refused = error_of(status("Leads", job_id))
        assert value(refused.get_code()) == "OAUTH_SCOPE_MISMATCH"
        # Without the fields scope the SDK cannot type a mass update's values: it stops before the POST.
        with pytest.raises(SDKException) as stopped:
            schedule("Leads", CVID, "Lead_Status", Choice("Contacted"))
        assert stopped.value.code == "API_EXCEPTION"
        assert "OAUTH_SCOPE_MISMATCH" in str(stopped.value.details)
    finally:
        reset_sdk()
    assert zoho.jobs.all() == [zoho.job(job_id)]


def test_a_throttled_refresh_is_access_denied(zoho: FakeZoho, tmp_path: Path) -> None:
    zoho.clock.freeze()
    credentials = zoho.credentials(SCOPES)
    for attempt in range(zoho.config.refresh_limit):  # Zoho's 10 refreshes in 10 minutes, spent elsewhere
        start_sdk(zoho, credentials, tmp_path / str(attempt))
    try:
        with pytest.raises(SDKException) as throttled:
            start_sdk(zoho, credentials, tmp_path / "throttled")
        assert throttled.value.code == "INVALID TOKEN ERROR"
        assert throttled.value.error_message == "Access Denied"
    finally:
        reset_sdk()
    assert zoho.counters["token_throttled"] == 1


def quoted(pattern: str, text: str) -> str:
    """The first group of `pattern`'s match in `text` (which must have one)."""
    match = re.search(pattern, text)
    assert match is not None, f"README lost {pattern!r}"
    return match.group(1)


def test_the_readme_example_runs_as_written(zoho: FakeZoho) -> None:
    """README's "Develop your integration offline": its credentials call, its view, then its SDK example."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Develop your integration offline", 1)[1].split("\n## ", 1)[0]
    request = json.loads(quoted(r"-d '(\{.*?\})'", section))
    view = json.loads(quoted(r"`POST /__admin/views` with `(\{.*?\})`", section))
    example = section.split("<!-- offline-sdk-example -->\n```python\n", 1)[1].split("```", 1)[0]
    zoho.clock.freeze()
    credentials = requests.post(f"{zoho.url}/__admin/credentials", json=request, timeout=10).json()
    assert requests.post(f"{zoho.url}/__admin/views", json=view, timeout=10).status_code == 200
    environment = {
        **os.environ,
        "ZOHO_URL": zoho.url,
        "ZOHO_CLIENT_ID": credentials["client_id"],
        "ZOHO_CLIENT_SECRET": credentials["client_secret"],
        "ZOHO_REFRESH_TOKEN": credentials["refresh_token"],
    }
    run = subprocess.run(
        [sys.executable, "-c", example],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    [job] = zoho.jobs.all()
    assert run.stdout.split() == [job.job_id, "SCHEDULED", "0", "of", str(view["total"])]
    assert job.cvid == view["cvid"]
