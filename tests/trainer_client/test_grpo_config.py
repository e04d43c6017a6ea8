"""The recipe: defaults from R1/TRL, YAML loading, dotted overrides, loud failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from referee.trainer_client.grpo.config import Recipe, apply_overrides, load_recipe

REPO = Path(__file__).resolve().parents[2]
TINY = {"tiny": {}}


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("num_generations", 16),
        ("beta", 0.001),
        ("epsilon", 0.2),
        ("loss_type", "dapo"),
        ("scale_rewards", "group"),
        ("num_iterations", 1),
        ("learning_rate", 1e-6),
        ("off_policy_steps", 0),
    ],
)
def test_defaults_follow_r1_and_trl(field: str, expected: object) -> None:
    assert getattr(Recipe.model_validate({"model": TINY}).grpo, field) == expected


def test_sampling_defaults_are_plain_temperature_one() -> None:
    generation = Recipe.model_validate({"model": TINY}).generation
    assert (generation.temperature, generation.top_p, generation.top_k) == (1.0, 1.0, 0)


@pytest.mark.parametrize(("high", "expected"), [(None, 0.2), (0.28, 0.28)])
def test_epsilon_high_defaults_to_epsilon(high: float | None, expected: float) -> None:
    grpo = Recipe.model_validate({"model": TINY, "grpo": {"epsilon_high": high}}).grpo
    assert grpo.epsilon_upper == expected


@pytest.mark.parametrize(
    "data",
    [
        {"model": {}},  # no model source
        {"model": {"tiny": {}, "name_or_path": "x"}},  # two sources
        {"model": TINY, "grpo": {"loss_typ": "dapo"}},  # misspelt key
        {"model": TINY, "grpo": {"loss_type": "ppo"}},  # unknown loss type
        {"model": TINY, "grpo": {"num_generations": 1}},  # no group to compare within
        {"model": TINY, "data": {"source": "jsonl"}},  # jsonl without a path
    ],
    ids=["no-source", "two-sources", "misspelt", "bad-loss-type", "g-1", "jsonl-no-path"],
)
def test_bad_recipes_fail_loudly(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Recipe.model_validate(data)


def test_overrides_parse_yaml_values_into_nested_sections() -> None:
    data = apply_overrides(
        {"grpo": {"beta": 0.1}},
        ["grpo.beta=0", "model.tiny={hidden_size: 32}", "output.dir=/tmp/x"],
    )
    assert data == {
        "grpo": {"beta": 0},
        "model": {"tiny": {"hidden_size": 32}},
        "output": {"dir": "/tmp/x"},
    }


def test_override_without_equals_is_refused() -> None:
    with pytest.raises(ValueError):
        apply_overrides({}, ["grpo.beta"])


@pytest.mark.parametrize(
    "path",
    ["examples/r1_mini/recipe.yaml", "examples/grpo_gpu/recipe.yaml"],
)
def test_shipped_recipes_load(path: str) -> None:
    assert load_recipe(REPO / path).grpo.max_steps >= 1


def test_recipe_and_cli_import_without_torch() -> None:
    # `referee-train --help` and recipe validation must not pay for torch (or need it).
    import subprocess
    import sys

    code = (
        "import sys, referee.trainer_client.grpo.config, referee.trainer_client.grpo.cli;"
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"
