"""Read `template.yaml`, the single source of truth for the stack, into plain Python data.

CloudFormation short-form tags (`!Ref`, `!Sub`, `!GetAtt`, ...) become their long form
(`{"Ref": ...}`, `{"Fn::Sub": ...}`), the shape the gates, the tests and the embedded stack's deploy read.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that understands CloudFormation's intrinsic function tags."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # `!GetAtt Resource.Attribute.With.Dots` splits on the first dot only.
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def parse_template(text: str) -> dict[str, Any]:
    """Parse CloudFormation/SAM YAML text into long-form Python data."""
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - _CfnLoader derives from SafeLoader
    if not isinstance(data, dict):
        raise ValueError("a template must be a YAML mapping")
    return data


def load_template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """Load and parse a template file (default: the repository's `template.yaml`)."""
    return parse_template(Path(path).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def project_template() -> dict[str, Any]:
    """The repository's own template, parsed once per process. Treat the result as read-only."""
    return load_template(TEMPLATE_PATH)


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """Return one resource of a template by logical id, with a clear error when it is missing."""
    try:
        return template["Resources"][logical_id]
    except KeyError:
        raise KeyError(f"template.yaml has no resource {logical_id!r}") from None
