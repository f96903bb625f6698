"""The files jobs produce: CSV and ICS text, zip archives, and the made-up records they hold (ids like Zoho's,
the same for the same job every time), served as downloads."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Iterable, Sequence

from flask import Response

from .metadata import CURRENT_USER


def record_id(job_id: str, index: int) -> str:
    """The id of a job's ``index``-th record: the job's org part, then a sequence of its own (18 digits)."""
    return f"{job_id[:9]}{(int(job_id[9:]) * 7 + index) % 10**9:09d}"


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV with a header line, as Zoho exports it."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive holding ``files`` (name -> content), compressed as Zoho's downloads are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def records_csv(job_id: str, fields: Sequence[str], start: int, count: int, created: str) -> bytes:
    """``count`` records from the ``start``-th: Id first, then each field (owner, created time, or text)."""
    columns = ["Id", *(name for name in fields if name != "Id")]

    def value(name: str, index: int) -> str:
        if name == "Id":
            return record_id(job_id, index)
        if name == "Owner":
            return CURRENT_USER["id"]
        if name in ("Created_Time", "Modified_Time"):
            return created
        return f"{name} {index + 1}"

    rows = ([value(name, index) for name in columns] for index in range(start, start + count))
    return csv_bytes(columns, rows)


def events_ics(job_id: str, start: int, count: int, created_at: float) -> bytes:
    """``count`` events (Meetings) from the ``start``-th as an iCalendar file, one VEVENT each."""
    stamp = datetime.datetime.fromtimestamp(int(created_at), datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Zoho CRM//Bulk Read//EN"]
    for index in range(start, start + count):
        lines += [
            "BEGIN:VEVENT",
            f"UID:{record_id(job_id, index)}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{stamp}",
            f"SUMMARY:Meeting {index + 1}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def download(content: bytes, name: str, content_type: str = "application/zip") -> Response:
    """A file download reply, named as Zoho names it."""
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, status=200, content_type=content_type, headers=headers)
