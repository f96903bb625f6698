"""The one use case: check a mass update job once (the six steps of the design).

1. the job is a `JobKey`, checked when it was made (at the edges): nothing invalid leaves the process;
2. get an access token (memory, secret, single-flight refresh);
3. ask Zoho; on INVALID_TOKEN get a new token once and ask once more;
4. write the result without ever moving the job backwards, and append a history item (a job that ends
   teaches its kind's prior: its rate, or for a kind that reports no counts, how long it ran);
5. publish "status changed" when the status changed and "finished" once per job when it became terminal;
6. return the state and `next_check_in` seconds from the polling policy.
A permanent error is recorded on the job (`last_error`) before it is raised.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NotRequired, TypedDict

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from zoho_watch.aws_errors import typed_aws_errors
from zoho_watch.errors import (
    PERMANENT_ERRORS,
    AwsUnavailable,
    ConnectionNotConfigured,
    EventPublishError,
    InvalidInput,
    ZohoWatchError,
)
from zoho_watch.job_kinds import KINDS, snapshot_of
from zoho_watch.jobs import DEFAULT_KIND, JobKey, Snapshot
from zoho_watch.polling import PollPolicy
from zoho_watch.services import Services, get_services
from zoho_watch.store import (
    FINISHED_EVENT_LEASE_SECONDS,
    Counts,
    JobView,
    PendingChange,
    pending_change,
    state_view,
)
from zoho_watch.store.table import write_backoff
from zoho_watch.token_secrets import AccessToken
from zoho_watch.waiters import answer_waiters, send_heartbeats

logger = Logger(child=True)
metrics = Metrics()


class CheckResult(TypedDict):
    """What one check returns (docs/interfaces.md): the job's state as stored after it, and what it did."""

    connection: str
    module: str
    job_id: str
    status: str | None
    counts: Counts
    progress: float | None
    terminal: bool
    first_seen_at: str | None
    finished_at: str | None
    checks: int
    last_error: dict[str, Any] | None
    watched: bool
    changed: bool  # this check changed the job's status
    checked_at: str | None  # when the stored state was checked (this check's time unless it was overtaken)
    next_check_in: int  # seconds, from the polling policy (0 once the job has finished)
    # Jobs of kinds other than mass update only: the kind, Zoho's own status word and the result's links.
    kind: NotRequired[str]
    zoho_status: NotRequired[str | None]
    results: NotRequired[dict[str, Any]]


# A checker that finds the finished event claimed looks again this often (real seconds), for at most the
# lease's length and this margin: the claimer publishes within the lease, or the lease runs out and it is
# ours. That wait is the waiting Lambda's own time budget, so it is real time (time.monotonic); the lease
# itself is on the library's clock (store.FINISHED_EVENT_LEASE_SECONDS).
CLAIM_POLL_SECONDS = 0.05
CLAIM_WAIT_MARGIN_SECONDS = 1.0
# Attempts of the write that records a published event (each with the SDK's own retries).
RECORD_PUBLISHED_ATTEMPTS = 5
_jitter = random.Random()

ZohoSlot = Callable[[], AbstractContextManager[Any]]
"""A factory of context managers, one held around each Zoho status call (e.g. a concurrency limit)."""


def ask_zoho_timed(
    services: Services, job: JobKey, zoho_slot: ZohoSlot | None = None
) -> tuple[Snapshot, float]:
    """Steps 2 and 3: a token, the status call, and on INVALID_TOKEN one new token and one more call.

    Returns the snapshot and the time (library clock) the answered status call was sent. Checks are ordered
    by that time, not by when the answer came: an answer that took longer may describe an older moment than
    one sent after it and received first. Each status call runs inside `zoho_slot()` when given, and nothing
    else does: a caller that limits its Zoho calls in flight holds a slot for the HTTP call only, not for
    token reads or store writes.
    """
    slot = zoho_slot or nullcontext

    def ask(token: AccessToken) -> tuple[Snapshot, float]:
        with slot():
            sent_at = services.clock()
            if job.kind == DEFAULT_KIND:
                snapshot = services.zoho.get_mass_update_status(
                    token.access_token, token.api_domain, job.module, job.job_id
                )
                return snapshot, sent_at
            kind = KINDS[job.kind]
            reply = services.zoho.get_job_status(
                token.access_token, token.api_domain, kind, job.module, job.job_id
            )
            return snapshot_of(reply), sent_at

    answer: tuple[Snapshot, float] = services.tokens(job.connection).call(ask)
    return answer


