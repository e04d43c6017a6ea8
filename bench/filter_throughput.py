"""`referee filter` on 10k samples: throughput, the drop counts per rule, and what the readability
rules cost against scoring the same samples' required scorer alone, in the same run.

Data (`make_samples`, seeded): `--samples` samples (10,000) in prompts of 8, each an R1-style
completion: a `<think>` block of 8-16 English sentences drawn from a pool of 40 (about 1 KB),
then a boxed answer. 60% box the gold. Faults, each drawn independently, so a sample may have
several: 6% a German sentence run into the reasoning (mixed language), 4% one paragraph of
2,500 characters (long paragraph), 4% a fenced Python block (code block), 3% the same sentence
40 times (repetition), 2% 40,000 characters of reasoning (overlong), 4% a second `<think>`
(format: the prompt pre-fills one).

Method: two subprocesses on the same JSONL, `--workers` scoring processes each, start-up
included: (a) `referee score` with the items' own scorer (the `math` gold check), the
baseline; (b) `referee filter --language en --per-prompt 4`, which scores the same scorer,
then the `readability` scorer (fastText language id, paragraphs, fences, 3-gram repetition,
length, format) on the samples whose answer was right, and writes the SFT file. Printed: the
wall time and samples/s of each, their ratio, and (b)'s report: kept, dropped per reason
(each sample once, by its first reason), and rule hits among the correct samples.

Usage: python bench/filter_throughput.py [--samples 10000] [--workers 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUBJECTS = ["the sum", "the product", "the remainder", "the area", "the ratio", "the slope"]
VERBS = ["equals", "is at most", "does not exceed", "must match", "stays below", "grows like"]
OBJECTS = [
    "the value we found before",
    "twice the smaller root",
    "the length of the hypotenuse",
    "the number of ways to choose them",
    "the constant term of the polynomial",
    "half of the previous estimate",
]
OPENERS = ["First,", "Next,", "So", "Therefore", "Now", "Hence", "Wait,", "Let me check:"]
GERMAN = "Dann rechnen wir die Summe noch einmal nach und prüfen jeden Schritt sehr sorgfältig."


def sentence_pool(rng: random.Random, size: int = 40) -> list[str]:
    return [
        f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} "
        f"{rng.choice(OBJECTS)} when x is {rng.randint(2, 99)}."
        for _ in range(size)
    ]


def make_samples(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    pool = sentence_pool(rng)
    rows = []
    for index in range(count):
        prompt, gold = index // 8, (index // 8) % 97 + 3
        paragraphs = [" ".join(rng.sample(pool, 4)) for _ in range(rng.randint(2, 4))]
        if rng.random() < 0.06:
            paragraphs.insert(1, GERMAN)
        if rng.random() < 0.04:
            paragraphs.append(" ".join(rng.choice(pool) for _ in range(40))[:2500])
        if rng.random() < 0.04:
            paragraphs.append("```python\nprint(sum(range(10)))\n```")
        if rng.random() < 0.03:
            paragraphs.append(" ".join([pool[0]] * 40))
        if rng.random() < 0.02:
            paragraphs.append(" ".join(rng.choice(pool) for _ in range(700)))
        reasoning = "\n\n".join(paragraphs)
        answer = gold if rng.random() < 0.6 else gold + rng.randint(1, 5)
        body = f"{reasoning}\n</think>\nThe answer is $\\boxed{{{answer}}}$."
        # The prompt pre-fills `<think>`: opening it again breaks the format.
        completion = "<think>\n" + body if rng.random() < 0.04 else body
        rows.append(
            {
                "id": f"s{index}",
                "group": f"q{prompt}",
                "prompt": f"Question {prompt}: what is it? <think>\n",
                "completion": completion,
                "scorers": [{"name": "math", "gold": str(gold)}],
            }
        )
    return rows


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = make_samples(args.samples, args.seed)
    referee = str(Path(sys.executable).with_name("referee"))
    workers = ["--workers", str(args.workers)]
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "samples.jsonl"
        data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        size = data.stat().st_size
        score_s = timed(
            [referee, "score", str(data), "-q", "-o", str(Path(scratch) / "s.jsonl"), *workers]
        )
        report_path = Path(scratch) / "report.json"
        sft = Path(scratch) / "sft.jsonl"
        filter_s = timed(
            [
                referee,
                "filter",
                str(data),
                "-q",
                "-o",
                str(sft),
                "--language",
                "en",
                "--per-prompt",
                "4",
                "--report",
                str(report_path),
                *workers,
            ]
        )
        report = json.loads(report_path.read_text(encoding="utf-8"))
    n = len(rows)
    print(f"samples: {n} in {n // 8} prompts of 8 ({size / 1e6:.1f} MB of JSONL)")
    print(f"(a) referee score (math only):      {score_s:6.1f} s  {n / score_s:7.1f} samples/s")
    print(f"(b) referee filter (math + rules):  {filter_s:6.1f} s  {n / filter_s:7.1f} samples/s")
    print(f"ratio (b)/(a) wall time: {filter_s / score_s:.2f}x")
    print(f"kept {report['kept']} of {report['samples']} ({report['prompts_with_kept']} prompts)")
    print("dropped by reason (first reason per sample):")
    for reason, count in report["dropped_by_reason"].items():
        print(f"  {reason:<16} {count}")
    print("rule hits among correct samples:")
    for rule, count in report["rule_hits"].items():
        print(f"  {rule:<16} {count}")


if __name__ == "__main__":
    main()
