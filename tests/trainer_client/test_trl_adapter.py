"""The TRL adapter: how completions become items, what each reward function returns, and a
real TRL 1.16 `GRPOTrainer` training a tiny random-weight Qwen2 model offline against a real
`referee serve` process.

The tokenizer is a byte-level BPE trained here on a few sentences (about 300 tokens, so any
text encodes and the model's vocabulary stays small); its chat template pre-fills `<think>`,
as R1-style templates do. Nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from referee.trainer_client.adapters.trl import (
    SharedBatch,
    completion_text,
    score_of,
    trl_rewards,
)
from referee.trainer_client.client import RewardClient
from referee.verifiers.contract import Result, ScoreResult
from tests.trainer_client.conftest import Service

# Under CI nothing may skip: a missing TRL must fail the run.
if os.environ.get("CI") == "true":
    import trl  # noqa: F401
else:
    pytest.importorskip("trl")

# TRL is imported above only under CI; the marker says what the module needs either way.
pytestmark = pytest.mark.torch

SCORERS: list[dict[str, Any]] = [
    {"name": "math", "gold": "{solution}"},
    {"name": "format", "weight": 0.5},
]


def shared(scorers: list[dict[str, Any]] = SCORERS, **kwargs: Any) -> SharedBatch:
    rewards = trl_rewards("http://127.0.0.1:9", scorers, **kwargs)
    return rewards.funcs[0].batch


@pytest.mark.parametrize(
    ("completion", "text"),
    [
        ("plain \\boxed{1}", "plain \\boxed{1}"),
        ([{"role": "assistant", "content": "as message"}], "as message"),
        (
            [
                {"role": "assistant", "content": "a"},
                {"role": "tool", "content": "X"},
                {"role": "assistant", "content": "b"},
            ],
            "ab",
        ),
        (
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "part"}, {"type": "image"}],
                }
            ],
            "part",
        ),
        ([{"content": "no role"}], "no role"),
    ],
    ids=["string", "message", "assistant-only", "parts", "no-role"],
)
def test_completion_text(completion: Any, text: str) -> None:
    assert completion_text(completion) == text


def test_column_placeholder_takes_each_rows_value() -> None:
    items = shared().items(["p", "p"], ["a", "b"], None, {"solution": ["1", "2"]})
    assert [item["scorers"][0]["gold"] for item in items] == ["1", "2"]


def test_column_placeholder_keeps_structured_values() -> None:
    tests = {"inputs": ["1\n"], "outputs": ["1\n"]}
    batch = shared([{"name": "code", "tests": "{tests}"}])
    assert batch.items(["p"], ["c"], None, {"tests": [tests]})[0]["scorers"][0]["tests"] == tests


def test_missing_column_names_the_column() -> None:
    with pytest.raises(KeyError, match="'solution'"):
        shared().items(["p"], ["a"], None, {"answer": ["1"]})


def test_trl_keyword_arguments_are_not_columns() -> None:
    with pytest.raises(KeyError, match=r"only \['answer'\]"):
        shared().items(
            ["p"], ["a"], None, {"answer": ["1"], "trainer_state": None, "log_metric": print}
        )


def test_completion_ids_give_token_counts() -> None:
    items = shared().items(["p", "p"], ["a", "b"], [[1, 2, 3], [4]], {"solution": ["1", "1"]})
    assert [item["completion_tokens"] for item in items] == [3, 1]


def test_repeated_prompts_form_one_group() -> None:
    items = shared().items(["p", "p", "q", "q"], list("abcd"), None, {"solution": list("1122")})
    assert [item["group"] for item in items] == ["g0", "g0", "g1", "g1"]


def test_conversational_prompt_is_rendered_with_the_template() -> None:
    class Template:
        def apply_chat_template(
            self, messages: list[dict[str, str]], tokenize: bool, add_generation_prompt: bool
        ) -> str:
            return "".join(m["content"] for m in messages) + "<think>\n"

    batch = shared(processing_class=Template())
    item = batch.items([[{"role": "user", "content": "hi"}]], ["a"], None, {"solution": ["1"]})
    assert item[0]["prompt"] == "hi<think>\n"


def test_conversational_prompt_without_template_is_not_sent() -> None:
    item = shared().items([[{"role": "user", "content": "hi"}]], ["a"], None, {"solution": ["1"]})
    assert "prompt" not in item[0]


def test_functions_are_named_after_scorer_keys() -> None:
    rewards = trl_rewards(
        "http://x",
        [{"name": "math", "gold": "1"}, {"name": "format", "key": "fmt", "weight": 0.25}],
    )
    assert ([f.__name__ for f in rewards.funcs], rewards.weights) == (["math", "fmt"], [1.0, 0.25])


def test_repeated_scorer_key_is_refused() -> None:
    with pytest.raises(ValueError, match="distinct key"):
        trl_rewards("http://x", [{"name": "format"}, {"name": "format", "mode": "tag_count"}])


@pytest.mark.parametrize(
    ("result", "value"),
    [
        (Result(reward=1.0, scores={"math": ScoreResult(score=1.0, verdict="correct")}), 1.0),
        (Result(reward=0.0, scores={"math": ScoreResult(score=0.0, verdict="wrong")}), 0.0),
        (Result(reward=None, scores={"math": ScoreResult(score=None, verdict="timeout")}), None),
        (Result(reward=None, error="unavailable: down"), None),
        (Result(reward=1.0, scores={}), None),
    ],
    ids=["correct", "wrong", "null-score", "item-error", "scorer-missing"],
)
def test_score_of(result: Result, value: float | None) -> None:
    assert score_of(result, "math") == value


def test_functions_of_one_step_share_one_request(service: Service) -> None:
    client = RewardClient(service.url, api_key=service.api_key)
    rewards = trl_rewards(client, SCORERS)
    kwargs = {
        "prompts": ["q"] * 4,
        "completions": [f"</think> \\boxed{{{i}}}" for i in range(4)],
        "completion_ids": [[1]] * 4,
        "solution": ["2"] * 4,
    }

    async def step() -> list[list[float | None]]:
        return list(await asyncio.gather(*(f(**kwargs) for f in rewards.funcs)))

    before = service.metric("referee_results_total")
    math, _ = asyncio.run(step())
    assert (service.metric("referee_results_total") - before, math) == (4, [0.0, 0.0, 1.0, 0.0])


def test_failed_items_are_none_for_every_function(service: Service) -> None:
    rewards = trl_rewards(
        RewardClient(service.url, api_key=service.api_key), [{"name": "boom"}, {"name": "format"}]
    )
    out = asyncio.run(rewards.funcs[0](prompts=["q"], completions=["x"], completion_ids=None))
    assert out == [None]


# -- the real GRPOTrainer ---------------------------------------------------------------------

CORPUS = [
    "What is 2 + 2? Think step by step, then put the answer in \\boxed{}.",
    "<think> two plus two is four </think> The answer is \\boxed{4}.",
    "Compute 3 * 5. The product is \\boxed{15}. Let me check: 15 / 5 = 3.",
    "user assistant system 0123456789 + - * / = ( ) { } [ ] \\frac \\sqrt",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
)


def tiny_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=320,
            special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model(vocab_size: int, tokenizer: Any) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return Qwen2ForCausalLM(config)


def test_tokenizer_ids_fit_the_model_vocabulary() -> None:
    tokenizer = tiny_tokenizer()
    ids = tokenizer("Ünïcode 日本語 \\boxed{42} <|im_end|>")["input_ids"]
    assert max(ids) < len(tokenizer) <= 320


PROMPTS = {
    "standard": [
        {"prompt": "What is 2 + 2? <think>\n", "solution": "4"},
        {"prompt": "Compute 3 * 5. <think>\n", "solution": "15"},
    ],
    "conversational": [
        {"prompt": [{"role": "user", "content": "What is 2 + 2?"}], "solution": "4"},
        {"prompt": [{"role": "user", "content": "Compute 3 * 5."}], "solution": "15"},
    ],
}
STEPS, BATCH, COMPLETION_TOKENS = 2, 4, 12


@pytest.fixture(scope="module", params=list(PROMPTS))
def trained(
    request: pytest.FixtureRequest, service: Service, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], float]:
    """Train STEPS steps; return TRL's log history and how many results the service gave."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    tokenizer = tiny_tokenizer()
    rewards = trl_rewards(
        RewardClient(service.url, api_key=service.api_key),
        [
            *SCORERS,
            {"name": "overlong", "max_len": COMPLETION_TOKENS - 4, "cache_len": 4, "weight": 0.25},
        ],
        processing_class=tokenizer,
    )
    args = GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("grpo") / request.param),
        per_device_train_batch_size=BATCH,
        num_generations=BATCH,
        max_steps=STEPS,
        max_completion_length=COMPLETION_TOKENS,
        learning_rate=1e-4,
        logging_steps=1,
        reward_weights=rewards.weights,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        seed=0,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=tiny_model(len(tokenizer), tokenizer),
        reward_funcs=rewards.funcs,
        args=args,
        train_dataset=Dataset.from_list(PROMPTS[request.param] * 4),
        processing_class=tokenizer,
    )
    before = service.metric("referee_results_total")
    offline = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # anything reaching for the hub fails loudly
    try:
        trainer.train()
    finally:
        if offline is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = offline
    return list(trainer.state.log_history), service.metric("referee_results_total") - before


