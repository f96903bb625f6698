"""Every kind of Zoho CRM background job known by an id, each declared once: where its status is asked, how
the reply is read (strictly), what its statuses mean and which fields count its records or link its result.

A reply of any kind becomes a `KindReply`: Zoho's own status as it came, its normalised `phase` (queued,
running, completed, failed), the counts the kind reports (total, done, failed, skipped; None where it reports
none) and its result fields (bulk read's `download_url`, `more_records`, `next_page_token`...). A status word
Zoho never documented is kept and read as "not finished yet", never as an end. Where Zoho's specification and
its docs disagree on a reply's shape (inventory convert: a flat object or one wrapped in `data[]`), both are
read. Error replies are the shared ones of `zoho_watch.zoho_errors`.

Facts from Zoho's v8 OpenAPI specifications (zoho/crm-oas) and its API docs, per kind below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from zoho_watch.errors import ZohoUnavailable
from zoho_watch.jobs import COMPLETED, FAILED, RUNNING, SCHEDULED, Snapshot, is_status_word
from zoho_watch.zoho_errors import error_from_reply

Phase = Literal["queued", "running", "completed", "failed"]
# The module of a kind whose status path names none (tags, audit log, users): the organisation.
ORG_MODULE = "org"


@dataclass(frozen=True)
class KindReply:
    """One answer of Zoho about a job of any kind."""

    status: str  # Zoho's own status, as it came
    phase: Phase
    total: int | None = None
    done: int | None = None  # records the job has done (updated, converted, deleted, added or updated...)
    failed: int | None = None
    skipped: int | None = None  # records not done, or not done yet (not updated, not converted, not written)
    results: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def terminal(self) -> bool:
        """True once the job has ended, well or not."""
        return self.phase in ("completed", "failed")


@dataclass(frozen=True)
class StatusRequest:
    """Where a job's status is asked: the path below the API domain, and its query parameters."""

    path: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its status request, its reply's reader, and what Zoho documents for it."""

    name: str
    path: str  # below the API domain; {version}, {module} and {job_id} are filled in
    modules: frozenset[str] | None  # the modules it exists for; None: any module (ORG_MODULE: none)
    read_scopes: tuple[str, ...]  # the scopes that allow its status call, as Zoho documents them
    read: Callable[[Any], KindReply]  # the 200 reply's body, read strictly
    # False for a kind whose replies count no records while its job runs: the polling policy learns how long
    # its jobs run instead of their throughput (`zoho_watch.priors.RatePrior.per_run`).
    reports_counts: bool = True

    def request(self, version: str, module: str, job_id: str) -> StatusRequest:
        """The status request of one job (`module` is ORG_MODULE for kinds without one)."""
        path = self.path.format(version=version, module=module, job_id=job_id)
        return StatusRequest(path, MappingProxyType({} if "{job_id}" in self.path else {"job_id": job_id}))

    def parse(self, status: int, body: Any, headers: Any = None) -> KindReply:
        """A status reply (HTTP status, JSON body or a marker string): its `KindReply`, else its typed error
        (an empty 204 or 404, which several kinds answer for a job Zoho does not know, is JobNotFound)."""
        if status != 200:
            raise error_from_reply(status, body, headers)
        try:
            return self.read(body)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ZohoUnavailable(f"Zoho's {self.name} status reply is malformed ({error})") from None


# ---- reading replies ------------------------------------------------------------------------------------


def _row(body: Any, envelope: str | None, flat: bool = False) -> dict[str, Any]:
    """The one job of a reply: `body[envelope][0]`, or with `flat` the body itself when it has no envelope."""
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    if envelope is not None and envelope in body:
        rows = body[envelope]
        if not isinstance(rows, list) or len(rows) != 1 or not isinstance(rows[0], dict):
            raise ValueError(f"{envelope} must hold exactly one job")
        return rows[0]
    if flat or envelope is None:
        return body
    raise ValueError(f"no {envelope}")


def _count(row: Mapping[str, Any], name: str, required: bool = True) -> int | None:
    value = row.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a count")
    return value


def _status(value: Any, phases: Mapping[str, Phase]) -> tuple[str, Phase]:
    """Zoho's status and its phase; an undocumented status word is "not finished yet" (running)."""
    if not is_status_word(value):
        raise ValueError("no valid status")
    return value, phases.get(value.strip().lower(), "running")


