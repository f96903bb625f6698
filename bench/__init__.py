"""zoho-watch benchmarks: `python -m bench` (or `make bench`) measures the six figures of issue 7 side by side
with their baselines in one run and prints one markdown table.

Every module measures one thing and returns `table.Row`s; `__main__` runs them and prints the table. The
layer (`layers/zoho_watch`) is put on `sys.path` here, the way Lambda sees it under /opt/python.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_PATH = REPO_ROOT / "layers" / "zoho_watch"

for _path in (str(LAYER_PATH), str(REPO_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
