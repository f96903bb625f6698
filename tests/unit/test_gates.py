"""Each gate of `make lint` passes on the repository and reports a broken copy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import gates
from zoho_watch_local.template import REPO_ROOT

VENV_BIN = Path(sys.executable).parent

MINI_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Checker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: app.lambda_handler
      CodeUri: functions/checker/
  Watcher:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/watch.asl.json
      DefinitionSubstitutions:
        CheckerFunctionArn: !GetAtt Checker.Arn
      Policies:
        - LambdaInvokePolicy:
            FunctionName: !Ref Checker
"""

MINI_ASL = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${CheckerFunctionArn}", "Payload.$": "$"},
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture
def mini_stack(tmp_path: Path) -> Path:
    """A small SAM project in a temporary folder: one function, one state machine using a substitution."""
    (tmp_path / "functions" / "checker").mkdir(parents=True)
    (tmp_path / "functions" / "checker" / "app.py").write_text(
        "def lambda_handler(event, context):\n    return event\n"
    )
    (tmp_path / "statemachine").mkdir()
    (tmp_path / "statemachine" / "watch.asl.json").write_text(json.dumps(MINI_ASL, indent=2))
    (tmp_path / "template.yaml").write_text(MINI_TEMPLATE)
    return tmp_path / "template.yaml"


def _edit_asl(template: Path, change) -> None:
    path = template.parent / "statemachine" / "watch.asl.json"
    asl = json.loads(path.read_text())
    change(asl)
    path.write_text(json.dumps(asl))


def test_every_gate_passes_on_a_sound_copy(mini_stack: Path) -> None:
    assert gates.substitution_problems(mini_stack) == []
    assert gates.statelint_problems(mini_stack) == []
    assert gates.transform_problems(mini_stack) == []


def test_substitutions_gate_reports_a_placeholder_without_a_key(mini_stack: Path) -> None:
    def add_placeholder(asl: dict) -> None:
        asl["States"]["Check"]["Parameters"]["Payload"] = {"table": "${JobsTableName}"}
        del asl["States"]["Check"]["Parameters"]["Payload.$"]

    _edit_asl(mini_stack, add_placeholder)
    problems = gates.substitution_problems(mini_stack)
    assert problems == [
        "Watcher: ${JobsTableName} in statemachine/watch.asl.json has no DefinitionSubstitutions key"
    ]


def test_substitutions_gate_reports_an_unused_key(mini_stack: Path) -> None:
    text = mini_stack.read_text().replace(
        "CheckerFunctionArn: !GetAtt Checker.Arn",
        "CheckerFunctionArn: !GetAtt Checker.Arn\n        Unused: x",
    )
    mini_stack.write_text(text)
    assert gates.substitution_problems(mini_stack) == [
        "Watcher: DefinitionSubstitutions key Unused is not used in statemachine/watch.asl.json"
    ]
    assert gates.main(["substitutions", "--template", str(mini_stack)]) == 1


def test_statelint_gate_reports_a_dangling_next(mini_stack: Path) -> None:
    _edit_asl(mini_stack, lambda asl: asl["States"]["Check"].update(Next="NoSuchState"))
    problems = gates.statelint_problems(mini_stack)
    assert problems[0] == (
        'watch.asl.json: No state found named "NoSuchState", referenced at State Machine.States.Check.Next'
    )


def test_statelint_gate_reports_a_choice_without_rules(mini_stack: Path) -> None:
    _edit_asl(mini_stack, lambda asl: asl["States"].update(Done={"Type": "Choice", "Default": "Check"}))
    problems = gates.statelint_problems(mini_stack)
    assert any("Choices" in p for p in problems), problems


def test_statelint_gate_substitutes_placeholders_with_well_formed_arns() -> None:
    assert gates.substitute('{"F": "${CheckJobFunctionArn}", "S": "${WatchStateMachineArn}"}') == (
        '{"F": "arn:aws:lambda:us-east-1:123456789012:function:CheckJobFunctionArn", '
        '"S": "arn:aws:states:us-east-1:123456789012:stateMachine:WatchStateMachineArn"}'
    )


def test_transform_gate_reports_an_invalid_sam_property(mini_stack: Path) -> None:
    text = mini_stack.read_text().replace(
        "Runtime: python3.13", "Runtime: python3.13\n      Events: not-a-map"
    )
    mini_stack.write_text(text)
    problems = gates.transform_problems(mini_stack)
    assert len(problems) == 1 and "Checker" in problems[0], problems


def test_transform_gate_reports_a_missing_code_folder(mini_stack: Path) -> None:
    shutil.rmtree(mini_stack.parent / "functions")
    assert gates.transform_problems(mini_stack) == [
        "SAM transform: Checker: CodeUri functions/checker/ does not exist"
    ]


def test_cfn_lint_reports_a_bad_getatt(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    text = (REPO_ROOT / "template.yaml").read_text()
    text = text.replace(
        "Outputs:\n", "Outputs:\n  Broken:\n    Value: !GetAtt JobsTable.NoSuchAttribute\n", 1
    )
    broken.write_text(text)
    # One run over both: the project's template is the control (cfn-lint starts in seconds, not milliseconds).
    result = subprocess.run(
        [VENV_BIN / "cfn-lint", REPO_ROOT / "template.yaml", broken], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "NoSuchAttribute" in result.stdout
    places = [line for line in result.stdout.splitlines() if ".yaml:" in line]
    assert places and all(line.startswith(f"{broken}:") for line in places), result.stdout


def test_ruff_reports_a_python_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "app.py"
    bad.write_text("def lambda_handler(event, context)\n    return event\n")
    result = subprocess.run([VENV_BIN / "ruff", "check", "--no-cache", bad], capture_output=True, text=True)
    assert result.returncode == 1
    assert "SyntaxError" in result.stdout or "invalid-syntax" in result.stdout, result.stdout
