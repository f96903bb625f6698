"""`bare_resolver` with Powertools' validation on: the path parameters checked against patterns and the
answer a pydantic model (built at first use, as the api's are), as the api validates every request."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict
from stored_job import stored_status  # a sibling: the probe puts this folder on the path

app = APIGatewayRestResolver(enable_validation=True)
logger = Logger()
metrics = Metrics(namespace="bench")


class JobStatus(BaseModel):
    """The answer: the stored job's id and status."""

    model_config = ConfigDict(defer_build=True)

    job_id: str
    status: str


@app.get("/jobs/<module>/<job_id>")
def get_job(
    module: Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,49}$")],
    job_id: Annotated[str, Path(pattern=r"^[0-9]{1,30}$")],
) -> JobStatus:
    """The stored job's status, validated."""
    return JobStatus.model_validate(stored_status(module, job_id))


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway REST proxy entry point."""
    return app.resolve(event, context)
