"""maj@k by mathematical equivalence against maj@k by exact string, on a synthetic set with
known answers in mixed notations, and what the equivalence clustering costs per group.

Data (`make_samples`, seeded): `--prompts` prompts (256) x `--samples` samples (64). Each
prompt's gold is a fraction p/q (60%) or an integer; each prompt has its own chance of a right
answer, uniform in [0.15, 0.75]. A right sample writes the gold in one of its notations at
random (`\\frac{p}{q}`, `\\dfrac{p}{q}`, `p/q`, a terminating decimal, `\\frac{2p}{2q}`; an
integer as `n`, `n.0`, `\\frac{2n}{2}`, `{n}`); a wrong sample picks one of three wrong values
(weights 3:2:1), each written the same way every time (a wrong answer repeated is one
habitual mistake, not several spellings); 5% of samples box nothing. So the right answer
often has the most votes while its most common single spelling does not.

Method: the JSONL goes through `referee eval` (the embedded executor, `--workers` processes,
the `majority` scorer clustering each group in a scoring process), which prints maj@k by
equivalence and by exact string, both from the same run; then `referee score` on the same
file (the math scorer alone, no vote) as the baseline of the wall-time ratio. The
clustering's cost is then measured alone, in this process: for each group, the final
answers extracted once, then `cluster_answers` with a cold judgement cache (cleared before
each group, so that a repeat of one spelling in another group costs what it would in a fresh
worker); the time and the number of equivalence judgements per group are reported as median,
p90 and max.

Usage: python bench/eval_majority.py [--prompts 256] [--samples 64] [--workers 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any


def notations(value: Fraction) -> list[str]:
    """Ways to write `value`, all equal to it."""
    p, q = value.numerator, value.denominator
    if q == 1:
        return [str(p), f"{p}.0", f"\\frac{{{2 * p}}}{{2}}", f"{{{p}}}"]
    forms = [f"\\frac{{{p}}}{{{q}}}", f"\\dfrac{{{p}}}{{{q}}}", f"{p}/{q}"]
    forms.append(f"\\frac{{{2 * p}}}{{{2 * q}}}")
    rest = q
    for factor in (2, 5):
        while rest % factor == 0:
            rest //= factor
    if rest == 1:  # a terminating decimal
        forms.append(str(float(value)))
    return forms


def make_samples(prompts: int, samples: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for index in range(prompts):
        if rng.random() < 0.6:
            gold = Fraction(rng.randint(1, 19), rng.choice([2, 3, 4, 5, 6, 8, 10]))
        else:
            gold = Fraction(rng.randint(2, 999))
        wrongs = []
        while len(wrongs) < 3:
            wrong = gold + rng.choice([-1, 1]) * Fraction(rng.randint(1, 9), rng.choice([1, 2]))
            if wrong != gold and wrong not in wrongs:
                wrongs.append(wrong)
        wrong_forms = [rng.choice(notations(w)) for w in wrongs]
        right = rng.uniform(0.15, 0.75)
        for sample in range(samples):
            roll = rng.random()
            if roll < 0.05:
                answer = None
            elif roll < 0.05 + 0.95 * right:
                answer = rng.choice(notations(gold))
            else:
                answer = rng.choices(wrong_forms, weights=[3, 2, 1])[0]
            tail = "I am not sure." if answer is None else f"The answer is $\\boxed{{{answer}}}$."
            rows.append(
                {
                    "id": f"p{index}-{sample}",
                    "group": f"p{index}",
                    "completion": f"<think>Working it out step by step.</think> {tail}",
                    "scorers": [{"name": "math", "gold": str(gold)}],
                }
            )
    return rows


def clustering_cost(rows: list[dict[str, Any]]) -> tuple[list[float], list[int], list[int], int]:
    from referee.verifiers.answer_classes import cluster_answers, final_answer
    from referee.verifiers.math_equiv import judge, warm_parser

    warm_parser()
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row["completion"])
    times, comparisons, sizes, capped = [], [], [], 0
    for completions in groups.values():
        judge.cache_clear()
        started = time.perf_counter()
        answers = [final_answer(c) for c in completions]
        classes = cluster_answers(answers)
        times.append(time.perf_counter() - started)
        comparisons.append(classes.comparisons)
        sizes.append(len(classes.sizes))
        capped += classes.capped
    return times, comparisons, sizes, capped


def _spread(values: list[float], scale: float = 1.0, unit: str = "") -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"median {statistics.median(ordered) * scale:.1f}{unit}, p90 {p90 * scale:.1f}{unit}, "
        f"max {ordered[-1] * scale:.1f}{unit}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = make_samples(args.prompts, args.samples, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "samples.jsonl"
        data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        out = Path(scratch) / "report.json"
        referee = Path(sys.executable).with_name("referee")
        k = args.samples
        started = time.perf_counter()
        subprocess.run(
            [
                str(referee),
                "eval",
                str(data),
                "-q",
                "--workers",
                str(args.workers),
                "--k",
                f"1,4,16,{k}",
                "--json",
                str(out),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - started
        report = json.loads(out.read_text(encoding="utf-8"))
        started = time.perf_counter()
        subprocess.run(
            [
                str(referee),
                "score",
                str(data),
                "-q",
                "--workers",
                str(args.workers),
                "-o",
                str(Path(scratch) / "scored.jsonl"),
            ],
            check=True,
        )
        score_wall = time.perf_counter() - started
    totals = report["totals"]
    print(f"samples: {len(rows)} ({args.prompts} prompts x {args.samples})")
    print(f"referee eval --workers {args.workers}: {wall:.1f} s, start-up included")
    print(
        f"referee score (math only, no vote) on the same file: {score_wall:.1f} s; "
        f"eval / score: {wall / score_wall:.2f}x"
    )
    print(f"pass@1 (mean pass rate): {totals['pass_rate']:.4f}")
    print(f"pass@{k}: {totals['pass@k'][str(k)]:.4f}")
    equivalence, string = totals["maj@k"][str(k)], totals["maj_string@k"][str(k)]
    print(f"maj@{k} by equivalence:  {equivalence:.4f}")
    print(f"maj@{k} by exact string: {string:.4f}")
    print(f"difference: {equivalence - string:+.4f}")
    for kk in ("1", "4", "16"):
        print(
            f"  k={kk}: maj equivalence {totals['maj@k'][kk]:.4f}, "
            f"string {totals['maj_string@k'][kk]:.4f}, pass {totals['pass@k'][kk]:.4f}"
        )
    times, comparisons, sizes, capped = clustering_cost(rows)
    print(f"clustering per group of {args.samples} (one process, cold judgement cache):")
    print(f"  time (extraction + clustering): {_spread(times, 1000, ' ms')}")
    print(f"  equivalence judgements: {_spread([float(c) for c in comparisons])}")
    print(f"  classes: {_spread([float(c) for c in sizes])}; groups capped: {capped}")


if __name__ == "__main__":
    main()
