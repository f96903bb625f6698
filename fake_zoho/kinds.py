"""The mass actions other than mass update: their status replies, drawn from a job's timeline, with each
kind's own status words, count fields and envelope, and its own scopes and "no such job" answer, as Zoho's
v8 specifications and docs give them.

A job of any kind moves as a mass update would (``JobProfile``); its timeline's mass update body is then told
in the kind's words: processed records are converted, deleted or given a new owner, and the records not yet
processed are "not converted" or, for the kinds that report no such count, simply not counted yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MASS_UPDATE = "mass_update"
INVENTORY_MODULES = frozenset({"quotes", "sales_orders"})


@dataclass(frozen=True)
class KindShape:
    """How one kind's status call looks: its status words, its reply, its scopes and its unknown job."""

    name: str
    words: dict[str, str]  # a mass update status -> this kind's word
    render: Callable[[dict[str, Any], str, str], Any]  # (timeline body, its word, job id) -> reply
    scopes: Callable[[str], frozenset[str]]  # module -> scopes (lower case) that allow the status call
    not_found: str  # "invalid_data" (400 INVALID_DATA), "no_content" (204)

    def reply(self, body: dict[str, Any], job_id: str) -> Any:
        """The reply body of the status call for a job whose mass update body is `body`."""
        return self.render(body, self.words.get(body["Status"], body["Status"]), job_id)


def _counts(body: dict[str, Any], done: str, skipped: str | None, lower: bool) -> dict[str, Any]:
    fields = {"Total_Count": body["Total_Count"], done: body["Updated_Count"]}
    if skipped:
        fields[skipped] = body["Not_Updated_Count"]
    fields["Failed_Count"] = body["Failed_Count"]
    return {name.lower(): value for name, value in fields.items()} if lower else fields


def _data_row(done: str, skipped: str | None) -> Callable[[dict[str, Any], str, str], Any]:
    def render(body: dict[str, Any], word: str, job_id: str) -> Any:
        return {"data": [{"Status": word, **_counts(body, done, skipped, lower=False)}]}

    return render


def _inventory(shape: str) -> Callable[[dict[str, Any], str, str], Any]:
    def render(body: dict[str, Any], word: str, job_id: str) -> Any:
        row = {**_counts(body, "Converted_Count", "Not_Converted_Count", lower=True), "status": word}
        return row if shape == "flat" else {"data": [row]}

    return render


def _tags(body: dict[str, Any], word: str, job_id: str) -> Any:
    counts = _counts(body, "Deleted_Count", None, lower=True)
    return {"mass_delete": [{"job_id": job_id, **counts, "status": word}]}


def _module_scopes(family: str, *extra: str) -> Callable[[str], frozenset[str]]:
    def scopes(module: str) -> frozenset[str]:
        forms = {module.lower(), module.lower().replace("_", "")}
        named = {f"zohocrm.{family}.{form}.{op}" for form in forms for op in ("read", "all")}
        return frozenset({f"zohocrm.{family}.read", f"zohocrm.{family}.all", *named, *extra})

    return scopes


UPPER = {"SCHEDULED": "SCHEDULED", "RUNNING": "IN PROGRESS"}


def shapes(inventory_reply_shape: str) -> dict[str, KindShape]:
    """Every kind's shape (the inventory convert reply flat or wrapped, as configured)."""
    return {
        "mass_convert": KindShape(
            "mass_convert",
            UPPER,
            _data_row("Converted_Count", "Not_Converted_Count"),
            _module_scopes("mass_convert"),
            "invalid_data",
        ),
        "inventory_mass_convert": KindShape(
            "inventory_mass_convert",
            UPPER,
            _inventory(inventory_reply_shape),
            _module_scopes("mass_convert"),
            "invalid_data",
        ),
        # Its documented statuses are RUNNING, COMPLETED and FAILED: a job not started yet shows RUNNING.
        "mass_delete": KindShape(
            "mass_delete",
            {"SCHEDULED": "RUNNING", "QUEUED": "RUNNING"},
            _data_row("Deleted_Count", None),
            _module_scopes("mass_delete", "zohocrm.modules.all"),
            "invalid_data",
        ),
        "mass_change_owner": KindShape(
            "mass_change_owner",
            {},
            _data_row("Updated_Count", "Not_Updated_Count"),
            lambda module: frozenset({"zohocrm.change_owner.read", "zohocrm.change_owner.all"}),
            "no_content",
        ),
        "mass_delete_tags": KindShape(
            "mass_delete_tags",
            {},
            _tags,
            lambda module: frozenset(
                {"zohocrm.settings.tags.read", "zohocrm.settings.tags.all", "zohocrm.settings.all"}
            ),
            "invalid_data",
        ),
    }


def kind_of_action(action: str, module: str) -> str | None:
    """The kind a `/{module}/actions/{action}` status path asks about, or None for an unknown action."""
    if action == "mass_convert":
        return "inventory_mass_convert" if module.lower() in INVENTORY_MODULES else "mass_convert"
    return action if action in ("mass_delete", "mass_change_owner") else None
