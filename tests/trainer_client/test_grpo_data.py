"""Tasks, the compact Qwen tokenizer and item building: what the trainer sends and reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from referee.trainer_client.grpo.config import ArithmeticConfig, DataConfig
from referee.trainer_client.grpo.scoring import build_item, fill, reward_stats
from referee.trainer_client.grpo.tasks import (
    arithmetic_problem,
    arithmetic_rows,
    corpus_texts,
    load_rows,
    r1_completion,
)
from referee.trainer_client.grpo.tokenizer import CompactTokenizer
from referee.verifiers.contract import Result, ScoreResult


@pytest.mark.parametrize("seed", range(5))
def test_arithmetic_answer_is_the_sum_and_the_chain_ends_on_it(seed: int) -> None:
    question, answer, cot = arithmetic_problem(random.Random(seed), ArithmeticConfig(max_terms=4))
    terms = [int(x) for x in question.removeprefix("Compute ").split(" + ")]
    assert int(answer) == sum(terms)
    assert cot.endswith(f"= {answer}.")


def test_held_out_questions_never_appear_in_training() -> None:
    train, held_out = arithmetic_rows(ArithmeticConfig(n_train=3000, n_eval=100, max_terms=3), "r1")
    assert len(held_out) == 100
    assert not {r["question"] for r in train} & {r["question"] for r in held_out}


# A sloppy row whose third term is 0 boxes the total anyway: 90% of sloppy rows show it.
@pytest.mark.parametrize(
    ("fraction", "low", "high"),
    [(0.0, 0, 0), (0.5, 380, 520), (1.0, 850, 950)],
)
def test_sloppy_demonstrations_box_the_first_partial_sum(
    fraction: float,
    low: int,
    high: int,
) -> None:
    config = ArithmeticConfig(
        n_train=1000, n_eval=10, max_terms=3, min_terms=3, sloppy_fraction=fraction
    )
    train, held_out = arithmetic_rows(config, "r1")
    sloppy = [r for r in train if r["demo_answer"] != r["answer"]]
    assert low <= len(sloppy) <= high
    for r in sloppy:
        a, b, _ = (int(x) for x in r["question"].removeprefix("Compute ").split(" + "))
        assert r["demo_answer"] == str(a + b)
    assert all(r["demo_answer"] == r["answer"] for r in held_out)


def test_sloppiness_does_not_change_the_questions() -> None:
    clean, _ = arithmetic_rows(ArithmeticConfig(n_train=50, n_eval=5, max_terms=3), "r1")
    sloppy, _ = arithmetic_rows(
        ArithmeticConfig(n_train=50, n_eval=5, max_terms=3, sloppy_fraction=0.5), "r1"
    )
    assert [r["question"] for r in clean] == [r["question"] for r in sloppy]


def test_too_small_a_question_space_is_refused() -> None:
    with pytest.raises(ValueError):
        arithmetic_rows(ArithmeticConfig(n_eval=200, max_operand=3), "r1")


def test_r1_template_prefills_think() -> None:
    train, _ = arithmetic_rows(ArithmeticConfig(n_train=1, n_eval=1), "r1")
    assert train[0]["prompt"].startswith("A conversation between User and Assistant.")
    assert train[0]["prompt"].endswith(f"User: {train[0]['question']}. Assistant: <think>")


def test_jsonl_rows_keep_columns_and_template_the_prompt(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"problem": "1+1?", "answer": "2"}) + "\n\n")
    train, held_out = load_rows(DataConfig(source="jsonl", path=str(path), template="none"))
    assert train == [{"problem": "1+1?", "answer": "2", "prompt": "1+1?"}]
    assert held_out == []


def test_compact_tokenizer_round_trips_the_task_text() -> None:
    train, _ = arithmetic_rows(ArithmeticConfig(n_train=50, n_eval=5, max_terms=3), "r1")
    tokenizer = CompactTokenizer.from_texts(corpus_texts(train))
    text = train[0]["prompt"] + r1_completion(train[0]["cot"], train[0]["answer"])
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert max(ids) < tokenizer.vocab_size < 400


def test_compact_tokenizer_maps_unseen_tokens_to_unk() -> None:
    tokenizer = CompactTokenizer.from_texts(["1 + 2"])
    assert tokenizer.unk_token_id in tokenizer.encode("élan vital")


def test_compact_tokenizer_saves_and_loads(tmp_path: Path) -> None:
    tokenizer = CompactTokenizer.from_texts(["<think> 3 + 4 = 7. </think>"])
    tokenizer.save_pretrained(tmp_path)
    loaded = CompactTokenizer.from_pretrained(tmp_path)
    assert loaded.kept == tokenizer.kept and loaded.eos_token_id == tokenizer.eos_token_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{answer}", "\\frac{1}{2}"),
        ("x = {answer}", "x = \\frac{1}{2}"),
        ("{unknown} stays", "{unknown} stays"),
        (["{answer}", 3], ["\\frac{1}{2}", 3]),
    ],
    ids=["whole", "inside", "unknown-column", "list"],
)
def test_placeholders_fill_once_from_the_row(value: object, expected: object) -> None:
    # The gold's own braces ({1}, {2}) are never substituted again.
    assert fill(value, {"answer": "\\frac{1}{2}", "1": "no"}) == expected


def test_build_item_carries_group_prompt_tokens_and_filled_scorers() -> None:
    item = build_item(
        item_id="s1-p0-g3",
        group="s1-p0",
        prompt="P <think>",
        completion=" c",
        completion_tokens=2,
        scorers=[{"name": "math", "gold": "{answer}"}, {"name": "format"}],
        row={"answer": "7"},
    )
    assert (item.group, item.prompt, item.completion_tokens) == ("s1-p0", "P <think>", 2)
    assert item.scorers[0].params == {"gold": "7"}


def _result(reward: float | None, math: float | None) -> Result:
    return Result(reward=reward, scores={"math": ScoreResult(score=math, verdict="v")})


def test_reward_stats_leave_none_out_and_count_it() -> None:
    stats = reward_stats([_result(1.0, 1.0), _result(0.0, 0.0), _result(None, None)], "math")
    assert stats["reward/mean"] == 0.5
    assert stats["reward/null_frac"] == pytest.approx(1 / 3)
    assert stats["accuracy"] == 0.5
    assert stats["rewards/math/mean"] == 0.5
