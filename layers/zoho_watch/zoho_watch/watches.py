"""Watches: start and stop watching a job, by a Step Functions execution or by the scheduled sweep.

A watch in `stepfunctions` mode is one execution of the watch state machine, named deterministically
`{module}-{job_id}-g{generation}`: two concurrent starts make one execution (the second one gets
ExecutionAlreadyExists and finds it running: "already watching"). An ended execution's name cannot be
reused, so a watch started again takes the next generation. A watch in `schedule` mode only marks the job
for the sweep. The job's `watcher` in the store says who watches it (docs/interfaces.md, "Watchers"), and a
job watched in one mode must be unwatched before the other mode can take it.

Callers: the API's `PUT`/`DELETE .../watch` routes (and any other front end, such as a CLI).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Logger

from zoho_watch.config import Settings
from zoho_watch.connections import require_configured
from zoho_watch.errors import (
    ConfigError,
    InvalidInput,
    JobNotRecorded,
    TooManyWatches,
    WatchConflict,
    WatchStopped,
    ZohoWatchError,
)
from zoho_watch.jobs import DEFAULT_KIND, SCHEDULE_WATCHER, JobKey
from zoho_watch.polling import PollPolicy
from zoho_watch.services import Services, get_services
from zoho_watch.store import JobView
from zoho_watch.waiters import validate_heartbeat, validate_task_token, waiter_id

logger = Logger(child=True)

WatchMode = Literal["stepfunctions", "schedule"]
STEPFUNCTIONS_WATCHER_PREFIX = "stepfunctions:"
# Step Functions execution names are at most 80 characters.
EXECUTION_NAME_LIMIT = 80
# Generations a watch may reach (continue-as-new and restarts), and names tried per start.
MAX_GENERATION = 9999
MAX_START_ATTEMPTS = 50


@dataclass(frozen=True)
class WatchOptions:
    """How to watch a job (see `start_watch`): the mode, the poll bounds, the deadline, a waiter's token and
    its heartbeat interval."""

    mode: WatchMode = "stepfunctions"
    poll: dict[str, Any] | None = None
    deadline: datetime | None = None
    task_token: str | None = None
    heartbeat_seconds: int | None = None


@dataclass(frozen=True)
class WatchOutcome:
    """What `start_watch` or `stop_watch` did, for the caller to shape into its answer."""

    watching: bool
    already: bool  # the job was already in the requested state
    message: str
    state: JobView | None  # the job's stored state afterwards
    mode: WatchMode | None = None
    execution_arn: str | None = None
    deadline: str | None = None  # the new execution's deadline (ISO-8601 UTC)
    finished: bool = False  # the job had already finished: there was nothing to watch

    @property
    def execution_name(self) -> str | None:
        """The execution's name (the last part of its ARN), or None."""
        return self.execution_arn.rsplit(":", 1)[-1] if self.execution_arn else None


def execution_name(module: str, job_id: str, generation: int = 0) -> str:
    """The deterministic execution name of a watch: `{module}-{job_id}-g{generation}`."""
    return f"{module}-{job_id}-g{generation}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of a named execution of a state machine."""
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def generation_of(arn: str) -> int | None:
    """The generation number at the end of an execution ARN (`...-g{n}`), or None."""
    head, _, number = arn.rpartition("-g")
    return int(number) if head and number.isdigit() else None


def iso_z(moment: datetime) -> str:
    """An aware datetime as ISO-8601 UTC with a `Z` suffix (the form of deadlines in the loop state)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def mode_of(watcher: str | None) -> WatchMode | None:
    """The watch mode of a job's `watcher` value (None when no one watches it)."""
    if watcher is None:
        return None
    return "schedule" if watcher == SCHEDULE_WATCHER else "stepfunctions"


def state_machine_arn(settings: Settings) -> str:
    """The watch state machine's ARN (setting STATE_MACHINE_ARN); ConfigError when it is not set."""
    if not settings.state_machine_arn:
        raise ConfigError("stepfunctions mode is not available: STATE_MACHINE_ARN is not set")
    return settings.state_machine_arn


