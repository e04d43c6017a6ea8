"""Item validation, reward composition and error isolation in the engine (in-process)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from referee.service.settings import Settings
from referee.verifiers.engine import Limits, score_item
from referee.verifiers.registry import PluginError, ScorerConfig, build_registry
from tests.service.plugins import ALL

REGISTRY = build_registry(ScorerConfig(plugins=ALL))
LIMITS = Settings().limits()


def run(item: dict[str, Any], limits: Limits | None = None) -> Any:
    return score_item(item, REGISTRY, limits or LIMITS)


def echo(value: float | None, weight: float = 1.0, key: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "echo", "value": value, "weight": weight}
    if key is not None:
        spec["key"] = key
    return spec


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"scorers": [echo(1.0)]}, "completion"),
        ({"completion": "x", "scorers": []}, "scorers"),
        ({"completion": "x", "scorers": [{"name": "nope"}]}, "scorers[0].name"),
        ({"completion": "x", "scorers": [{"name": "math"}]}, "scorers[0].gold"),
        (
            {"completion": "x", "scorers": [echo(1.0, key="a"), {"name": "echo", "bogus": 1}]},
            "scorers[1].bogus",
        ),
        ({"completion": "x", "scorers": [echo(1.0), echo(2.0)]}, "scorers[1].key"),
        (
            {"completion": "x", "scorers": [{"name": "echo", "weight": "heavy"}]},
            "scorers[0].weight",
        ),
        ({"completion": "x", "scorers": [echo(1.0)], "extra": 1}, "extra"),
        ({"completion": 5, "scorers": [echo(1.0)]}, "completion"),
        ({"completion": "x", "completion_tokens": -1, "scorers": [echo(1.0)]}, "completion_tokens"),
    ],
    ids=[
        "missing-completion",
        "no-scorers",
        "unknown-scorer",
        "missing-param",
        "unknown-param",
        "duplicate-key",
        "bad-weight",
        "unknown-item-field",
        "completion-not-str",
        "negative-tokens",
    ],
)
def test_bad_item_is_an_error_naming_the_field(item: dict[str, Any], field: str) -> None:
    result = run(item)
    assert result.reward is None
    assert result.error is not None
    assert result.error.startswith(field), result.error


@pytest.mark.parametrize(
    ("scorers", "null_as_zero", "reward"),
    [
        ([echo(1.0)], False, 1.0),
        ([echo(1.0, 0.5), echo(0.5, 2.0, key="b")], False, 1.5),
        ([echo(1.0), echo(None, key="b")], False, None),
        ([echo(1.0), echo(None, key="b")], True, 1.0),
        ([echo(-1.0, 0.25)], False, -0.25),
    ],
    ids=["single", "weighted-sum", "null-makes-reward-null", "null-as-zero", "negative"],
)
def test_reward_is_the_weighted_sum(
    scorers: list[dict[str, Any]], null_as_zero: bool, reward: float | None
) -> None:
    result = run({"completion": "x", "scorers": scorers, "null_as_zero": null_as_zero})
    assert result.reward == reward


def test_scores_keep_the_item_scorer_order() -> None:
    result = run({"completion": "x", "scorers": [echo(1.0, key="z"), echo(1.0, key="a")]})
    assert list(result.scores) == ["z", "a"]


def test_id_is_echoed() -> None:
    assert run({"id": "q1-3", "completion": "x", "scorers": [echo(1.0)]}).id == "q1-3"


def test_id_is_echoed_on_error() -> None:
    assert run({"id": "q1-3", "scorers": [echo(1.0)]}).id == "q1-3"


def test_scorer_exception_does_not_lose_the_other_scores() -> None:
    result = run({"completion": "x", "scorers": [echo(1.0), {"name": "boom"}]})
    assert result.scores["echo"].score == 1.0
    assert result.scores["boom"].verdict == "scorer_error"
    assert result.reward is None


def test_completion_over_the_cap_is_an_error_naming_the_limit() -> None:
    result = run(
        {"completion": "x" * 101, "scorers": [echo(1.0)]},
        dataclasses.replace(LIMITS, max_completion_chars=100),
    )
    assert result.error is not None and "max_completion_chars" in result.error


def test_too_many_scorers_is_an_error_naming_the_limit() -> None:
    scorers = [echo(1.0, key=str(i)) for i in range(3)]
    result = run(
        {"completion": "x", "scorers": scorers}, dataclasses.replace(LIMITS, max_scorers=2)
    )
    assert result.error is not None and "max_scorers" in result.error


def test_dependent_scorer_must_follow_its_dependency() -> None:
    item = {"completion": "x", "scorers": [{"name": "cosine_length"}]}
    result = run(item)
    assert result.error is not None and result.error.startswith("scorers[0]")


@pytest.mark.parametrize(
    "spec",
    [
        "no_colon",
        "tests.service.plugins:Missing",
        "nonexistent.module:X",
        "tests.service.plugins:ALL",
    ],
)
def test_bad_plugin_is_a_clear_error(spec: str) -> None:
    with pytest.raises(PluginError, match="scorer plugin"):
        build_registry(ScorerConfig(plugins=(spec,)))


def test_noop_scorer_scores_zero_whatever_the_completion() -> None:
    result = run({"completion": "anything at all", "scorers": [{"name": "noop"}]})
    assert (result.reward, result.scores["noop"].verdict) == (0.0, "noop")
