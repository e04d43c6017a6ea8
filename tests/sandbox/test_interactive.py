"""Interactive problems through the real `code` scorer and a real sandbox container: guess a
hidden number with at most 7 questions, against a Python and a C++ interactor; the verdict
table, a program that stops answering, an interactor that breaks, and a program that hunts for
the hidden number in the interactor's files and memory, which must fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams, CodeScorer
from referee.verifiers.contract import ScoreResult
from tests.sandbox.helpers import one_container_scorer

INTERACTOR_PY = """import sys
secret = int(open(sys.argv[1]).read())
for question in range(8):
    line = sys.stdin.readline().split()
    if not line:
        print("unexpected end of the dialogue", file=sys.stderr); sys.exit(1)
    if line[0] == "!":
        sys.exit(0 if int(line[1]) == secret else 1)
    if question == 7:
        print("too many questions", file=sys.stderr); sys.exit(1)
    guess = int(line[1])
    print("<" if secret < guess else ">" if secret > guess else "=", flush=True)
sys.exit(1)
"""

INTERACTOR_CPP = """#include <bits/stdc++.h>
int main(int argc, char **argv) {
  std::ifstream in(argv[1]); int secret; in >> secret;
  for (int q = 0; q < 8; q++) {
    std::string kind; long long x;
    if (!(std::cin >> kind >> x)) return 1;
    if (kind == "!") return x == secret ? 0 : 1;
    if (q == 7) return 1;
    std::cout << (secret < x ? "<" : secret > x ? ">" : "=") << std::endl;
  }
  return 1;
}
"""

SEARCH_PY = """lo, hi = 1, 100
while True:
    mid = (lo + hi) // 2
    print("?", mid, flush=True)
    reply = input().strip()
    if reply == "=":
        print("!", mid, flush=True); break
    if reply == "<":
        hi = mid - 1
    else:
        lo = mid + 1
"""

SEARCH_CPP = """#include <bits/stdc++.h>
int main() {
  int lo = 1, hi = 100;
  while (true) {
    int mid = (lo + hi) / 2;
    std::cout << "? " << mid << std::endl;
    std::string r; std::cin >> r;
    if (r == "=") { std::cout << "! " << mid << std::endl; return 0; }
    if (r == "<") hi = mid - 1; else lo = mid + 1;
  }
}
"""

CASES = [{"input": "37"}, {"input": "100"}, {"input": "1"}]

# (id, interactor language, program language, program, verdict)
VERDICTS: list[tuple[str, str, str, str, str]] = [
    ("py-interactor-py-search", "python", "python", SEARCH_PY, "accepted"),
    ("py-interactor-cpp-search", "python", "cpp", SEARCH_CPP, "accepted"),
    ("cpp-interactor-py-search", "cpp", "python", SEARCH_PY, "accepted"),
    ("wrong-guess", "python", "python", "print('! 50', flush=True)\n", "wrong_answer"),
    (
        "too-many-questions",
        "python",
        "python",
        "for k in range(1, 101):\n    print('?', k, flush=True)\n    if input() == '=':\n"
        "        print('!', k, flush=True); break\n",
        "wrong_answer",
    ),
    ("stops-answering", "python", "python", "import time\ntime.sleep(60)\n", "time_limit_exceeded"),
    (
        "crashes-after-the-right-answer",
        "python",
        "python",
        SEARCH_PY + "raise SystemExit(4)\n",
        "runtime_error",
    ),
    ("says-nothing-and-exits", "cpp", "python", "pass\n", "wrong_answer"),
]


@pytest.fixture(scope="module")
def scorer(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[CodeScorer]:
    with one_container_scorer(docker_client, sandbox_image, memory_mb=512) as scorer:
        yield scorer


def score(
    scorer: CodeScorer, program: str, language: str, interactor: dict[str, Any]
) -> ScoreResult:
    tests = {"mode": "interactive", "cases": CASES, "interactor": interactor}
    params = CodeParams.model_validate(
        {
            "tests": tests,
            "language": language,
            "test_timeout_s": 3.0,
            "timeout_s": 20.0,
            "reuse_duplicates": False,
        }
    )
    return scorer.score(Sample(completion=f"```\n{program}```"), params)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("interactor", "language", "program", "verdict"),
    [v[1:] for v in VERDICTS],
    ids=[v[0] for v in VERDICTS],
)
def test_interactive_verdict(
    scorer: CodeScorer, interactor: str, language: str, program: str, verdict: str
) -> None:
    source = INTERACTOR_PY if interactor == "python" else INTERACTOR_CPP
    result = score(scorer, program, language, {"language": interactor, "source": source})
    assert result.verdict == verdict, result
    assert result.score == (1.0 if verdict == "accepted" else 0.0), result


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "broken",
    ["import sys\nsys.exit(3)\n", "raise RuntimeError('interactor bug')\n"],
    ids=["fail-exit-code", "exception"],
)
def test_a_broken_interactor_is_null(scorer: CodeScorer, broken: str) -> None:
    result = score(scorer, SEARCH_PY, "python", {"language": "python", "source": broken})
    assert (result.verdict, result.score) == ("checker_error", None), result


# While the dialogue runs, every other process (the interactor, which holds the hidden
# number) must be closed to the program: it plays fair only if it cannot open any other
# process's memory map or file descriptors, and answers wrongly on purpose if it can.
INSPECTOR = """import os, subprocess, sys
me = os.getpid()
# Control: a process of the program's own is open to it, or the check below proves nothing.
own = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
try:
    open(f"/proc/{own.pid}/maps", "rb").close()
    control = True
except OSError:
    control = False
opened = []
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) in (me, own.pid):
        continue
    for part in ("maps", "fd/3", "fd/0", "environ"):
        try:
            open(f"/proc/{pid}/{part}", "rb").close()
            opened.append((pid, part))
        except OSError:
            pass
own.kill()
if opened or not control:
    print("!", 0, flush=True)
else:
""" + "".join("    " + line + "\n" for line in SEARCH_PY.splitlines())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("interactor", ["python", "cpp"])
def test_the_interactor_is_closed_to_the_program(scorer: CodeScorer, interactor: str) -> None:
    source = INTERACTOR_PY if interactor == "python" else INTERACTOR_CPP
    result = score(scorer, INSPECTOR, "python", {"language": interactor, "source": source})
    assert (result.verdict, result.score) == ("accepted", 1.0), result