def _poll_bounds(poll: dict[str, Any] | None) -> dict[str, int] | None:
    """The poll bounds given (validated; InvalidInput otherwise), or None when none are."""
    if poll is None:
        return None
    PollPolicy.from_poll(poll, 1, 86400)
    given = {name: int(value) for name, value in poll.items() if value is not None}
    return given or None


def _watched_by(stored: JobView | None) -> str | None:
    """Who watches the stored job now (None when it is not watched)."""
    if stored is None or not stored.get("watched"):
        return None
    return stored.get("watcher")


def start_watch(
    job: JobKey,
    *,
    mode: WatchMode = "stepfunctions",
    poll: dict[str, Any] | None = None,
    deadline: datetime | None = None,
    task_token: str | None = None,
    heartbeat_seconds: int | None = None,
) -> WatchOutcome:
    """Watch the job until it finishes; idempotent.

    `task_token`: a caller's Step Functions task waits for the job's end (`zoho_watch.waiters`); it is
    registered on the job once the watch stands, and answered at once when the job has finished already.
    `heartbeat_seconds` (its task's HeartbeatSeconds): the job is checked at least twice that often from
    its next check on, each check sending the task a heartbeat.

    `poll` ({"min_seconds", "max_seconds"}, either optional) bounds the waits between checks; `deadline`
    (an aware datetime, stepfunctions mode only; default the setting DEFAULT_DEADLINE_HOURS from now) stops
    the watch.
    A finished job is not watched again (`finished=True`). Raises InvalidInput for bad input and
    ConnectionNotConfigured when the connection has no credentials secret, and WatchConflict when the job is
    watched in the other mode, before anything is written or started;
    TooManyWatches when no execution name is free; ConfigError without STATE_MACHINE_ARN.
    """
    if mode not in ("stepfunctions", "schedule"):
        raise InvalidInput("mode must be stepfunctions or schedule")
    poll = _poll_bounds(poll)
    if task_token is not None:
        validate_task_token(task_token)
    if heartbeat_seconds is not None:
        if task_token is None:
            raise InvalidInput("heartbeat_seconds goes with a task_token: the heartbeats are its task's")
        validate_heartbeat(heartbeat_seconds)
    services = get_services()
    require_configured(services, job.connection)  # a watch of an unknown connection would only fail later
    stored = services.store.get(job)
    if stored is not None and stored.get("terminal"):
        if task_token is not None:
            stored = _add_waiter(services, job, task_token, heartbeat_seconds)
        return WatchOutcome(
            watching=False, already=True, message="the job has already finished", state=stored, finished=True
        )
    watcher = _watched_by(stored)
    if mode == "schedule":
        outcome = _watch_by_schedule(services, job, poll, deadline, watcher)
    else:
        outcome = _watch_by_state_machine(services, job, poll, deadline, watcher)
    if task_token is not None:  # once the watch stands: a refused request registers nobody
        waiting = _add_waiter(services, job, task_token, heartbeat_seconds)
        outcome = dataclasses.replace(outcome, state=waiting)
    return outcome


def start_watch_with(job: JobKey, options: WatchOptions) -> WatchOutcome:
    """`start_watch` with the settings of `options` (as the API, watch requests and submissions hold them)."""
    return start_watch(
        job,
        mode=options.mode,
        poll=options.poll,
        deadline=options.deadline,
        task_token=options.task_token,
        heartbeat_seconds=options.heartbeat_seconds,
    )


def _add_waiter(
    services: Services, job: JobKey, task_token: str, heartbeat_seconds: int | None = None
) -> JobView:
    """Register the waiter on the job; answer it at once if the job has finished (even meanwhile)."""
    state = services.store.add_waiter(job, waiter_id(task_token), task_token, heartbeat_seconds)
    if state.get("terminal"):
        from zoho_watch.check import announce_now  # Zoho's client only where a waiter may be answered

        with contextlib.suppress(ZohoWatchError):  # else the sweep answers it (it is due in the index)
            announce_now(services, job)
    return state


