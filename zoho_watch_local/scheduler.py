"""Fire the template's schedules locally: moto stores rules and schedules but never triggers them.

Each enabled schedule with a `rate(...)` expression gets a thread that invokes its function every period
of the stack's clock (`VirtualClock`: a tick is a wake-up the clock can jump to; a run holds the clock still),
through moto's Lambda API. The event is the one EventBridge sends (`detail-type: Scheduled Event`,
`source: aws.events`, `time` in simulated time) or the schedule's `Input`. A run that is still going when
the next is due is not overlapped: the next one starts when it ends, and the ticks it missed are skipped.
`cron(...)` schedules are not fired on their own (call `fire(name)`), and `fire` runs any schedule once,
now, for tests and demos.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config

from zoho_watch_local.aws import ACCOUNT_ID, REGION, LocalAws
from zoho_watch_local.clock import VirtualClock
from zoho_watch_local.deploy import Schedule

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of a `rate(N unit)` expression in seconds; None for other expressions (cron, at)."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    if count < 1 or (count == 1) != (match.group(2) == unit):
        raise ValueError(f"invalid schedule expression {expression!r} (use '1 minute' or 'N minutes')")
    return float(count * _UNIT_SECONDS[unit])


@dataclass
class Firing:
    """The outcome of one run of a schedule."""

    schedule: str
    started_at: str
    payload: Any
    error: str | None


@dataclass
class _Runner:
    schedule: Schedule
    lock: threading.Lock = field(default_factory=threading.Lock)
    runs: int = 0


class LocalScheduler:
    """Runs the deployment's schedules (see module docstring)."""

    def __init__(self, aws: LocalAws, schedules: list[Schedule], clock: VirtualClock) -> None:
        self._aws = aws
        self._runners = {schedule.name: _Runner(schedule) for schedule in schedules}
        self._clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.history: list[Firing] = []
        self._lambda: Any = None

    @property
    def names(self) -> list[str]:
        """The schedules' names."""
        return sorted(self._runners)

    def _client(self) -> Any:
        if self._lambda is None:
            import boto3

            config = Config(read_timeout=900, retries={"max_attempts": 0})
            self._lambda = boto3.client("lambda", config=config, **self._aws.client_kwargs())
        return self._lambda

    def start(self) -> LocalScheduler:
        """Start one timer thread per enabled rate schedule."""
        self._stop.clear()
        for runner in self._runners.values():
            schedule = runner.schedule
            period = rate_seconds(schedule.expression)
            if not schedule.enabled:
                continue
            if period is None:
                logger.warning(
                    "schedule %s (%s) is not fired automatically", schedule.name, schedule.expression
                )
                continue
            # The first tick is counted from now, not from when the thread gets to run.
            thread = threading.Thread(
                target=self._loop,
                args=(runner, period, self._clock.now() + period),
                name=f"schedule-{schedule.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop the timers (a run in progress finishes)."""
        self._stop.set()
        self._clock.nudge()  # the timers wait on the clock: they look at `_running` again now
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _loop(self, runner: _Runner, period: float, first_tick: float) -> None:
        clock, hold = self._clock, self._clock.hold()
        tick = first_tick
        try:
            while clock.wait_until(tick, hold=hold, keep_waiting=self._running) and self._running():
                try:
                    self._run(runner)
                except Exception:
                    logger.exception("schedule %s failed to run", runner.schedule.name)
                tick += period
                if tick <= clock.now():  # the run outlasted its period: start the next one now, skip the rest
                    tick = clock.now()
        finally:
            hold.release()

    def _running(self) -> bool:
        return not self._stop.is_set()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def fire(self, name: str) -> Firing:
        """Run the schedule `name` once, now, and return what its function answered."""
        runner = self._runners.get(name)
        if runner is None:
            raise KeyError(f"no schedule {name!r}; known: {', '.join(self.names) or 'none'}")
        return self._run(runner)

    def event(self, schedule: Schedule) -> Any:
        """The event a run of `schedule` sends to its function."""
        if schedule.input is not None:
            return json.loads(schedule.input)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": self._now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{schedule.name}"],
            "detail": {},
        }

    def _run(self, runner: _Runner) -> Firing:
        with runner.lock:  # one run of a schedule at a time
            started = self._now().isoformat()
            reply = self._client().invoke(
                FunctionName=runner.schedule.function_name,
                Payload=json.dumps(self.event(runner.schedule)).encode(),
            )
            payload = json.loads(reply["Payload"].read() or b"null")
            error = None
            if reply.get("FunctionError"):
                error = f"{payload.get('errorType')}: {payload.get('errorMessage')}"
                logger.warning("schedule %s: %s", runner.schedule.name, error)
            runner.runs += 1
            firing = Firing(runner.schedule.name, started, payload, error)
            self.history.append(firing)
            return firing
