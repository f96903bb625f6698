"""Settings of one emulated Zoho data centre and org, changeable at run time (Python or /__admin/config)."""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

NOT_FOUND_MODES = ("empty", "json", "invalid_data")
# Inventory mass convert's status reply: the specification's flat object, or the docs' data[] wrapper.
INVENTORY_REPLY_SHAPES = ("flat", "data")
# Status words where Zoho's docs and its specification differ: the specification's ("spec") or the docs'.
KIND_WORDS = ("spec", "docs")
# Audit log export's answer for an unknown export: the specification's empty 204, the docs' 400 NO_CONTENT.
AUDIT_LOG_NOT_FOUND = ("empty", "no_content")
DATA_CENTRES = ("us", "eu", "in", "au", "jp", "cn", "ca", "sa")
API_VERSIONS = ("v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8")
STANDARD_MODULES = (
    "Leads",
    "Accounts",
    "Contacts",
    "Deals",
    "Campaigns",
    "Activities",
    "Tasks",
    "Calls",
    "Meetings",
    "Solutions",
    "Products",
    "Vendors",
    "Price_Books",
    "Quotes",
    "Sales_Orders",
    "Purchase_Orders",
    "Invoices",
)
# Custom modules look like CustomModule1 or carry an underscore suffix (Projects_X), as Zoho names them.
CUSTOM_MODULE_PATTERN = r"^(CustomModule\d+|[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+)$"
MODULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")


