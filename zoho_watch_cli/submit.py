"""`zoho-watch submit`: run a mass update through zoho-watch (its own Zoho tokens), then optionally follow it.

    zoho-watch submit Leads --cvid 4150868000000087011 --set Lead_Status=Contacted --watch
    zoho-watch submit Deals --ids 5001,5002 --set Stage="Closed Won" --set-json Amount=1200

`--set FIELD=TEXT` sets a field to a text; `--set-json FIELD=JSON` to any JSON value (a number, true, null, a
lookup such as {"id": "…"}). Every request carries an idempotency key (`--idempotency-key`, else a new one per
run): a request that got no answer, or found Zoho or AWS failing in passing, is sent again with the same key,
so it never schedules twice.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import uuid
from typing import Any

from rich.console import Console
from rich.table import Table
from zoho_watch.jobs import JOB_ID_PATTERN, MODULE_PATTERN

from zoho_watch_cli.api_client import ApiError, ZohoWatchApi

# Answers after which the same request is sent again (same key): no answer, a passing failure, a twin running.
RETRY_STATUSES = frozenset({0, 429, 502, 503, 504})
RETRY_CODES = frozenset({"REQUEST_IN_PROGRESS"})
ATTEMPTS = 4
FIRST_PAUSE_SECONDS = 1.0


class SubmitUsageError(ValueError):
    """The command line does not describe a valid mass update."""


def _field(assignment: str, as_json: bool) -> tuple[str, Any]:
    name, sep, value = assignment.partition("=")
    if not sep or not re.fullmatch(MODULE_PATTERN, name):
        raise SubmitUsageError(f"--set takes FIELD=VALUE with a field API name, not {assignment[:40]!r}")
    if not as_json:
        return name, value
    try:
        return name, json.loads(value)
    except ValueError:
        raise SubmitUsageError(f"--set-json {name}: {value[:40]!r} is not JSON") from None


def _ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    bad = [part for part in ids if not re.fullmatch(JOB_ID_PATTERN, part)]
    if not ids or bad:
        raise SubmitUsageError(f"--ids takes record ids (digits) separated by commas, not {text[:40]!r}")
    return ids


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    """The body of POST /mass-updates the command line describes (SubmitUsageError when it cannot)."""
    if not re.fullmatch(MODULE_PATTERN, args.module):
        raise SubmitUsageError(f"invalid module {args.module[:40]!r}: letters, digits and _ (e.g. Leads)")
    fields = dict(_field(item, False) for item in args.set or [])
    fields.update(_field(item, True) for item in args.set_json or [])
    if not fields:
        raise SubmitUsageError("say what to set: --set FIELD=TEXT or --set-json FIELD=JSON, once or more")
    body: dict[str, Any] = {"module": args.module, "data": [fields]}
    if args.cvid is not None:
        body["cvid"] = args.cvid
    elif args.territory is not None:
        body["territory"] = {"id": args.territory, "include_child": args.include_child}
    else:
        body["ids"] = _ids(args.ids)
    if args.over_write is not None:
        body["over_write"] = args.over_write
    if args.connection:
        body["connection"] = args.connection
    if args.mode != "stepfunctions" and "ids" not in body:
        body["watch"] = {"mode": args.mode}
    return body


def submit_with_retries(
    api: ZohoWatchApi, body: dict[str, Any], key: str, console: Console, pause: Any = time.sleep
) -> dict[str, Any]:
    """POST /mass-updates, sent again with the same key after a passing failure (ATTEMPTS in all)."""
    wait = FIRST_PAUSE_SECONDS
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return api.submit_mass_update(body, key)
        except ApiError as error:
            if attempt == ATTEMPTS or (error.status not in RETRY_STATUSES and error.code not in RETRY_CODES):
                raise
            console.print(
                f"[yellow]{error.code}[/yellow]: sending the request again ({attempt + 1}/{ATTEMPTS})"
            )
            pause(wait)
            wait *= 2
    raise AssertionError("unreachable")


def show_answer(answer: dict[str, Any], console: Console) -> None:
    """Print what zoho-watch did."""
    if answer.get("replayed"):
        console.print("(the answer kept for this idempotency key: Zoho was not called again)")
    if answer.get("job_id"):
        watch = answer.get("watch") or {}
        how = watch.get("execution_name") or watch.get("mode") or "-"
        console.print(
            f"Zoho scheduled job [bold]{answer['job_id']}[/bold] ({answer.get('message')}); "
            f"{watch.get('message', 'not watched')}: {how}"
        )
        return
    records = answer.get("records") or []
    table = Table(title=f"{len(records)} record(s) updated at once")
    for column in ("id", "status", "code", "message"):
        table.add_column(column)
    for record in records:
        table.add_row(record["id"], record["status"], record["code"], record["message"])
    console.print(table)


def new_idempotency_key() -> str:
    """A key of its own for one run of the command."""
    return f"cli-{uuid.uuid4()}"
