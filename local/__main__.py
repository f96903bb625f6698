"""`python -m local ...` is the `zoho-watch` CLI (see local/cli.py)."""

import sys

from local.cli import main

sys.exit(main())
