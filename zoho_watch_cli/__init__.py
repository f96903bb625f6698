"""The `zoho-watch` command: watch jobs, list them and store a connection's credentials on a deployed stack
(`--stack`, `--api-url`); with the `local` extra installed, run the demo or the embedded stack too."""