def _watch_by_schedule(
    services: Services,
    job: JobKey,
    poll: dict[str, int] | None,
    deadline: datetime | None,
    watcher: str | None,
) -> WatchOutcome:
    if deadline is not None:
        raise InvalidInput("deadline applies to stepfunctions mode only")
    if watcher is not None and watcher != SCHEDULE_WATCHER:
        raise WatchConflict(
            "WATCHED_BY_STATE_MACHINE", f"the job is watched by {watcher}; DELETE the watch first"
        )
    state = services.store.watch(job, watcher=SCHEDULE_WATCHER, poll=poll)
    return WatchOutcome(
        watching=True,
        already=watcher is not None,
        mode="schedule",
        message="already watching" if watcher else "the sweep will check the job",
        state=state,
    )


def _watch_by_state_machine(
    services: Services,
    job: JobKey,
    poll: dict[str, int] | None,
    deadline: datetime | None,
    watcher: str | None,
) -> WatchOutcome:
    if watcher == SCHEDULE_WATCHER:
        raise WatchConflict("WATCHED_BY_SCHEDULE", "the job is watched by the sweep; DELETE the watch first")
    settings = services.settings
    now = datetime.fromtimestamp(services.clock(), UTC)
    if deadline is None:
        deadline = now + timedelta(hours=settings.default_deadline_hours)
    elif deadline.tzinfo is None:
        raise InvalidInput("deadline must carry a time zone")
    elif deadline <= now:
        raise InvalidInput("deadline must be in the future")
    if len(execution_name(job.module, job.job_id, MAX_GENERATION)) > EXECUTION_NAME_LIMIT:
        raise InvalidInput(
            f"module and job_id are too long for an execution name ({EXECUTION_NAME_LIMIT} characters);"
            " use mode=schedule"
        )
    machine = state_machine_arn(settings)
    deadline_text = iso_z(deadline)
    watch_input = {
        **_job_input(job),
        "poll": poll,
        "deadline": deadline_text,
        "generation": 0,
        "max_polls": settings.max_polls_per_execution,
        # StartExecution with the name and input of a running execution returns that execution as if it had
        # just started it: a request of its own in the input makes a concurrent second start fail with
        # ExecutionAlreadyExists instead, so exactly one caller is told it started the watch.
        "start_request": uuid.uuid4().hex,
    }
    arn, already = _start_or_find_execution(services.stepfunctions, machine, watch_input, watcher)
    state = services.store.watch(job, watcher=STEPFUNCTIONS_WATCHER_PREFIX + arn, poll=poll)
    logger.info("watch requested", extra={"execution_arn": arn, "already": already})
    return WatchOutcome(
        watching=True,
        already=already,
        mode="stepfunctions",
        message="already watching" if already else "watching",
        execution_arn=arn,
        deadline=None if already else deadline_text,
        state=state,
    )


# What a resumed watch keeps of its ended execution's input (the rest starts afresh with the generation).
_RESUMED_SETTINGS = ("poll", "deadline", "max_polls")


def _job_input(job: JobKey) -> dict[str, Any]:
    """The job in a watch execution's input (its kind named when it is not a mass update)."""
    named = {"connection": job.connection, "module": job.module, "job_id": job.job_id}
    return named if job.kind == DEFAULT_KIND else {**named, "kind": job.kind}


def resumes_of(execution_input: str | None) -> int:
    """How many times the watch of an execution (its input, as JSON text) was resumed before it."""
    try:
        count = json.loads(execution_input or "{}").get("resumes")
    except (ValueError, AttributeError):
        return 0
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else 0


def resume_watch(job: JobKey, ended_watcher: str, ended: dict[str, Any]) -> str | None:
    """Start the next generation of a watch whose execution ended before its job did; its ARN, or None.

    `ended` is the ended execution as DescribeExecution gave it: the new one runs on its state machine with
    its settings (poll bounds, deadline, polls per execution), and carries the count of resumes (the loop
    passes it on to its later generations). The job is handed over only if
    `ended_watcher` still watches it; otherwise (stopped, restarted or finished meanwhile) an execution
    started here is stopped again and None is returned.
    """
    stepfunctions = get_services().stepfunctions
    previous = json.loads(ended.get("input") or "{}")
    watch_input: dict[str, Any] = _job_input(job)
    watch_input |= {name: previous[name] for name in _RESUMED_SETTINGS if previous.get(name) is not None}
    watch_input["resumes"] = resumes_of(ended.get("input")) + 1
    watch_input["start_request"] = uuid.uuid4().hex
    arn, already = _start_or_find_execution(
        stepfunctions, ended["stateMachineArn"], watch_input, ended_watcher
    )
    if get_services().store.hand_over(job, ended_watcher, STEPFUNCTIONS_WATCHER_PREFIX + arn):
        logger.info("watch resumed", extra={"ended": ended_watcher, "execution_arn": arn, "already": already})
        return arn
    if not already:
        with contextlib.suppress(stepfunctions.exceptions.ExecutionDoesNotExist):
            stepfunctions.stop_execution(executionArn=arn, cause="the job is no longer this watch's")
    return None


