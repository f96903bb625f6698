"""The Step Functions watch loop's task: validate its settings, check the job once, decide the next step.

The loop state is the execution input the first time (`connection, module, job_id, poll, deadline,
generation, max_polls`), then the task's previous answer (docs/interfaces.md, "check_job task"). One task
run is `run_loop_check`: `loop_settings` refuses bad input before any call, `check_job` checks Zoho, and
`next_step` decides the wait (never past the deadline), whether the deadline has passed and whether the
execution hands over to a new generation (continue-as-new). Times come from the library's clock
(`Services.clock`), so a test or the embedded stack can freeze them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zoho_watch.aws_errors import typed_aws_errors
from zoho_watch.check import CheckResult, check_job, end_waits
from zoho_watch.config import MAX_POLLS_LIMIT
from zoho_watch.errors import DeadlineExceeded, InvalidInput
from zoho_watch.jobs import DEFAULT_CONNECTION, JobKey
from zoho_watch.polling import PollPolicy
from zoho_watch.services import Services, get_services
from zoho_watch.watches import STEPFUNCTIONS_WATCHER_PREFIX, iso_z

# The state machine's TimeoutSeconds is 30 days; a generation hands over well before it.
GENERATION_MAX_SECONDS = 25 * 86400

# Step Functions keeps at most 25,000 events in an execution's history. What statemachine/watch_job.asl.json
# writes there, counted so that a generation hands over before it could reach the limit, retries included:
HISTORY_EVENT_LIMIT = 25_000
# ExecutionStarted, then the StartedByZohoWatch? Choice entered and exited: the gate that refuses a start
# zoho-watch did not make runs once per execution, before the first check (a refused execution never reaches
# the task that counts).
START_EVENTS = 1 + 2
# CheckJob entered, scheduled, started, succeeded, exited; the Choice entered and exited; the Wait entered and
# exited.
EVENTS_PER_CHECK = 9
# A retried attempt: TaskFailed, then TaskScheduled and TaskStarted again.
EVENTS_PER_RETRY = 3
# CheckJob's retriers allow 10 + 8 + 6 retries of one check at most.
MAX_RETRIES_PER_CHECK = 24
# The hand-over: StartNextGeneration entered, scheduled, started, succeeded, exited, with its 6 retries at
# most; the Succeed state entered and exited; ExecutionSucceeded.
HANDOVER_EVENTS = 5 + 6 * EVENTS_PER_RETRY + 2 + 1
WORST_CHECK_EVENTS = EVENTS_PER_CHECK + MAX_RETRIES_PER_CHECK * EVENTS_PER_RETRY


def parse_time(value: Any, name: str) -> datetime | None:
    """An ISO-8601 time with a time zone (or None), as an aware datetime; InvalidInput otherwise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be an ISO-8601 time or null")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO-8601 time, got {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name} must carry a time zone (e.g. 2030-01-01T00:00:00Z)")
    return parsed


