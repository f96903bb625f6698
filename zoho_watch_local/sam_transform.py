"""The SAM transform, offline: what CloudFormation makes of `template.yaml` before it creates anything.

aws-sam-translator (the library behind CloudFormation's `AWS::Serverless-2016-10-31` transform) turns the SAM
template into plain CloudFormation: Globals merged, each function's role, permissions and event rules
written out, the API's deployment and stage added. `make lint`'s transform gate, the least-privilege test and
the embedded deploy all read this one output, so the embedded stack runs what CloudFormation would create.

No AWS call is made: local artifact paths are replaced by S3 locations first, as `sam package` would, and the
managed policies the template names are known in advance.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where a packaged template points its artifacts; the S3 key is the resource's logical id.
ARTIFACT_BUCKET = "offline-artifacts"
_ARTIFACT_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}
_STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"
# The AWS managed policies SAM attaches to the template's roles (IAM's ListPolicies, answered offline).
_MANAGED_POLICIES = ("AWSLambdaBasicExecutionRole",)


class TransformError(ValueError):
    """The SAM transform refused the template; `problems` has one line per cause."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Transformed:
    """The CloudFormation template the transform made, and the local folder behind each S3 artifact."""

    template: dict[str, Any]
    # S3 key -> the folder Lambda imports from: a function's code, or a layer's Python root.
    artifacts: dict[str, Path]

    def artifact(self, location: dict[str, Any]) -> Path:
        """The local folder of an S3 location the transform wrote (`{"S3Bucket": ..., "S3Key": ...}`)."""
        if location.get("S3Bucket") != ARTIFACT_BUCKET or location.get("S3Key") not in self.artifacts:
            raise TransformError([f"{json.dumps(location)} is not an artifact of this template"])
        return self.artifacts[location["S3Key"]]


def managed_policy_map() -> dict[str, str]:
    """The ARN of each AWS managed policy SAM may attach, by name."""
    return {name: f"arn:aws:iam::aws:policy/{name}" for name in _MANAGED_POLICIES}


def packaged(template: dict[str, Any], base: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """What `sam package` would hand CloudFormation: local folders as S3 locations, ASL files inlined.

    Returns the packaged copy of `template` and, per S3 key, the folder Lambda imports from. A layer built by
    `sam build` with a python BuildMethod has its folder installed under `python/`; any other layer must
    bring its own `python/` folder. A missing local path is an error, as in `sam build`.
    """
    template = copy.deepcopy(template)
    artifacts: dict[str, Path] = {}
    problems: list[str] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        properties = resource.setdefault("Properties", {})
        prop = _ARTIFACT_PROPERTIES.get(resource.get("Type", ""))
        value = properties.get(prop) if prop else None
        if isinstance(value, str) and not value.startswith("s3://"):
            folder = (base / value).resolve()
            if not folder.exists():
                problems.append(f"SAM transform: {logical_id}: {prop} {value} does not exist")
                continue
            build_method = str((resource.get("Metadata") or {}).get("BuildMethod", ""))
            layer_without_build = prop == "ContentUri" and not build_method.startswith("python")
            artifacts[logical_id] = folder / "python" if layer_without_build else folder
            properties[prop] = f"s3://{ARTIFACT_BUCKET}/{logical_id}"
        uri = properties.get("DefinitionUri") if resource.get("Type") == _STATE_MACHINE_TYPE else None
        if isinstance(uri, str):
            try:
                properties["Definition"] = json.loads((base / uri).read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                problems.append(f"SAM transform: {logical_id}: DefinitionUri {uri}: {error}")
                continue
            del properties["DefinitionUri"]
    if problems:
        raise TransformError(problems)
    return template, artifacts


def transform(
    template: dict[str, Any],
    base: Path,
    *,
    region: str,
    account_id: str,
    parameters: dict[str, Any] | None = None,
) -> Transformed:
    """Package `template` (its paths relative to `base`) and run the SAM transform on it, offline.

    `parameters` are the stack's parameter values, which CloudFormation also hands the transform. Raises
    `TransformError` with every problem the packaging or the transform found.
    """
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # The translator warns that its feature-toggle config (fetched from AWS in the service) is absent offline.
    logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)
    source, artifacts = packaged(template, base)
    session = boto3.session.Session(
        region_name=region,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",  # noqa: S106 - not a secret: no AWS call is made
    )
    translator = Translator(
        managed_policy_map=managed_policy_map(), sam_parser=Parser(), boto_session=session
    )
    values = {**(parameters or {}), "AWS::AccountId": account_id, "AWS::Region": region}
    try:
        output = translator.translate(
            source, parameter_values=values, get_managed_policy_map=managed_policy_map
        )
    except InvalidDocumentException as error:
        raise TransformError([f"SAM transform: {cause.message}" for cause in error.causes]) from None
    return Transformed(template=output, artifacts=artifacts)
