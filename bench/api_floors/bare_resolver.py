"""The least Powertools REST API that answers `GET /jobs/{module}/{job_id}` from the table: the resolver
without validation, Logger and Metrics, a DynamoDB client made at the first request, one GetItem."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from stored_job import stored_status  # a sibling: the probe puts this folder on the path

app = APIGatewayRestResolver()
logger = Logger()
metrics = Metrics(namespace="bench")


@app.get("/jobs/<module>/<job_id>")
def get_job(module: str, job_id: str) -> dict[str, Any]:
    """The stored job's status."""
    return stored_status(module, job_id)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway REST proxy entry point."""
    return app.resolve(event, context)
