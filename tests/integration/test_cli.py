"""The `zoho-watch` CLI against the embedded stack: local mode (state file) and --api-url (SigV4) mode."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from fake_zoho import JobProfile
from tests.fixtures.stack import REQUEST_LIMIT_SECONDS
from zoho_watch_cli import cli
from zoho_watch_local.stack import EmbeddedStack

pytestmark = pytest.mark.integration


@pytest.fixture
def local_state(embedded_stack: EmbeddedStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The state file `zoho-watch local up` writes, pointing at the test's embedded stack."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = cli.state_file()
    path.parent.mkdir(parents=True)
    state = {
        "pid": os.getpid(),
        "api_url": embedded_stack.api_url,
        "endpoint_url": embedded_stack.endpoint_url,
        "zoho_url": embedded_stack.zoho.url,
        "region": "us-east-1",
        "stack_name": embedded_stack.stack_name,
        "secret_prefix": "zoho-watch",
    }
    path.write_text(json.dumps(state))
    return path


def test_watch_draws_progress_until_the_job_completes(
    embedded_stack: EmbeddedStack, local_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = embedded_stack.zoho.create_job(
        "Leads", total=700, profile=JobProfile(queue_delay=0, duration=900)
    )
    with embedded_stack.clock_running():  # the CLI is the stack's client now: its requests hold the clock
        status = cli.main(["watch", "Leads", job_id, "--interval", "0.1", "--timeout", "60"])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK
    assert f"Leads-{job_id}-g0" in out
    assert "COMPLETED" in out and "700" in out
    assert embedded_stack.job_state("Leads", job_id)["status"] == "COMPLETED"


def test_watch_of_a_failed_job_exits_3_and_api_url_mode_signs_requests(
    embedded_stack: EmbeddedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = JobProfile(queue_delay=0, duration=600, final_status="FAILED", fail_at=0.5)
    job_id = embedded_stack.zoho.create_job("Deals", total=400, profile=profile)
    with embedded_stack.clock_running():
        status = cli.main(
            ["--api-url", embedded_stack.api_url, "watch", "Deals", job_id, "--interval", "0.1"]
        )
    assert status == cli.EXIT_JOB_FAILED
    assert "FAILED" in capsys.readouterr().out
    # The request was signed with SigV4 (the local gateway accepts it without checking the signature).
    api = cli.ZohoWatchApi(embedded_stack.api_url, sign=True)
    headers = api._signed_headers(
        "GET", f"{embedded_stack.api_url}/jobs", None, {"Accept": "application/json"}
    )
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/execute-api/aws4_request" in headers["Authorization"]


def test_check_and_jobs(
    embedded_stack: EmbeddedStack, local_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = embedded_stack.zoho.create_job(
        "Contacts", total=300, profile=JobProfile(queue_delay=0, duration=60)
    )
    embedded_stack.sleep(60)  # the job's minute
    assert embedded_stack.zoho.job_truth(job_id)["Status"] == "COMPLETED"
    assert cli.main(["check", "Contacts", job_id]) == cli.EXIT_OK
    checked = json.loads(capsys.readouterr().out)
    assert (checked["status"], checked["counts"]["updated"], checked["job_id"]) == ("COMPLETED", 300, job_id)
    assert cli.main(["jobs", "--status", "COMPLETED"]) == cli.EXIT_OK
    assert job_id in capsys.readouterr().out
    assert cli.main(["check", "Contacts", job_id, "--stored"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["checks"] == 1  # read from DynamoDB, no new check


def test_watch_check_and_jobs_of_another_kind(
    embedded_stack: EmbeddedStack, local_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zoho = embedded_stack.zoho
    deleting = zoho.create_job(
        "Contacts", total=250, profile=JobProfile(queue_delay=0, duration=300), kind="mass_delete"
    )
    updating = zoho.create_job("Contacts", total=100, profile=JobProfile(queue_delay=0, duration=60))
    with embedded_stack.clock_running():
        watched = cli.main(["watch", "Contacts", deleting, "--kind", "mass_delete", "--interval", "0.1"])
    out = capsys.readouterr().out
    assert watched == cli.EXIT_OK
    assert f"mass_delete Contacts {deleting}" in out and "COMPLETED" in out
    state = embedded_stack.job_state("Contacts", deleting, kind="mass_delete")
    assert (state["status"], state["updated"], state["kind"]) == ("COMPLETED", 250, "mass_delete")

    assert cli.main(["check", "Contacts", updating]) == cli.EXIT_OK  # a mass update, checked once
    assert json.loads(capsys.readouterr().out)["kind"] == "mass_update"
    assert cli.main(["check", "Contacts", deleting, "--kind", "mass_delete", "--stored"]) == cli.EXIT_OK
    stored = json.loads(capsys.readouterr().out)
    assert (stored["kind"], stored["status"], stored["counts"]["updated"]) == (
        "mass_delete",
        "COMPLETED",
        250,
    )

    assert cli.main(["jobs"]) == cli.EXIT_OK  # mass updates unless another kind is named
    listed = capsys.readouterr().out
    assert updating in listed and deleting not in listed
    assert cli.main(["jobs", "--kind", "mass_delete"]) == cli.EXIT_OK
    listed = capsys.readouterr().out
    assert deleting in listed and updating not in listed
    assert cli.main(["jobs", "--kind", "all"]) == cli.EXIT_OK
    listed = capsys.readouterr().out
    assert deleting in listed and updating in listed and "mass_delete" in listed

    calls = zoho.counters["calls_total"]
    assert cli.main(["check", "Contacts", deleting, "--kind", "mass_convert"]) == cli.EXIT_USAGE  # Leads only
    assert "mass_convert jobs exist in Leads only" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["check", "org", deleting, "--kind", "bulk_reads"])
    assert zoho.counters["calls_total"] == calls


def test_bad_input_is_refused_before_any_call(
    embedded_stack: EmbeddedStack, local_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = embedded_stack.zoho.counters["calls_total"]
    assert cli.main(["check", "Leads", "12x"]) == cli.EXIT_USAGE
    assert cli.main(["watch", "Le ads", "123"]) == cli.EXIT_USAGE
    assert "invalid" in capsys.readouterr().out
    assert embedded_stack.zoho.counters["calls_total"] == calls
    assert embedded_stack.table_items() == []


def test_connect_stores_credentials_from_a_grant_code(
    embedded_stack: EmbeddedStack, local_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zoho = embedded_stack.zoho
    client = zoho.add_client()
    code = zoho.issue_grant_code(client.client_id)
    os.environ["ZOHO_CLIENT_SECRET"] = client.client_secret
    try:
        assert cli.main(["connect", "--client-id", client.client_id, "--code", code]) == cli.EXIT_OK
        first = capsys.readouterr().out
        # A grant code works once: the second exchange is refused and changes nothing.
        secrets = embedded_stack.client("secretsmanager")
        stored = secrets.get_secret_value(SecretId="zoho-watch/default/credentials")["SecretString"]
        assert cli.main(["connect", "--client-id", client.client_id, "--code", code]) == cli.EXIT_ERROR
        second = capsys.readouterr().out
    finally:
        del os.environ["ZOHO_CLIENT_SECRET"]
    document = json.loads(stored)
    # The default connection's token secret (from the template) is left as it was: never overwritten.
    token = secrets.get_secret_value(SecretId="zoho-watch/default/access-token")["SecretString"]
    assert json.loads(token).get("access_token")
    assert document["client_id"] == client.client_id
    assert document["client_secret"] == client.client_secret
    assert document["refresh_token"] and document["accounts_url"] == zoho.url
    assert "invalid_code" in second
    assert secrets.get_secret_value(SecretId="zoho-watch/default/credentials")["SecretString"] == stored
    for output in (first, second):
        assert client.client_secret not in output and document["refresh_token"] not in output
    # The functions use the new credentials: a live check refreshes with them.
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=1))
    zoho.expire_access_tokens()
    embedded_stack.runtime.reset_library()  # the functions' cached credentials are the old ones
    reply = requests.get(
        f"{embedded_stack.api_url}/jobs/Leads/{job_id}",
        params={"live": "true"},
        timeout=REQUEST_LIMIT_SECONDS,
    )
    assert reply.status_code == 200, reply.text


def test_without_a_local_stack_the_cli_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert cli.main(["jobs"]) == cli.EXIT_ERROR
    assert "zoho-watch local up" in capsys.readouterr().out


def test_connect_a_second_connection_creates_both_of_its_secrets(
    embedded_stack: EmbeddedStack, local_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zoho = embedded_stack.zoho
    client = zoho.add_client()
    secrets = embedded_stack.client("secretsmanager")
    os.environ["ZOHO_CLIENT_SECRET"] = client.client_secret
    try:
        for _ in range(2):  # connecting again replaces the credentials and keeps the token secret
            code = zoho.issue_grant_code(client.client_id)
            argv = ["connect", "--client-id", client.client_id, "--code", code, "--connection", "second-org"]
            assert cli.main(argv) == cli.EXIT_OK
    finally:
        del os.environ["ZOHO_CLIENT_SECRET"]
    capsys.readouterr()
    assert secrets.get_secret_value(SecretId="zoho-watch/second-org/access-token")["SecretString"] == "{}"
    job_id = zoho.create_job("Leads", total=10, profile=JobProfile(queue_delay=0, duration=1))
    reply = requests.get(
        f"{embedded_stack.api_url}/jobs/Leads/{job_id}",
        params={"live": "true", "connection": "second-org"},
        timeout=REQUEST_LIMIT_SECONDS,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["connection"] == "second-org"


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a background job: the child starts with SIGINT ignored, so
    # Python installs no KeyboardInterrupt handler of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("stop_signal", "preexec_fn"),
    [
        pytest.param(signal.SIGINT, _ignore_sigint, id="sigint-ignored-at-start"),
        pytest.param(signal.SIGTERM, None, id="sigterm"),
    ],
)
def test_local_up_stops_cleanly_on_a_signal(
    stop_signal: signal.Signals, preexec_fn: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = cli.state_file()
    with (tmp_path / "stderr").open("w+") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "zoho_watch_cli", "local", "up"],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=dict(os.environ),
            preexec_fn=preexec_fn,
        )
        try:
            # The state file appears once the stack is up and its signal handlers are installed.
            deadline = time.monotonic() + 60
            state = None
            while state is None and process.poll() is None and time.monotonic() < deadline:
                try:
                    state = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    time.sleep(0.1)
            assert state is not None, "local up wrote no state file"
            urls = [state["api_url"], state["endpoint_url"], state["zoho_url"]]
            assert requests.get(f"{state['zoho_url']}/__admin/clock", timeout=5).ok
            process.send_signal(stop_signal)
            # The timeout only keeps a hung stack from hanging the test run.
            process.wait(timeout=30)
            stderr.seek(0)
            errors = stderr.read()
            assert process.returncode == 0, errors
            assert "Traceback" not in errors
            assert not path.exists()
            for url in urls:
                with pytest.raises(requests.ConnectionError):
                    requests.get(url, timeout=5)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def zoho_posts(stack: EmbeddedStack) -> int:
    """Mass update calls (POST) that reached the emulator."""
    return sum(1 for entry in stack.zoho.request_log if entry["route"] == "create")


def test_submit_by_view_follows_the_job_to_its_end(
    embedded_stack: EmbeddedStack, local_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cvid = "4150868000000087011"
    embedded_stack.zoho.define_view("Leads", cvid, 650, JobProfile(queue_delay=20, duration=600))
    argv = ["submit", "Leads", "--cvid", cvid, "--set", "Lead_Status=Contacted", "--set-json", "Rating=null"]
    with embedded_stack.clock_running():
        status = cli.main([*argv, "--over-write", "--watch", "--interval", "0.1", "--timeout", "60"])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK, out
    job_id = re.search(r"Zoho scheduled job (\d+)", out).group(1)  # type: ignore[union-attr]
    assert embedded_stack.job_state("Leads", job_id)["status"] == "COMPLETED"
    assert "COMPLETED" in out and "650" in out
    assert zoho_posts(embedded_stack) == 1


def test_submit_by_ids_prints_each_record_and_resends_after_a_passing_failure(
    embedded_stack: EmbeddedStack,
    local_state: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zoho_watch_cli import submit

    monkeypatch.setattr(submit, "FIRST_PAUSE_SECONDS", 0.0)
    embedded_stack.zoho.faults.script(["500"], routes=["create"])  # Zoho fails the first call: a 503
    argv = ["submit", "Deals", "--ids", "5001,5002", "--set", "Stage=Closed Won", "--idempotency-key", "k-9"]
    with embedded_stack.clock_running():
        status = cli.main(argv)
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK, out
    assert "ZOHO_UNAVAILABLE" in out and "sending the request again (2/4)" in out
    assert "2 record(s) updated at once" in out and "5001" in out and "5002" in out
    assert zoho_posts(embedded_stack) == 2  # the failed call, then the one that did it
    with embedded_stack.clock_running():
        assert cli.main(argv) == cli.EXIT_OK  # the same key again: the kept answer, no call
    assert "the answer kept for this idempotency key" in capsys.readouterr().out
    assert zoho_posts(embedded_stack) == 2


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["submit", "Leads", "--cvid", "1"], "say what to set"),
        (["submit", "Leads", "--ids", "1,x", "--set", "A=1"], "--ids takes record ids"),
        (["submit", "Leads", "--cvid", "1", "--set-json", "A={"], "is not JSON"),
        (["submit", "Leads", "--cvid", "1", "--set", "bad name=1"], "field API name"),
        (["submit", "Leads", "--ids", "1", "--set", "A=1", "--watch"], "has none"),
        (["submit", "Le ads", "--cvid", "1", "--set", "A=1"], "invalid module"),
    ],
)
def test_submit_refuses_bad_input_before_any_call(
    embedded_stack: EmbeddedStack,
    local_state: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    words: str,
) -> None:
    assert cli.main(argv) == cli.EXIT_USAGE
    assert words in capsys.readouterr().out
    assert zoho_posts(embedded_stack) == 0
