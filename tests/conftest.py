"""Shared pytest setup: fake AWS credentials and the fixture plugins, one module per concern."""

import gc
import os
from typing import Any

from tests.fixtures import shared_loader

# Nothing in the test run may reach AWS: fake credentials and a fixed region for boto3 and moto.
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ZohoWatch")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "zoho-watch")

# One botocore data loader for the run (see `tests.fixtures.shared_loader`), before the fixture plugins import
# moto: its EC2 models ask botocore for every region of every partition as they are imported.
shared_loader.install()

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


def pytest_configure(config: object) -> None:
    """Garbage collection sized for the embedded stack's heap.

    The stack keeps a large live heap (moto's models, botocore's service models, the emulator's jobs), and
    with CPython's default thresholds the collector walks it again and again: about a tenth of the CPU of
    the stack's tests (measured with `gc.callbacks`). What is alive once the test modules are imported
    stays alive (`gc.freeze`), and collections run less often; every cycle is still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """The `long_running` tests first, the rest in their order.

    `make test` hands whole files to its workers in collection order (pytest-xdist `loadfile`, not
    reordered): the files of the longest tests start first, one per worker, and the short files then fill
    the workers up, so that no worker is left with a long file at the end.
    """
    items.sort(key=lambda item: item.get_closest_marker("long_running") is None)
