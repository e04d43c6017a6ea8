"""The statistics of `referee eval` and `POST /v1/eval`, from each sample's outcome.

Per prompt (a `group`): n decided samples, c correct, the pass rate c/n (R1's "pass@1 averaged
over k samples"), mean@k (the mean correctness of k samples, whose expectation is the pass rate
for every k: listed per k beside the others), unbiased pass@k and maj@k
(`referee.verifiers.passk`) for each requested k up to n, the majority class (its answer,
size, and whether it is correct), and a difficulty bucket by pass rate:

| bucket | pass rate |
|---|---|
| `unsolved` | 0 |
| `hard` | above 0, below 0.25 |
| `medium` | 0.25 to below 0.75 |
| `easy` | 0.75 to below 1 |
| `solved` | 1 |

maj@k votes over answer classes: for `math`, the classes of mathematical equivalence (the
`majority` scorer's `class`), and beside it `maj_string@k`, the same vote over exact answer
strings (what verl, NeMo-Skills, NeMo-RL and NeMo-Gym do), so the difference shows; for `code`,
the classes of identical test outcomes (the `code` scorer's verdict and per-test verdicts). A
class is correct when more than half of its decided members are. Other scorers have no maj@k.

Totals: each figure averaged over the prompts that have it (pass@k and maj@k over prompts with
at least k decided samples), the samples, the undecided ones (a null score: a timeout, a
sandbox fault, an unparsable gold; never counted as wrong) and the invalid ones, and the prompts
per difficulty bucket.

Left out: per-sample output (that is `referee score`), confidence intervals, weighting prompts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from referee.verifiers.passk import majority_at_k, pass_at_k

Difficulty = Literal["unsolved", "hard", "medium", "easy", "solved"]
DIFFICULTIES: tuple[Difficulty, ...] = ("unsolved", "hard", "medium", "easy", "solved")


def difficulty(pass_rate: float) -> Difficulty:
    """The bucket of the module docstring's table."""
    if pass_rate <= 0.0:
        return "unsolved"
    if pass_rate >= 1.0:
        return "solved"
    if pass_rate < 0.25:
        return "hard"
    return "medium" if pass_rate < 0.75 else "easy"


@dataclass(frozen=True)
class Outcome:
    """One sample, as the statistics see it."""

    correct: bool | None
    """None: undecided (a null score) or invalid."""
    invalid: bool = False
    """The sample was not a valid item (it also counts as undecided)."""
    label: Hashable | None = None
    """Its answer class for maj@k (None: no answer, or no classes for this scorer)."""
    string: Hashable | None = None
    """Its answer string, for the exact-string vote (math only)."""
    answer: str | None = None
    """What it answered, for showing the majority (first 200 characters)."""