def _phases(queued: str = "", running: str = "", completed: str = "", failed: str = "") -> dict[str, Phase]:
    """Zoho's status words (comma separated, any case) by phase."""
    table: dict[str, Phase] = {}
    named = {"queued": queued, "running": running, "completed": completed, "failed": failed}
    for phase, words in named.items():
        for word in filter(None, (part.strip().lower() for part in words.split(","))):
            table[word] = phase  # type: ignore[assignment]
    return table


MASS_ACTION_PHASES = _phases("scheduled, queued", "running, in progress, suspended", "completed", "failed")


def _mass_action(
    done: str, skipped: str | None, envelope: str = "data", flat: bool = False, lower: bool = False
) -> Callable[[Any], KindReply]:
    """The reader of a mass action's reply: status, total, done, skipped (when reported) and failed counts."""

    def name(field_name: str) -> str:
        return field_name.lower() if lower else field_name

    def read(body: Any) -> KindReply:
        row = _row(body, envelope, flat)
        status, phase = _status(row[name("Status")], MASS_ACTION_PHASES)
        return KindReply(
            status,
            phase,
            total=_count(row, name("Total_Count")),
            done=_count(row, name(done)),
            failed=_count(row, name("Failed_Count")),
            skipped=_count(row, name(skipped)) if skipped else None,
        )

    return read


def _read_mass_update(body: Any) -> KindReply:
    """Mass update: the library's original reader (`zoho_watch.zoho.parse_status_reply`), as a KindReply."""
    from zoho_watch.zoho import parse_status_reply

    snapshot = parse_status_reply(200, body)
    _, phase = _status(snapshot.status, MASS_ACTION_PHASES)
    return KindReply(
        snapshot.status,
        phase,
        total=snapshot.total,
        done=snapshot.updated,
        failed=snapshot.failed,
        skipped=snapshot.not_updated,
    )


BULK_READ_PHASES = _phases("added, queued", "in progress", "completed", "failure, failed")


def _read_bulk_read(body: Any) -> KindReply:
    """Bulk read: `data[0].state`; the result (count, download link, pages) once it is there."""
    row = _row(body, "data")
    status, phase = _status(row["state"], BULK_READ_PHASES)
    result = {} if row.get("result") is None else row["result"]
    if not isinstance(result, dict):
        raise ValueError("result must be an object")
    count = _count(result, "count", required=False)
    links = {
        key: result[key]
        for key in ("download_url", "more_records", "next_page_token", "page", "per_page")
        if result.get(key) is not None
    }
    if "download_url" in links and not isinstance(links["download_url"], str):
        raise ValueError("download_url must be a string")
    return KindReply(status, phase, total=count, done=count, results=MappingProxyType(links))


BULK_WRITE_PHASES = _phases("added", "in progress", "completed, skipped", "failed")


def _read_bulk_write(body: Any) -> KindReply:
    """Bulk write (a flat reply): the top status, its files' counts summed, the result's download link.

    The rows not written are those its files skipped and those not reached yet: a file's `skipped_count` is
    rows it has passed over, not the rows left, so a running import shows its progress (added and updated
    over total), and a finished one counts exactly its skipped rows as not done."""
    row = _row(body, None)
    status, phase = _status(row["status"], BULK_WRITE_PHASES)
    files = [resource.get("file") or {} for resource in row.get("resource") or []]
    counts = {
        name: sum(int(_count(item, name, required=False) or 0) for item in files)
        for name in ("total_count", "added_count", "updated_count")
    }
    result = row.get("result") or {}
    links = {"download_url": result["download_url"]} if isinstance(result.get("download_url"), str) else {}
    return KindReply(
        status,
        phase,
        total=counts["total_count"] if files else None,
        done=counts["added_count"] + counts["updated_count"] if files else None,
        skipped=counts["total_count"] - counts["added_count"] - counts["updated_count"] if files else None,
        results=MappingProxyType(links),
    )


AUDIT_LOG_PHASES = _phases("scheduled", "progress, in progress", "finished, completed", "failed")


def _read_audit_log_export(body: Any) -> KindReply:
    """Audit log export: no counts; its download links and their expiry once finished."""
    row = _row(body, "audit_log_export")
    status, phase = _status(row["status"], AUDIT_LOG_PHASES)
    links = {key: row[key] for key in ("download_links", "expiry_date") if row.get(key) is not None}
    return KindReply(status, phase, results=MappingProxyType(links))


TRANSFER_PHASES = _phases("scheduled", "in_progress, in progress", "completed", "failed")