def _count(value: Any, name: str, default: int, low: int, high: int) -> int:
    """A whole number within [low, high]; `default` when absent."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high}")
    return value


def loop_settings(loop_state: Any, services: Services | None = None) -> dict[str, Any]:
    """Validate the loop state's watch settings and fill the defaults; raise InvalidInput on bad input.

    Returns `connection, module, job_id, kind, poll, deadline, generation, polls, max_polls, history_events,
    resumes`, the keys the loop carries from one check to the next (`history_events`: the generation's
    history so far; `resumes`: how often the sweep resumed this watch, see `zoho_watch.healing`).
    """
    if not isinstance(loop_state, dict):
        raise InvalidInput("the task input must be an object")
    config = (services or get_services()).settings
    poll = loop_state.get("poll")
    if poll is not None:
        # Validates the bounds (InvalidInput) before any call to Zoho.
        policy = PollPolicy.from_poll(poll, config.poll_min_seconds, config.poll_max_seconds)
        poll = policy.as_dict()
    deadline = parse_time(loop_state.get("deadline"), "deadline")
    job = JobKey.of({"connection": DEFAULT_CONNECTION, **loop_state})
    return {
        "connection": job.connection,
        "module": job.module,
        "job_id": job.job_id,
        "kind": job.kind,
        "poll": poll,
        "deadline": iso_z(deadline) if deadline else None,
        "generation": _count(loop_state.get("generation"), "generation", 0, 0, 1_000_000),
        "polls": _count(loop_state.get("polls"), "polls", 0, 0, 1_000_000),
        "max_polls": _count(
            loop_state.get("max_polls"), "max_polls", config.max_polls_per_execution, 1, MAX_POLLS_LIMIT
        ),
        "history_events": _count(
            loop_state.get("history_events"), "history_events", START_EVENTS, 0, HISTORY_EVENT_LIMIT
        ),
        "resumes": _count(loop_state.get("resumes"), "resumes", 0, 0, 1_000_000),
    }


def next_step(
    state: CheckResult,
    settings: dict[str, Any],
    now: datetime,
    started_at: datetime | None,
    retries: int = 0,
) -> dict[str, Any]:
    """What the loop does after this check: `polls`, `history_events`, `next_check_in`, `deadline_passed`,
    `continue_as_new`.

    The wait is the check's `next_check_in` (at least 1 s, Wait states take whole seconds), capped so the
    next check happens at the deadline rather than after it. `retries` is how many times Step Functions
    retried this check. A generation hands over after `max_polls` polls, before one more check (with every
    retry it may take) and the hand-over could pass the history limit, or before it would outlive
    GENERATION_MAX_SECONDS.
    """
    polls = settings["polls"] + 1
    history_events = settings["history_events"] + EVENTS_PER_CHECK + EVENTS_PER_RETRY * retries
    history_full = history_events + WORST_CHECK_EVENTS + HANDOVER_EVENTS > HISTORY_EVENT_LIMIT
    deadline = parse_time(settings["deadline"], "deadline")
    terminal = bool(state.get("terminal"))
    wait = max(1, int(state.get("next_check_in") or 1))
    deadline_passed = False
    if deadline is not None and not terminal:
        left = (deadline - now).total_seconds()
        deadline_passed = left <= 0
        # Look once more right at the deadline rather than sleep past it.
        wait = max(1, min(wait, math.ceil(left))) if not deadline_passed else wait
    generation_age = (now - started_at).total_seconds() if started_at else 0.0
    continue_as_new = (not terminal and not deadline_passed) and (
        polls >= settings["max_polls"] or history_full or generation_age + wait > GENERATION_MAX_SECONDS
    )
    return {
        "polls": polls,
        "history_events": history_events,
        "next_check_in": wait,
        "deadline_passed": deadline_passed,
        "continue_as_new": continue_as_new,
    }


@dataclass(frozen=True)
class LoopCheck:
    """One run of the loop's task: the validated settings, the job's state and the loop's next step."""

    settings: dict[str, Any]
    state: CheckResult
    step: dict[str, Any]

    def answer(self) -> dict[str, Any]:
        """The task's answer, which is also the next check's loop state (docs/interfaces.md)."""
        return {**self.state, **self.settings, **self.step}


def run_loop_check(
    loop_state: Any,
    execution_id: str | None = None,
    execution_started_at: Any = None,
    retries: Any = 0,
) -> LoopCheck:
    """Check the job of `loop_state` once for execution `execution_id` and decide the loop's next step.

    Bad input (settings, `execution_started_at`, `retries`: this check's retries so far) raises InvalidInput
    before any call. A passed deadline
    takes the job out of the watched jobs (the loop ends there). Zoho's and the store's typed errors are
    raised as they are, and an AWS failure as `AwsUnavailable` or `AwsRequestError`: their class names are
    the error names the state machine's Retry and Catch match.
    """
    services = get_services()
    settings = loop_settings(loop_state, services)
    started_at = parse_time(execution_started_at, "execution_started_at")
    retry_count = _count(retries, "retry_count", 0, 0, 1_000)
    watcher = STEPFUNCTIONS_WATCHER_PREFIX + execution_id if execution_id else None
    job = JobKey.of(settings)
    with typed_aws_errors():
        state = check_job(job, poll=settings["poll"], watcher=watcher)
        now = datetime.fromtimestamp(services.clock(), UTC)
        step = next_step(state, settings, now, started_at, retry_count)
        if step["deadline_passed"]:
            # The loop ends here: the job must not look watched any more, and its waiters are told.
            services.store.unwatch(job)
            end_waits(services, job, DeadlineExceeded("the watch reached its deadline before the job ended"))
    return LoopCheck(settings=settings, state=state, step=step)
