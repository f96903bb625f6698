"""The test run's shared botocore loader (tests/fixtures/shared_loader.py)."""

from __future__ import annotations

import boto3
import botocore.session
from moto import mock_aws

from tests.fixtures import shared_loader


def test_every_session_of_the_run_reads_the_data_files_through_one_loader() -> None:
    assert shared_loader.installed()  # by tests/conftest.py
    first, second = boto3.session.Session(), boto3.session.Session()
    loader = first._loader
    assert second._loader is loader and botocore.session.Session().get_component("data_loader") is loader
    # boto3's data folder is on the list once, however many sessions appended it.
    assert len(loader.search_paths) == len(set(loader.search_paths))
    assert sum(path.endswith("boto3/data") for path in loader.search_paths) == 1
    # What a loader answers is read once and then shared.
    model = loader.load_service_model("dynamodb", "service-2")
    assert second._loader.load_service_model("dynamodb", "service-2") is model


def test_clients_of_sessions_sharing_the_loader_work_side_by_side() -> None:
    with mock_aws():
        sessions = [boto3.session.Session(region_name="eu-west-1") for _ in range(2)]
        queues = [session.client("sqs") for session in sessions]
        url = queues[0].create_queue(QueueName="shared")["QueueUrl"]
        assert queues[1].get_queue_url(QueueName="shared")["QueueUrl"] == url
        assert queues[1].meta.region_name == "eu-west-1"
        assert sessions[1].client("dynamodb").meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
