"""Connections: the names of a connection's two secrets, and whether the connection is configured.

A connection is configured when its credentials secret `{prefix}/{connection}/credentials` exists (written
by `zoho-watch connect`, which should also create `{prefix}/{connection}/access-token`). Naming a connection
that is not configured is the caller's error (`ConnectionNotConfigured`), found before any call to Zoho.
Light on purpose (no boto3, no requests at import): the API imports it for every watch request.
"""

from __future__ import annotations

from typing import Any

from zoho_watch.errors import ConnectionNotConfigured
from zoho_watch.jobs import validate_connection

# The error code Secrets Manager gives for a secret that does not exist.
SECRET_NOT_FOUND = "ResourceNotFoundException"  # noqa: S105 - an error code, not a secret


def credentials_secret_name(prefix: str, connection: str) -> str:
    """`{prefix}/{connection}/credentials`."""
    return f"{prefix}/{connection}/credentials"


def access_token_secret_name(prefix: str, connection: str) -> str:
    """`{prefix}/{connection}/access-token`."""
    return f"{prefix}/{connection}/access-token"


def aws_error_code(error: BaseException | None) -> str | None:
    """The AWS error code of a botocore ClientError, also when it is wrapped by Powertools Parameters.

    Powertools raises its GetParameterError inside the `except` of the SDK's error, so the SDK's error is the
    wrapper's `__context__`.
    """
    seen = 0
    while error is not None and seen < 5:
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            return (response.get("Error") or {}).get("Code")
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def not_configured(connection: str, secret_name: str) -> ConnectionNotConfigured:
    """The error for a connection whose secret `secret_name` does not exist."""
    return ConnectionNotConfigured(
        f"connection {connection!r} is not configured: secret {secret_name} does not exist"
        f" (run `zoho-watch connect --connection {connection}`)"
    )


def require_configured(services: Any, connection: str) -> None:
    """Raise ConnectionNotConfigured unless the connection's credentials secret exists.

    Reads it through the container's cached SecretsProvider (the same cache the token provider uses). Any
    other failure to read it (permissions, a value that is not JSON) is left to the check that needs the
    credentials, which reports it as ZohoAuthError.
    """
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    connection = validate_connection(connection)
    settings = services.settings
    name = credentials_secret_name(settings.secret_prefix, connection)
    try:
        services.secrets.get(name, transform="json", max_age=settings.credentials_max_age_seconds)
    except GetParameterError as error:
        if aws_error_code(error) == SECRET_NOT_FOUND:
            raise not_configured(connection, name) from None
    except Exception:  # noqa: S110 - e.g. TransformParameterError: not ours to judge here
        pass
