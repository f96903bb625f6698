"""The `zoho-watch` command installs on its own: `pip install .` gives a CLI for a deployed stack without the
embedded stack's packages (moto, Flask...), which come with the `local` extra.

The CLI runs here in a fresh interpreter in which the embedded stack, the emulator and their packages cannot
be imported, as after a plain `pip install .` (no network, no new virtualenv).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
EMBEDDED_ONLY = ("moto", "flask", "werkzeug", "yaml", "pydantic", "zoho_watch_local", "fake_zoho")

WITHOUT_EMBEDDED = textwrap.dedent(
    f"""
    import importlib.abc, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {EMBEDDED_ONLY!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    from zoho_watch_cli.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def run_cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """The CLI in a fresh interpreter without the embedded stack, outside the repository."""
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EMBEDDED, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "", "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "testing", **(env or {})},
    )


def test_the_package_declares_the_cli_s_dependencies_and_the_local_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    required = {dependency.split(">")[0].split("=")[0].lower() for dependency in project["dependencies"]}
    assert {"boto3", "requests", "rich"} <= required
    assert not required & {"moto", "moto[server]", "flask", "werkzeug", "pydantic"}
    local = " ".join(project["optional-dependencies"]["local"]).lower()
    assert "moto[server]==" in local and "flask" in local
    assert project["scripts"]["zoho-watch"] == "zoho_watch_cli.cli:main"


def test_help_works_without_the_embedded_stack(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "{local,demo,watch,check,jobs,submit,connect}" in result.stdout


def test_the_demo_without_the_local_extra_says_what_to_install(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "demo")
    assert result.returncode == 1, result.stderr
    assert "pip install 'zoho-watch[local]'" in " ".join(result.stdout.split())  # as wrapped to the terminal
    assert "Traceback" not in result.stdout + result.stderr


def test_a_deployed_stack_without_a_region_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--stack", "zoho-watch", "jobs")
    assert result.returncode == 2, result.stderr
    said = " ".join(result.stdout.split())  # as wrapped to the terminal
    assert "no AWS region for stack zoho-watch: pass --region or set AWS_REGION" in said
    # With --api-url the region comes from the URL: the request is signed and sent (here: nobody listens).
    api = "http://127.0.0.1:9/v1"
    result = run_cli(tmp_path, "--api-url", api, "jobs", env={"AWS_SECRET_ACCESS_KEY": "testing"})
    assert result.returncode == 1, result.stderr
    assert f"cannot reach {api}" in " ".join(result.stdout.split())
