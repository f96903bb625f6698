"""The rate prior of each (connection, module): the throughput learnt from its jobs seen finishing (and how
far their progress strayed from the estimates, `priors.observed_end_error`), one item
`pk = RATE#{connection}#{module}` (`#{kind}` after it for the jobs of a kind other than mass update), `sk =
RATE`, kept for a while in each container (see `rate_prior`). For a kind that reports no counts it is learnt
from how long its completed jobs ran (`priors.observed_sample`), one run per unit of work
(`RatePrior.per_run`)."""

from __future__ import annotations

import math
import threading
from typing import Any

from aws_lambda_powertools import Logger

from zoho_watch.errors import InvalidInput
from zoho_watch.job_kinds import KINDS
from zoho_watch.jobs import DEFAULT_KIND, JobKey, validate_connection, validate_kind, validate_module
from zoho_watch.priors import RatePrior
from zoho_watch.store.items import RATE_SK, _deserialize, _serialize, iso_utc, rate_pk, rate_scope
from zoho_watch.store.table import StoreTable

logger = Logger(child=True)

_MAX_RATE_ATTEMPTS = 5
# How long (seconds, library clock) a container keeps a (connection, module)'s rate prior: a sweep of many
# jobs of one module reads it once. The prior is a hint, so a few seconds' staleness across containers costs
# nothing. The library's clock, not a real-time one: on AWS they are the same, and on the embedded stack the
# cache then expires on the simulated timeline the jobs run on, whatever the machine's speed.
RATE_PRIOR_CACHE_SECONDS = 60.0


