"""Verdict tables of two small problem sets through the real `code` scorer and sandbox: one with
a checker (several right outputs), one interactive, each with right, wrong and hostile
programs in Python and C++, and the time each program took, start-up excluded.

* checker set: "print a permutation of 1..n", 3 tests, a testlib-style Python checker and the
  same in C++;
* interactive set: "guess the hidden number in 1..100 with at most 7 questions", 3 tests, a
  Python interactor and the same in C++.

Prints, per (problem, program): the verdict, the score and the seconds. Expected verdicts are
printed beside them; a row where they differ is marked `<-- differs`.
Usage: python bench/judge_verdicts.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import docker

from referee.sandbox.pool import SandboxPool
from referee.service.settings import Settings
from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams, CodeScorer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The guess-the-number problem and its solutions are the interactive tests' own.
from tests.sandbox.test_interactive import (
    INTERACTOR_CPP,
    INTERACTOR_PY,
    SEARCH_CPP,
    SEARCH_PY,
)

CHECKER_PY = """import sys
inp, out, ans = (open(p).read().split() for p in sys.argv[1:4])
try:
    got = sorted(int(t) for t in out)
except ValueError:
    print("wrong output format: not numbers"); sys.exit(2)
sys.exit(0 if got == list(range(1, int(inp[0]) + 1)) else 1)
"""
CHECKER_CPP = """#include <bits/stdc++.h>
int main(int argc, char **argv) {
  std::ifstream in(argv[1]), out(argv[2]); int n; in >> n;
  std::vector<long long> v; std::string t;
  while (out >> t) { for (char c : t) if (!isdigit(c)) return 2; v.push_back(std::stoll(t)); }
  std::sort(v.begin(), v.end());
  if ((int)v.size() != n) return 1;
  for (int i = 0; i < n; i++) if (v[i] != i + 1) return 1;
  return 0;
}
"""
PERMUTATION_TESTS = [
    {"stdin": f"{n}\n", "stdout": " ".join(map(str, range(1, n + 1))) + "\n"} for n in (3, 10, 1000)
]
PERMUTATION_PROGRAMS: list[tuple[str, str, str, str]] = [
    # (name, language, program, expected verdict)
    ("reversed (py)", "python", "n = int(input())\nprint(*range(n, 0, -1))\n", "accepted"),
    (
        "sorted (cpp)",
        "cpp",
        '#include <cstdio>\nint main(){int n;scanf("%d",&n);'
        'for(int i=1;i<=n;i++)printf("%d ",i);}\n',
        "accepted",
    ),
    ("off by one (py)", "python", "n = int(input())\nprint(*range(n))\n", "wrong_answer"),
    ("words (py)", "python", "print('one two three')\n", "presentation_error"),
    ("crash (cpp)", "cpp", "int main(){int*p=0;return *p;}\n", "runtime_error"),
    ("spin (cpp)", "cpp", "int main(){for(;;);}\n", "time_limit_exceeded"),
]

GUESS_PROGRAMS: list[tuple[str, str, str, str]] = [
    ("binary search (py)", "python", SEARCH_PY, "accepted"),
    ("binary search (cpp)", "cpp", SEARCH_CPP, "accepted"),
    ("always 50 (py)", "python", "print('! 50', flush=True)\n", "wrong_answer"),
    (
        "linear scan (py)",
        "python",
        "for k in range(1, 101):\n    print('?', k, flush=True)\n"
        "    if input() == '=':\n        print('!', k, flush=True); break\n",
        "wrong_answer",
    ),
    ("silent (py)", "python", "import time\ntime.sleep(60)\n", "time_limit_exceeded"),
]


def table(scorer: CodeScorer, title: str, tests_for: Any, programs: list[Any]) -> int:
    differ = 0
    print(f"\n{title}")
    print(f"{'helper':8s} {'program':22s} {'verdict':22s} {'score':>5s} {'seconds':>7s}  expected")
    for helper in ("python", "cpp"):
        for name, language, program, expected in programs:
            params = CodeParams.model_validate(
                {
                    "tests": tests_for(helper),
                    "language": language,
                    "test_timeout_s": 2.0,
                    "timeout_s": 20.0,
                    "reuse_duplicates": False,
                }
            )
            started = time.perf_counter()
            result = scorer.score(Sample(completion=f"```\n{program}```"), params)
            seconds = time.perf_counter() - started
            mark = "" if result.verdict == expected else "  <-- differs"
            differ += bool(mark)
            print(
                f"{helper:8s} {name:22s} {result.verdict:22s} {result.score!s:>5s} "
                f"{seconds:7.2f}  {expected}{mark}"
            )
    return differ


def main() -> None:
    config = Settings(sandbox_pool_size=1, sandbox_memory_mb=512).sandbox_config()
    pool = SandboxPool(config, docker.from_env())
    try:
        scorer = CodeScorer(sandbox=pool)
        scorer.score(  # warm: the container, and the compiler's page cache
            Sample(completion="```\nint main(){}\n```"),
            CodeParams.model_validate(
                {
                    "tests": {"mode": "stdio", "cases": [{"stdin": "", "stdout": ""}]},
                    "language": "cpp",
                }
            ),
        )
        differ = table(
            scorer,
            "checker set: a permutation of 1..n (3 tests; checker in Python, then C++)",
            lambda helper: {
                "mode": "stdio",
                "cases": PERMUTATION_TESTS,
                "checker": {
                    "language": helper,
                    "source": CHECKER_PY if helper == "python" else CHECKER_CPP,
                },
            },
            PERMUTATION_PROGRAMS,
        )
        differ += table(
            scorer,
            "interactive set: guess 1..100 in 7 questions "
            "(3 tests; interactor in Python, then C++)",
            lambda helper: {
                "mode": "interactive",
                "cases": [{"input": "37"}, {"input": "100"}, {"input": "1"}],
                "interactor": {
                    "language": helper,
                    "source": INTERACTOR_PY if helper == "python" else INTERACTOR_CPP,
                },
            },
            GUESS_PROGRAMS,
        )
        print(f"\nrows differing from the expected verdict: {differ}")
    finally:
        pool.close()


if __name__ == "__main__":
    main()