@dataclass
class ZohoConfig:
    """Every behaviour switch of the emulator. Change through ``update`` so bad values change nothing.

    - ``legacy_token_reply``: token replies give ``expires_in`` in milliseconds plus ``expires_in_sec``.
    - ``not_found_mode``: unknown job_id gives 404 with an empty body (``empty``, Zoho's docs), 404 with
      a JSON NOT_FOUND body (``json``), or 400 INVALID_DATA with ``param_name: job_id`` (``invalid_data``).
    - ``inventory_reply_shape``: inventory mass convert's status reply flat (``flat``, the v8 specification)
      or wrapped in ``data[]`` (``data``, Zoho's docs).
    - ``kind_words``: ``spec`` or ``docs``: with ``docs``, mass convert's statuses are lower case (scheduled,
      in progress, completed, failed), a tag deletion shows SCHEDULED until it ends (no RUNNING) and a bulk
      read shows QUEUED between ADDED and IN PROGRESS, as Zoho's docs list them.
    - ``audit_log_not_found``: an unknown audit log export (or none at all) is an empty 204 (``empty``, the
      v8 specification) or 400 NO_CONTENT (``no_content``, the docs).
    - ``concurrency_limit``: concurrent CRM calls per org before 429 TOO_MANY_REQUESTS (None: no limit).
    - ``access_token_ttl``, ``refresh_limit`` per ``refresh_window``, ``max_live_tokens``, ``grant_code_ttl``:
      Zoho Accounts' limits, in emulated seconds.
    - ``default_scopes``: scopes of new clients when none are given.
    - ``allow_custom_modules``/``extra_modules``/``unsupported_modules``: which module names the API accepts.
    - ``cvid_default_total``: records in a custom view when a job is created over HTTP with an unknown cvid,
      and in a job whose request gives no size (bulk read without cvid, audit log export, transfer and delete)
      unless ``FakeZoho.define_kind`` says another.
    - ``retry_after_seconds``: the ``Retry-After`` header of the ``429_retry_after`` fault.
    - ``fault_timeout_seconds``: real seconds a ``timeout`` fault holds the reply (beyond client time-outs).
    - ``api_domain``: the ``api_domain`` token replies give (None: this emulator's own URL).
    - ``dc``: this emulator's data centre; tokens flagged with another one get INVALID_TOKEN.
    - ``job_id_seed``: job ids drawn from this seed from the next reset on, the same series every time (a demo
      that prints the same thing run after run); None: random, as a real org's.
    """

    legacy_token_reply: bool = False
    not_found_mode: str = "empty"
    inventory_reply_shape: str = "flat"
    kind_words: str = "spec"
    audit_log_not_found: str = "empty"
    concurrency_limit: int | None = 10
    access_token_ttl: float = 3600.0
    refresh_limit: int = 10
    refresh_window: float = 600.0
    max_live_tokens: int = 15
    grant_code_ttl: float = 180.0
    default_scopes: tuple[str, ...] = ("ZohoCRM.mass_update.READ", "ZohoCRM.mass_update.UPDATE")
    allow_custom_modules: bool = True
    extra_modules: tuple[str, ...] = ()
    unsupported_modules: tuple[str, ...] = ("Documents", "Projects")
    cvid_default_total: int = 50
    retry_after_seconds: int = 2
    fault_timeout_seconds: float = 12.0
    api_domain: str | None = None
    dc: str = "us"
    request_log_limit: int = 10000
    job_id_seed: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def update(self, **changes: Any) -> None:
        """Validate every change first, then apply them all (bad input changes nothing)."""
        names = {f.name for f in dataclasses.fields(self) if not f.name.startswith("_")}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown config settings: {', '.join(unknown)}")
        candidate = dataclasses.replace(self, **{k: _normalise(k, v) for k, v in changes.items()})
        candidate.validate()
        with self._lock:
            for key in changes:
                setattr(self, key, getattr(candidate, key))

    def validate(self) -> None:
        """Raise ValueError naming the first setting that is not acceptable."""
        _require(isinstance(self.legacy_token_reply, bool), "legacy_token_reply must be true or false")
        _require(self.not_found_mode in NOT_FOUND_MODES, f"not_found_mode must be one of {NOT_FOUND_MODES}")
        _require(
            self.inventory_reply_shape in INVENTORY_REPLY_SHAPES,
            f"inventory_reply_shape must be one of {INVENTORY_REPLY_SHAPES}",
        )
        _require(self.kind_words in KIND_WORDS, f"kind_words must be one of {KIND_WORDS}")
        _require(
            self.audit_log_not_found in AUDIT_LOG_NOT_FOUND,
            f"audit_log_not_found must be one of {AUDIT_LOG_NOT_FOUND}",
        )
        _require(
            self.concurrency_limit is None or _is_int(self.concurrency_limit, 1),
            "concurrency_limit must be an integer >= 1 or null",
        )
        seed = self.job_id_seed
        _require(seed is None or _is_int(seed, 0), "job_id_seed must be an integer >= 0 or null")
        for name in ("access_token_ttl", "refresh_window", "grant_code_ttl", "fault_timeout_seconds"):
            value = getattr(self, name)
            _require(_is_number(value) and value > 0, f"{name} must be a number > 0")
        for name in ("refresh_limit", "max_live_tokens", "request_log_limit"):
            _require(_is_int(getattr(self, name), 1), f"{name} must be an integer >= 1")
        _require(_is_int(self.cvid_default_total, 0), "cvid_default_total must be an integer >= 0")
        _require(_is_int(self.retry_after_seconds, 0), "retry_after_seconds must be an integer >= 0")
        _require(isinstance(self.allow_custom_modules, bool), "allow_custom_modules must be true or false")
        _require(all(isinstance(s, str) and s for s in self.default_scopes), "default_scopes must be strings")
        for name in ("extra_modules", "unsupported_modules"):
            _require(
                all(isinstance(m, str) and MODULE_NAME.match(m) for m in getattr(self, name)),
                f"{name} must be module API names",
            )
        _require(
            self.api_domain is None
            or (isinstance(self.api_domain, str) and self.api_domain.startswith("http")),
            "api_domain must be an http(s) URL or null",
        )
        _require(self.dc in DATA_CENTRES, f"dc must be one of {DATA_CENTRES}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
            if not f.name.startswith("_")
        }

    def module_verdict(self, module: str) -> str:
        """'ok', 'invalid' or 'unsupported' for a module API name (standard names are case-insensitive)."""
        lowered = module.lower()
        if lowered in {m.lower() for m in self.unsupported_modules}:
            return "unsupported"
        if lowered in {m.lower() for m in (*STANDARD_MODULES, *self.extra_modules)}:
            return "ok"
        if self.allow_custom_modules and re.match(CUSTOM_MODULE_PATTERN, module):
            return "ok"
        return "invalid"


def _normalise(name: str, value: Any) -> Any:
    """JSON gives lists where the dataclass keeps tuples."""
    if name in ("default_scopes", "extra_modules", "unsupported_modules") and isinstance(value, list):
        return tuple(value)
    return value


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _is_int(value: Any, minimum: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= minimum


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