class RatePriors(StoreTable):
    """`rate_prior` and `learn_rate` of a `JobStore`, with the container's cache of the priors."""

    def _start_rate_cache(self, rate_prior_cache_seconds: float) -> None:
        """An empty cache whose entries last `rate_prior_cache_seconds` (library clock)."""
        self._rate_cache_seconds = rate_prior_cache_seconds
        # (connection, module) -> (library-clock time it expires, prior or None): see `rate_prior`.
        self._rate_cache: dict[tuple[str, str], tuple[float, RatePrior | None]] = {}
        self._rate_cache_lock = threading.Lock()
        self._rate_reads: dict[tuple[str, str], threading.Lock] = {}  # one read of a prior at a time

    def _rate_key(self, connection: str, module: str, kind: str) -> dict[str, Any]:
        """The key of the (connection, module)'s rate prior item of jobs of `kind`, after validating each."""
        validate_connection(connection)
        validate_module(module)
        if kind != DEFAULT_KIND:
            validate_kind(kind, module)
        return {"pk": {"S": rate_pk(connection, rate_scope(module, kind))}, "sk": {"S": RATE_SK}}

    def rate_prior(self, connection: str, module: str, kind: str = DEFAULT_KIND) -> RatePrior | None:
        """The throughput learnt from this (connection, module)'s finished jobs of `kind`, or None before the
        first (each kind its own: a bulk read does not move at a mass update's pace).

        Kept in this container for `rate_prior_cache_seconds` (library clock) after it was read or learnt
        here, so a sweep of many jobs of one module reads it once; another container's lessons show after
        that.
        """
        key = self._rate_key(connection, module, kind)
        module = rate_scope(module, kind)
        cached = self._rate_cache.get((connection, module))
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        with self._rate_cache_lock:
            reading = self._rate_reads.setdefault((connection, module), threading.Lock())
        with reading:  # single flight: the sweep's workers checking jobs of one module wait for one read
            cached = self._rate_cache.get((connection, module))
            if cached is not None and self._clock() < cached[0]:
                return cached[1]
            reply = self._client.get_item(TableName=self._table, Key=key)
            item = reply.get("Item")
            prior = RatePrior.from_item(_deserialize(item)["prior"], learns_runs(kind)) if item else None
            self._cache_rate(connection, module, prior)
            return prior

    def rate_prior_hint(self, job: JobKey) -> RatePrior | None:
        """The prior of the job's (connection, module, kind) for the polling policy, or None when it cannot
        be read now: the prior is a hint, and a check that failed on it after writing its history item would
        leave that item without the state it belongs to (the next check reads the prior again)."""
        from botocore.exceptions import BotoCoreError, ClientError  # loaded with the client already

        try:
            return self.rate_prior(job.connection, job.module, job.kind)
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "rate prior not read: the check goes on without it",
                extra={"connection": job.connection, "error": type(error).__name__},
            )
            return None

    def _cache_rate(self, connection: str, module: str, prior: RatePrior | None) -> None:
        """Keep `prior` (None: known to have none) for `rate_prior_cache_seconds` from now."""
        with self._rate_cache_lock:
            self._rate_cache[(connection, module)] = (self._clock() + self._rate_cache_seconds, prior)

    def _forget_rate(self, connection: str, module: str) -> None:
        """Drop the cached prior: the next `rate_prior` reads the table."""
        with self._rate_cache_lock:
            self._rate_cache.pop((connection, module), None)

    def learn_rate(
        self,
        connection: str,
        module: str,
        rate: float,
        kind: str = DEFAULT_KIND,
        end_error: float | None = None,
    ) -> RatePrior | None:
        """Teach the (connection, module)'s rate prior of `kind` one finished job's `rate` (records per
        second; for a kind that reports no counts, runs per second: 1 / the seconds the job ran) and, if it
        has one, the job's `end_error` (`priors.observed_end_error`).

        A conditional write on the item's `version`, retried a few times; the prior is a hint, so when it
        cannot be written (contention, DynamoDB error) the sample is dropped with a warning and None returned.
        The container's cached prior becomes the one written (or is dropped when none was).
        """
        key = self._rate_key(connection, module, kind)
        scope = rate_scope(module, kind)  # the cache's key
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise InvalidInput(f"rate must be a positive number of records per second, got {rate!r}")
        if end_error is not None and (
            isinstance(end_error, bool)
            or not isinstance(end_error, int | float)
            or not math.isfinite(end_error)
            or end_error < 0
        ):
            raise InvalidInput(f"end_error must be a number >= 0, got {end_error!r}")
        from botocore.exceptions import BotoCoreError, ClientError  # loaded with the client already

        per_run = learns_runs(kind)
        try:
            for _ in range(_MAX_RATE_ATTEMPTS):
                old = self._get_raw(key)
                prior = (
                    RatePrior.first(rate, per_run, end_error)
                    if old is None
                    else RatePrior.from_item(old["prior"], per_run).learn(rate, end_error)
                )
                version = int(old["version"]) if old is not None else 0
                item = {
                    "pk": key["pk"]["S"],
                    "sk": RATE_SK,
                    "connection": connection,
                    "module": module,
                    **({"kind": kind} if kind != DEFAULT_KIND else {}),
                    "prior": prior.to_item(),
                    "version": version + 1,
                    "updated_at": iso_utc(self._clock()),
                }
                extra: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
                if old is not None:
                    extra = {
                        "ConditionExpression": "version = :version",
                        "ExpressionAttributeValues": {":version": {"N": str(version)}},
                    }
                try:
                    self._client.put_item(TableName=self._table, Item=_serialize(item), **extra)
                except self._client.exceptions.ConditionalCheckFailedException:
                    continue
                # Cached as stored (rounded), so a cached read equals a read from the table.
                self._cache_rate(connection, scope, RatePrior.from_item(item["prior"], per_run))
                return prior
        except (ClientError, BotoCoreError) as error:
            self._forget_rate(connection, scope)
            logger.warning(
                "rate prior not updated", extra={"connection": connection, "error": type(error).__name__}
            )
            return None
        self._forget_rate(connection, scope)
        logger.warning(
            "rate prior not updated: too many concurrent writers", extra={"connection": connection}
        )
        return None


def learns_runs(kind: str) -> bool:
    """True when the priors of `kind` count whole runs: its replies count no records."""
    return not KINDS[kind].reports_counts
