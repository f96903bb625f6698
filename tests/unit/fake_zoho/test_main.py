"""``python -m local.fake_zoho`` runs the emulator alone and prints its URLs and sample credentials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[3]


def test_runs_alone_and_prints_urls_and_credentials() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "local.fake_zoho", "--port", "0", "--scale", "60"],
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
