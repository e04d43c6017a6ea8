"""Checkers (special judges) through the real `code` scorer and a real sandbox container: the
testlib verdict table for a Python and a C++ checker, a checker's own failures as
`checker_error` (null), and a contestant that hunts for the expected answer or tampers with
the judging from a daemon, which must fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams, CodeScorer
from referee.verifiers.contract import ScoreResult
from tests.sandbox.helpers import one_container_scorer

# Print the numbers 1..n in any order: several right outputs, the case for a checker.
PERMUTATION_PY = """import sys
inp, out, ans = (open(p).read().split() for p in sys.argv[1:4])
n = int(inp[0])
if out == ["PE"]:
    print("wrong output format: PE asked for"); sys.exit(2)
if out == ["HALF"]:
    print("points 0.5 half of it"); sys.exit(7)
if out == ["FAIL"]:
    print("FAIL checker is broken"); sys.exit(3)
if out == ["CRASH"]:
    raise RuntimeError("checker bug")
if out == ["OVER"]:
    print("points 2.5"); sys.exit(7)
try:
    got = sorted(int(t) for t in out)
except ValueError:
    got = None
if got != list(range(1, n + 1)):
    print(f"wrong answer: not a permutation of 1..{n}"); sys.exit(1)
print("ok"); sys.exit(0)
"""

PERMUTATION_CPP = """#include <bits/stdc++.h>
int main(int argc, char **argv) {
  std::ifstream inp(argv[1]), out(argv[2]);
  int n; inp >> n;
  std::vector<long long> got; long long x;
  while (out >> x) got.push_back(x);
  std::sort(got.begin(), got.end());
  bool ok = (int)got.size() == n;
  for (int i = 0; ok && i < n; i++) ok = got[i] == i + 1;
  if (!ok) { std::printf("wrong answer: not a permutation\\n"); return 1; }
  std::printf("ok\\n"); return 0;
}
"""

TESTS = [{"stdin": "3\n", "stdout": "1 2 3\n"}, {"stdin": "2\n", "stdout": "1 2\n"}]

# (id, checker language, program's output per case ("{n}" replaced), verdict, score)
VERDICTS: list[tuple[str, str, str, str, float | None]] = [
    ("py-reversed-is-accepted", "python", "rev", "accepted", 1.0),
    ("py-wrong", "python", "print(1)", "wrong_answer", 0.0),
    ("py-presentation", "python", "print('PE')", "presentation_error", 0.0),
    ("py-points", "python", "print('HALF')", "wrong_answer", 0.5),
    ("py-fail-is-the-checkers-fault", "python", "print('FAIL')", "checker_error", None),
    ("py-traceback-is-the-checkers-fault", "python", "print('CRASH')", "checker_error", None),
    ("py-points-out-of-range", "python", "print('OVER')", "checker_error", None),
    ("cpp-reversed-is-accepted", "cpp", "rev", "accepted", 1.0),
    ("cpp-wrong", "cpp", "print(1)", "wrong_answer", 0.0),
]
REVERSED = "n = int(input())\nprint(*range(n, 0, -1))\n"


@pytest.fixture(scope="module")
def scorer(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[CodeScorer]:
    with one_container_scorer(docker_client, sandbox_image, memory_mb=512) as scorer:
        yield scorer


def score(
    scorer: CodeScorer, program: str, language: str, source: str, **extra: Any
) -> ScoreResult:
    tests = {
        "mode": "stdio",
        "cases": TESTS,
        "checker": {"language": language, "source": source, "timeout_s": 5.0},
    }
    params = CodeParams.model_validate(
        {"tests": tests, "scoring": "fraction", "timeout_s": 10.0, "reuse_duplicates": False}
        | extra
    )
    return scorer.score(Sample(completion=f"```python\n{program}\n```"), params)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("language", "program", "verdict", "expected"),
    [v[1:] for v in VERDICTS],
    ids=[v[0] for v in VERDICTS],
)
def test_checker_verdict(
    scorer: CodeScorer, language: str, program: str, verdict: str, expected: float | None
) -> None:
    source = PERMUTATION_PY if language == "python" else PERMUTATION_CPP
    result = score(scorer, REVERSED if program == "rev" else program, language, source)
    assert (result.verdict, result.score) == (verdict, expected), result


@pytest.mark.timeout(120)
def test_a_checker_that_does_not_compile_is_the_checkers_fault(scorer: CodeScorer) -> None:
    result = score(scorer, REVERSED, "cpp", "int main() { return x; }")
    details = result.model_extra or {}
    assert (result.verdict, result.score) == ("checker_error", None), result
    assert "did not compile" in str(details.get("error")), result


@pytest.mark.timeout(120)
def test_a_checker_that_hangs_is_the_checkers_fault(scorer: CodeScorer) -> None:
    hang = "import time\ntime.sleep(60)\n"
    result = scorer.score(
        Sample(completion=f"```python\n{REVERSED}```"),
        CodeParams.model_validate(
            {
                "tests": {
                    "mode": "stdio",
                    "cases": TESTS,
                    "checker": {"language": "python", "source": hang, "timeout_s": 1.0},
                },
                "reuse_duplicates": False,
            }
        ),
    )
    assert (result.verdict, result.score) == ("checker_error", None), result


SECRET = "4111 2222 3333 4444"
# The hunter builds the secret at run time, so that its own source does not hold it.
HUNTER = """import os
secret = " ".join(str(1111 * k + d) for k, d in ((3, 778), (2, 0), (3, 0), (4, 0)))
found = []
for root in ("/work", "/tmp", "/dev/shm"):
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                if secret in open(os.path.join(folder, name), errors="ignore").read():
                    found.append(name)
            except OSError:
                pass