def _read_transfer_and_delete(body: Any) -> KindReply:
    """Transfer and delete a user: a status, no counts."""
    status, phase = _status(_row(body, "transfer_and_delete")["status"], TRANSFER_PHASES)
    return KindReply(status, phase)


# ---- the kinds ------------------------------------------------------------------------------------------

CRM = "/crm/{version}"
KINDS: Mapping[str, JobKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            JobKind(
                "mass_update",
                CRM + "/{module}/actions/mass_update",
                None,
                ("ZohoCRM.mass_update.READ", "ZohoCRM.mass_update.{module}.READ"),
                _read_mass_update,
            ),
            JobKind(
                "mass_convert",
                CRM + "/{module}/actions/mass_convert",
                frozenset({"Leads"}),
                ("ZohoCRM.mass_convert.leads.READ", "ZohoCRM.mass_convert.{module}.READ"),
                _mass_action("Converted_Count", "Not_Converted_Count"),
            ),
            JobKind(
                "inventory_mass_convert",
                CRM + "/{module}/actions/mass_convert",
                frozenset({"Quotes", "Sales_Orders"}),
                ("ZohoCRM.mass_convert.Quotes.READ", "ZohoCRM.mass_convert.SalesOrders.READ"),
                _mass_action("Converted_Count", "Not_Converted_Count", flat=True, lower=True),
            ),
            JobKind(
                "mass_delete",
                CRM + "/{module}/actions/mass_delete",
                None,
                ("ZohoCRM.mass_delete.READ", "ZohoCRM.mass_delete.{module}.READ", "ZohoCRM.modules.ALL"),
                _mass_action("Deleted_Count", None),
            ),
            JobKind(
                "mass_change_owner",
                CRM + "/{module}/actions/mass_change_owner",
                None,
                ("ZohoCRM.change_owner.READ",),
                _mass_action("Updated_Count", "Not_Updated_Count"),
            ),
            JobKind(
                "mass_delete_tags",
                CRM + "/settings/tags/actions/mass_delete",
                frozenset({ORG_MODULE}),
                ("ZohoCRM.settings.tags.READ", "ZohoCRM.settings.tags.ALL", "ZohoCRM.settings.ALL"),
                _mass_action("Deleted_Count", None, envelope="mass_delete", lower=True),
            ),
            JobKind(
                "bulk_read",
                "/crm/bulk/{version}/read/{job_id}",
                frozenset({ORG_MODULE}),
                ("ZohoCRM.bulk.read", "ZohoCRM.bulk.ALL"),
                _read_bulk_read,
                reports_counts=False,  # its count comes with its result, once it has completed
            ),
            JobKind(
                "bulk_write",
                "/crm/bulk/{version}/write/{job_id}",
                frozenset({ORG_MODULE}),
                ("ZohoCRM.bulk.CREATE", "ZohoCRM.bulk.ALL"),
                _read_bulk_write,
            ),
            JobKind(
                "audit_log_export",
                CRM + "/settings/audit_log_export/{job_id}",
                frozenset({ORG_MODULE}),
                ("ZohoCRM.settings.audit_logs.READ", "ZohoCRM.settings.audit_logs.CREATE"),
                _read_audit_log_export,
                reports_counts=False,
            ),
            JobKind(
                "transfer_and_delete",
                CRM + "/users/actions/transfer_and_delete",
                frozenset({ORG_MODULE}),
                ("ZohoCRM.users.READ", "ZohoCRM.users.ALL"),
                _read_transfer_and_delete,
                reports_counts=False,
            ),
        )
    }
)
# Any kind's name, as a pattern (the API's `{kind}` path parameter).
KIND_PATTERN = "^(" + "|".join(KINDS) + ")$"
# zoho-watch's word for each phase: the mass update statuses every other part of zoho-watch knows.
PHASE_STATUS: Mapping[Phase, str] = MappingProxyType(
    {"queued": SCHEDULED, "running": RUNNING, "completed": COMPLETED, "failed": FAILED}
)


def snapshot_of(reply: KindReply) -> Snapshot:
    """The `Snapshot` of another kind's reply: zoho-watch's status for its phase (Zoho's own kept), its counts
    as total, done, failed and not done (0 where the kind reports none), its result fields."""
    total = reply.total or 0
    done = reply.done or 0
    failed = reply.failed or 0
    not_done = reply.skipped if reply.skipped is not None else max(0, total - done - failed)
    return Snapshot(
        PHASE_STATUS[reply.phase],
        total,
        done,
        failed,
        not_done,
        zoho_status=reply.status,
        results=dict(reply.results),
    )
