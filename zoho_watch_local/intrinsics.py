"""CloudFormation intrinsic functions, resolved locally: `Ref`, `Fn::GetAtt`, `Fn::Sub` and friends.

`zoho_watch_local.deploy` creates resources in dependency order and tells the `Resolver` each one's `Ref`
value and attributes; every later property is resolved against them. Conditions, parameters (with their
`AllowedValues`, `AllowedPattern`, `MinValue` and `MaxValue` checked) and pseudo parameters are supported.
"""

from __future__ import annotations

import json
import re
from typing import Any

from zoho_watch_local.aws import ACCOUNT_ID, REGION

NO_VALUE = object()  # what `Ref: AWS::NoValue` resolves to: the enclosing key or item disappears

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """The template (or a parameter value) cannot be deployed locally; the message says why."""


def pseudo_parameters(stack_name: str) -> dict[str, Any]:
    """`AWS::StackName`, `AWS::Region` and the other pseudo parameters of a local stack."""
    return {
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


def parameter_values(template: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each template parameter's value: the override, else the default; checked against its constraints."""
    declared = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"unknown template parameter(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = str(overrides[name])
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise TemplateError(f"template parameter {name} has no default: give it a value")
        _check_parameter(name, spec, value)
        kind = spec.get("Type", "String")
        values[name] = [item.strip() for item in value.split(",")] if kind == "CommaDelimitedList" else value
    return values


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(item) for item in allowed]:
        raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}={value!r} is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"parameter {name}={value} is below its minimum {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"parameter {name}={value} is above its maximum {spec['MaxValue']}")


def references(value: Any) -> set[str]:
    """Logical ids (and parameter names) that `value` refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref" and isinstance(argument, str):
                found.add(argument)
                return found
            if key == "Fn::GetAtt":
                target = argument if isinstance(argument, list) else str(argument).split(".", 1)
                found.add(str(target[0]))
                return found
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                for match in _SUB_VARIABLE.findall(text):
                    name = match.split(".", 1)[0]
                    if name not in variables:
                        found.add(name)
                found |= references(variables)
                return found
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


class Resolver:
    """Resolves intrinsic functions against parameters, conditions and the resources deployed so far."""

    def __init__(self, template: dict[str, Any], stack_name: str, parameters: dict[str, Any]) -> None:
        self.template = template
        self.names: dict[str, Any] = pseudo_parameters(stack_name) | parameters
        self.refs: dict[str, Any] = {}
        self.attributes: dict[str, dict[str, Any]] = {}
        self.not_deployed: dict[str, str] = {}
        self.conditions = {
            name: bool(self.resolve(expression))
            for name, expression in (template.get("Conditions") or {}).items()
        }

    def add(self, logical_id: str, ref: Any, attributes: dict[str, Any] | None = None) -> None:
        """Record a deployed resource: its `Ref` value and its `GetAtt` attributes."""
        self.refs[logical_id] = ref
        self.attributes[logical_id] = dict(attributes or {})

    def condition(self, name: str) -> bool:
        """The value of a named condition."""
        if name not in self.conditions:
            expression = (self.template.get("Conditions") or {}).get(name)
            if expression is None:
                raise TemplateError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(expression))
        return self.conditions[name]

    def _ref(self, name: str) -> Any:
        if name in self.names:
            return self.names[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.not_deployed:
            raise TemplateError(f"Ref {name}: {self.not_deployed[name]}")
        raise TemplateError(f"Ref to unknown or not yet deployed {name}")

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id in self.not_deployed:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: {self.not_deployed[logical_id]}")
        if logical_id not in self.attributes:
            raise TemplateError(f"GetAtt to unknown or not yet deployed {logical_id}")
        if attribute not in self.attributes[logical_id]:
            known = ", ".join(sorted(self.attributes[logical_id])) or "none"
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: unknown attribute (known: {known})")
        return self.attributes[logical_id][attribute]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, variables = argument[0], self.resolve(argument[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                value = variables[name]
            elif "." in name and name.split(".", 1)[0] not in self.names:
                value = self._get_att(*name.split(".", 1))
            else:
                value = self._ref(name)
            return value if isinstance(value, str) else json.dumps(value)

        resolved = _SUB_VARIABLE.sub(replace, text)
        return resolved.replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by its value (`AWS::NoValue` items dropped)."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Any]:
        return {
            "Ref": lambda a: self._ref(a),
            "Fn::GetAtt": lambda a: self._get_att(*(a if isinstance(a, list) else str(a).split(".", 1))),
            "Fn::Sub": self._sub,
            "Fn::Join": lambda a: str(a[0]).join(str(item) for item in self.resolve(a[1])),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: str(self.resolve(a[1])).split(a[0]),
            "Fn::If": lambda a: self.resolve(a[1] if self.condition(a[0]) else a[2]),
            "Fn::Equals": lambda a: str(self.resolve(a[0])) == str(self.resolve(a[1])),
            "Fn::Not": lambda a: not self.resolve(a[0]),
            "Fn::And": lambda a: all(self.resolve(item) for item in a),
            "Fn::Or": lambda a: any(self.resolve(item) for item in a),
            "Condition": lambda a: self.condition(a),
            "Fn::FindInMap": lambda a: self.template["Mappings"][self.resolve(a[0])][self.resolve(a[1])][
                self.resolve(a[2])
            ],
            "Fn::GetAZs": lambda a: [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
            "Fn::ToJsonString": lambda a: json.dumps(self.resolve(a), separators=(",", ":")),
        }