for pid in os.listdir("/proc"):
    for part in ("cmdline", "environ"):
        try:
            if secret.encode() in open(f"/proc/{pid}/{part}", "rb").read():
                found.append(pid)
        except OSError:
            pass
print(secret if found else "nothing found")
"""
EXACT_PY = """import sys
out, ans = (open(p).read().split() for p in sys.argv[2:4])
sys.exit(0 if out == ans else 1)
"""


PLANT = "open('/tmp/leak', 'w').write(' '.join(['4111', '2222', '3333', '4444']))\n"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("prelude", "verdict"),
    [("", "wrong_answer"), (PLANT, "accepted")],
    ids=["hunts-in-vain", "control-finds-a-planted-copy"],
)
def test_the_contestant_never_sees_the_answer(
    scorer: CodeScorer, prelude: str, verdict: str
) -> None:
    tests = {
        "mode": "stdio",
        "cases": [{"stdin": "", "stdout": SECRET + "\n"}],
        "checker": {"language": "python", "source": EXACT_PY},
    }
    params = CodeParams.model_validate({"tests": tests, "reuse_duplicates": False})
    result = scorer.score(Sample(completion=f"```python\n{prelude}{HUNTER}```"), params)
    assert result.verdict == verdict, result


TAMPERER = """import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        end = time.time() + 8
        while time.time() < end:
            for name in os.listdir("/work"):
                if name.startswith(".judge"):
                    for leaf in ("output", "answer"):
                        try:
                            open(f"/work/{name}/{leaf}", "w").write("1 2 3")
                        except OSError:
                            pass
        os._exit(0)
    os._exit(0)
print("wrong")
"""


@pytest.mark.timeout(120)
def test_a_daemon_left_behind_cannot_tamper_with_the_judging(scorer: CodeScorer) -> None:
    result = score(scorer, TAMPERER, "python", PERMUTATION_PY)
    assert (result.verdict, result.score) == ("wrong_answer", 0.0), result


# open-r1's generated Codeforces checkers: `checker input answer output`, print 1 if right.
OPEN_R1_CHECKER = """import sys
inp, ans, out = (open(p).read().split() for p in sys.argv[1:4])
print(1 if sorted(map(int, out)) == sorted(map(int, ans)) else 0)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("program", "verdict"),
    [
        (REVERSED, "accepted"),
        ("print(1)", "wrong_answer"),
        ("raise SystemExit(2)", "runtime_error"),
    ],
)
def test_an_open_r1_codeforces_row_is_judged_by_its_generated_checker(
    scorer: CodeScorer, program: str, verdict: str
) -> None:
    row = {
        "official_tests": [{"input": "3\n", "output": "1 2 3\n"}],
        "generated_tests": [{"input": "2\n", "output": "1 2\n"}],
        "generated_checker": OPEN_R1_CHECKER,
        "time_limit": 2.0,
        "memory_limit": 256,
        "input_mode": "stdio",
    }
    params = CodeParams.model_validate({"tests": row, "reuse_duplicates": False})
    result = scorer.score(Sample(completion=f"```python\n{program}\n```"), params)
    assert result.verdict == verdict, result


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("program", "verdict"),
    [
        (
            "a, b = map(int, open('input.txt').read().split())\n"
            "open('output.txt', 'w').write(f'{a + b}\\n')\n",
            "accepted",
        ),
        ("a, b = map(int, input().split())\nprint(a + b)\n", "runtime_error"),
        ("open('output.txt', 'w').write('YES ' * 400000)\n", "output_limit_exceeded"),
    ],
)
def test_file_input_mode_reads_input_txt_and_writes_output_txt(
    scorer: CodeScorer, program: str, verdict: str
) -> None:
    row = {
        "official_tests": [{"input": "2 3\n", "output": "5\n"}],
        "input_mode": "file",
        "time_limit": 2.0,
    }
    params = CodeParams.model_validate(
        {"tests": row, "reuse_duplicates": False, "output_bytes": 1_000_000}
    )
    result = scorer.score(Sample(completion=f"```python\n{program}```"), params)
    assert result.verdict == verdict, result
