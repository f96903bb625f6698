"""The status call of every kind of job, made by the Zoho client against the emulator: a job of each kind in
`KINDS`, created through its own creation call, followed to its end with counts equal to the emulator's truth
and its result links (which serve the result); a failing job of each kind ending "failed"; both inventory
convert shapes; and each kind's refusals (no such job, no scope, another module)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
import requests
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
    "ZohoCRM.bulk.read",
    "ZohoCRM.bulk.CREATE",
    "ZohoCRM.settings.audit_logs.READ",
    "ZohoCRM.users.READ",
]
# What each kind's creation call needs besides (the scopes Zoho's docs name).
CREATE_SCOPES = [
    "ZohoCRM.mass_update.UPDATE",
    "ZohoCRM.mass_convert.Leads.CREATE",
    "ZohoCRM.mass_convert.Quotes.CREATE",
    "ZohoCRM.mass_delete.DELETE",
    "ZohoCRM.change_owner.CREATE",
    "ZohoCRM.settings.tags.DELETE",
    "ZohoCRM.modules.leads.READ",
    "ZohoFiles.files.ALL",
    "ZohoCRM.settings.audit_logs.CREATE",
    "ZohoCRM.users.DELETE",
]
# The module each kind's job is made in.
MODULES = {
    "mass_update": "Leads",
    "mass_convert": "Leads",
    "inventory_mass_convert": "Quotes",
    "mass_delete": "Contacts",
    "mass_change_owner": "Accounts",
    **dict.fromkeys(
        ("mass_delete_tags", "bulk_read", "bulk_write", "audit_log_export", "transfer_and_delete"), ORG_MODULE
    ),
}
# The kinds whose replies report no counts at all.
UNCOUNTED = {"audit_log_export", "transfer_and_delete"}
CVID = "4400"


def access_token(zoho: FakeZoho, scopes: list[str]) -> str:
    creds = zoho.credentials(scopes=scopes)
    args = (creds["accounts_url"], creds["client_id"], creds["client_secret"], creds["refresh_token"])
    return ZohoClient().refresh_access_token(*args).access_token


def _zip_of_csv(rows: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("leads.csv", "Last_Name\n" + "".join(f"Lead {n}\n" for n in range(rows)))
    return buffer.getvalue()


def create_over_http(zoho: FakeZoho, token: str, kind: str, total: int) -> str:
    """A job of ``kind`` over ``total`` records, made by its own creation call: its id, from the reply."""
    module = MODULES[kind]
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}

    def post(path: str, body: Any = None, **kwargs: Any) -> Any:
        sent = {**headers, **kwargs.pop("headers", {})}
        reply = requests.post(f"{zoho.url}{path}", json=body, headers=sent, timeout=10, **kwargs)
        assert reply.status_code in (200, 201, 202), reply.text
        return reply.json()

    ids = [str(554023000000700000 + n) for n in range(total)]
    action = f"/crm/v8/{module}/actions/{kind.removeprefix('inventory_')}"
    if kind in ("mass_update", "mass_delete", "mass_change_owner"):
        body = {"data": [{"Rating": "Hot"}], "cvid": CVID, "owner": {"id": "554023000000235011"}}
        return str(post(action, body)["data"][0]["details"]["job_id"])
    if kind == "mass_convert":
        return str(post(action, {"ids": ids})["details"]["job_id"])
    if kind == "inventory_mass_convert":
        body = {
            "ids": ids,
            "convert_to": [{"module": {"api_name": "Invoices", "id": "1"}, "carry_over_tags": False}],
        }
        return str(post(action, body)["details"]["job_id"])
    if kind == "mass_delete_tags":
        body = {"mass_delete": [{"module": {"api_name": "Leads"}, "tags": [{"id": tag} for tag in ids]}]}
        return str(post("/crm/v8/settings/tags/actions/mass_delete", body)["details"]["job_id"])
    if kind == "bulk_read":
        return str(
            post("/crm/bulk/v8/read", {"query": {"module": {"api_name": "Leads"}}})["data"][0]["details"][
                "id"
            ]
        )
    if kind == "bulk_write":
        upload = {"feature": "bulk-write", "X-CRM-ORG": "746539264"}
        sent = post("/crm/v8/upload", headers=upload, files={"file": ("leads.zip", _zip_of_csv(total))})
        body = {
            "operation": "insert",
            "resource": [{"module": {"api_name": "Leads"}, "file_id": sent["details"]["file_id"]}],
        }
        return str(post("/crm/bulk/v8/write", body)["details"]["id"])
    if kind == "audit_log_export":
        return str(post("/crm/v8/settings/audit_log_export")["audit_log_export"][0]["details"]["id"])
    body = {"transfer_and_delete": [{"id": "554023000000235099", "transfer": {"id": "554023000000235011"}}]}
    return str(
        post("/crm/v8/users/actions/transfer_and_delete", body)["transfer_and_delete"][0]["details"]["jobId"]
    )


def assert_counts_are_the_truth(kind: str, reply: Any, truth: dict[str, Any]) -> None:
    if kind in UNCOUNTED:
        assert (reply.total, reply.done, reply.failed, reply.skipped) == (None, None, None, None)
        return
    if kind == "bulk_read":  # a bulk read counts the records it read once it has read them
        counted = truth["Total_Count"] if reply.phase == "completed" else None
        assert (reply.total, reply.done) == (counted, counted)
        return
    assert (reply.total, reply.done) == (truth["Total_Count"], truth["Updated_Count"])
    if kind != "bulk_write":
        assert reply.failed == truth["Failed_Count"]
    elif reply.terminal:  # a bulk write's rows not written are the ones it skipped, once it has ended
        assert reply.skipped == truth["Failed_Count"]


def assert_results_are_served(zoho: FakeZoho, token: str, kind: str, job_id: str, results: Any) -> None:
    links = {
        "bulk_read": [f"{zoho.url}{results.get('download_url')}"],
        "bulk_write": [results.get("download_url")],
        "audit_log_export": results.get("download_links"),
    }.get(kind)
    if links is None:
        assert dict(results) == {}
        return
    if kind == "bulk_read":
        assert (
            results["download_url"] == f"/crm/bulk/v8/read/{job_id}/result"
            and results["more_records"] is False
        )
    if kind == "audit_log_export":
        assert isinstance(results["expiry_date"], str)
    [link] = links
    served = requests.get(link, headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=10)
    assert served.status_code == 200, served.text


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_job_of_each_kind_is_created_and_followed_to_its_end(zoho: FakeZoho, kind: str) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=60, duration=600, failure_share=0.1)
    zoho.define_kind(kind, total=40, profile=profile)
    zoho.define_view(MODULES[kind], CVID, total=40, profile=profile)
    client, token = ZohoClient(), access_token(zoho, ALL_SCOPES + CREATE_SCOPES)
    job_id = create_over_http(zoho, token, kind, total=40)
    assert zoho.job(job_id).kind == kind
    seen = []
    for _ in range(8):
        reply = client.get_job_status(token, zoho.url, KINDS[kind], MODULES[kind], job_id)
        truth = zoho.job_truth(job_id)
        seen.append(reply.phase)
        assert_counts_are_the_truth(kind, reply, truth)
        zoho.clock.advance(120)
    # Mass delete and transfer and delete document no word for a job not started: it shows as running.
    assert seen[0] == ("running" if kind in ("mass_delete", "transfer_and_delete") else "queued")
    assert seen[-1] == "completed" and "running" in seen
    assert zoho.job_truth(job_id)["Status"] == "COMPLETED"
    assert_results_are_served(zoho, token, kind, job_id, reply.results)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_failing_job_of_each_kind_ends_failed(zoho: FakeZoho, kind: str) -> None:
    zoho.clock.freeze()
    profile = JobProfile(queue_delay=0, duration=300, final_status="FAILED", fail_at=0.5)
    job_id = zoho.create_job(MODULES[kind], total=200, profile=profile, kind=kind)
    zoho.clock.advance(150)
    reply = ZohoClient().get_job_status(
        access_token(zoho, ALL_SCOPES), zoho.url, KINDS[kind], MODULES[kind], job_id
    )
    truth = zoho.job_truth(job_id)
    assert (reply.phase, reply.terminal) == ("failed", True)
    assert reply.status == {
        "bulk_read": "FAILURE",
        "audit_log_export": "Failed",
        "transfer_and_delete": "failed",
    }.get(kind, "FAILED")
    assert_counts_are_the_truth(kind, reply, truth)
    assert "download_url" not in reply.results and "download_links" not in reply.results


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
