"""`python -m zoho_watch_cli ...` is the `zoho-watch` command (see zoho_watch_cli/cli.py)."""

import sys

from zoho_watch_cli.cli import main

sys.exit(main())
