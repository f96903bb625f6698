"""The OAuth scopes of every kind's calls, as Zoho's v8 specifications and docs name them; where they name
different ones, either is accepted (mass update: ``family("mass_update", "read"|"update", module=...)``).

A need is a tuple of groups: a token must hold one scope of every group (Zoho's "scope A (and) scope B").
Scope names compare without case; a module is named by its API name or the docs' lower-case form without
underscores (Sales_Orders, salesorders); ALL covers every operation.
"""

from __future__ import annotations

from collections.abc import Iterable

Need = tuple[frozenset[str], ...]
MODULES_ALL = "zohocrm.modules.all"
SETTINGS_ALL = "zohocrm.settings.all"


def family(name: str, *operations: str, module: str | None = None) -> frozenset[str]:
    """``zohocrm.{name}.{op}`` for each operation and ALL, and with a module ``zohocrm.{name}.{module}.{op}``
    (both spellings of the module)."""
    ops = {op.lower() for op in operations} | {"all"}
    scopes = {f"zohocrm.{name}.{op}" for op in ops}
    if module is not None:
        for form in {module.lower(), module.lower().replace("_", "")}:
            scopes |= {f"zohocrm.{name}.{form}.{op}" for op in ops}
    return frozenset(scopes)


def _one(*groups: Iterable[str]) -> Need:
    """A need met by any one of these scopes."""
    return (frozenset(scope for group in groups for scope in group),)


def _needs(kind: str, module: str | None) -> tuple[Need, Need]:
    """(status call's need, creation call's need) of a kind; ``module``: the job's, or bulk read's query's."""

    def mine(name: str, *operations: str) -> frozenset[str]:
        return family(name, *operations, module=module)

    needs: dict[str, tuple[Need, Need]] = {
        # The specification's ZohoCRM.mass_convert.{module}.READ/CREATE; the docs' .leads.READ.
        "mass_convert": (_one(mine("mass_convert", "read")), _one(mine("mass_convert", "create"))),
        "inventory_mass_convert": (_one(mine("mass_convert", "read")), _one(mine("mass_convert", "create"))),
        # The docs' mass_delete.READ and .DELETE (or .{module}.); the specification's global modules.ALL.
        "mass_delete": (
            _one(mine("mass_delete", "read"), {MODULES_ALL}),
            _one(mine("mass_delete", "delete"), {MODULES_ALL}),
        ),
        # The docs' change_owner.READ and .CREATE; the specification's modules.ALL.
        "mass_change_owner": (
            _one(family("change_owner", "read"), {MODULES_ALL}),
            _one(family("change_owner", "create"), {MODULES_ALL}),
        ),
        # The docs: ZohoCRM.settings.ALL or ZohoCRM.settings.tags.{ALL|READ} (status), {ALL|WRITE|DELETE}.
        "mass_delete_tags": (
            _one(family("settings.tags", "read"), {SETTINGS_ALL}),
            _one(family("settings.tags", "write", "delete"), {SETTINGS_ALL}),
        ),
        # Status: the docs accept ZohoCRM.bulk.read or the module's READ/ALL (the specification: bulk.all and
        # modules.all). Creation: the docs ask ZohoCRM.bulk.read (and) the module's READ or ALL.
        "bulk_read": (
            _one(family("bulk", "read"), mine("modules", "read")),
            (family("bulk", "read"), mine("modules", "read")),
        ),
        # The docs: ZohoCRM.bulk.CREATE or ALL (the specification: bulk.ALL). The module's own scope, which
        # the docs name for writing records, is not asked: the emulator writes no records.
        "bulk_write": (_one(family("bulk", "create")), _one(family("bulk", "create"))),
        # Status: the docs' audit_logs.READ, the specification's audit_logs.CREATE. Creation: CREATE.
        "audit_log_export": (
            _one(family("settings.audit_logs", "read", "create")),
            _one(family("settings.audit_logs", "create")),
        ),
        # The docs: users.READ or ALL (status), ALL or DELETE (creation); the specification: users.all.
        "transfer_and_delete": (_one(family("users", "read")), _one(family("users", "delete"))),
    }
    return needs[kind]


def status_need(kind: str, module: str | None) -> Need:
    """The scopes of a kind's status call (``module``: the job's module, or bulk read's query module)."""
    return _needs(kind, module)[0]


def create_need(kind: str, module: str | None) -> Need:
    """The scopes of a kind's creation call."""
    return _needs(kind, module)[1]


# Uploading a bulk write file (docs: ZohoFiles.files.ALL); downloading an audit log (ZohoFiles.files.READ).
UPLOAD_NEED: Need = (frozenset({"zohofiles.files.all"}),)
FILES_READ_NEED: Need = (frozenset({"zohofiles.files.read", "zohofiles.files.all"}),)


def granted(scopes: Iterable[str], need: Need) -> bool:
    """True when ``scopes`` hold one scope of every group of ``need``."""
    held = {scope.strip().lower() for scope in scopes}
    return all(held & group for group in need)
