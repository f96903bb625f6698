"""AWS failures are sorted once: passing ones are AwsUnavailable (retried), refusals AwsRequestError; a
Secrets Manager failure is never a ZohoAuthError and never costs one of Zoho's token refreshes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from zoho_watch.aws_errors import classify, typed_aws_errors
from zoho_watch.config import Settings
from zoho_watch.errors import AwsRequestError, AwsUnavailable, ZohoAuthError
from zoho_watch.tokens import TokenProvider, lease_key
from zoho_watch.zoho import ZohoClient

from fake_zoho import FakeZoho
from tests.fixtures.aws import AwsStack

TOKEN_SECRET = "zoho-watch/default/access-token"


def client_error(code: str, status: int, operation: str = "GetSecretValue") -> ClientError:
    """botocore's error for an AWS error answer."""
    return ClientError(
        {"Error": {"Code": code, "Message": "details"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ThrottlingException", 400), AwsUnavailable),
        (client_error("ProvisionedThroughputExceededException", 400, "UpdateItem"), AwsUnavailable),
        (client_error("TooManyRequestsException", 429, "StartExecution"), AwsUnavailable),
        (client_error("InternalServiceError", 500), AwsUnavailable),
        (client_error("SomethingNew", 503), AwsUnavailable),  # any 5xx is passing
        (client_error("AccessDeniedException", 400), AwsRequestError),
        (client_error("ResourceNotFoundException", 400, "PutItem"), AwsRequestError),
        (client_error("ValidationException", 400, "Query"), AwsRequestError),
        (ReadTimeoutError(endpoint_url="https://dynamodb"), AwsUnavailable),
        (ConnectTimeoutError(endpoint_url="https://dynamodb"), AwsUnavailable),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), AwsUnavailable),
        (NoCredentialsError(), AwsRequestError),
        (ParamValidationError(report="bad"), AwsRequestError),
    ],
)
def test_botocore_errors_are_sorted_into_passing_and_refused(error: Exception, expected: type) -> None:
    typed = classify(error)
    assert type(typed) is expected
    assert typed is not None and typed.retryable is (expected is AwsUnavailable)


def test_the_message_names_the_operation_and_code_only() -> None:
    typed = classify(client_error("ThrottlingException", 400))
    assert typed is not None
    assert typed.message == "AWS GetSecretValue failed: ThrottlingException (passing; retried)"
    assert typed.to_dict()["code"] == "AWS_UNAVAILABLE"


def test_an_error_wrapped_by_powertools_is_found_behind_the_wrapper() -> None:
    try:
        try:
            raise client_error("ThrottlingException", 400)
        except ClientError as inner:
            raise GetParameterError(str(inner)) from inner
    except GetParameterError as wrapped:
        assert type(classify(wrapped)) is AwsUnavailable


def test_anything_else_is_not_an_aws_error() -> None:
    assert classify(ValueError("no")) is None
    with pytest.raises(ValueError, match="no"), typed_aws_errors():
        raise ValueError("no")
    with pytest.raises(AwsUnavailable) as caught, typed_aws_errors():
        raise client_error("ThrottlingException", 400)
    assert isinstance(caught.value.__cause__, ClientError)


# --- the token provider under a failing Secrets Manager ----------------------------------------------------


@pytest.fixture
def failing_secrets(aws: AwsStack) -> Iterator[Callable[[str, str, int], Callable[[], None]]]:
    """Make the provider's Secrets Manager client answer an operation with an AWS error, after retries."""
    client = boto3.client("secretsmanager", region_name="us-east-1")
    handlers: list[tuple[str, Any]] = []

    def fail(operation: str, code: str, status: int) -> Callable[[], None]:
        """Fail `operation` from now on; the answer stops the failing."""

        def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            parsed = {
                "Error": {"Code": code, "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return AWSResponse("https://secretsmanager", status, {}, None), parsed

        event = f"before-call.secrets-manager.{operation}"
        client.meta.events.register(event, answer)
        handlers.append((event, answer))
        return lambda: client.meta.events.unregister(event, answer)

    fail.client = client  # type: ignore[attr-defined]
    yield fail
    for event, handler in handlers:
        client.meta.events.unregister(event, handler)


def provider(client: Any, zoho: FakeZoho) -> TokenProvider:
    """A token provider (one Lambda container's) on `client`."""
    return TokenProvider(
        "default",
        settings=Settings.from_env(),
        secrets=SecretsProvider(boto3_client=client),
        secrets_client=client,
        dynamodb=boto3.client("dynamodb", region_name="us-east-1"),
        zoho=ZohoClient(connect_timeout=2, read_timeout=5),
        clock=zoho.clock.now,
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [("ThrottlingException", 400, AwsUnavailable), ("AccessDeniedException", 400, AwsRequestError)],
)
def test_an_unreadable_credentials_secret_is_an_aws_error_and_costs_no_refresh(
    aws: AwsStack,
    zoho: FakeZoho,
    zoho_connection: str,
    failing_secrets: Any,
    code: str,
    status: int,
    expected: type,
) -> None:
    failing_secrets("GetSecretValue", code, status)
    with pytest.raises(expected) as caught:
        provider(failing_secrets.client, zoho).get()
    assert not isinstance(caught.value, ZohoAuthError)
    assert code in caught.value.message
    assert zoho.counters["token_refreshes"] == 0 and zoho.counters["calls_total"] == 0
    assert "Item" not in aws.dynamodb.get_item(TableName=aws.table_name, Key=lease_key("default"))


def test_a_throttled_access_token_read_is_retried_not_refreshed(
    aws: AwsStack, zoho: FakeZoho, zoho_connection: str, failing_secrets: Any
) -> None:
    zoho.clock.freeze()
    token = provider(failing_secrets.client, zoho).get()  # stored in the secret
    assert zoho.counters["token_refreshes"] == 1
    container = provider(failing_secrets.client, zoho)
    # The credentials are read (and cached) first, as on a cold container; then the token read fails.
    container.connection_secrets.read_credentials()
    heal = failing_secrets("GetSecretValue", "ThrottlingException", 400)
    with pytest.raises(AwsUnavailable):
        container.get()
    assert zoho.counters["token_refreshes"] == 1  # before: the failure read as "no token" and refreshed
    heal()
    assert container.get() == token


def test_a_refreshed_token_that_cannot_be_stored_is_used_not_lost(
    aws: AwsStack, zoho: FakeZoho, zoho_connection: str, failing_secrets: Any
) -> None:
    zoho.clock.freeze()
    failing_secrets("PutSecretValue", "ThrottlingException", 400)
    container = provider(failing_secrets.client, zoho)
    token = container.get()
    assert zoho.counters["token_refreshes"] == 1
    assert aws.read_secret(TOKEN_SECRET) in (None, {})  # not stored
    assert container.get() is token  # kept in memory: no second refresh
    assert zoho.counters["token_refreshes"] == 1
