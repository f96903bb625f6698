"""Every kind of job on the embedded stack, end to end: for each kind, one job COMPLETED and one FAILED.

The job that completes is waited for by a caller's workflow with a task token (its watch runs on the state
machine); the one that fails is watched in schedule mode through the API's `/jobs/{kind}/{module}/{job_id}`
routes (the sweep checks it) and waited for by a second caller. Each ends with its counts and result links in
DynamoDB, in its finished event and in its caller's answer, equal to what Zoho's own last reply says; a bulk
read's link is the emulator's result zip, downloaded.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest
import requests
from zoho_watch.job_kinds import KINDS, ORG_MODULE, snapshot_of
from zoho_watch.jobs import DEFAULT_KIND
from zoho_watch.zoho import ZohoClient

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS
from tests.integration.test_task_tokens import caller_machine, ended
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration

# The module of each kind's jobs (org for the kinds whose status names none).
MODULES = {
    name: {"mass_convert": "Leads", "inventory_mass_convert": "Quotes"}.get(
        name, ORG_MODULE if kind.modules == frozenset({ORG_MODULE}) else "Contacts"
    )
    for name, kind in KINDS.items()
}
TOTAL = 420
COMPLETES = JobProfile(queue_delay=30, duration=600)
FAILS = JobProfile(queue_delay=0, duration=600, final_status="FAILED", fail_at=0.5)
# Zoho's own word for each kind's end (the v8 specification's words, the emulator's default).
ENDS = {
    "bulk_read": ("COMPLETED", "FAILURE"),
    "audit_log_export": ("Finished", "Failed"),
    "transfer_and_delete": ("completed", "failed"),
}


def start_caller(stack: EmbeddedStack, kind: str, module: str, job_id: str, mode: str) -> str:
    """A caller's workflow waiting on the job with a task token (it asks for the watch in `mode`)."""
    machine = caller_machine(stack, f"caller-{kind}-{mode}", kind=kind, mode=mode)
    started = stack.client("stepfunctions").start_execution(
        stateMachineArn=machine,
        name=f"{kind}-{job_id}",
        input=json.dumps({"module": module, "job_id": job_id}),
    )
    return str(started["executionArn"])


def finished_event(stack: EmbeddedStack, job_id: str, kind: str) -> dict[str, Any] | None:
    """The job's finished event (a mass update's keeps the detail-type it had before there were kinds)."""
    detail_type = "Mass Update Job Finished" if kind == DEFAULT_KIND else "Zoho CRM Job Finished"
    found = [
        event
        for event in stack.events()
        if event["detail"]["job_id"] == job_id and event["detail-type"] == detail_type
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_followed_to_completed_and_to_failed(embedded_stack: EmbeddedStack, kind: str) -> None:
    stack, zoho = embedded_stack, embedded_stack.zoho
    module = MODULES[kind]
    completing = zoho.create_job(module, total=TOTAL, profile=COMPLETES, kind=kind)
    failing = zoho.create_job(module, total=TOTAL, profile=FAILS, kind=kind)
    route = f"{stack.api_url}/jobs/{kind}/{module}/{failing}"
    answer = requests.put(f"{route}/watch", json={"mode": "schedule"}, timeout=REQUEST_LIMIT_SECONDS)
    assert (answer.status_code, answer.json()["mode"]) == (202, "schedule"), answer.text
    callers = [
        start_caller(stack, kind, module, completing, "stepfunctions"),
        start_caller(stack, kind, module, failing, "schedule"),
    ]
    assert stack.scheduler is not None
    stack.scheduler.start()
    try:
        done, failed = ended(stack, callers)
        events = {
            job_id: stack.wait_for(lambda j=job_id: finished_event(stack, j, kind), timeout=120)
            for job_id in (completing, failing)
        }
    finally:
        stack.scheduler.stop()

    completed_word, failed_word = ENDS.get(kind, ("COMPLETED", "FAILED"))
    for job_id, status, word, caller in (
        (completing, "COMPLETED", completed_word, done),
        (failing, "FAILED", failed_word, failed),
    ):
        # What Zoho's last reply says, read as the product reads it.
        last = snapshot_of(KINDS[kind].parse(200, zoho.job_reply(job_id)))
        assert (last.status, last.zoho_status) == (status, word)
        item = stack.job_state(module, job_id, kind=kind)
        assert item is not None
        detail = events[job_id]["detail"]
        assert (item["status"], detail["module"], detail["status"]) == (status, module, status)
        assert (item["total"], item["updated"], item["failed"]) == (last.total, last.updated, last.failed)
        assert detail["counts"] == last.counts()
        if kind == DEFAULT_KIND:
            # Stored and announced as before there were kinds.
            assert not {"kind", "zoho_status", "results"} & (set(item) | set(detail))
        else:
            assert (
                (item["kind"], item["zoho_status"]) == (detail["kind"], detail["zoho_status"]) == (kind, word)
            )
            assert item["results"] == detail["results"] == dict(last.results or {})
        # The API answers the same, on the kind's route.
        stored = requests.get(f"{stack.api_url}/jobs/{kind}/{module}/{job_id}", timeout=REQUEST_LIMIT_SECONDS)
        assert (stored.status_code, stored.json()["kind"], stored.json()["counts"]) == (
            200,
            kind,
            detail["counts"],
        )
        assert stored.json()["results"] == detail.get("results")
        if status == "COMPLETED":
            assert caller["status"] == "SUCCEEDED"
            output = json.loads(caller["output"])
            assert (output.get("kind", DEFAULT_KIND), output["status"]) == (kind, status)
            assert output["counts"] == detail["counts"]
        else:
            error = "MassUpdateFailed" if kind == DEFAULT_KIND else "JobFailed"
            assert (caller["status"], caller.get("error")) == ("FAILED", error)

    # Counts where the kind reports them: every record of the completed job done.
    finished = stack.job_state(module, completing, kind=kind)
    assert finished is not None
    if KINDS[kind].reports_counts or kind == "bulk_read":
        assert (finished["total"], finished["updated"] + finished["failed"]) == (TOTAL, TOTAL)
    else:
        assert finished["total"] == 0  # nothing counted: the kind reports no counts
    # Result links that lead somewhere: a bulk read's is its result zip, holding every record.
    if kind == "bulk_read":
        link = finished["results"]["download_url"]
        assert link.endswith(f"/crm/bulk/v8/read/{completing}/result")
        rows = download_csv(stack, link)
        assert len(rows) == TOTAL
    if kind in ("bulk_write", "audit_log_export"):
        links = finished["results"]
        assert links.get("download_url") or links.get("download_links")


def download_csv(stack: EmbeddedStack, link: str) -> list[dict[str, str]]:
    """The rows of the CSV in the zip at `link` (a path on the emulator, or a full URL), with a bulk token."""
    zoho = stack.zoho
    creds = zoho.credentials(scopes=["ZohoCRM.bulk.read", "ZohoCRM.modules.ALL"])
    token = ZohoClient().refresh_access_token(
        creds["accounts_url"], creds["client_id"], creds["client_secret"], creds["refresh_token"]
    )
    url = link if link.startswith("http") else zoho.url + link
    reply = requests.get(
        url, headers={"Authorization": f"Zoho-oauthtoken {token.access_token}"}, timeout=REQUEST_LIMIT_SECONDS
    )
    assert reply.status_code == 200, reply.text[:200]
    with zipfile.ZipFile(io.BytesIO(reply.content)) as archive:
        [name] = archive.namelist()
        return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))
