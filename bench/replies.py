"""The polling bench's simulated Zoho replies: the Zoho emulator's own status reply of each kind, drawn from
the bench's timeline body, then read by the library's reader into the snapshot a check records.

A job's timeline (`fake_zoho.profile.JobTimeline`) tells a mass update's status body at any moment; the
emulator tells the same moment in another kind's words and fields (`fake_zoho.status.render`): a bulk write
counts its file's rows as they are written (added and updated = the timeline's updated records, skipped = its
failed ones); a bulk read and an audit log export count nothing while they run (a bulk read's count comes
with its result, once completed).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from zoho_watch.job_kinds import KINDS, ORG_MODULE, snapshot_of
from zoho_watch.jobs import DEFAULT_KIND, Snapshot
from zoho_watch.zoho import parse_status_reply

from fake_zoho import FakeZoho
from fake_zoho.jobs import Job
from fake_zoho.kinds import Seen, word
from fake_zoho.status import render


@cache
def _emulator() -> FakeZoho:
    """An emulator that never serves: its jobs and their replies only."""
    return FakeZoho()


@cache
def _job(kind: str, total: int) -> Job:
    """A job of `kind` over `total` records on the emulator (its replies take the bench's body)."""
    zoho = _emulator()
    module = ORG_MODULE if KINDS[kind].modules == frozenset({ORG_MODULE}) else "Leads"
    return zoho.jobs.get(zoho.create_job(module, total=total, kind=kind))


def snapshot(kind: str, body: dict[str, Any]) -> Snapshot:
    """What a check of a job of `kind` records when the timeline's body is `body`: the emulator's reply of
    that kind, read by its reader (a mass update's by the library's original parser)."""
    zoho = _emulator()
    job = _job(kind, body["Total_Count"])
    seen = Seen(job, body, word(kind, body["Status"], zoho.config.kind_words), 0.0, "v8", "", zoho.config)
    reply = render(zoho, seen)
    if kind == DEFAULT_KIND:
        return parse_status_reply(200, reply)
    return snapshot_of(KINDS[kind].parse(200, reply))
