"""The Zoho emulator stands alone: its package imports nothing else of the project (so it can be used, and
moved, without the embedded stack or the zoho_watch library)."""

from __future__ import annotations

import ast
from pathlib import Path

import fake_zoho

PROJECT_PACKAGES = {
    "zoho_watch_local",
    "zoho_watch_cli",
    "zoho_watch",
    "tests",
    "bench",
    "tools",
    "functions",
}


def test_the_emulator_imports_nothing_else_of_the_project() -> None:
    package = Path(fake_zoho.__file__).parent
    found = []
    for source in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [(source.name, name) for name in names if name.split(".")[0] in PROJECT_PACKAGES]
    assert found == []
    assert len(list(package.glob("*.py"))) >= 10  # it really read the package