def default_ks(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    ks = [1]
    while ks[-1] * 2 < n:
        ks.append(ks[-1] * 2)
    if n > 1:
        ks.append(n)
    return ks


def _classes(values: Sequence[Hashable | None]) -> list[int | None]:
    """Hashable class keys as small integers, in order of appearance."""
    index: dict[Hashable, int] = {}
    return [None if v is None else index.setdefault(v, len(index)) for v in values]


def _correct_classes(labels: Sequence[int | None], correct: Sequence[bool]) -> set[int]:
    votes: dict[int, list[bool]] = {}
    for label, ok in zip(labels, correct, strict=True):
        if label is not None:
            votes.setdefault(label, []).append(ok)
    return {label for label, oks in votes.items() if sum(oks) * 2 > len(oks)}


def _maj(
    labels: list[int | None], correct: Sequence[bool], ks: Sequence[int], seed: int
) -> dict[str, float | None]:
    if all(label is None for label in labels):
        return {str(k): None for k in ks}
    good = _correct_classes(labels, correct)
    n = len(labels)
    return {str(k): majority_at_k(labels, good, k, seed=seed) if k <= n else None for k in ks}


def prompt_stats(
    group: str, outcomes: Sequence[Outcome], ks: Sequence[int], seed: int = 0
) -> dict[str, Any]:
    """One prompt's figures (module docstring), JSON-ready."""
    decided = [o for o in outcomes if o.correct is not None]
    n = len(decided)
    c = sum(1 for o in decided if o.correct)
    correct = [bool(o.correct) for o in decided]
    stats: dict[str, Any] = {
        "group": group,
        "samples": len(outcomes),
        "n": n,
        "correct": c,
        "undecided": len(outcomes) - n,
        "invalid": sum(o.invalid for o in outcomes),
        "pass_rate": c / n if n else None,
        "difficulty": difficulty(c / n) if n else None,
        "pass@k": {str(k): pass_at_k(n, c, k) if k <= n else None for k in ks},
        # mean@k, the mean correctness of k samples, has the same expectation for every k: the
        # pass rate. Listed per k so that the table names it beside pass@k and maj@k.
        "mean@k": {str(k): c / n if k <= n else None for k in ks},
    }
    labels = _classes([o.label for o in decided])
    has_classes = any(label is not None for label in labels)
    stats["maj@k"] = _maj(labels, correct, ks, seed) if has_classes else None
    strings = _classes([o.string for o in decided])
    has_strings = any(s is not None for s in strings)
    stats["maj_string@k"] = _maj(strings, correct, ks, seed) if has_strings else None
    stats["majority"] = _majority(decided, labels, correct) if has_classes else None
    return stats


def _majority(
    decided: Sequence[Outcome], labels: Sequence[int | None], correct: Sequence[bool]
) -> dict[str, Any]:
    sizes = Counter(label for label in labels if label is not None)
    top = max(sizes.values())
    leaders = sorted(label for label, size in sizes.items() if size == top)
    first = leaders[0]
    answer = next(o.answer for o, label in zip(decided, labels, strict=True) if label == first)
    return {
        "answer": answer,
        "size": top,
        "correct": first in _correct_classes(labels, correct),
        "tied": len(leaders) > 1,
        "classes": len(sizes),
    }


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _mean_by_k(prompts: Sequence[Mapping[str, Any]], field: str, ks: Sequence[int]) -> Any:
    tables = [p[field] for p in prompts if p[field] is not None]
    if not tables:
        return None
    return {str(k): _mean([t[str(k)] for t in tables]) for k in ks}


def totals(prompts: Sequence[Mapping[str, Any]], ks: Sequence[int]) -> dict[str, Any]:
    """The dataset's figures over `prompt_stats` results (module docstring)."""
    buckets = Counter(p["difficulty"] for p in prompts if p["difficulty"] is not None)
    return {
        "prompts": len(prompts),
        "samples": sum(p["samples"] for p in prompts),
        "undecided": sum(p["undecided"] for p in prompts),
        "invalid": sum(p["invalid"] for p in prompts),
        "pass_rate": _mean([p["pass_rate"] for p in prompts]),
        "pass@k": _mean_by_k(prompts, "pass@k", ks),
        "mean@k": _mean_by_k(prompts, "mean@k", ks),
        "maj@k": _mean_by_k(prompts, "maj@k", ks),
        "maj_string@k": _mean_by_k(prompts, "maj_string@k", ks),
        "majority_correct": _mean(
            [float(p["majority"]["correct"]) for p in prompts if p["majority"] is not None]
        ),
        "difficulty": {bucket: buckets.get(bucket, 0) for bucket in DIFFICULTIES},
    }


def report(
    groups: Mapping[str, Sequence[Outcome]], ks: Sequence[int] | None = None, seed: int = 0
) -> dict[str, Any]:
    """The whole report: `ks`, per-prompt figures in first-seen order, and the totals. `ks`
    None: `default_ks` of the largest group."""
    if ks is None:
        ks = default_ks(max((len(o) for o in groups.values()), default=1))
    prompts = [prompt_stats(group, outcomes, ks, seed) for group, outcomes in groups.items()]
    return {"ks": list(ks), "totals": totals(prompts, ks), "prompts": prompts}
