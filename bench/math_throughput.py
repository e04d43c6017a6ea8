"""Math reward throughput: a naive open-r1-style loop against `referee score`, in one run.

Builds 4,096 completions in 256 groups of 16 sharing a gold answer (a realistic mix: mostly
integers, then fractions, radicals, decimals, intervals and sets; some answers wrong, some
written in another equivalent form, some not boxed), then measures on this machine:

  (a) baseline: one process, for each completion parse the gold and the completion and
      verify, as open-r1's `accuracy_reward` does (math-verify defaults, boxed="all");
  (b) `referee score --workers 2` as a subprocess on the same JSONL (start-up included);
  (c) `referee score --workers 1`, to separate per-item savings from parallelism;
  (d) the executor's steady-state throughput with 2 workers, start-up excluded (a second
      pass over the same items, so per-worker caches are warm as in a long-running service).

Prints items/s of each, the ratios (b)/(a) and (c)/(a), and how often (a) and (b) disagree.
Usage: python bench/math_throughput.py [--groups 256] [--group-size 16] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

FILLER = (
    "Let me set up the problem carefully. We know the constraints, so we can write the "
    "equation and simplify both sides step by step. Checking the edge cases confirms it. "
)


def _integer(rng: random.Random) -> tuple[str, list[str], list[str]]:
    value = rng.randint(-50, 5000)
    return str(value), [str(value)], [str(value + d) for d in (1, -1, 10)] + [str(-value)]


def _fraction(rng: random.Random) -> tuple[str, list[str], list[str]]:
    q = Fraction(rng.randint(1, 40), rng.randint(2, 41))
    if q.denominator == 1:
        q += Fraction(1, 2)
    gold = f"\\frac{{{q.numerator}}}{{{q.denominator}}}"
    n, d = q.numerator, q.denominator
    forms = [gold, f"\\dfrac{{{n}}}{{{d}}}", f"{n}/{d}"]
    wrong = [f"\\frac{{{d}}}{{{n}}}", f"\\frac{{{n + 1}}}{{{d}}}"]
    return gold, forms, wrong


def _radical(rng: random.Random) -> tuple[str, list[str], list[str]]:
    a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
    gold = f"{a}\\sqrt{{{b}}}"
    return gold, [gold, f"\\sqrt{{{a * a * b}}}"], [f"{a + 1}\\sqrt{{{b}}}", f"\\sqrt{{{a * b}}}"]


def _decimal(rng: random.Random) -> tuple[str, list[str], list[str]]:
    value = rng.randint(1, 999) / 100
    return f"{value}", [f"{value}", f"{value:.2f}"], [f"{value + 0.1:.2f}", f"{value * 10:.1f}"]


def _interval(rng: random.Random) -> tuple[str, list[str], list[str]]:
    lo, hi = rng.randint(-9, 0), rng.randint(1, 9)
    gold = f"({lo}, {hi}]"
    return gold, [gold, f"({lo},{hi}]"], [f"[{lo}, {hi}]", f"({lo}, {hi})"]


def _set(rng: random.Random) -> tuple[str, list[str], list[str]]:
    a, b = rng.sample(range(-9, 10), 2)
    gold = f"\\{{{a}, {b}\\}}"
    return gold, [gold, f"\\{{{b}, {a}\\}}"], [f"\\{{{a}, {b + 20}\\}}", f"\\{{{a}\\}}"]


KINDS = [
    (_integer, 0.62),
    (_fraction, 0.12),
    (_radical, 0.08),
    (_decimal, 0.06),
    (_interval, 0.06),
    (_set, 0.06),
]


def make_items(groups: int, size: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    makers, weights = zip(*KINDS, strict=True)
    items = []
    for g in range(groups):
        gold, forms, wrong = rng.choices(makers, weights)[0](rng)
        for i in range(size):
            roll = rng.random()
            reasoning = FILLER * rng.randint(2, 8)
            if roll < 0.55:
                answer = f"The final answer is $\\boxed{{{forms[0]}}}$."
            elif roll < 0.65:
                answer = f"So we get $\\boxed{{{rng.choice(forms)}}}$."
            elif roll < 0.92:
                answer = f"Therefore $\\boxed{{{rng.choice(wrong)}}}$."
            else:
                answer = f"The answer is {forms[0]}."
            items.append(
                {
                    "id": f"g{g}-{i}",
                    "group": f"g{g}",
                    "completion": f"<think>{reasoning}</think>\n{answer}",
                    "scorers": [{"name": "math", "gold": gold}],
                }
            )
    return items


def naive_rewards(items: list[dict[str, Any]]) -> list[float]:
    """open-r1's accuracy_reward, item by item, parsing the gold every time."""
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse, verify

    rewards = []
    for item in items:
        gold = item["scorers"][0]["gold"]
        gold_parsed = parse(f"${gold}$", extraction_mode="first_match")
        answer_parsed = parse(
            item["completion"],
            extraction_config=[
                LatexExtractionConfig(
                    normalization_config=NormalizationConfig(
                        nits=False,
                        malformed_operators=False,
                        basic_latex=True,
                        equations=True,
                        boxed="all",
                        units=True,
                    ),
                    boxed_match_priority=0,
                    try_extract_without_anchor=False,
                )
            ],
            extraction_mode="first_match",
        )
        rewards.append(float(verify(gold_parsed, answer_parsed)))
    return rewards


def run_cli(path: Path, workers: int) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "referee.service.cli",
            "score",
            str(path),
            "--workers",
            str(workers),
            "-q",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    return elapsed, [json.loads(line) for line in proc.stdout.splitlines()]


def steady_state(items: list[dict[str, Any]], workers: int) -> tuple[float, float]:
    """Seconds for a first (cold) and a second (warm) pass through a started executor."""
    from referee.service.executor import Executor
    from referee.service.settings import Settings

    with Executor(Settings(workers=workers)) as executor:
        started = time.perf_counter()
        executor.score(items)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        executor.score(items)
        return cold, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=256)
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    items = make_items(args.groups, args.group_size, args.seed)
    n = len(items)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "items.jsonl"
        path.write_text("".join(json.dumps(item) + "\n" for item in items))
        started = time.perf_counter()
        baseline = naive_rewards(items)
        t_naive = time.perf_counter() - started
        t_two, ours = run_cli(path, 2)
        t_one, _ = run_cli(path, 1)
    t_cold, t_warm = steady_state(items, 2)
    verdicts = Counter(r["scores"]["math"]["verdict"] for r in ours)
    disagree = sum(1 for a, b in zip(baseline, ours, strict=True) if a != (b["reward"] or 0.0))
    print(f"items: {n} in {args.groups} groups of {args.group_size}")
    print(f"(a) naive one-process loop:     {t_naive:7.2f} s  {n / t_naive:8.1f} items/s")
    print(f"(b) referee score --workers 2:  {t_two:7.2f} s  {n / t_two:8.1f} items/s")
    print(f"(c) referee score --workers 1:  {t_one:7.2f} s  {n / t_one:8.1f} items/s")
    print(
        f"(d) executor, 2 workers, start-up excluded: first pass {n / t_cold:8.1f} items/s, "
        f"second pass {n / t_warm:8.1f} items/s"
    )
    print(
        f"ratio (b)/(a): {t_naive / t_two:.2f}x   (c)/(a): {t_naive / t_one:.2f}x   "
        f"(target (b)/(a) >= 2.5)"
    )
    print(f"referee verdicts: {dict(verdicts)}")
    print(f"rewards differing between (a) and (b): {disagree} of {n}")


if __name__ == "__main__":
    main()
