"""The job model (statuses, counts, progress) and input validation.

The polling policy that decides when to check a job again is `zoho_watch.polling`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zoho_watch.errors import InvalidInput

SCHEDULED = "SCHEDULED"
QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUSPENDED = "SUSPENDED"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED})
WAITING_STATUSES = frozenset({SCHEDULED, QUEUED})

# The identifiers of a job, defined here only: the API's path and query patterns, the CLI and the OpenAPI
# document use these (tests/unit/library/test_jobs.py checks that nothing else spells them out).
MODULE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,99}$"
JOB_ID_PATTERN = r"^[0-9]{1,30}$"
CONNECTION_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
# The connection a request or a watch names when it names none.
DEFAULT_CONNECTION = "default"
# The kind of job a request names when it names none (every kind: `zoho_watch.job_kinds`).
DEFAULT_KIND = "mass_update"
# The watcher of a job the scheduled sweep checks (a state machine's is "stepfunctions:<execution arn>").
SCHEDULE_WATCHER = "schedule"
_MODULE = re.compile(MODULE_PATTERN)
_JOB_ID = re.compile(JOB_ID_PATTERN)
_CONNECTION = re.compile(CONNECTION_PATTERN)
# Any status Zoho may invent later is recorded as it came, as long as it looks like a status word.
_STATUS = re.compile(r"[A-Za-z][A-Za-z0-9_ -]{0,63}")


def _shown(value: object) -> str:
    """A short, safe rendering of a rejected value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_module(module: object) -> str:
    """Return `module` if it matches MODULE_PATTERN, else raise InvalidInput."""
    if not isinstance(module, str) or not _MODULE.fullmatch(module):
        raise InvalidInput(
            f"module must be a Zoho module API name (letters, digits, _), got {_shown(module)}"
        )
    return module


def validate_job_id(job_id: object) -> str:
    """Return `job_id` as a string if it is 1 to 30 digits, else raise InvalidInput."""
    if isinstance(job_id, int) and not isinstance(job_id, bool) and job_id >= 0:
        job_id = str(job_id)
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        raise InvalidInput(f"job_id must be 1 to 30 digits, got {_shown(job_id)}")
    return job_id


def validate_kind(kind: object, module: str) -> str:
    """Return `kind` if zoho-watch knows that kind of job and it exists in `module`, else InvalidInput."""
    from zoho_watch.job_kinds import KINDS  # the declarations use this module's helpers

    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(sorted(KINDS))}, got {_shown(kind)}")
    modules = KINDS[kind].modules
    if modules is not None and module.lower() not in {name.lower() for name in modules}:
        raise InvalidInput(f"{kind} jobs exist in {', '.join(sorted(modules))} only, not in {_shown(module)}")
    return kind


def validate_connection(connection: object) -> str:
    """Return `connection` if it matches CONNECTION_PATTERN, else raise InvalidInput."""
    if not isinstance(connection, str) or not _CONNECTION.fullmatch(connection):
        raise InvalidInput(
            f"connection must be lowercase letters, digits, _ or - (at most 32), got {_shown(connection)}"
        )
    return connection


@dataclass(frozen=True)
class JobKey:
    """Which job: the connection (whose Zoho credentials), the module, the job's id and its kind.

    Valid by construction: each part is checked against its pattern when the key is made (a job id given as
    a non-negative int becomes its digits), so code that holds a key never checks it again. The kind is a mass
    update unless named (records and requests without one are mass updates).
    """

    connection: str
    module: str
    job_id: str
    kind: str = DEFAULT_KIND

    def __post_init__(self) -> None:
        validate_connection(self.connection)
        validate_module(self.module)
        object.__setattr__(self, "job_id", validate_job_id(self.job_id))
        if self.kind != DEFAULT_KIND:
            validate_kind(self.kind, self.module)

    @classmethod
    def parse(cls, connection: object, module: object, job_id: object, kind: object = DEFAULT_KIND) -> JobKey:
        """A key from untrusted values; InvalidInput names the first part that is not valid."""
        return cls(connection, module, job_id, kind)  # type: ignore[arg-type]  # __post_init__ checks each

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> JobKey:
        """The key of a stored job state, an event's detail or any mapping of its fields (`kind` optional)."""
        kind = record.get("kind") or DEFAULT_KIND
        return cls.parse(record.get("connection"), record.get("module"), record.get("job_id"), kind)

    @property
    def ref(self) -> str:
        """`{connection}#{module}#{job_id}`, then `#{kind}` for kinds other than mass update: the job's part
        of its item keys and event ids (a mass update's are what they were before there were kinds)."""
        base = f"{self.connection}#{self.module}#{self.job_id}"
        return base if self.kind == DEFAULT_KIND else f"{base}#{self.kind}"

    def __str__(self) -> str:
        base = f"{self.connection}/{self.module}/{self.job_id}"
        return base if self.kind == DEFAULT_KIND else f"{base} ({self.kind})"


def is_status_word(status: object) -> bool:
    """True when `status` looks like a Zoho job status (known or not)."""
    return isinstance(status, str) and _STATUS.fullmatch(status) is not None


@dataclass(frozen=True)
class Snapshot:
    """One answer of Zoho about a job: its status and the four counts.

    For kinds other than mass update, `status` is zoho-watch's word for where the job is (SCHEDULED,
    RUNNING, COMPLETED, FAILED), `zoho_status` Zoho's own, and `results` what the kind links to its result;
    `updated` counts the records done (converted, deleted...), `not_updated` those not done (yet).
    """

    status: str
    total: int
    updated: int
    failed: int
    not_updated: int
    zoho_status: str | None = None
    results: Mapping[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        """True when the job has ended (COMPLETED or FAILED)."""
        return self.status in TERMINAL_STATUSES

    @property
    def done(self) -> int:
        """Records processed so far (updated or failed), never outside [0, total]."""
        return max(0, min(self.total, self.total - self.not_updated))

    @property
    def progress(self) -> float:
        """Share of records processed, 0..1 (1 once the job has ended)."""
        if self.terminal:
            return 1.0
        return round(self.done / self.total, 4) if self.total > 0 else 0.0

    def counts(self) -> dict[str, int]:
        """The four counts as the JSON shape of the API and events."""
        return {
            "total": self.total,
            "updated": self.updated,
            "failed": self.failed,
            "not_updated": self.not_updated,
        }
