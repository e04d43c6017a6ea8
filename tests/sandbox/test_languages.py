"""C, C++, PyPy, Java, Rust and Go programs through the real `code` scorer and a real sandbox
pool with ONE container: the verdicts of compiled programs (compile errors and compiler attacks
included), and the adversarial battery in C, C++ and Java, each attack followed in the same
container by the
Python probe of `test_adversarial`, which must find a clean state and be accepted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams, CodeScorer
from referee.verifiers.contract import ScoreResult
from tests.sandbox.helpers import one_container_scorer
from tests.sandbox.test_adversarial import ADD, PROBE, SUM_STDIO
from tests.test_readme_examples import code_items

LIMITS = {
    "test_timeout_s": 2.0,
    "timeout_s": 6.0,
    "memory_mb": 256,
    "output_bytes": 1_000_000,
    "compile_timeout_s": 8.0,
    "reuse_duplicates": False,
}

SUM_CPP = """#include <bits/stdc++.h>
int main() { long long a, b; std::cin >> a >> b; std::cout << a + b << "\\n"; }
"""
SUM_C = """#include <stdio.h>
int main(void) { long long a, b; scanf("%lld %lld", &a, &b); printf("%lld\\n", a + b); }
"""
SUM_PY = "a, b = map(int, input().split())\nprint(a + b)\n"
SUM_JAVA = """import java.util.*;
public class Solution {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.println(in.nextLong() + in.nextLong());
    }
}
"""
SUM_RUST = """use std::io::Read;
fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    let n: i64 = s.split_whitespace().map(|x| x.parse::<i64>().unwrap()).sum();
    println!("{}", n);
}
"""
SUM_GO = """package main

import "fmt"

