"""Reward functions for TRL's `GRPOTrainer`, one per scorer, all served by one request.

    rewards = trl_rewards("http://127.0.0.1:8000", [
        {"name": "math", "gold": "{solution}"},      # "{solution}": the dataset's column
        {"name": "format", "weight": 0.5},
    ])
    trainer = GRPOTrainer(model=..., reward_funcs=rewards.funcs,
                          args=GRPOConfig(..., reward_weights=rewards.weights), ...)

Each function is an async callable named after its scorer's key (TRL logs
`rewards/<key>/mean`) and returns that scorer's score per completion; the weights go to
TRL (`reward_weights`), which sums them. TRL calls all async reward functions of a step
concurrently with the same arguments: the first call sends the batch (every scorer in one
request per chunk) and the others await the same answer, so the service scores each
completion once, not once per function.

A parameter value that is exactly `"{column}"` is replaced, per completion, by that dataset
column's value (any JSON value: a gold string, a `tests` dict). Completions may be strings or
conversational (lists of messages; the assistant messages' contents are joined). A
conversational prompt is rendered with `processing_class.apply_chat_template` when one is
given (so the format scorer sees a pre-filled `<think>`), else it is not sent.
`completion_ids` give `completion_tokens`, so length shaping counts tokens.

None, never 0: a score that is null (the scorer could not decide) or an item that failed
(invalid, or unscorable through every retry) gives None, which TRL drops for that function
(and, if every function gives None, TRL 1.16 marks the completion unscorable and zeroes its
advantage). `log_metric`, when TRL passes it, receives `referee/null_rewards` and
`referee/item_errors` per step. Left out: sync reward functions, and `log_extra` columns.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from referee.trainer_client.client import RewardClient
from referee.verifiers.contract import Result, ScorerSpec

logger = logging.getLogger("referee.trainer_client.trl")

COLUMN = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Keyword arguments TRL adds that are not dataset columns.
_TRL_KWARGS = frozenset({"trainer_state", "log_extra", "log_metric", "environments"})
# Batches kept for the reward functions that have not read theirs yet (one step's worth
# suffices; a few more cover evaluation interleaved with training).
_KEEP_BATCHES = 4


@dataclass(frozen=True)
class TRLRewards:
    """What `GRPOTrainer` needs: `funcs` for `reward_funcs`, `weights` for
    `GRPOConfig(reward_weights=...)`, in the same order."""

    funcs: list[ScorerReward]
    weights: list[float]


def trl_rewards(
    client: RewardClient | str,
    scorers: Sequence[ScorerSpec | Mapping[str, Any]],
    *,
    api_key: str | None = None,
    timeout_s: float | None = None,
    processing_class: Any = None,
    count_tokens: bool = True,
) -> TRLRewards:
    """Build one TRL reward function per scorer. `client` is a `RewardClient` or the
    service's URL (then a client with `on_error="none"` is made). `timeout_s` is the
    service's deadline per request."""
    specs = [
        dict(s.model_dump(exclude_unset=True) if isinstance(s, ScorerSpec) else s) for s in scorers
    ]
    parsed = [ScorerSpec.model_validate(spec) for spec in specs]
    keys = [spec.result_key for spec in parsed]
    if not keys or len(set(keys)) != len(keys):
        raise ValueError(
            f"need at least one scorer, each with a distinct key; got {keys} "
            "(give a repeated scorer a 'key')"
        )
    if isinstance(client, str):
        client = RewardClient(client, api_key=api_key, on_error="none")
    batch = SharedBatch(
        client,
        specs,
        n_readers=len(keys),
        timeout_s=timeout_s,
        processing_class=processing_class,
        count_tokens=count_tokens,
    )
    return TRLRewards(
        funcs=[ScorerReward(key, batch) for key in keys], weights=[spec.weight for spec in parsed]
    )


class ScorerReward:
    """One TRL reward function: the score of the scorer `key`, None when it has none."""

    def __init__(self, key: str, batch: SharedBatch) -> None:
        self.__name__ = key  # TRL names the function, and its logged rewards, after this
        self.key = key
        self.batch = batch

    async def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        results = await self.batch.results(prompts, completions, completion_ids, kwargs)
        return [score_of(result, self.key) for result in results]

    def __repr__(self) -> str:
        return f"ScorerReward({self.key!r})"


