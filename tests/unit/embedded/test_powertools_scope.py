"""Powertools' process-wide state, one copy per container: pinned, so a Powertools upgrade fails here, loudly.

Each test runs two "containers" in two threads and makes them interleave at a barrier, the way two
concurrent invocations on the embedded stack can: each must see its own event, metrics and log keys.
The first tests pin why the glue exists (without it, the state is shared) and what it relies on.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.shared.version import VERSION

from zoho_watch_local import powertools_scope

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def scoped() -> Iterator[None]:
    """The glue installed for the test (and left as it was found)."""
    was_installed = powertools_scope.installed()
    powertools_scope.install()
    try:
        yield
    finally:
        if not was_installed:
            powertools_scope.uninstall()


def in_two_containers(
    work: Callable[[str, threading.Barrier], Any], *, scoped: bool = True
) -> dict[str, Any]:
    """Run `work(name, barrier)` for containers "a" and "b" at once, each in its own container state."""
    barrier = threading.Barrier(2, timeout=30)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            if scoped:
                with powertools_scope.container({}):
                    results[name] = work(name, barrier)
            else:
                results[name] = work(name, barrier)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def rest_event(path: str) -> dict[str, Any]:
    """A minimal REST API proxy event for GET `path`."""
    return {
        "resource": "/jobs/{job_id}",
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": path, "stage": "test", "path": path, "httpMethod": "GET"},
        "body": None,
        "isBase64Encoded": False,
    }


def resolve_one_job(name: str, barrier: threading.Barrier) -> dict[str, str]:
    """A container's API: it sets its event, waits until the other container has set its own, then routes."""
    app = APIGatewayRestResolver()

    @app.get("/jobs/<job_id>")
    def get_job(job_id: str) -> dict[str, str]:
        return {"route_arg": job_id, "event_path": app.current_event.path}

    class Context:
        aws_request_id = name

    # `resolve` sets the class attribute, then routes: make both containers set theirs before either routes.
    original_resolve = app._resolve

    def wait_then_resolve() -> Any:
        barrier.wait()
        return original_resolve()

    app._resolve = wait_then_resolve  # type: ignore[method-assign]
    reply = app.resolve(rest_event(f"/jobs/{name}"), Context())
    return {"status": reply["statusCode"], **json.loads(reply["body"])}


# --- the pins ---------------------------------------------------------------------------------------------


def test_powertools_is_the_pinned_version() -> None:
    pinned = re.search(
        r"^aws-lambda-powertools==(\S+)$", (REPO / "layers/zoho_watch/requirements.txt").read_text(), re.M
    )
    assert pinned is not None, "the layer's requirements must pin aws-lambda-powertools"
    assert VERSION == powertools_scope.POWERTOOLS_VERSION == pinned.group(1)


def test_a_different_powertools_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(powertools_scope, "VERSION", "9.9.9")
    with pytest.raises(RuntimeError, match=r"9\.9\.9 is installed"):
        powertools_scope.check_powertools_version()


def test_without_the_glue_two_concurrent_resolves_share_the_current_event() -> None:
    # Why the glue exists: `resolve` sets BaseRouter.current_event on the class, for every resolver.
    assert not powertools_scope.installed()
    results = in_two_containers(resolve_one_job, scoped=False)
    paths = {name: result["event_path"] for name, result in results.items()}
    assert paths["a"] == paths["b"], paths


def test_the_instance_attributes_the_glue_scopes_are_set_in_init() -> None:
    # The glue puts a descriptor in front of each: they must be instance attributes, not class ones.
    for cls, names in powertools_scope.INSTANCE_ATTRIBUTES.items():
        for name in names:
            assert name not in cls.__dict__, (cls, name)
    metrics = Metrics(namespace="Pin", service="pin")
    assert metrics.metric_set is Metrics._metrics
    assert metrics.provider.metric_set is Metrics._metrics
    assert metrics.provider.default_dimensions is Metrics._default_dimensions


# --- the behaviour ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("scoped")
def test_each_container_routes_its_own_request() -> None:
    results = in_two_containers(resolve_one_job)
    assert results == {
        "a": {"status": 200, "route_arg": "a", "event_path": "/jobs/a"},
        "b": {"status": 200, "route_arg": "b", "event_path": "/jobs/b"},
    }
    # Outside any container the class attribute behaves as Powertools' own.
    BaseRouter.current_event = "outside"  # type: ignore[assignment]
    assert BaseRouter.current_event == "outside"


def emitted(output: str) -> list[dict[str, Any]]:
    """The EMF documents in `output`, one per line."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.usefixtures("scoped")
def test_each_container_flushes_its_own_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    shared = Metrics(namespace="ZohoWatch", service="check")  # made outside, as a library module's is
    shared.add_metric(name="Outside", unit="Count", value=3)  # pending in the process, not in a container
    pending = set(Metrics._metrics)

    def work(name: str, barrier: threading.Barrier) -> None:
        mine = Metrics(namespace="ZohoWatch", service="check")  # made inside, as a handler module's is
        mine.add_metric(name=f"Own_{name}", unit="Count", value=1)
        shared.add_metric(name=f"Library_{name}", unit="Count", value=2)
        barrier.wait()  # both have added theirs before either flushes
        mine.flush_metrics()

    in_two_containers(work)
    documents = emitted(capsys.readouterr().out)
    flushed = sorted(
        sorted(metric["Name"] for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"])
        for document in documents
    )
    # A container starts with no pending metric (as a new process), and flushes only its own.
    assert flushed == [["Library_a", "Own_a"], ["Library_b", "Own_b"]]
    # The process-wide set saw none of it.
    assert set(Metrics._metrics) == pending
    shared.clear_metrics()


@pytest.mark.usefixtures("scoped")
def test_each_container_logs_its_own_appended_keys() -> None:
    stream = io.StringIO()
    logger = Logger(service="scope-test", stream=stream)

    def work(name: str, barrier: threading.Barrier) -> None:
        logger.append_keys(request=name)
        barrier.wait()  # both have appended before either logs
        logger.info("checked")
        barrier.wait()
        logger.remove_keys(["request"])

    in_two_containers(work)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert sorted(line["request"] for line in lines) == ["a", "b"]
    # Each started from the formatter as the Logger was made (outside, as at a handler's import).
    assert {(line["level"], line["service"], line["message"]) for line in lines} == {
        ("INFO", "scope-test", "checked")
    }
    logger.info("outside")
    assert "request" not in json.loads(stream.getvalue().splitlines()[-1])
    logging.getLogger("scope-test").handlers.clear()


def test_uninstall_restores_powertools_as_it_was() -> None:
    assert not powertools_scope.installed()
    before = {name: BaseRouter.__dict__.get(name) for name in powertools_scope.ROUTER_ATTRIBUTES}
    powertools_scope.install()
    powertools_scope.install()  # idempotent
    powertools_scope.uninstall()
    assert not powertools_scope.installed()
    assert type(BaseRouter).__name__ == "ABCMeta"
    for cls, names in powertools_scope.INSTANCE_ATTRIBUTES.items():
        for name in names:
            assert name not in cls.__dict__, (cls, name)
    assert {name: BaseRouter.__dict__.get(name) for name in powertools_scope.ROUTER_ATTRIBUTES} == before
