"""`compute_score` functions for verl's reward managers, backed by a Referee service.

verl calls `compute_score(data_source, solution_str, ground_truth, extra_info)` per sample
(NaiveRewardManager) or `compute_score(data_sources, solution_strs, ground_truths,
extra_infos)` per batch (`reward_model.reward_manager=batch`; much faster: one HTTP request
per chunk instead of one per sample). verl's reward loop (verl/experimental/reward_loop: its
NaiveRewardManager.run_single, one sample per call, many at once on one event loop) awaits a
coroutine function directly: `compute_score_async`, with the same keyword arguments and
`reward_router_address`/`reward_model_tokenizer` added when a reward model is configured
(absorbed here). Point `custom_reward_function.path` at this file, set
`custom_reward_function.name` to `compute_score`, `compute_score_batch` or
`compute_score_async`, and pass the
service through verl's own config, `custom_reward_function.reward_kwargs` (merged into every
call): `url` (required), `api_key` (use Hydra's `${oc.env:REFEREE_API_KEY}` to keep it out of
the config), `format_weight`, `prefilled`, `route`, `timeout_s`, `null_reward`,
`return_dict`. This module reads no
environment variables itself.

Routing by `data_source` (`route_of`; `route=` forces one for every sample):
- math: names containing gsm8k, math, aime, amc, numina, olympiad, deepscaler, dapo or
  gsm_hard -> `math` (gold = ground_truth) + `format` (weight `format_weight`, default 0.5;
  0 drops it);
- code: names containing code (codecontests, codeforces, ...), apps, taco, livecodebench,
  humaneval, mbpp or leetcode -> `code` (tests = ground_truth, a JSON string or dict in any
  shape the code scorer reads, e.g. verl/prime's `{"inputs", "outputs", "fn_name"?}`; or
  `extra_info["tests"]` when ground_truth is empty) + `format`;
- anything else raises ValueError: a dataset we do not know is not silently scored as math.
  Code is checked first, so "prime_code" is code, not math.
verl passes no prompt to compute_score, so when the chat template pre-fills `<think>`, pass
`prefilled=True` (the completion then holds only `</think>`).

verl has no way to skip a sample, so a sample without a reward (a scorer could not decide,
the item failed, the service stayed unavailable) raises `RewardError` unless the config
opts in with `null_reward=<float>`: then that value is used and, with `return_dict=True`,
`referee_null=1.0` marks it in verl's reward_extra_info. It is never turned into 0 silently.

verl stores a float return as the score (and as `acc` in reward_extra_info); a dict must hold
`score`, and every key of it becomes a reward_extra_info column whose keys the first sample
fixes, so the dict's keys never vary (`score`, `referee_null`).

Left out: an async batch form (verl's reward loop calls one sample at a time; the client's
connection pool and the service absorb the concurrency), per-scorer extra_info keys (verl needs the
same keys for every sample, and the scorers differ by route), multi-turn interactions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from referee.trainer_client.client import RewardClient
from referee.trainer_client.errors import RewardError
from referee.verifiers.contract import Result

Route = Literal["math", "code"]
CODE_MARKERS = ("code", "apps", "taco", "livecodebench", "humaneval", "mbpp", "leetcode")
MATH_MARKERS = (
    "gsm8k",
    "gsm_hard",
    "math",
    "aime",
    "amc",
    "numina",
    "olympiad",
    "deepscaler",
    "dapo",
)

_clients: dict[tuple[str, str | None], RewardClient] = {}
_clients_lock = threading.Lock()


def route_of(data_source: str) -> Route:
    """Which scorers a verl data_source gets; ValueError for an unknown one."""
    name = str(data_source).lower()
    if any(marker in name for marker in CODE_MARKERS):
        return "code"
    if any(marker in name for marker in MATH_MARKERS):
        return "math"
    raise ValueError(
        f"Referee's verl adapter has no route for data_source {data_source!r}: "
        "pass route='math' or route='code' in reward_kwargs, or rename the "
        f"source to contain one of {MATH_MARKERS + CODE_MARKERS}"
    )


def item_of(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None,
    *,
    format_weight: float = 0.5,
    prefilled: bool | None = None,
    route: Route | None = None,
    item_id: str | None = None,
) -> dict[str, Any]:
    """The Referee item for one verl sample."""
    kind = route or route_of(data_source)
    if kind == "math":
        # Numbers become text; anything else goes as it is, for the service to name the field.
        gold = str(ground_truth) if isinstance(ground_truth, int | float) else ground_truth
        scorers: list[dict[str, Any]] = [{"name": "math", "gold": gold}]
    else:
        scorers = [{"name": "code", "tests": _tests_of(ground_truth, extra_info)}]
    if format_weight:
        form: dict[str, Any] = {"name": "format", "weight": format_weight}
        if prefilled is not None:
            form["prefilled"] = prefilled
        scorers.append(form)
    item: dict[str, Any] = {"completion": solution_str, "scorers": scorers}
    if item_id is not None:
        item["id"] = item_id
    return item


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    url: str,
    api_key: str | None = None,
    format_weight: float = 0.5,
    prefilled: bool | None = None,
    route: Route | None = None,
    timeout_s: float | None = None,
    null_reward: float | None = None,
    return_dict: bool = False,
    **unused: Any,
) -> float | dict[str, float]:
    """One sample (verl's NaiveRewardManager). Prefer `compute_score_batch`."""
    return compute_score_batch(
        [data_source],
        [solution_str],
        [ground_truth],
        [extra_info],
        url=url,
        api_key=api_key,
        format_weight=format_weight,
        prefilled=prefilled,
        route=route,
        timeout_s=timeout_s,
        null_reward=null_reward,
        return_dict=return_dict,
    )[0]


async def compute_score_async(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    url: str,
    api_key: str | None = None,
    format_weight: float = 0.5,
    prefilled: bool | None = None,
    route: Route | None = None,
    timeout_s: float | None = None,
    null_reward: float | None = None,
    return_dict: bool = False,
    **unused: Any,
) -> float | dict[str, float]:
    """One sample, awaited by verl's reward loop: one request to the service over the
    client's `httpx.AsyncClient` for this event loop, with its retries."""
    item = item_of(
        data_source,
        solution_str,
        ground_truth,
        extra_info,
        format_weight=format_weight,
        prefilled=prefilled,
        route=route,
        item_id="0",
    )
    [result] = await client_for(url, api_key).ascore([item], timeout_s=timeout_s)
    return _reward(0, result, null_reward, return_dict)


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    url: str,
    api_key: str | None = None,
    format_weight: float = 0.5,
    prefilled: bool | None = None,
    route: Route | None = None,
    timeout_s: float | None = None,
    null_reward: float | None = None,
    return_dict: bool = False,
    **unused: Any,
) -> list[float | dict[str, float]]:
    """A batch (verl's BatchRewardManager): one reward, or `{"score", "referee_null"}`, per
    sample, in order. `unused` absorbs keyword arguments verl adds in newer versions."""
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    items = [
        item_of(
            source,
            solution,
            truth,
            info,
            format_weight=format_weight,
            prefilled=prefilled,
            route=route,
            item_id=str(index),
        )
        for index, (source, solution, truth, info) in enumerate(
            zip(data_sources, solution_strs, ground_truths, infos, strict=True)
        )
    ]
    results = client_for(url, api_key).score(items, timeout_s=timeout_s)
    return [
        _reward(index, result, null_reward, return_dict) for index, result in enumerate(results)
    ]


def client_for(url: str, api_key: str | None) -> RewardClient:
    """One client per (url, key) per process, so every call reuses its connections."""
    with _clients_lock:
        client = _clients.get((url, api_key))
        if client is None:
            client = _clients[(url, api_key)] = RewardClient(url, api_key=api_key)
        return client


def _reward(
    index: int, result: Result, null_reward: float | None, return_dict: bool
) -> float | dict[str, float]:
    if result.reward is None:
        if null_reward is None:
            raise RewardError(index, result)
        reward, null = float(null_reward), 1.0
    else:
        reward, null = result.reward, 0.0
    return {"score": reward, "referee_null": null} if return_dict else reward


def _tests_of(ground_truth: Any, extra_info: Mapping[str, Any] | None) -> Any:
    if ground_truth not in (None, "", {}, []):
        return ground_truth
    if extra_info is not None and extra_info.get("tests") not in (None, "", {}, []):
        return extra_info["tests"]
    raise ValueError(
        "a code sample needs its tests in ground_truth or extra_info['tests'] "
        f"(got ground_truth={json.dumps(ground_truth, default=str)[:80]})"
    )