class SharedBatch:
    """Builds the items of a step, scores them once, and hands the results to every reward
    function of that step. Entries are keyed by the event loop and a digest of the items, so
    two identical batches share results (the scorers are deterministic) and nothing crosses
    loops."""

    def __init__(
        self,
        client: RewardClient,
        specs: list[dict[str, Any]],
        n_readers: int,
        timeout_s: float | None,
        processing_class: Any,
        count_tokens: bool,
    ) -> None:
        self.client = client
        self.specs = specs
        self.n_readers = n_readers
        self.timeout_s = timeout_s
        self.processing_class = processing_class
        self.count_tokens = count_tokens
        self._pending: OrderedDict[tuple[int, str], tuple[asyncio.Task[list[Result]], int]]
        self._pending = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pending"] = OrderedDict()  # tasks belong to this process's loop
        return state

    async def results(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None,
        kwargs: Mapping[str, Any],
    ) -> list[Result]:
        items = self.items(prompts, completions, completion_ids, kwargs)
        digest = hashlib.blake2b(
            json.dumps(items, sort_keys=True, default=str).encode(), digest_size=16
        ).hexdigest()
        key = (id(asyncio.get_running_loop()), digest)
        entry = self._pending.get(key)
        if entry is None:
            task = asyncio.get_running_loop().create_task(
                self._score(items, kwargs.get("log_metric"))
            )
            entry = (task, 0)
            self._pending[key] = entry
            while len(self._pending) > _KEEP_BATCHES:
                self._pending.popitem(last=False)
        task, readers = entry
        if readers + 1 >= self.n_readers:
            self._pending.pop(key, None)  # every function has its results: forget them
        else:
            self._pending[key] = (task, readers + 1)
        return await asyncio.shield(task)

    async def _score(
        self, items: list[dict[str, Any]], log_metric: Callable[[str, float], None] | None
    ) -> list[Result]:
        results = await self.client.ascore(items, timeout_s=self.timeout_s)
        errors = [r.error for r in results if r.error is not None]
        if errors:
            logger.warning(
                "%d of %d completions failed to score, e.g.: %s",
                len(errors),
                len(results),
                errors[0],
            )
        if callable(log_metric):
            log_metric("referee/null_rewards", float(sum(r.reward is None for r in results)))
            log_metric("referee/item_errors", float(len(errors)))
        return results

    def items(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None,
        kwargs: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """One item per completion, the scorers' "{column}" values filled in."""
        columns = {k: v for k, v in kwargs.items() if k not in _TRL_KWARGS}
        items: list[dict[str, Any]] = []
        group, previous = 0, None
        for index, completion in enumerate(completions):
            prompt = prompts[index] if index < len(prompts) else None
            prompt_text = self.prompt_text(prompt)
            # TRL repeats each prompt num_generations times in a row: one group per run, so
            # the service parses its gold once.
            if index and prompt != previous:
                group += 1
            previous = prompt
            item: dict[str, Any] = {
                "id": str(index),
                "group": f"g{group}",
                "completion": completion_text(completion),
                "scorers": [fill_columns(spec, columns, index) for spec in self.specs],
            }
            if prompt_text is not None:
                item["prompt"] = prompt_text
            if self.count_tokens and completion_ids is not None:
                item["completion_tokens"] = len(completion_ids[index])
            items.append(item)
        return items

    def prompt_text(self, prompt: Any) -> str | None:
        if prompt is None or isinstance(prompt, str):
            return prompt
        if self.processing_class is not None:
            text = self.processing_class.apply_chat_template(
                list(prompt), tokenize=False, add_generation_prompt=True
            )
            return text if isinstance(text, str) else None
        return None


def fill_columns(
    spec: Mapping[str, Any], columns: Mapping[str, Sequence[Any]], index: int
) -> dict[str, Any]:
    """The spec with each "{column}" value replaced by that column's value at `index`."""
    filled: dict[str, Any] = {}
    for name, value in spec.items():
        match = COLUMN.match(value) if isinstance(value, str) and name != "name" else None
        if match is None:
            filled[name] = value
            continue
        column = match.group(1)
        if column not in columns:
            raise KeyError(
                f"scorer {spec.get('name')!r}: parameter {name!r} asks for the "
                f"dataset column {column!r}, but the batch has only "
                f"{sorted(columns)}"
            )
        filled[name] = columns[column][index]
    return filled


def completion_text(completion: Any) -> str:
    """A completion as text: a string as is; a list of messages as the assistant messages'
    contents joined (all messages when none has a role)."""
    if isinstance(completion, str):
        return completion
    messages = [m for m in completion if isinstance(m, Mapping)]
    assistant = [m for m in messages if m.get("role") == "assistant"]
    return "".join(_content_text(m.get("content")) for m in (assistant or messages))


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # Multimodal content: a list of parts, of which only the text parts count.
    return "".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, Mapping) and part.get("type", "text") == "text"
    )


def score_of(result: Result, key: str) -> float | None:
    """The scorer's score in this result; None if the item failed or the score is null."""
    if result.error is not None:
        return None
    score = result.scores.get(key)
    return None if score is None else score.score
