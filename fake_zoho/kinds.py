"""Every kind of Zoho CRM background job the emulator serves: where its jobs live (a module, or the org), how
big one may be, the words its status call uses, its "no such job" answer, and the status replies of the mass
actions (bulk read and write: `fake_zoho.bulk`; audit log export, transfer and delete user:
`fake_zoho.org_jobs`).

A job of any kind moves as a mass update would (``JobProfile``); its timeline's mass update body is then told
in the kind's words: processed records are converted, deleted or given a new owner, and the records not yet
processed are "not converted" or, for the kinds that report no such count, simply not counted yet. Facts from
Zoho's v8 OpenAPI specifications (zoho/crm-oas) and its API docs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import ZohoConfig
    from .jobs import Job

MASS_UPDATE = "mass_update"
# The module of the kinds whose paths name none (tags, bulk, audit log, users): the organisation.
ORG_MODULE = "org"
INVENTORY_MODULES = frozenset({"quotes", "sales_orders"})
MASS_ACTIONS = ("mass_convert", "inventory_mass_convert", "mass_delete", "mass_change_owner")
ORG_KINDS = ("mass_delete_tags", "bulk_read", "bulk_write", "audit_log_export", "transfer_and_delete")
ALL_KINDS = (MASS_UPDATE, *MASS_ACTIONS, *ORG_KINDS)
# The most records one job may cover: a scheduled mass action 50,000; a bulk read reads a whole module (in
# pages of 200,000); a bulk write file holds 25,000 rows; an audit log export at most 1,000,000 entries.
MAX_TOTAL = {
    **dict.fromkeys((MASS_UPDATE, *MASS_ACTIONS, "mass_delete_tags", "transfer_and_delete"), 50_000),
    "bulk_read": 10_000_000,
    "bulk_write": 25_000,
    "audit_log_export": 1_000_000,
}

# A timeline status (mass update words) -> the kind's word. A word not listed passes as it is (QUEUED,
# SUSPENDED and custom running words exist for robustness tests).
WORDS: dict[str, dict[str, str]] = {
    MASS_UPDATE: {},
    "mass_convert": {"RUNNING": "IN PROGRESS"},
    "inventory_mass_convert": {"RUNNING": "IN PROGRESS"},
    # Its documented statuses are RUNNING, COMPLETED and FAILED: a job not started yet shows RUNNING.
    "mass_delete": {"SCHEDULED": "RUNNING", "QUEUED": "RUNNING"},
    "mass_change_owner": {},
    "mass_delete_tags": {},
    "bulk_read": {"QUEUED": "ADDED", "SCHEDULED": "ADDED", "RUNNING": "IN PROGRESS", "FAILED": "FAILURE"},
    "bulk_write": {"QUEUED": "ADDED", "SCHEDULED": "ADDED", "RUNNING": "IN PROGRESS"},
    "audit_log_export": {
        "QUEUED": "Scheduled",
        "SCHEDULED": "Scheduled",
        "RUNNING": "Progress",
        "COMPLETED": "Finished",
        "FAILED": "Failed",
    },
    # Documented values: in_progress, completed, failed (no word for a job not started yet).
    "transfer_and_delete": {
        "QUEUED": "in_progress",
        "SCHEDULED": "in_progress",
        "RUNNING": "in_progress",
        "COMPLETED": "completed",
        "FAILED": "failed",
    },
}
# config.kind_words == "docs": where Zoho's docs list other words than its specification (or its samples).
DOCS_WORDS: dict[str, dict[str, str]] = {
    # The docs list completed, scheduled, in progress, failed (their sample shows COMPLETED).
    "mass_convert": {
        "SCHEDULED": "scheduled",
        "RUNNING": "in progress",
        "COMPLETED": "completed",
        "FAILED": "failed",
    },
    # The docs list COMPLETED, SCHEDULED and FAILED: no RUNNING.
    "mass_delete_tags": {"RUNNING": "SCHEDULED"},
    # The docs show QUEUED between ADDED and IN PROGRESS.
    "bulk_read": {"SCHEDULED": "QUEUED"},
}

# How each kind answers a job it does not know (see `fake_zoho.status`).
NOT_FOUND = {
    "mass_convert": "invalid_data",
    "inventory_mass_convert": "invalid_data",
    "mass_delete": "invalid_data",
    "mass_change_owner": "no_content",
    "mass_delete_tags": "tags_invalid_data",
    "bulk_read": "resource_404",
    "bulk_write": "resource_400",
    "audit_log_export": "audit_log",
    "transfer_and_delete": "no_content",
}


def check_job(kind: str, module: str) -> None:
    """Raise ValueError unless a job of ``kind`` can exist in ``module`` (ORG_MODULE for org-level kinds)."""
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(ALL_KINDS)}")
    if kind in ORG_KINDS and module != ORG_MODULE:
        raise ValueError(f"{kind} jobs exist in the org only: module must be {ORG_MODULE!r}")
    if kind not in ORG_KINDS and module == ORG_MODULE:
        raise ValueError(f"{kind} jobs exist in a module, not in {ORG_MODULE!r}")
    if kind == "mass_convert" and module.lower() != "leads":
        raise ValueError("mass_convert jobs exist in Leads only")
    if kind == "inventory_mass_convert" and module.lower() not in INVENTORY_MODULES:
        raise ValueError("inventory_mass_convert jobs exist in Quotes and Sales_Orders only")


def word(kind: str, status: str, kind_words: str = "spec") -> str:
    """The kind's word for a timeline status (``kind_words``: "spec" or "docs", see ZohoConfig)."""
    if kind_words == "docs" and status in DOCS_WORDS.get(kind, {}):
        return DOCS_WORDS[kind][status]
    return WORDS[kind].get(status, status)


