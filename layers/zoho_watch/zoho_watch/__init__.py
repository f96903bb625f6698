"""zoho_watch: know when a Zoho CRM mass update job has finished.

Modules: `check` (the use case), `zoho` (Zoho client), `tokens` (access tokens), `store` (DynamoDB),
`jobs` (job model and polling policy), `events` (EventBridge), `config` (settings), `errors`,
`services` (per-container singletons). Importing the package imports nothing heavy.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