def check_job(
    job: JobKey,
    poll: dict[str, Any] | None = None,
    watcher: str | None = None,
    *,
    prefetched: dict[str, Any] | None = None,
    zoho_slot: ZohoSlot | None = None,
) -> CheckResult:
    """Check one job now and return its state as a JSON-ready dict (keys in docs/interfaces.md).

    `poll` ({"min_seconds", "max_seconds"}) bounds `next_check_in`; None means the bounds stored when the
    job was watched, else the configured defaults. `watcher` marks the job watched ("schedule" or
    "stepfunctions:<execution arn>"). `prefetched` is the job's raw STATE item if the caller has read it
    already (`JobStore.due_jobs(raw=True)`): the store then writes from it without reading the job again
    (a stale item costs one retry, never a wrong write). `zoho_slot` is held around each Zoho status call
    (see `ask_zoho_timed`). Raises the typed errors of `zoho_watch.errors`; an exception raised by `zoho_slot`
    passes through unchanged, with nothing recorded.
    """
    if not isinstance(job, JobKey):
        raise TypeError(f"check_job takes the job's JobKey, got {type(job).__name__}")
    if watcher is not None and (not isinstance(watcher, str) or not 1 <= len(watcher) <= 2048):
        raise InvalidInput("watcher must be a non-empty string of at most 2048 characters")
    services = get_services()
    settings = services.settings
    default_policy = PollPolicy(settings.poll_min_seconds, settings.poll_max_seconds)
    policy = None
    if poll is not None:
        policy = PollPolicy.from_poll(poll, default_policy.min_seconds, default_policy.max_seconds)
    store = services.store

    try:
        # AWS failures on the way to Zoho (the token's secrets and lease) are typed here, so that a refusal
        # is recorded on the job like Zoho's and a passing fault is counted as transient.
        with typed_aws_errors():
            snapshot, checked_at = ask_zoho_timed(services, job, zoho_slot)
    except ConnectionNotConfigured as error:
        # The caller's error, found before any call to Zoho: a job zoho-watch did not know stays unknown; a
        # watched one keeps the error and leaves the active index, as for any permanent error.
        store.record_error(job, error, at=services.clock(), known_only=True)
        logger.warning(
            "connection not configured", extra={"job_id": job.job_id, "connection": job.connection}
        )
        end_waits(services, job, error)
        raise
    except PERMANENT_ERRORS as error:
        store.record_error(job, error, at=services.clock())
        end_waits(services, job, error)
        metrics.add_metric(name="PermanentErrors", unit=MetricUnit.Count, value=1)
        logger.warning(
            "permanent error recorded on the job", extra={"job_id": job.job_id, "error": error.to_dict()}
        )
        raise
    except ZohoWatchError as error:
        metrics.add_metric(name="TransientErrors", unit=MetricUnit.Count, value=1)
        logger.info(
            "transient error", extra={"job_id": job.job_id, "code": error.code, "zoho_code": error.zoho_code}
        )
        raise
    metrics.add_metric(name="ZohoChecks", unit=MetricUnit.Count, value=1)

    outcome = store.record_check(
        job,
        snapshot,
        checked_at,
        policy,
        default_policy=default_policy,
        watcher=watcher,
        prefetched=prefetched,
    )
    state = outcome.state
    if outcome.became_terminal and outcome.previous_checked_at is not None:
        # The job ended between the check before and this one: it was seen this late at most.
        lag = max(0.0, checked_at - outcome.previous_checked_at)
        metrics.add_metric(name="FinishDetectionLagSeconds", unit=MetricUnit.Seconds, value=lag)
    change = outcome.pending_change
    if (
        change is not None
        and not outcome.stale
        and not state["terminal"]
        and (outcome.changed or not change.claimed_at(services.clock()))
    ):
        # The check that wrote the move publishes it; another leaves it to that one while its claim lasts (if
        # that one died, the next check that writes after the claim publishes it). A stale check leaves it
        # too; a finished job's last change goes out with its finished event, under that event's claim.
        publish_changed(services, state, change, claimed=outcome.changed)
    if state["terminal"] and (outcome.finished_event_pending or outcome.waiting):
        publish_finished(services, state)
    elif outcome.heartbeats:
        send_heartbeats(services, job, outcome.heartbeats)

    result: CheckResult = {
        "connection": state["connection"],
        "module": state["module"],
        "job_id": state["job_id"],
        "status": state["status"],
        "counts": state["counts"],
        "progress": state["progress"],
        "terminal": state["terminal"],
        "first_seen_at": state["first_seen_at"],
        "finished_at": state["finished_at"],
        "checks": state["checks"],
        "last_error": state["last_error"],
        "watched": state["watched"],
        "changed": outcome.changed and not outcome.stale,
        "checked_at": state["last_checked_at"],
        "next_check_in": 0 if state["terminal"] else outcome.next_check_in,
    }
    if "kind" in state:
        result["kind"] = state["kind"]
        result["zoho_status"] = state.get("zoho_status")
        result["results"] = state.get("results") or {}
    return result


