"""Agreement of Referee's `math` scorer and of plain math-verify with the peers' labelled tests.

Loads `tests/verifiers/math_corpus/peer_tables.jsonl` (harvested from the test tables of
Math-Verify, open-r1 and trl by `bench/harvest_peer_tables.py`) and scores every case twice:

- Referee: `MathScorer` in this process, with the case's `answer` mode and default parameters
  (so `strict` cases, which need `allow_unsimplified`, count as misses here);
- plain math-verify, as open-r1's `accuracy_reward` calls it: `parse(gold,
  extraction_mode="first_match")`, the completion parsed with one `LatexExtractionConfig`
  (`nits=False, malformed_operators=False, basic_latex=True, equations=True, boxed="all",
  units=True`, `boxed_match_priority=0`, `try_extract_without_anchor=False`,
  `extraction_mode="first_match"`), then `verify(gold, answer)`; an unparsable gold or an
  exception is reward None. This runs in a `python -c` subprocess that never imports
  `referee`, since importing `referee.verifiers.math` patches math-verify's grader.

A case agrees when the scorer gives 1 exactly where the label is `accept`; a null score counts
as "not 1". Prints, per peer test file and overall: cases, Referee and math-verify agreement %,
and the false positives (label reject, scored 1) and false negatives (label accept, scored 0 or
null) of each; then the same per family. `--disagreements` lists each case Referee gets wrong.

Left out: the peers' own harness settings (Math-Verify's tables ran with its default
`LatexExtractionConfig` plus `ExprExtractionConfig`, which reads bare numbers anywhere; the
math-verify column is open-r1's stricter call for every case, the way a trainer would use it),
timing, and labels marked `peer_label_disputed`, which are scored against the peer's label
like the rest (the count of Referee misses on them is printed apart).

Usage: python bench/peer_agreement.py [--disagreements] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent.parent / "tests/verifiers/math_corpus/peer_tables.jsonl"

MATH_VERIFY_CHILD = r"""
import json, logging, sys
logging.disable(logging.CRITICAL)
from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify

def reward(gold, content):
    gold_parsed = parse(gold, extraction_mode="first_match")
    if len(gold_parsed) == 0:
        return None
    answer_parsed = parse(
        content,
        extraction_config=[
            LatexExtractionConfig(
                normalization_config=NormalizationConfig(
                    nits=False, malformed_operators=False, basic_latex=True,
                    equations=True, boxed="all", units=True,
                ),
                boxed_match_priority=0,
                try_extract_without_anchor=False,
            )
        ],
        extraction_mode="first_match",
    )
    try:
        return float(verify(gold_parsed, answer_parsed))
    except Exception:
        return None

cases = json.load(sys.stdin)
out = [reward(c["gold"], c["completion"]) for c in cases]
assert not any(m.startswith("referee") for m in sys.modules), "referee leaked into the child"
json.dump(out, sys.stdout)
"""


@dataclass
class Scored:
    case: dict[str, Any]
    referee: float | None
    verdict: str
    extracted: str | None
    math_verify: float | None

    @property
    def accept(self) -> bool:
        return bool(self.case["expected"] == "accept")

    @property
    def referee_ok(self) -> bool:
        return (self.referee == 1.0) == self.accept

    @property
    def math_verify_ok(self) -> bool:
        return (self.math_verify == 1.0) == self.accept


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def score_math_verify(cases: list[dict[str, Any]]) -> list[float | None]:
    payload = json.dumps([{"gold": c["gold"], "completion": c["completion"]} for c in cases])
    done = subprocess.run(
        [sys.executable, "-c", MATH_VERIFY_CHILD],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    rewards: list[float | None] = json.loads(done.stdout)
    return rewards


def score_referee(case: dict[str, Any]) -> tuple[float | None, str, str | None]:
    from referee.verifiers.base import Sample
    from referee.verifiers.math import MathParams, MathScorer

    result = MathScorer().score(
        Sample(completion=case["completion"], prompt=None),
        MathParams(gold=case["gold"], answer=case["answer"]),
    )
    extracted = (result.model_extra or {}).get("extracted")  # details are extra fields
    return result.score, result.verdict, None if extracted is None else str(extracted)


def source_key(case: dict[str, Any]) -> str:
    """`owner/repo:path` of the case's source, without commit and test name."""
    repo_commit, _, rest = case["source"].partition(":")
    return f"{repo_commit.split('@')[0].split('/')[1]}:{rest.split('::')[0]}"


def _row(name: str, rows: list[Scored]) -> str:
    n = len(rows)
    ref_ok = sum(r.referee_ok for r in rows)
    mv_ok = sum(r.math_verify_ok for r in rows)
    ref_fp = sum(not r.accept and r.referee == 1.0 for r in rows)
    ref_fn = sum(r.accept and r.referee != 1.0 for r in rows)
    mv_fp = sum(not r.accept and r.math_verify == 1.0 for r in rows)
    mv_fn = sum(r.accept and r.math_verify != 1.0 for r in rows)
    return (
        f"{name:38} {n:5} {100 * ref_ok / n:8.1f}% {100 * mv_ok / n:8.1f}% "
        f"{ref_fp:6} {ref_fn:6} {mv_fp:6} {mv_fn:6}"
    )


def print_table(title: str, groups: dict[str, list[Scored]], scored: list[Scored]) -> None:
    print(
        f"{title:38} {'cases':>5} {'referee':>9} {'mathvrfy':>9} "
        f"{'ref FP':>6} {'ref FN':>6} {'mv FP':>6} {'mv FN':>6}"
    )
    for name in sorted(groups):
        print(_row(name, groups[name]))
    print(_row("overall", scored))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument(
        "--disagreements", action="store_true", help="list each case Referee gets wrong"
    )
    args = parser.parse_args()

    cases = load(args.corpus)
    mv_rewards = score_math_verify(cases)
    scored: list[Scored] = []
    for case, mv in zip(cases, mv_rewards, strict=True):
        ref, verdict, extracted = score_referee(case)
        scored.append(Scored(case, ref, verdict, extracted, mv))

    by_source: dict[str, list[Scored]] = defaultdict(list)
    by_family: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        by_source[source_key(s.case)].append(s)
        by_family[s.case["family"]].append(s)
    print_table("source", by_source, scored)
    print()
    print_table("family", by_family, scored)

    wrong = [s for s in scored if not s.referee_ok]
    disputed = [s for s in wrong if "peer_label_disputed" in s.case]
    strict = [s for s in wrong if "strict" in s.case]
    verdicts = Counter(s.verdict for s in wrong)
    print(
        f"\nReferee misses {len(wrong)} of {len(scored)} "
        f"({', '.join(f'{v} {n}' for v, n in verdicts.most_common())}): {len(disputed)} on "
        f"labels marked peer_label_disputed, {len(strict)} on `strict` cases (default "
        f"parameters); math-verify misses {sum(not s.math_verify_ok for s in scored)}, "
        f"{sum(not s.math_verify_ok and not s.referee_ok for s in scored)} of them shared."
    )
    if args.disagreements:
        print()
        for s in wrong:
            c = s.case
            flags = "".join(f" [{flag}]" for flag in ("peer_label_disputed", "strict") if flag in c)
            print(f"{c['id']} ({c['family']}) label={c['expected']}{flags}")
            print(f"  gold:       {c['gold'][:120]!r}")
            print(f"  completion: {c['completion'][:120]!r}")
            print(
                f"  referee:    {s.verdict} score={s.referee} extracted={s.extracted!r}"
                f"   math-verify: {s.math_verify}"
            )


if __name__ == "__main__":
    main()
