"""``python -m fake_zoho`` runs the emulator alone and prints its URLs and sample credentials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]


def test_runs_alone_and_prints_urls_and_credentials() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_zoho", "--port", "0", "--scale", "60"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "Zoho emulator (us) running at http://127.0.0.1:" in first
        url = first.rsplit(" ", 1)[1].strip()
        lines = []
        while True:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("}"):
                break
        text = "".join(lines)
        creds = json.loads(text[text.index("\n{") :])
        assert creds["accounts_url"] == creds["api_domain"] == url
        reply = requests.post(
            f"{url}/oauth/v2/token", data={"grant_type": "refresh_token", **creds}, timeout=5
        ).json()
        assert reply["api_domain"] == url and "access_token" in reply
        assert requests.get(f"{url}/__admin/clock", timeout=5).json()["scale"] == 60
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a background job: the child starts with SIGINT ignored, so
    # Python installs no KeyboardInterrupt handler of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("stop_signal", "preexec_fn"),
    [
        pytest.param(signal.SIGINT, None, id="sigint"),
        pytest.param(signal.SIGTERM, None, id="sigterm"),
        pytest.param(signal.SIGINT, _ignore_sigint, id="sigint-ignored-at-start"),
    ],
)
def test_stops_cleanly_on_a_signal(stop_signal: signal.Signals, preexec_fn: Any) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_zoho", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=preexec_fn,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" ", 1)[1].strip()
        # The credentials are printed last, right before the emulator starts waiting for a signal.
        while not process.stdout.readline().startswith("}"):
            pass
        assert requests.get(f"{url}/__admin/clock", timeout=5).ok
        process.send_signal(stop_signal)
        # The timeout only keeps a hung emulator from hanging the test run.
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/__admin/clock", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
