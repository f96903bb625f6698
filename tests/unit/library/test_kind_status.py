"""The status call of every mass action kind, made by the Zoho client against the emulator: each kind's words
and counts over a job's life, equal to the emulator's truth, both inventory convert shapes, and each kind's
refusals (no such job, no scope, another module)."""

from __future__ import annotations

from typing import Any

import pytest
from zoho_watch.errors import JobNotFound, ZohoAuthError, ZohoRequestError
from zoho_watch.job_kinds import KINDS, ORG_MODULE
from zoho_watch.zoho import ZohoClient

from fake_zoho import FakeZoho, JobProfile

ALL_SCOPES = [
    "ZohoCRM.mass_update.READ",
    "ZohoCRM.mass_convert.leads.READ",
    "ZohoCRM.mass_convert.Quotes.READ",
    "ZohoCRM.mass_convert.SalesOrders.READ",
    "ZohoCRM.mass_delete.READ",
    "ZohoCRM.change_owner.READ",
    "ZohoCRM.settings.tags.READ",
]
# The module each kind's job is made in.
MASS_ACTIONS = {
    "mass_update": "Leads",
    "mass_convert": "Leads",
    "inventory_mass_convert": "Quotes",
    "mass_delete": "Contacts",
    "mass_change_owner": "Accounts",
    "mass_delete_tags": ORG_MODULE,
}


def access_token(zoho: FakeZoho, scopes: list[str]) -> str:
    creds = zoho.credentials(scopes=scopes)
    args = (creds["accounts_url"], creds["client_id"], creds["client_secret"], creds["refresh_token"])
    return ZohoClient().refresh_access_token(*args).access_token


@pytest.mark.parametrize("kind", sorted(MASS_ACTIONS))
def test_a_job_of_each_kind_is_followed_to_its_end(zoho: FakeZoho, kind: str) -> None:
    zoho.clock.freeze()
    module = MASS_ACTIONS[kind]
    job_id = zoho.create_job(module, total=400, profile=JobProfile(queue_delay=60, duration=600), kind=kind)
    client, token = ZohoClient(), access_token(zoho, ALL_SCOPES)
    seen = []
    for _ in range(8):
        reply = client.get_job_status(token, zoho.url, KINDS[kind], module, job_id)
        truth = zoho.job_truth(job_id)
        seen.append(reply.phase)
        assert reply.total == 400
        assert (reply.done, reply.failed) == (truth["Updated_Count"], truth["Failed_Count"])
        zoho.clock.advance(120)
    assert seen[0] in ("queued", "running") and seen[-1] == "completed"
    assert "running" in seen


def test_a_failed_mass_delete_ends_failed_with_its_counts(zoho: FakeZoho) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=0, duration=300, final_status="FAILED", fail_at=0.5)
    job_id = zoho.create_job("Contacts", total=200, profile=profile, kind="mass_delete")
    zoho.clock.advance(300)
    token = access_token(zoho, ALL_SCOPES)
    reply = ZohoClient().get_job_status(token, zoho.url, KINDS["mass_delete"], "Contacts", job_id)
    truth = zoho.job_truth(job_id)
    assert (reply.status, reply.phase) == ("FAILED", "failed")
    assert (reply.total, reply.done, reply.failed) == (200, truth["Updated_Count"], truth["Failed_Count"])


@pytest.mark.parametrize("shape", ["flat", "data"])
def test_inventory_convert_is_read_in_either_shape(zoho: FakeZoho, shape: str) -> None:
    zoho.config.update(inventory_reply_shape=shape)
    zoho.clock.freeze()
    job_id = zoho.create_job(
        "Sales_Orders", total=30, profile=JobProfile(0, 60), kind="inventory_mass_convert"
    )
    zoho.clock.advance(30)
    kind = KINDS["inventory_mass_convert"]
    reply = ZohoClient().get_job_status(
        access_token(zoho, ALL_SCOPES), zoho.url, kind, "Sales_Orders", job_id
    )
    assert (reply.status, reply.phase, reply.total) == ("IN PROGRESS", "running", 30)
    assert zoho.request_log[-1]["kind"] == "RUNNING"  # the emulator's own record of what it answered


def test_each_kinds_refusals_are_typed(zoho: FakeZoho) -> None:
    client, token = ZohoClient(), access_token(zoho, ALL_SCOPES)
    update_only = access_token(zoho, ["ZohoCRM.mass_update.READ"])
    lead_job = zoho.create_job("Leads", total=10, kind="mass_convert")
    with pytest.raises(JobNotFound):  # INVALID_DATA on job_id
        client.get_job_status(token, zoho.url, KINDS["mass_convert"], "Leads", "12345")
    with pytest.raises(JobNotFound):  # an empty 204
        client.get_job_status(token, zoho.url, KINDS["mass_change_owner"], "Accounts", lead_job)
    with pytest.raises(JobNotFound):  # a job of another kind is no job of this one
        client.get_job_status(token, zoho.url, KINDS["mass_delete"], "Leads", lead_job)
    with pytest.raises(ZohoAuthError, match="OAUTH_SCOPE_MISMATCH"):
        client.get_job_status(update_only, zoho.url, KINDS["mass_convert"], "Leads", lead_job)
    with pytest.raises(ZohoRequestError, match="INVALID_MODULE"):
        client.get_job_status(token, zoho.url, KINDS["mass_convert"], "Contacts", lead_job)
    assert client.get_job_status(token, zoho.url, KINDS["mass_convert"], "leads", lead_job).total == 10


def test_each_kind_learns_its_own_pace(library: Any, zoho: FakeZoho, aws: Any) -> None:
    from zoho_watch.check import check_job
    from zoho_watch.jobs import JobKey

    aws.write_credentials("kinds", zoho.credentials(scopes=ALL_SCOPES))
    job_id = zoho.create_job("Contacts", total=600, profile=JobProfile(0, 600), kind="mass_delete")
    job = JobKey("kinds", "Contacts", job_id, "mass_delete")
    while not (result := check_job(job, watcher="schedule"))["terminal"]:
        zoho.clock.advance(result["next_check_in"])
    assert library.store.rate_prior("kinds", "Contacts") is None  # a mass update's pace: untouched
    assert library.store.rate_prior("kinds", "Contacts", "mass_delete") is not None
