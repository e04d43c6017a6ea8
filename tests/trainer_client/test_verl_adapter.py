"""The verl adapter: routing by data_source, the items it builds, and both compute_score forms
called the way verl calls them (the module loaded from its file as verl's
`get_custom_reward_fn` does, `reward_kwargs` merged into every call) against a real
`referee serve`. verl itself (Ray, vLLM) is not installed: its loading and calling
conventions are reproduced here from its source."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import inspect
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from referee.trainer_client.adapters import verl as adapter
from referee.trainer_client.errors import RewardError
from tests.trainer_client.conftest import Service

RIGHT = "<think>Two and two.</think> The answer is \\boxed{4}."
WRONG = "<think>Two and two.</think> The answer is \\boxed{5}."
ADD_TESTS = {"inputs": ["1 2\n", "5 7\n"], "outputs": ["3\n", "12\n"]}
ADD_PROGRAM = (
    "<think>Read two ints.</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```"
)


@pytest.mark.parametrize(
    ("source", "route"),
    [
        ("openai/gsm8k", "math"),
        ("lighteval/MATH", "math"),
        ("DigitalLearningGmbH/MATH-lighteval", "math"),
        ("HuggingFaceH4/MATH-500", "math"),
        ("math_dapo", "math"),
        ("aime_2024", "math"),
        ("numina_olympiads", "math"),
        ("codecontests", "code"),
        ("apps", "code"),
        ("taco", "code"),
        ("codeforces", "code"),
        ("livecodebench/code_generation_lite", "code"),
        ("openai_humaneval", "code"),
        ("mbpp", "code"),
        ("prime_code", "code"),
    ],
)
def test_route_of(source: str, route: str) -> None:
    assert adapter.route_of(source) == route


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ValueError, match="no route for data_source 'hh_rlhf'"):
        adapter.route_of("hh_rlhf")


@pytest.mark.parametrize(
    ("ground_truth", "extra_info"),
    [
        (ADD_TESTS, None),
        (json.dumps(ADD_TESTS), None),
        ("", {"tests": ADD_TESTS}),
        (None, {"tests": json.dumps(ADD_TESTS)}),
    ],
    ids=["dict", "json", "extra-info", "extra-info-json"],
)
def test_code_tests_come_from_ground_truth_or_extra_info(
    ground_truth: Any, extra_info: Any
) -> None:
    item = adapter.item_of("apps", "x", ground_truth, extra_info)
    tests = item["scorers"][0]["tests"]
    assert (json.loads(tests) if isinstance(tests, str) else tests) == ADD_TESTS


def test_code_without_tests_is_refused() -> None:
    with pytest.raises(ValueError, match="tests"):
        adapter.item_of("apps", "x", None, {"index": 3})


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({}, ["math", "format"]),
        ({"format_weight": 0}, ["math"]),
    ],
)
def test_format_weight_zero_drops_format(kwargs: dict[str, Any], names: list[str]) -> None:
    item = adapter.item_of("gsm8k", "x", "4", None, **kwargs)
    assert [s["name"] for s in item["scorers"]] == names


def test_prefilled_reaches_the_format_scorer() -> None:
    item = adapter.item_of("gsm8k", "x", "4", None, prefilled=True)
    assert item["scorers"][1]["prefilled"] is True


def test_numeric_ground_truth_becomes_text() -> None:
    assert adapter.item_of("gsm8k", "x", 72, None)["scorers"][0]["gold"] == "72"


# -- called as verl calls it ----------------------------------------------------------------


def load_as_verl_does() -> ModuleType:
    """verl's get_custom_reward_fn: the file at custom_reward_function.path, loaded under the
    name "custom_module"."""
    spec = importlib.util.spec_from_file_location("custom_module", adapter.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verl_function(name: str, **reward_kwargs: Any) -> Callable[..., Any]:
    """verl's `_call_with_kwargs`: reward_kwargs override the call's keyword arguments."""
    raw = getattr(load_as_verl_does(), name)
    return lambda *args, **kwargs: raw(*args, **{**kwargs, **reward_kwargs})


@pytest.fixture
def config(service: Service) -> dict[str, Any]:
    return {"url": service.url, "api_key": service.api_key}


@pytest.mark.parametrize(
    ("solution", "reward"), [(RIGHT, 1.5), (WRONG, 0.5)], ids=["right", "wrong"]
)
def test_compute_score_per_sample(config: dict[str, Any], solution: str, reward: float) -> None:
    compute_score = verl_function("compute_score", **config)
    assert (
        compute_score(
            data_source="openai/gsm8k",
            solution_str=solution,
            ground_truth="4",
            extra_info={"split": "train", "index": 0},
        )
        == reward
    )


def test_compute_score_batch_keeps_order(config: dict[str, Any]) -> None:
    compute_score = verl_function("compute_score_batch", **config)
    solutions = [RIGHT if i % 2 else WRONG for i in range(30)]
    scores = compute_score(
        data_sources=["openai/gsm8k"] * 30,
        solution_strs=solutions,
        ground_truths=["4"] * 30,
        extra_infos=[None] * 30,
    )
    assert scores == [1.5 if i % 2 else 0.5 for i in range(30)]


@pytest.mark.usefixtures("sandbox_image")
def test_compute_score_batch_routes_code_to_the_sandbox(config: dict[str, Any]) -> None:
    compute_score = verl_function("compute_score_batch", format_weight=0, **config)
    scores = compute_score(
        data_sources=["openai/gsm8k", "codecontests", "codecontests"],
        solution_strs=[RIGHT, ADD_PROGRAM, "```python\nprint(3)\n```"],
        ground_truths=["4", json.dumps(ADD_TESTS), json.dumps(ADD_TESTS)],
        extra_infos=[None, None, None],
    )
    assert scores == [1.0, 1.0, 0.0]


def test_undecided_sample_raises_by_default(config: dict[str, Any]) -> None:
    compute_score = verl_function("compute_score", **config)
    with pytest.raises(RewardError, match="gold_unparsable"):
        compute_score(data_source="gsm8k", solution_str=RIGHT, ground_truth="\\frac{")


def test_null_reward_is_an_explicit_flagged_choice(config: dict[str, Any]) -> None:
    compute_score = verl_function(
        "compute_score_batch", null_reward=-1.0, return_dict=True, **config
    )
    scores = compute_score(
        data_sources=["gsm8k", "gsm8k"],
        solution_strs=[RIGHT, RIGHT],
        ground_truths=["\\frac{", "4"],
        extra_infos=None,
    )
    assert scores == [{"score": -1.0, "referee_null": 1.0}, {"score": 1.5, "referee_null": 0.0}]


def test_one_client_per_url_and_key(config: dict[str, Any]) -> None:
    assert adapter.client_for(config["url"], "k") is adapter.client_for(config["url"], "k")


# -- called as verl's reward loop calls it ----------------------------------------------------


async def _call_with_kwargs_async(
    raw: Any, extra: dict[str, Any], *args: Any, **kwargs: Any
) -> Any:
    """verl/trainer/ppo/reward.py `_call_with_kwargs_async` (reward_kwargs take precedence)."""
    return await raw(*args, **{**kwargs, **extra})


def reward_loop_function(**reward_kwargs: Any) -> Callable[..., Any]:
    """verl's get_custom_reward_fn for a coroutine function: a partial of the async caller,
    which verl's reward-loop NaiveRewardManager tells apart with inspect.iscoroutinefunction."""
    raw = load_as_verl_does().compute_score_async
    return functools.partial(_call_with_kwargs_async, raw, reward_kwargs)