def step_logs(trained: tuple[list[dict[str, Any]], float]) -> list[dict[str, Any]]:
    return [entry for entry in trained[0] if "reward" in entry]


def test_trainer_logs_one_reward_per_scorer(trained: tuple[list[dict[str, Any]], float]) -> None:
    assert {"rewards/math/mean", "rewards/format/mean", "rewards/overlong/mean"} <= set(
        step_logs(trained)[0]
    )


def test_service_scores_each_completion_once(trained: tuple[list[dict[str, Any]], float]) -> None:
    assert trained[1] == STEPS * BATCH


def test_overlong_scores_come_from_the_service(trained: tuple[list[dict[str, Any]], float]) -> None:
    # A random model rarely stops early: its completions run into the overlong zone, which
    # only the service's scorer (counting the tokens TRL passed) can have penalised.
    assert all(entry["rewards/overlong/mean"] < 0 for entry in step_logs(trained))


def test_trainer_reward_is_the_weighted_sum(trained: tuple[list[dict[str, Any]], float]) -> None:
    for entry in step_logs(trained):
        weighted = (
            entry["rewards/math/mean"]
            + 0.5 * entry["rewards/format/mean"]
            + 0.25 * entry["rewards/overlong/mean"]
        )
        assert entry["reward"] == pytest.approx(weighted, abs=1e-5)
