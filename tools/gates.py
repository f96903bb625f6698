"""The template and state machine gates of `make lint`, runnable offline.

Three checks that cfn-lint does not do:
- `substitutions`: every `${X}` in a state machine file has a DefinitionSubstitutions key in the template
  that points at that file, and every key is used (a missing key deploys a literal `${X}`; an unused one
  hides a typo);
- `statelint`: every `statemachine/*.asl.json` passes statelint once its `${...}` placeholders are replaced by
  well-formed values (statelint rejects `${...}`, and moto accepts dangling `Next` targets, so this must run);
- `transform`: aws-sam-translator turns the SAM template into CloudFormation without any AWS call.

Usage: `python -m tools.gates [substitutions|statelint|transform|all] [--template PATH]`; exit 1 and one
line per problem when a gate fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoho_watch_local.sam_transform import TransformError, transform
from zoho_watch_local.template import TEMPLATE_PATH, load_template

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine",)
FAKE_ACCOUNT = "123456789012"
FAKE_REGION = "us-east-1"


def _state_machines(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, res.get("Properties") or {})
        for logical_id, res in (template.get("Resources") or {}).items()
        if res.get("Type") in STATE_MACHINE_TYPES
    ]


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def substitution_problems(template_path: Path = TEMPLATE_PATH) -> list[str]:
    """Cross-check `${X}` placeholders of each state machine file against its DefinitionSubstitutions keys."""
    template = load_template(template_path)
    base = Path(template_path).parent
    problems: list[str] = []
    for logical_id, props in _state_machines(template):
        uri = props.get("DefinitionUri")
        if not isinstance(uri, str):
            if "Definition" not in props:
                problems.append(f"{logical_id}: neither DefinitionUri (a local file) nor Definition is set")
            continue
        asl_path = base / uri
        if not asl_path.is_file():
            problems.append(f"{logical_id}: DefinitionUri {uri} does not exist")
            continue
        used = _placeholders(asl_path.read_text(encoding="utf-8"))
        keys = set((props.get("DefinitionSubstitutions") or {}).keys())
        problems += [
            f"{logical_id}: ${{{k}}} in {uri} has no DefinitionSubstitutions key" for k in sorted(used - keys)
        ]
        problems += [
            f"{logical_id}: DefinitionSubstitutions key {k} is not used in {uri}" for k in sorted(keys - used)
        ]
    return problems


def fake_value(name: str) -> str:
    """A well-formed stand-in for a substitution, shaped by its name (Function, StateMachine, Bus...)."""
    lowered = name.lower()
    resource_name = re.sub(r"[^A-Za-z0-9-]", "-", name)
    if "function" in lowered:
        return f"arn:aws:lambda:{FAKE_REGION}:{FAKE_ACCOUNT}:function:{resource_name}"
    if "statemachine" in lowered:
        return f"arn:aws:states:{FAKE_REGION}:{FAKE_ACCOUNT}:stateMachine:{resource_name}"
    if "bus" in lowered:
        return f"arn:aws:events:{FAKE_REGION}:{FAKE_ACCOUNT}:event-bus/{resource_name}"
    if "table" in lowered:
        return f"arn:aws:dynamodb:{FAKE_REGION}:{FAKE_ACCOUNT}:table/{resource_name}"
    if "topic" in lowered:
        return f"arn:aws:sns:{FAKE_REGION}:{FAKE_ACCOUNT}:{resource_name}"
    return f"arn:aws:states:{FAKE_REGION}:{FAKE_ACCOUNT}:activity:{resource_name}"


def substitute(text: str) -> str:
    """Replace every `${X}` placeholder by `fake_value(X)`."""
    return PLACEHOLDER.sub(lambda m: fake_value(m.group(1)), text)


def statelint_problems(template_path: Path = TEMPLATE_PATH) -> list[str]:
    """Run statelint on every `statemachine/*.asl.json` beside the template, placeholders substituted."""
    from statelint.linter import Linter

    folder = Path(template_path).parent / "statemachine"
    files = sorted(folder.glob("*.asl.json"))
    problems: list[str] = []
    for path in files:
        text = substitute(path.read_text(encoding="utf-8"))
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as err:
            problems.append(f"{path.name}: not valid JSON: {err}")
            continue
        problems += [f"{path.name}: {p}" for p in Linter.validate(definition)]
    return problems


def transform_problems(template_path: Path = TEMPLATE_PATH) -> list[str]:
    """Transform the SAM template to CloudFormation with aws-sam-translator, offline."""
    try:
        template = load_template(template_path)
        transform(template, Path(template_path).parent, region=FAKE_REGION, account_id=FAKE_ACCOUNT)
    except TransformError as err:
        return err.problems
    except (OSError, ValueError) as err:
        return [f"SAM transform: {err}"]
    return []


GATES: dict[str, Callable[[Path], list[str]]] = {
    "substitutions": substitution_problems,
    "statelint": statelint_problems,
    "transform": transform_problems,
}


def main(argv: list[str] | None = None) -> int:
    """Run the named gate (or all of them) and print one line per problem; exit 1 when any is found."""
    parser = argparse.ArgumentParser(prog="python -m tools.gates", description=__doc__.splitlines()[0])
    parser.add_argument("gate", choices=[*GATES, "all"], nargs="?", default="all")
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH)
    args = parser.parse_args(argv)
    names = list(GATES) if args.gate == "all" else [args.gate]
    failed = False
    for name in names:
        problems = GATES[name](args.template)
        print(f"{name}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
        for problem in problems:
            print(f"  {problem}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
