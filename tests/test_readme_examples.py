"""The README's JSON examples of the `code` scorer are valid: each block that is a `code`
scorer's parameters, or an item carrying one, validates as `CodeParams` (a README edited
out of step with the scorer fails here, not in a user's first request)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from referee.verifiers.code import CodeParams

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"^```json\n(.*?)^```$", re.S | re.M)


def code_items() -> list[tuple[str | None, dict[str, Any]]]:
    """Each `code` scorer's parameters in the README, with its item's completion (or None)."""
    found: list[tuple[str | None, dict[str, Any]]] = []
    for block in _BLOCK.findall(README.read_text()):
        try:
            value = json.loads(block)
        except json.JSONDecodeError:
            continue  # not every block is one JSON value (request and answer pairs, lines)
        if not isinstance(value, dict):
            continue
        for spec in value.get("scorers", [value]):
            if isinstance(spec, dict) and spec.get("name") == "code":
                params = {k: v for k, v in spec.items() if k not in ("name", "weight")}
                found.append((value.get("completion"), params))
    return found


def code_specs() -> list[dict[str, Any]]:
    return [params for _, params in code_items()]


def test_the_readme_has_code_examples() -> None:
    assert len(code_specs()) >= 4


@pytest.mark.parametrize("spec", code_specs(), ids=lambda spec: str(spec.get("tests", {}))[:40])
def test_a_readme_code_example_validates(spec: dict[str, Any]) -> None:
    CodeParams.model_validate(spec)
