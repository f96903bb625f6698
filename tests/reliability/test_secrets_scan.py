"""The secrets scan itself: it catches a leak on every channel it watches, and stays quiet when none leaks.

Each case runs pytest in a subprocess on a tiny test file with only the scan plugin loaded, because a leak
fails the whole session by design (it would fail this run too if planted here).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fake_zoho import FakeZoho
from tests.fixtures.secrets_scan import ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, SecretIndex

REPO_ROOT = Path(__file__).resolve().parents[2]

LEAKY_TESTS = """
import json
import logging

import boto3
from moto import mock_aws

from fake_zoho import FakeZoho

SECRETS = {}


def test_setup_emulator_then_reset_it():
    # The tokens are issued and the emulator reset before anything leaks: the scan must still know them.
    global ZOHO
    ZOHO = FakeZoho().start()
    SECRETS.update(ZOHO.credentials())
    ZOHO.reset()


def test_prints_a_client_secret():
    print("client configured:", SECRETS["client_secret"])


def test_logs_a_refresh_token_from_a_thread():
    import threading

    thread = threading.Thread(
        target=lambda: logging.getLogger("leaky.worker").warning("refresh %s", SECRETS["refresh_token"])
    )
    thread.start()
    thread.join()


def test_publishes_an_access_token_in_an_event():
    ZOHO.reset()
    creds = ZOHO.credentials()
    import requests

    reply = requests.post(
        f"{ZOHO.url}/oauth/v2/token",
        data={"grant_type": "refresh_token", "client_id": creds["client_id"],
              "client_secret": creds["client_secret"], "refresh_token": creds["refresh_token"]},
        timeout=5,
    ).json()
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        events.put_events(Entries=[{"Source": "zoho-watch", "DetailType": "Leaky", "EventBusName": "default",
                                    "Detail": json.dumps({"token": reply["access_token"]})}])
    ZOHO.stop()


def test_hands_a_reply_to_the_fixture(secrets_scan):
    secrets_scan.register("refresh token", "plain-not-hex-refresh-secret")
    secrets_scan.scan("API reply of a planted test", {"body": "x plain-not-hex-refresh-secret y"})
"""

CLEAN_TESTS = """
import logging

from fake_zoho import FakeZoho


def test_uses_secrets_without_showing_them(secrets_scan):
    with FakeZoho() as zoho:
        creds = zoho.credentials()
        print("client id (not a secret):", creds["client_id"])
        logging.getLogger("careful").warning("refresh token ends with ...%s", creds["refresh_token"][-4:])
        assert secrets_scan.find(creds["refresh_token"]) == {"refresh token": 1}
        secrets_scan.scan("a clean reply", {"status": "ok", "client_id": creds["client_id"]})
"""


def run_pytest_on(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """Run pytest with only the secrets scan plugin on a test file holding `source`."""
    (tmp_path / "test_planted.py").write_text(textwrap.dedent(source), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "zoho_watch")]),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.fixtures.secrets_scan",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path / "test_planted.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # only stops a hung run
    )


def test_a_planted_leak_on_each_channel_fails_the_run_and_names_kind_and_place(tmp_path: Path) -> None:
    result = run_pytest_on(tmp_path, LEAKY_TESTS)
    output = result.stdout + result.stderr
    # Every planted test passes: it is the scan that fails the session.
    assert "5 passed" in output, output
    assert result.returncode == 1, output
    assert "secrets scan: Zoho secrets leaked" in output
    stdout_leak = "captured stdout call of test_planted.py::test_prints_a_client_secret"
    assert f"client secret leaked (1 output(s)): {stdout_leak}" in output
    assert "refresh token leaked (1 output(s)): log record of logger 'leaky.worker'" in output
    assert (
        "refresh token leaked (1 output(s)): captured log call of test_planted.py::test_logs_a_refresh_token"
        in output
    )
    assert "access token leaked (1 output(s)): event 'Leaky' published on bus default" in output
    assert "refresh token leaked (1 output(s)): API reply of a planted test" in output
    # One line per kind and place: a phase's output is scanned once, not again by later phases.
    assert output.count(" leaked (") == 5, output
    # The report names kinds and places, never a secret.
    assert "plain-not-hex-refresh-secret" not in output
    assert not long_hex_runs(output)


def long_hex_runs(text: str) -> list[str]:
    """Long hex runs in `text` (an emulator secret would show as one)."""
    import re

    return re.findall(r"[0-9a-f]{32,}", text)


def test_a_run_that_shows_no_secret_passes(tmp_path: Path) -> None:
    result = run_pytest_on(tmp_path, CLEAN_TESTS)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "secrets scan: no Zoho secret leaked" in output


def test_the_index_matches_any_32_digits_of_a_secret_and_nothing_else() -> None:
    with FakeZoho() as zoho:
        creds = zoho.credentials()
    index = SecretIndex()
    index.add(CLIENT_SECRET, creds["client_secret"])
    index.add(REFRESH_TOKEN, creds["refresh_token"])
    token_tail = creds["refresh_token"].rsplit(".", 1)[1]
    assert index.kinds_in(f'{{"token": "{creds["refresh_token"]}"}}') == {REFRESH_TOKEN: 1}
    assert index.kinds_in(f"?refresh_token={creds['refresh_token']}&x=1") == {REFRESH_TOKEN: 1}
    assert index.kinds_in("tail only " + token_tail) == {REFRESH_TOKEN: 1}
    assert index.kinds_in("secret " + creds["client_secret"][5:37].upper()) == {CLIENT_SECRET: 1}
    assert index.kinds_in(creds["client_secret"] + " and " + creds["client_secret"]) == {CLIENT_SECRET: 1}
    # 31 digits are not enough; other hex (ids, hashes) is not a secret.
    assert index.kinds_in(creds["client_secret"][:31]) == {}
    assert index.kinds_in("0" * 64 + " " + "deadbeef" * 8) == {}
    assert ACCESS_TOKEN not in index.kinds_in(creds["refresh_token"])
