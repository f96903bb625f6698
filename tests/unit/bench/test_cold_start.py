"""The cold start benchmark covers every handler: an import row and a first invocation with an event."""

from __future__ import annotations

from bench import REPO_ROOT, cold_start
from bench.stack import handler_names


def test_every_handler_has_a_first_invocation_with_a_sample_event() -> None:
    assert set(cold_start.FIRST_CALLS) == set(handler_names())
    for file_name, what in cold_start.FIRST_CALLS.values():
        assert (cold_start.EVENTS_DIR / file_name).is_file(), file_name
        assert what


def test_the_goals_are_the_issues() -> None:
    assert (cold_start.IMPORT_LIMIT, cold_start.FIRST_CALL_LIMIT) == (1.20, 1.30)
    assert cold_start.EVENTS_DIR == REPO_ROOT / "events"
