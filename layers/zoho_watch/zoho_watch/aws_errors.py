"""AWS errors, sorted once: a passing fault is `AwsUnavailable` (retried), a refusal is `AwsRequestError`.

botocore raises `ClientError` (AWS answered with an error) or a `BotoCoreError` (no answer: time-out, no
connection, or a request botocore would not send); Powertools Parameters wraps them in its own errors. The
library catches the few AWS answers it expects where it makes the call (a failed condition, a secret that
does not exist); every other one is turned into one of the two typed errors here, at the edges where a check,
a sweep or a request ends, so Step Functions, the sweep and the API see a name they handle.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from zoho_watch.errors import AwsRequestError, AwsUnavailable, ZohoWatchError

# Error codes AWS services give for throttling and passing failures (any HTTP 5xx is passing too).
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "InternalServiceErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_MAX_CHAIN = 5  # wrappers (Powertools, our own) between the error raised and botocore's


def _botocore_error(error: BaseException) -> BaseException | None:
    """botocore's own error behind `error` (itself, or the cause or context of a wrapper), if any."""
    from botocore.exceptions import BotoCoreError, ClientError

    current: BaseException | None = error
    for _ in range(_MAX_CHAIN):
        if current is None:
            return None
        if isinstance(current, ClientError | BotoCoreError):
            return current
        current = current.__cause__ or current.__context__
    return None


def classify(error: BaseException) -> ZohoWatchError | None:
    """The typed error for an AWS failure behind `error`; None when no AWS call failed there."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    found = _botocore_error(error)
    if found is None:
        return None
    if isinstance(found, ClientError):
        details = found.response.get("Error") or {}
        code = str(details.get("Code") or "Unknown")
        status = int((found.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        message = f"AWS {found.operation_name} failed: {code}"
        if code in TRANSIENT_CODES or status >= 500:
            return AwsUnavailable(f"{message} (passing; retried)")
        return AwsRequestError(message)
    if isinstance(found, ConnectionError | HTTPClientError):
        return AwsUnavailable(f"AWS could not be reached: {type(found).__name__} (passing; retried)")
    return AwsRequestError(f"AWS request not sent: {type(found).__name__}")


@contextmanager
def typed_aws_errors() -> Iterator[None]:
    """Raise the typed error (`classify`) instead of any AWS failure escaping the block."""
    try:
        yield
    except ZohoWatchError:
        raise
    except Exception as error:
        typed = classify(error)
        if typed is None:
            raise
        raise typed from error