def publish_changed(
    services: Services, state: JobView, change: PendingChange, *, claimed: bool = False
) -> None:
    """Publish the job's pending "status changed" event (`change`, to the state's status), then mark it
    published. It stays pending in the STATE item until then, so a failure loses nothing: EventPublishError
    is raised and the check's retry (or the next check, or the sweep for a finished job) publishes it.
    `claimed`: this check wrote the move and holds its claim, given back if the bus refuses the event."""
    job = JobKey.of(state)
    try:
        services.events.status_changed(state, change.previous_status)
    except Exception as error:
        if claimed:
            with contextlib.suppress(Exception):  # else the claim runs out: the event is late, not lost
                services.store.release_changed_event(job, state["status"], change)
        if isinstance(error, EventPublishError):
            raise
        message = "the status changed event was not published; the next check retries"
        raise EventPublishError(message) from None
    record_published(lambda: services.store.changed_event_published(job, state["status"], change))


def record_published(write: Callable[[], object]) -> None:
    """Record that an event is on the bus: the write is tried again after a passing AWS failure (jittered
    pauses), for an event recorded as still pending would be published a second time."""
    for attempt in range(RECORD_PUBLISHED_ATTEMPTS):
        try:
            with typed_aws_errors():
                write()
            return
        except AwsUnavailable:
            if attempt == RECORD_PUBLISHED_ATTEMPTS - 1:
                raise
            time.sleep(write_backoff(attempt, _jitter))


def publish_finished(services: Services, state: JobView) -> bool:
    """Make the finished job's announcements unless someone else does; True if this caller made them.

    They are its pending last change, its "finished" event and the answers to its waiters
    (`zoho_watch.waiters`). The claim is a lease in the store (`JobStore.claim_finished_event`), and each
    stays pending until it is made, so it is made at least once even if a container dies in between: the next
    check re-claims them once the lease has run out. The event is published exactly once unless a container
    dies between publishing it and recording it (`JobStore.finished_event_sent`): a checker that finds the
    claim held waits for the claimer (at most the lease, then it claims them itself), so a retry of a dead
    check, which may be the job's last check, still makes them; with no retry, the next sweep run does
    (`publish_pending_finished`). If EventBridge or Step Functions fails the claim is given back and the
    error raised (the next check or sweep run tries again). Consumers drop a duplicate by the `event_id`.
    """
    store = services.store
    job = JobKey.of(state)
    # This Lambda's patience with a live claimer (real time, see CLAIM_POLL_SECONDS), then EventPublishError.
    waited_until = time.monotonic() + FINISHED_EVENT_LEASE_SECONDS + CLAIM_WAIT_MARGIN_SECONDS
    while not store.claim_finished_event(job):
        if not store.announcements_pending(job):
            return False  # made by the claimer
        if time.monotonic() >= waited_until:
            raise EventPublishError(
                "another check holds the finished event and has not published it yet; the next check retries"
            )
        time.sleep(CLAIM_POLL_SECONDS)
    _announce_claimed(services, job)
    return True


def publish_pending_finished(services: Services, item: dict[str, Any]) -> bool:
    """Make the announcements a job left pending (`item`: from `JobStore.pending_finished_events`), no Zoho.

    Claims them without waiting: False when someone else holds the claim (that holder makes them, or its
    lease runs out and the next sweep run tries again) or they were made meanwhile; True once this caller
    made them. The event is the one the check would have published (same detail, previous status and
    `event_id`). If EventBridge or Step Functions fails the claim is given back and the error raised.
    """
    state = state_view(item)
    if not state["terminal"] and not item.get("waiters"):
        raise InvalidInput("only a finished job, or one with waiters, has announcements to make")
    return announce_now(services, JobKey.of(state))


def end_waits(services: Services, job: JobKey, error: ZohoWatchError) -> None:
    """The job's watch ended on `error` without an end of the job: its waiters (if any) are answered with it,
    now if this caller can, else by the sweep (the job waits in `ACTIVE#finished-event`)."""
    if services.store.end_waits(job, type(error).__name__, error.message):
        with contextlib.suppress(ZohoWatchError):  # the error that ended the watch is the caller's to raise
            announce_now(services, job)


def announce_now(services: Services, job: JobKey) -> bool:
    """Make the job's pending announcements if nobody holds their claim; True when this caller made them."""
    if not services.store.claim_finished_event(job):
        return False
    _announce_claimed(services, job)
    return True


def _announce_claimed(services: Services, job: JobKey) -> None:
    """Make the claimed announcements from the job's record as it is now, then mark them made (or give the
    claim back): its pending change first, as a check that lives sends them, then the "finished" event, then
    the waiters' answers."""
    store = services.store
    item = store.record(job)
    if item is None:
        return
    state = state_view(item)
    published = False
    try:
        change = pending_change(item)
        if change is not None:
            publish_changed(services, state, change)
        if item.get("finished_event_pending"):
            services.events.finished(state, item.get("finished_previous_status"))
            record_published(lambda: store.finished_event_sent(job))
            published = True
        with typed_aws_errors():
            answer_waiters(services, state, item)
    except Exception as error:
        store.release_finished_event(job)
        if isinstance(error, ZohoWatchError):
            raise
        raise EventPublishError("the finished event could not be published; the next check retries") from None
    store.finished_event_published(job)
    if published:
        metrics.add_metric(name="JobsFinished", unit=MetricUnit.Count, value=1)
