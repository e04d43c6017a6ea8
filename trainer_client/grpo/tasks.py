"""Prompts for GRPO: DeepSeek-R1's template, a generated arithmetic task, and JSONL datasets.

A task row is a plain dict: `prompt` (the templated text the model continues), the dataset
columns the scorers' `{column}` placeholders read (`answer` for the arithmetic task), and, for
generated tasks, `cot` and `demo_answer` (a worked chain of thought and the answer it boxes,
for the cold-start SFT step; `demo_answer` is wrong in a `sloppy_fraction` of train rows).

The arithmetic task is deliberately tiny (sums of a few small numbers) so that a model trained
from scratch on two CPU cores learns it in minutes; its chain of thought adds the terms left to
right, one partial sum per step. Left out: any real benchmark (no data set is downloaded).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from referee.trainer_client.grpo.config import ArithmeticConfig, DataConfig

# DeepSeek-R1 (arXiv 2501.12948), Table 1, with the assistant's <think> pre-filled as in
# open-r1 and TRL's R1 recipes: completions then start inside the reasoning, and the `format`
# scorer detects the pre-filled <think> from the prompt.
R1_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
    "process here </think> <answer> answer here </answer>. User: {prompt}. Assistant: <think>"
)

Row = dict[str, Any]


def apply_template(question: str, template: str) -> str:
    return R1_TEMPLATE.format(prompt=question) if template == "r1" else question


def r1_completion(cot: str, answer: str) -> str:
    """The completion a well-behaved model writes after the pre-filled `<think>`."""
    return f" {cot} </think> <answer> \\boxed{{{answer}}} </answer>"


def arithmetic_problem(rng: random.Random, config: ArithmeticConfig) -> tuple[str, str, str]:
    """One sum: (question, answer, chain of thought)."""
    n_terms = rng.randint(config.min_terms, config.max_terms)
    terms = [rng.randint(0, config.max_operand) for _ in range(n_terms)]
    question = "Compute " + " + ".join(map(str, terms))
    steps, total = [], terms[0]
    for term in terms[1:]:
        steps.append(f"{total} + {term} = {total + term}.")
        total += term
    return question, str(total), " ".join(steps)


def arithmetic_rows(config: ArithmeticConfig, template: str) -> tuple[list[Row], list[Row]]:
    """Train and held-out rows; no held-out question appears in the train rows.

    The held-out questions are drawn first (distinct), then the train questions are drawn with
    replacement from the rest of the question space, so small sums repeat in training as often
    as they occur while the held-out set stays unseen.
    """
    rng = random.Random(config.seed)
    held_out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    # Bounded: a question space smaller than n_eval cannot be filled.
    for _ in range(config.n_eval * 100):
        if len(held_out) == config.n_eval:
            break
        problem = arithmetic_problem(rng, config)
        if problem[0] not in seen:
            held_out.append(problem)
            seen.add(problem[0])
    if len(held_out) < config.n_eval:
        raise ValueError(
            f"found only {len(held_out)} distinct questions for the held-out set; "
            "raise max_operand or the number of terms"
        )
    train: list[tuple[str, str, str]] = []
    for _ in range(config.n_train * 100):
        if len(train) == config.n_train:
            break
        problem = arithmetic_problem(rng, config)
        if problem[0] not in seen:
            train.append(problem)
    if len(train) < config.n_train:
        raise ValueError("the held-out set leaves too few questions to train on")

    def row(question: str, answer: str, cot: str, sloppy: bool = False) -> Row:
        # The first partial sum, as the chain of thought states it: "3 + 5 = 8." -> 8.
        shown = cot.split(" = ", 1)[1].split(".", 1)[0] if sloppy else answer
        return {
            "prompt": apply_template(question, template),
            "question": question,
            "answer": answer,
            "cot": cot,
            "demo_answer": shown,
        }

    # Its own stream, so that the fraction does not change which questions are drawn.
    sloppy = random.Random(config.seed + 1)
    return (
        [row(*p, sloppy.random() < config.sloppy_fraction) for p in train],
        [row(*p) for p in held_out],
    )


def jsonl_rows(path: str | Path, prompt_column: str, template: str) -> list[Row]:
    """Rows of a JSONL file; `prompt` is the templated `prompt_column`, other columns kept."""
    rows: list[Row] = []
    with Path(path).open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or prompt_column not in record:
                raise ValueError(f"{path}:{number}: expected an object with {prompt_column!r}")
            rows.append({**record, "prompt": apply_template(str(record[prompt_column]), template)})
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def load_rows(config: DataConfig) -> tuple[list[Row], list[Row]]:
    """(train rows, held-out rows) for a data config; JSONL data has no held-out split here."""
    if config.source == "arithmetic":
        return arithmetic_rows(config.arithmetic, config.template)
    assert config.path is not None  # the config validator guarantees it
    return jsonl_rows(config.path, config.prompt_column, config.template), []


def corpus_texts(rows: list[Row]) -> list[str]:
    """Texts a compact vocabulary must cover: every column, and an R1-style completion."""
    texts = [str(v) for row in rows for v in row.values() if isinstance(v, str | int | float)]
    return [*texts, r1_completion("reasoning", "0")]
