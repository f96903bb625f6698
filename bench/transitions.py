"""States entered by a Step Functions execution of a state machine, walked from its definition with each
Task's output: the transitions the cost benchmark bills, by state type, and the retries a fault rate adds."""

from __future__ import annotations

import collections
from typing import Any


def _path_value(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(rule: dict[str, Any], output: dict[str, Any]) -> bool:
    """Whether one Choice rule (the comparisons the watch loop uses, and `And`) holds for `output`."""
    if "And" in rule:
        return all(_matches(part, output) for part in rule["And"])
    value = _path_value(output, rule["Variable"])
    if "StringEquals" in rule:
        return bool(value == rule["StringEquals"])
    if "BooleanEquals" in rule:
        return value is rule["BooleanEquals"]
    if "IsPresent" in rule:
        return (value is not None) is rule["IsPresent"]
    if "IsNumeric" in rule:
        return isinstance(value, int | float) is rule["IsNumeric"]
    if "NumericGreaterThanEquals" in rule:
        return isinstance(value, int | float) and value >= rule["NumericGreaterThanEquals"]
    raise ValueError(f"the bench's walker does not know the Choice rule {sorted(rule)}")


def _choose(state: dict[str, Any], output: dict[str, Any]) -> str:
    for rule in state.get("Choices", []):
        if _matches(rule, output):
            return str(rule["Next"])
    return str(state["Default"])


# The input of a watch zoho-watch starts (its first start carries a request id).
WATCH_INPUT = {"start_request": "bench", "generation": 0}


def transitions_by_type(
    asl: dict[str, Any], task_outputs: list[dict[str, Any]], execution_input: dict[str, Any] | None = None
) -> collections.Counter[str]:
    """States entered, by state type, by one execution of `execution_input` (default: a watch zoho-watch
    started) whose Task states return `task_outputs` in turn (no retries: see `retry_transitions`)."""
    states = asl["States"]
    name, outputs = asl["StartAt"], iter(task_outputs)
    entered: collections.Counter[str] = collections.Counter()
    output: dict[str, Any] = dict(WATCH_INPUT if execution_input is None else execution_input)
    while True:
        state = states[name]
        kind = state["Type"]
        entered[kind] += 1
        if kind in ("Succeed", "Fail"):
            return entered
        if kind == "Task":
            try:
                output = next(outputs)
            except StopIteration:
                raise ValueError("the execution asked for more checks than were given") from None
            name = state["Next"]
        elif kind == "Choice":
            name = _choose(state, output)
        elif kind in ("Wait", "Pass"):
            name = state["Next"]
        else:
            raise ValueError(f"the bench's walker does not know state type {kind}")
        if state.get("End"):
            return entered


def count_transitions(
    asl: dict[str, Any], task_outputs: list[dict[str, Any]], execution_input: dict[str, Any] | None = None
) -> int:
    """States entered by one execution (`transitions_by_type`, all types)."""
    return sum(transitions_by_type(asl, task_outputs, execution_input).values())


def retry_transitions(checks: int, fault_rate: float) -> float:
    """Expected extra transitions of `checks` Task runs whose every attempt fails with `fault_rate`.

    Step Functions bills each retry as one more transition (the Task entered again); with independent
    faults an attempt is repeated until one succeeds, so a check takes 1 / (1 - p) attempts on average.
    """
    if not 0 <= fault_rate < 1:
        raise ValueError("the fault rate is a share in [0, 1)")
    return checks * fault_rate / (1 - fault_rate)


def transitions_detail(by_type: collections.Counter[str], checks: int, fault_rate: float) -> str:
    """'Task 39, Choice 40, Wait 38, Succeed 1 = 118 (3.03 per check); retries +0.4 at 1% faults'."""
    total = sum(by_type.values())
    parts = ", ".join(f"{kind} {count}" for kind, count in sorted(by_type.items(), key=_type_order))
    retries = retry_transitions(checks, fault_rate)
    return (
        f"{parts} = {total} ({total / checks:.2f} per check); retries +{retries:.1f} at "
        f"{fault_rate:.0%} faults per attempt (computed)"
    )


def _type_order(item: tuple[str, int]) -> tuple[int, str]:
    order = ("Choice", "Task", "Wait", "Pass", "Succeed", "Fail")
    return (order.index(item[0]) if item[0] in order else len(order), item[0])