async def run_single(compute_score: Callable[..., Any], solution: str, truth: Any) -> Any:
    """verl/experimental/reward_loop/reward_manager/naive.py `run_single`: keyword arguments,
    extra_info with num_turns and rollout_reward_scores; a dict result must hold "score"."""
    extra_info = {"index": 0, "num_turns": None, "rollout_reward_scores": {}}
    result = await compute_score(
        data_source="openai/gsm8k", solution_str=solution, ground_truth=truth, extra_info=extra_info
    )
    return result["score"] if isinstance(result, dict) else result


def test_reward_loop_awaits_the_async_function(config: dict[str, Any]) -> None:
    assert inspect.iscoroutinefunction(reward_loop_function(**config))


@pytest.mark.parametrize(
    ("solution", "reward"), [(RIGHT, 1.5), (WRONG, 0.5)], ids=["right", "wrong"]
)
def test_compute_score_async_per_sample(
    config: dict[str, Any], solution: str, reward: float
) -> None:
    assert asyncio.run(run_single(reward_loop_function(**config), solution, "4")) == reward


def test_compute_score_async_concurrent_samples_keep_their_rewards(
    config: dict[str, Any],
) -> None:
    """The reward loop's compute_score_batch gathers one task per sample on one event loop."""
    compute_score = reward_loop_function(**config)
    solutions = [RIGHT if i % 2 else WRONG for i in range(16)]

    async def gather() -> list[Any]:
        return list(await asyncio.gather(*(run_single(compute_score, s, "4") for s in solutions)))

    assert asyncio.run(gather()) == [1.5 if i % 2 else 0.5 for i in range(16)]


def test_compute_score_async_absorbs_the_reward_model_arguments(config: dict[str, Any]) -> None:
    compute_score = reward_loop_function(**config)
    result = asyncio.run(
        compute_score(
            data_source="gsm8k",
            solution_str=RIGHT,
            ground_truth=4,
            extra_info=None,
            reward_router_address="127.0.0.1:1",
            reward_model_tokenizer=None,
        )
    )
    assert result == 1.5


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"null_reward": -1.0, "return_dict": True}, {"score": -1.0, "referee_null": 1.0}),
        ({"null_reward": 0.0}, 0.0),
    ],
    ids=["flagged-dict", "float"],
)
def test_compute_score_async_null_reward_is_opt_in(
    config: dict[str, Any], kwargs: dict[str, Any], expected: Any
) -> None:
    compute_score = reward_loop_function(**config, **kwargs)
    result = asyncio.run(
        compute_score(data_source="gsm8k", solution_str=RIGHT, ground_truth="\\frac{")
    )
    assert result == expected


def test_compute_score_async_undecided_raises_by_default(config: dict[str, Any]) -> None:
    compute_score = reward_loop_function(**config)
    with pytest.raises(RewardError, match="gold_unparsable"):
        asyncio.run(compute_score(data_source="gsm8k", solution_str=RIGHT, ground_truth="\\frac{"))
