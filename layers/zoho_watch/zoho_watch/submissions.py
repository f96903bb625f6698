"""Submit and watch: a mass update scheduled on Zoho with zoho-watch's own tokens, then watched.

An integration that runs mass updates through zoho-watch never refreshes Zoho tokens itself, so it never
competes with zoho-watch for Zoho's 10 new tokens per 10 minutes. A custom view or a territory gives a job,
which is then watched like any other (`zoho_watch.watches.start_watch`, task token included); an update by
ids runs at once and its answer is each record's result.

Zoho's call is the one step that must not run twice. With an idempotency key, Powertools' Idempotency utility
keeps Zoho's first answer (the job id, or the records' results) in the jobs table for `IDEMPOTENCY_HOURS`: a
request retried with the same key gets that answer back without calling Zoho again, then starts or joins the
watch (idempotent itself), registering its own task token. A key given again with another request is refused
(`IdempotencyKeyReused`); while the first request still runs, `RequestInProgress`. A request that failed keeps
nothing: it may be sent again with the same key. Keys are per connection, shared by every entry point.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from zoho_watch.aws_errors import classify
from zoho_watch.connections import require_configured
from zoho_watch.errors import (
    AwsUnavailable,
    IdempotencyKeyReused,
    InvalidInput,
    RequestInProgress,
)
from zoho_watch.mass_updates import MassUpdate, MassUpdateReply, RecordResult, job_of
from zoho_watch.services import Services, get_services
from zoho_watch.token_secrets import AccessToken
from zoho_watch.watches import WatchOptions, WatchOutcome, start_watch_with

logger = Logger(child=True)

# How long a request's first answer is kept for retries with the same idempotency key.
IDEMPOTENCY_HOURS = 24
# Where the kept answers live in the jobs table: this partition, one item per key (sort key: a digest).
IDEMPOTENCY_PARTITION = "IDEMPOTENCY#mass-update"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # printable ASCII without spaces, as HTTP headers carry it


@dataclass(frozen=True)
class Submitted:
    """What a submission did: Zoho's answer, the watch of the job it scheduled, and whether the answer is an
    earlier request's (same idempotency key)."""

    update: MassUpdate
    reply: MassUpdateReply
    watch: WatchOutcome | None = None
    replayed: bool = False


def validate_idempotency_key(key: Any) -> str:
    """The key if it is 1 to 255 printable ASCII characters without spaces, else InvalidInput."""
    if not isinstance(key, str) or not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        raise InvalidInput("an idempotency key is 1 to 255 printable ASCII characters without spaces")
    return key


def submit_mass_update(
    update: MassUpdate,
    watch: WatchOptions | None = None,
    *,
    idempotency_key: str | None = None,
    lambda_context: Any = None,
) -> Submitted:
    """Submit `update` to Zoho, then watch the job it scheduled with `watch` (default options).

    An update by ids has no job: `watch` must then be None. `lambda_context` (the invocation's) lets a request
    that died mid-way free its idempotency key when its function's time is up, not after IDEMPOTENCY_HOURS.
    Bad input raises InvalidInput before any call; Zoho's refusals their typed errors (`JobAlreadyScheduled`
    for a custom view already being updated).
    """
    if not update.scheduled and watch is not None:
        raise InvalidInput("an update by ids runs at once: there is no job to watch or wait for")
    if idempotency_key is not None:
        validate_idempotency_key(idempotency_key)
    services = get_services()
    require_configured(services, update.connection)
    if idempotency_key is None:
        reply, replayed = _submit(services, update), False
    else:
        reply, replayed = _submit_once(services, update, idempotency_key, lambda_context)
    if not update.scheduled:
        return Submitted(update, reply, replayed=replayed)
    outcome = start_watch_with(job_of(update, reply), watch or WatchOptions())
    return Submitted(update, reply, outcome, replayed)


def _submit(services: Services, update: MassUpdate) -> MassUpdateReply:
    """Zoho's mass update call with the connection's token (a new token once on INVALID_TOKEN)."""

    def send(token: AccessToken) -> MassUpdateReply:
        zoho = services.zoho
        reply: MassUpdateReply = zoho.submit_mass_update(token.access_token, token.api_domain, update)
        return reply

    reply: MassUpdateReply = services.tokens(update.connection).call(send)
    logger.info(
        "mass update submitted",
        extra={"crm_module": update.module, "job_id": reply.job_id, "records": len(reply.records)},
    )
    return reply


def _submit_once(
    services: Services, update: MassUpdate, key: str, lambda_context: Any
) -> tuple[MassUpdateReply, bool]:
    """`_submit` at most once per (connection, key): Zoho's first answer, and whether it was kept from an
    earlier request."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    ran: list[bool] = []

    def submit(request: dict[str, Any]) -> dict[str, Any]:
        ran.append(True)
        return dataclasses.asdict(_submit(services, update))

    config = IdempotencyConfig(
        event_key_jmespath="[connection, key]",
        payload_validation_jmespath="update",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_HOURS * 3600,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    store = DynamoDBPersistenceLayer(
        table_name=services.settings.table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PARTITION,
        expiry_attr="expires_at",  # the table's TTL attribute: kept answers go away by themselves
        boto3_client=services.dynamodb,
    )
    once = idempotent_function(
        data_keyword_argument="request", persistence_store=store, config=config, key_prefix="mass-update"
    )(submit)
    request = {"connection": update.connection, "key": key, "update": update.to_dict()}
    try:
        answer = once(request=request)
    except IdempotencyValidationError:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for another request: use a new key for a new request"
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise RequestInProgress(
            "a request with this Idempotency-Key is still being served: ask again in a few seconds"
        ) from None
    except IdempotencyPersistenceLayerError as error:
        typed = classify(error)
        raise typed or AwsUnavailable(f"the idempotency record could not be kept ({error.message})") from None
    return _reply_of(answer), not ran


def _reply_of(answer: dict[str, Any]) -> MassUpdateReply:
    records = tuple(RecordResult(**record) for record in answer.get("records") or ())
    return MassUpdateReply(job_id=answer.get("job_id"), records=records, message=answer.get("message") or "")