def _execution_running(stepfunctions: Any, arn: str) -> bool:
    """True when the execution exists and is RUNNING."""
    try:
        return stepfunctions.describe_execution(executionArn=arn)["status"] == "RUNNING"
    except (stepfunctions.exceptions.ExecutionDoesNotExist, stepfunctions.exceptions.InvalidArn):
        return False


def _start_or_find_execution(
    stepfunctions: Any, machine: str, watch_input: dict[str, Any], watcher: str | None
) -> tuple[str, bool]:
    """Start the job's watch execution, or find the one running: (execution ARN, already running).

    Names are deterministic, `{module}-{job_id}-g{n}`, so two concurrent starts make one execution. A name
    that belongs to an ended execution (a watch that was stopped, or a past generation) cannot be reused:
    the next generation number is tried instead, starting after the generation the store last saw.
    """
    module, job_id = watch_input["module"], watch_input["job_id"]
    first = 0
    if watcher is not None and watcher.startswith(STEPFUNCTIONS_WATCHER_PREFIX):
        known = watcher.removeprefix(STEPFUNCTIONS_WATCHER_PREFIX)
        if _execution_running(stepfunctions, known):
            return known, True
        first = (generation_of(known) or 0) + 1
    for generation in range(first, min(first + MAX_START_ATTEMPTS, MAX_GENERATION + 1)):
        name = execution_name(module, job_id, generation)
        try:
            started = stepfunctions.start_execution(
                stateMachineArn=machine,
                name=name,
                input=json.dumps({**watch_input, "generation": generation}),
            )
            return started["executionArn"], False
        except stepfunctions.exceptions.ExecutionAlreadyExists:
            pass
        arn = execution_arn(machine, name)
        if _execution_running(stepfunctions, arn):
            return arn, True  # someone started this watch first
    raise TooManyWatches(f"no free execution name for {module} job {job_id}; use mode=schedule")


def stop_watch(job: JobKey) -> WatchOutcome:
    """Stop watching the job: stop its Step Functions execution, or take it out of the sweep. Idempotent.

    Raises JobNotRecorded when zoho-watch has never seen the job.
    """
    services = get_services()
    store = services.store
    stored = store.get(job)
    if stored is None:
        raise JobNotRecorded(job)
    watcher = _watched_by(stored)
    stopped = None
    if watcher and watcher.startswith(STEPFUNCTIONS_WATCHER_PREFIX):
        stopped = watcher.removeprefix(STEPFUNCTIONS_WATCHER_PREFIX)
        stepfunctions = services.stepfunctions
        gone = (stepfunctions.exceptions.ExecutionDoesNotExist, stepfunctions.exceptions.InvalidArn)
        with contextlib.suppress(*gone):  # already ended or never started: nothing left to stop
            stepfunctions.stop_execution(executionArn=stopped, cause="stopped through the zoho-watch API")
    state = store.unwatch(job) or stored
    if not state.get("terminal"):  # nobody will see the job's end for the callers waiting on it: tell them
        from zoho_watch.check import end_waits  # Zoho's client only where a waiter may be answered

        end_waits(services, job, WatchStopped("the watch was stopped through the zoho-watch API"))
    return WatchOutcome(
        watching=False,
        already=watcher is None,
        mode=mode_of(watcher),
        message="was not watched" if watcher is None else "stopped watching",
        execution_arn=stopped,
        state=state,
    )