func main() {
	var a, b int64
	fmt.Scan(&a, &b)
	fmt.Println(a + b)
}
"""


def java_main(body: str) -> str:
    """A Java program whose `main` runs `body` (and may throw)."""
    head = "public class Main { public static void main(String[] a) throws Exception {"
    return f"{head} {body} }} }}\n"


# (id, language, program, verdict, detail fragment)
VERDICTS: list[tuple[str, str, str, str, str]] = [
    ("cpp-accepted", "cpp", SUM_CPP, "accepted", ""),
    ("c-accepted", "c", SUM_C, "accepted", ""),
    ("pypy-accepted", "pypy3", SUM_PY, "accepted", ""),
    (
        "cpp-wrong-answer",
        "cpp",
        '#include <cstdio>\nint main() { puts("5"); }\n',
        "wrong_answer",
        "test 2",
    ),
    ("cpp-syntax", "cpp", "int main() { return x; }\n", "compile_error", "not declared"),
    ("c-is-not-cpp", "c", "#include <vector>\nint main() {}\n", "compile_error", "vector"),
    (
        "cpp-include-dev-zero",
        "cpp",
        "#include </dev/zero>\nint main() {}\n",
        "compile_error",
        "",
    ),
    (
        "cpp-template-overflow",
        "cpp",
        "template <int N> struct F { enum { v = F<N - 1>::v + F<N - 2>::v }; };\n"
        "template <> struct F<0> { enum { v = 0 }; };\n"
        "template <> struct F<1> { enum { v = 1 }; };\n"
        "int x = F<900>::v;\nint main() {}\n",
        "compile_error",
        "error",
    ),
    (
        "cpp-segfault",
        "cpp",
        "int main() { volatile int *p = nullptr; *p = 1; }\n",
        "runtime_error",
        "SIGSEGV",
    ),
    (
        "cpp-bad-alloc",
        "cpp",
        "#include <vector>\nint main() { std::vector<char> v(1ull << 34); return v[5]; }\n",
        "memory_limit_exceeded",
        "",
    ),
    (
        "cpp-deep-recursion-is-allowed",
        "cpp",
        "#include <cstdio>\nint d(int n) { volatile char pad[64]; pad[0] = n; "
        "return n ? d(n - 1) + pad[0] * 0 + 1 : 0; }\n"
        'int main() { long long a, b; scanf("%lld %lld", &a, &b); d(1000000); '
        'printf("%lld\\n", a + b); }\n',
        "accepted",
        "",
    ),
    ("c-exit-code", "c", "int main(void) { return 3; }\n", "runtime_error", "exit code 3"),
    ("java-accepted-public-class-named-freely", "java", SUM_JAVA, "accepted", ""),
    (
        "java-accepted-main-in-a-class-that-is-not-public",
        "java",
        "import java.util.*;\n// public class Decoy is only a comment\nclass Helper {}\n"
        "class Runner { public static void main(String[] a) { Scanner in = new Scanner("
        "System.in); System.out.println(in.nextLong() + in.nextLong()); } }\n",
        "accepted",
        "",
    ),
    ("java-syntax", "java", java_main("int x = ;"), "compile_error", "error"),
    (
        "java-exception",
        "java",
        java_main('throw new IllegalStateException("boom");'),
        "runtime_error",
        "boom",
    ),
    (
        "java-heap-past-its-limit",
        "java",
        java_main("long[] big = new long[1 << 28]; System.out.println(big.length);"),
        "memory_limit_exceeded",
        "OutOfMemoryError",
    ),
    (
        "java-deep-recursion-is-allowed",
        "java",
        "import java.util.*;\npublic class Main { static int d(int n) { return n == 0 ? 0 : "
        "d(n - 1) + 1; } public static void main(String[] a) { Scanner in = new Scanner("
        "System.in); long x = in.nextLong() + in.nextLong(); d(200000); System.out.println(x); }"
        " }\n",
        "accepted",
        "",
    ),
    (
        "java-thread-with-its-own-big-stack-is-allowed",
        "java",
        "import java.util.*;\npublic class Main { static int d(int n) { return n == 0 ? 0 : "
        "d(n - 1) + 1; } public static void main(String[] a) throws Exception { Scanner in = "
        "new Scanner(System.in); long x = in.nextLong() + in.nextLong(); Thread t = new "
        'Thread(null, () -> d(1000000), "deep", 1 << 27); t.start(); t.join(); '
        "System.out.println(x); } }\n",
        "accepted",
        "",
    ),
    ("rust-accepted", "rust", SUM_RUST, "accepted", ""),
    ("rust-type-error", "rust", 'fn main() { let x: i32 = "a"; }\n', "compile_error", "error"),
    (
        "rust-panic",
        "rust",
        'fn main() { let v: Vec<i32> = Vec::new(); println!("{}", v[3]); }\n',
        "runtime_error",
        "index out of bounds",
    ),
    (
        "rust-allocation-past-its-limit",
        "rust",
        'fn main() { let v: Vec<u8> = vec![1; 1 << 34]; println!("{}", v[7]); }\n',
        "memory_limit_exceeded",
        "memory allocation",
    ),
    ("go-accepted", "go", SUM_GO, "accepted", ""),
    (
        "go-unused-variable",
        "go",
        "package main\n\nfunc main() {\n\tx := 1\n}\n",
        "compile_error",
        "declared",
    ),
    (
        "go-panic",
        "go",
        'package main\n\nfunc main() {\n\tpanic("boom")\n}\n',
        "runtime_error",
        "",
    ),
    (
        "go-allocation-past-its-limit",
        "go",
        'package main\n\nimport "fmt"\n\nfunc main() {\n\tv := make([]byte, 1<<34)\n'
        "\tfmt.Println(v[7])\n}\n",
        "memory_limit_exceeded",
        "out of memory",
    ),
    (
        # Within Go's address space (limit + its reserve), but past the limit once touched.
        "go-resident-memory-past-its-limit",
        "go",
        'package main\n\nimport "fmt"\n\nfunc main() {\n\tv := make([]byte, 320<<20)\n'
        "\tfor i := 0; i < len(v); i += 4096 {\n\t\tv[i] = 1\n\t}\n\tfmt.Println(len(v))\n}\n",
        "memory_limit_exceeded",
        "peak memory",
    ),
]

# (id, language, program, verdicts): each must score 0, then the probe must pass.
ATTACKS: list[tuple[str, str, str, set[str]]] = [
    (
        "c-fork-bomb",
        "c",
        "#include <unistd.h>\nint main(void) { for (;;) fork(); }\n",
        {"time_limit_exceeded", "runtime_error"},
    ),
    (
        "cpp-memory-bomb-touching-pages",
        "cpp",
        "#include <cstdlib>\n#include <cstring>\n"
        "int main() { for (;;) { char *p = (char *)malloc(1 << 20); if (!p) return 1; "
        "memset(p, 1, 1 << 20); } }\n",
        {"memory_limit_exceeded", "runtime_error"},
    ),
    (
        "c-output-flood",
        "c",
        '#include <stdio.h>\nint main(void) { for (;;) puts("flood flood flood"); }\n',
        {"output_limit_exceeded"},
    ),
    (
        "c-reads-the-runners-environment",
        "c",
        '#include <stdio.h>\nint main(void) { FILE *f = fopen("/proc/1/environ", "r"); '
        'if (!f) return 1; printf("5\\n6\\n"); return 0; }\n',
        {"runtime_error", "wrong_answer"},
    ),
    (
        "c-kills-every-process",
        "c",
        "#include <signal.h>\nint main(void) { kill(-1, SIGKILL); return 0; }\n",
        {"runtime_error", "wrong_answer"},
    ),
    (
        "c-ignores-signals-and-spins",
        "c",
        "#include <signal.h>\nint main(void) { for (int s = 1; s < 32; s++) "
        "signal(s, SIG_IGN); for (;;) {} }\n",
        {"time_limit_exceeded"},
    ),
    (
        "cpp-stack-overflow",
        "cpp",
        "int f(int n) { volatile char pad[4096]; pad[0] = n; return f(n + 1) + pad[0]; }\n"
        "int main() { return f(0); }\n",
        {"runtime_error", "memory_limit_exceeded"},
    ),
    (
        "c-daemon-left-behind",
        "c",
        "#include <unistd.h>\n#include <stdio.h>\nint main(void) { if (fork() == 0) { "
        'setsid(); if (fork() == 0) { for (;;) sleep(1); } return 0; } puts("5"); }\n',
        {"wrong_answer"},
    ),
    (
        "c-plants-a-file",
        "c",
        '#include <stdio.h>\nint main(void) { FILE *f = fopen("/work/planted", "w"); '
        'fputs("x", f); fclose(f); return 1; }\n',
        {"runtime_error"},
    ),
    (
        "c-lowers-the-runners-limits",
        "c",
        "#define _GNU_SOURCE\n#include <sys/resource.h>\nint main(void) { "
        "struct rlimit r = {1, 1}; prlimit(1, RLIMIT_NOFILE, &r, 0); "
        "return prlimit(1, RLIMIT_AS, &r, 0) == 0 ? 0 : 1; }\n",
        {"runtime_error", "wrong_answer"},
    ),
    (
        "java-fork-bomb-through-processes",
        "java",
        java_main('while (true) new ProcessBuilder("/bin/sh", "-c", "sleep 100").start();'),
        {"time_limit_exceeded", "runtime_error", "memory_limit_exceeded"},
    ),
    (
        "java-thread-bomb",
        "java",
        java_main(
            "while (true) { Thread t = new Thread(() -> { while (true) {} }); t.setDaemon(false);"
            " t.start(); }"
        ),
        {"time_limit_exceeded", "runtime_error", "memory_limit_exceeded"},
    ),
    (
        "java-memory-bomb-touching-pages",
        "java",
        java_main(
            "java.util.List<long[]> keep = new java.util.ArrayList<>(); "
            "while (true) keep.add(new long[1 << 17]);"
        ),
        {"memory_limit_exceeded"},
    ),
    (
        "java-output-flood",
        "java",
        java_main('while (true) System.out.println("flood flood flood");'),
        {"output_limit_exceeded"},
    ),
    (
        "java-reads-the-runners-environment",
        "java",
        java_main(
            "System.out.print(new String(java.nio.file.Files.readAllBytes("
            'java.nio.file.Paths.get("/proc/1/environ"))));'
        ),
        {"runtime_error", "wrong_answer"},
    ),
    (
        "java-kills-every-process-it-can-see",
        "java",
        java_main("ProcessHandle.allProcesses().forEach(p -> p.destroyForcibly());"),
        {"wrong_answer", "runtime_error"},
    ),
    (
        "java-stack-overflow",
        "java",
        "public class Main { static int f(int n) { return f(n + 1) + 1; } "
        "public static void main(String[] a) { System.out.println(f(0)); } }\n",
        {"runtime_error"},
    ),
    (
        "java-spins-in-a-finally-that-never-ends",
        "java",
        java_main("try { while (true) {} } finally { while (true) {} }"),
        {"time_limit_exceeded"},
    ),
    (
        "java-plants-a-file",
        "java",
        java_main(
            'java.nio.file.Files.writeString(java.nio.file.Paths.get("/work/planted"), "x"); '
            "System.exit(1);"
        ),
        {"runtime_error"},
    ),
]


@pytest.fixture(scope="module")
def scorer(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[CodeScorer]:
    with one_container_scorer(docker_client, sandbox_image, memory_mb=512) as scorer:
        yield scorer


def score(scorer: CodeScorer, language: str, program: str, tests: dict[str, Any]) -> ScoreResult:
    params = CodeParams.model_validate({"tests": tests, "language": language, **LIMITS})
    return scorer.score(Sample(completion=f"```\n{program}```"), params)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("language", "program", "verdict", "fragment"),
    [v[1:] for v in VERDICTS],
    ids=[v[0] for v in VERDICTS],
)
def test_verdict(
    scorer: CodeScorer, language: str, program: str, verdict: str, fragment: str
) -> None:
    result = score(scorer, language, program, SUM_STDIO)
    details = result.model_extra or {}
    assert (result.verdict, result.score) == (verdict, 1.0 if verdict == "accepted" else 0.0), (
        result
    )
    assert fragment in str(details.get("detail", "")) + str(details.get("stderr", "")), result


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("language", "program", "verdicts"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS]
)
def test_attack_scores_zero_and_leaves_the_next_program_unaffected(
    scorer: CodeScorer, language: str, program: str, verdicts: set[str]
) -> None:
    attacked = score(scorer, language, program, SUM_STDIO)
    assert (attacked.score, attacked.verdict in verdicts) == (0.0, True), attacked
    probe = scorer.score(
        Sample(completion=f"```python\n{PROBE}```"),
        CodeParams.model_validate(
            {"tests": ADD, "test_timeout_s": 2.0, "timeout_s": 6.0, "reuse_duplicates": False}
        ),
    )
    assert (probe.score, probe.verdict) == (1.0, "accepted"), probe


def test_a_compiled_program_runs_once_compiled_for_every_case(scorer: CodeScorer) -> None:
    # The compiler's time is its own: three cases within the job's wall time after it.
    many = {
        "mode": "stdio",
        "cases": [{"stdin": f"{i} {i}\n", "stdout": f"{2 * i}\n"} for i in range(3)],
    }
    assert score(scorer, "cpp", SUM_CPP, many).verdict == "accepted"


CONSTEXPR_BOMB = """constexpr long long spin() {
  long long s = 0;
  for (long long i = 0; i < 200000; i++) for (long long j = 0; j < 200000; j++) s += i ^ j;
  return s;
}
constexpr long long x = spin();
int main() { return (int)x; }
"""


@pytest.mark.timeout(120)
def test_a_compilation_past_its_time_bound_is_a_compile_error(scorer: CodeScorer) -> None:
    params = CodeParams.model_validate(
        {"tests": SUM_STDIO, "language": "cpp", **LIMITS, "compile_timeout_s": 2.0}
    )
    result = scorer.score(Sample(completion=f"```cpp\n{CONSTEXPR_BOMB}```"), params)
    details = result.model_extra or {}
    assert (result.verdict, details.get("detail")) == (
        "compile_error",
        "compilation took longer than 2 s",
    ), result


@pytest.mark.timeout(120)
def test_a_subtask_stops_at_its_first_failure_and_shares_no_skip(scorer: CodeScorer) -> None:
    tests = {
        "mode": "stdio",
        "cases": [{"stdin": f"{n}\n", "stdout": f"{n}\n"} for n in range(4)],
    }
    params = CodeParams.model_validate(
        {
            "tests": tests,
            "scoring": "subtasks",
            # Test 0 fails: test 1 is skipped (only in the first subtask), test 2 still runs
            # for the third, which it shares with the first.
            "subtasks": [
                {"points": 20, "tests": [0, 1, 2]},
                {"points": 30, "tests": [3]},
                {"points": 50, "tests": [2, 3]},
            ],
            "reuse_duplicates": False,
        }
    )
    program = "n = int(input())\nif n == 0:\n    raise SystemExit(1)\nprint(n)\n"
    result = scorer.score(Sample(completion=f"```python\n{program}```"), params)
    details = result.model_extra or {}
    assert details["tests"] == ["runtime_error", "not_run", "accepted", "accepted"], result
    assert result.score == 0.8, result


README_ITEMS = [(completion, params) for completion, params in code_items() if completion]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("completion", "params"), README_ITEMS)
def test_a_readme_item_scores_as_the_readme_says(
    scorer: CodeScorer, completion: str, params: dict[str, Any]
) -> None:
    result = scorer.score(Sample(completion=completion), CodeParams.model_validate(params))
    assert (result.score, result.verdict) == (1.0, "accepted"), result