def kind_of_action(action: str, module: str) -> str | None:
    """The kind a `/{module}/actions/{action}` path asks about, or None for an unknown action."""
    if action == "mass_convert":
        return "inventory_mass_convert" if module.lower() in INVENTORY_MODULES else "mass_convert"
    return action if action in ("mass_delete", "mass_change_owner") else None


@dataclass(frozen=True)
class Seen:
    """What a status reply is drawn from: the job, its timeline body now (mass update words) and the kind's
    word for it, the request's API version and the base URL of absolute download links."""

    job: Job
    body: dict[str, Any]
    word: str
    now: float
    version: str
    host: str
    config: ZohoConfig


def _counts(body: dict[str, Any], done: str, skipped: str | None, lower: bool) -> dict[str, Any]:
    fields = {"Total_Count": body["Total_Count"], done: body["Updated_Count"]}
    if skipped:
        fields[skipped] = body["Not_Updated_Count"]
    fields["Failed_Count"] = body["Failed_Count"]
    return {name.lower(): value for name, value in fields.items()} if lower else fields


def _data_row(done: str, skipped: str | None) -> Callable[[Seen], Any]:
    def render(seen: Seen) -> Any:
        return {"data": [{"Status": seen.word, **_counts(seen.body, done, skipped, lower=False)}]}

    return render


def _inventory(seen: Seen) -> Any:
    row = {**_counts(seen.body, "Converted_Count", "Not_Converted_Count", lower=True), "status": seen.word}
    return row if seen.config.inventory_reply_shape == "flat" else {"data": [row]}


def _tags(seen: Seen) -> Any:
    counts = _counts(seen.body, "Deleted_Count", None, lower=True)
    return {"mass_delete": [{"job_id": seen.job.job_id, **counts, "status": seen.word}]}


MASS_REPLIES: dict[str, Callable[[Seen], Any]] = {
    "mass_convert": _data_row("Converted_Count", "Not_Converted_Count"),
    "inventory_mass_convert": _inventory,
    "mass_delete": _data_row("Deleted_Count", None),
    "mass_change_owner": _data_row("Updated_Count", "Not_Updated_Count"),
    "mass_delete_tags": _tags,
}
