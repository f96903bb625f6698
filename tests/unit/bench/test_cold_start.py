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


def test_the_api_floors_answer_the_apis_request_from_the_table() -> None:
    """Each floor handler, in a fresh process as it is measured, answers the api's sample GET with 200 and
    the stored job's status (the probe checks both): a floor that failed early would not be a floor."""
    event = cold_start.EVENTS_DIR / cold_start.FIRST_CALLS["api"][0]
    with cold_start.stored_job_server() as endpoint:
        for floor in cold_start.API_FLOORS:
            path = str(cold_start.API_FLOORS_DIR / f"{floor}.py")
            imported, called = cold_start.first_call_seconds(path, endpoint, event, floor)
            assert imported > 0 and called > 0
