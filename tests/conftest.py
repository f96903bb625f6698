"""Shared pytest setup: fake AWS credentials and the fixture plugins, one module per concern."""

import os

# Nothing in the test run may reach AWS: fake credentials and a fixed region for boto3 and moto.
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ZohoWatch")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "zoho-watch")

pytest_plugins = [
    plugin
    for plugin in (
        "tests.fixtures.zoho",
        "tests.fixtures.aws",
        "tests.fixtures.stack",
        "tests.fixtures.secrets_scan",
    )
    if os.path.exists(os.path.join(os.path.dirname(__file__), "fixtures", plugin.rsplit(".", 1)[1] + ".py"))
]
