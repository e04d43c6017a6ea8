"""The in-container runner, tester and program host, driven through a real `Channel`: each test
states one property of a job's result, many of them against hostile programs. One container
serves the module (the runner cleans up between jobs, which some tests check on purpose)."""

from __future__ import annotations

import inspect
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from referee.sandbox import channel as channel_module
from referee.sandbox import codec
from referee.sandbox.protocol import JobResult
from tests.sandbox.helpers import (
    Sandbox,
    assert_harness,
    call_harness,
    config_for,
    mbpp_harness,
    rpc_job,
    statuses,
    stdio_job,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sandbox(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[Sandbox]:
    box = Sandbox(docker_client, config_for(sandbox_image), "runner")
    try:
        yield box
    finally:
        box.close()


def one(result: JobResult) -> dict[str, Any]:
    assert len(result["results"]) == 1, result
    case: dict[str, Any] = dict(result["results"][0])
    return case


# --- stdio -------------------------------------------------------------------------------------

STDIO_CASES = [
    # (id, program, stdin, limit overrides, status, detail fragment, stdout)
    ("ok", "print(int(input()) * 2)", "21\n", {}, "ok", "", "42\n"),
    (
        "wrong-output-verbatim",
        "print(41)\nprint('  spaced  ')",
        "",
        {},
        "ok",
        "",
        "41\n  spaced  \n",
    ),
    ("raises", "raise ValueError('bad input')", "", {}, "error", "ValueError: bad input", ""),
    (
        "exit-code",
        "import sys\nprint('partial')\nsys.exit(3)",
        "",
        {},
        "error",
        "exit code 3",
        "partial\n",
    ),
    (
        "sleeps-forever",
        "import time\ntime.sleep(1000)",
        "",
        {"test_wall_s": 0.5},
        "timeout",
        "wall time",
        "",
    ),
    (
        "ignores-sigterm",
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: pass",
        "",
        {"test_wall_s": 0.5},
        "timeout",
        "wall time",
        "",
    ),
    (
        "cpu-limit",
        "while True: pass",
        "",
        {"test_wall_s": 5, "cpu_s": 1},
        "timeout",
        "CPU time",
        "",
    ),
    ("memory-error", "x = bytearray(1 << 30)", "", {}, "memory", "MemoryError", ""),
    (
        "signal",
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
        "",
        {},
        "killed",
        "SIGSEGV",
        "",
    ),
    (
        "stdin-forever-gets-eof",
        "import sys\nprint(len(sys.stdin.read()))",
        "x" * 1_000_000,
        {},
        "ok",
        "",
        "1000000\n",
    ),
    ("never-reads-stdin", "print('no')", "y" * 1_000_000, {}, "ok", "", "no\n"),
]


@pytest.mark.parametrize(
    ("program", "stdin", "limit", "status", "detail", "stdout"),
    [c[1:] for c in STDIO_CASES],
    ids=[c[0] for c in STDIO_CASES],
)
def test_stdio_case(
    sandbox: Sandbox,
    program: str,
    stdin: str,
    limit: dict[str, Any],
    status: str,
    detail: str,
    stdout: str,
) -> None:
    case = one(sandbox.run(stdio_job(program, stdin, **limit)))
    assert (case["status"], case["stdout"]) == (status, stdout), case
    assert detail in case["detail"]


def test_stdio_cases_run_in_fresh_processes_in_order(sandbox: Sandbox) -> None:
    program = "import os\nprint(input(), os.getpid())"
    result = sandbox.run(stdio_job(program, "a\n", "b\n", "c\n"))
    lines = [c["stdout"].split() for c in result["results"]]
    assert [line[0] for line in lines] == ["a", "b", "c"]
    assert len({line[1] for line in lines}) == 3


def test_stdio_early_stop_skips_the_rest(sandbox: Sandbox) -> None:
    program = "n = int(input())\nassert n > 0\nprint(n)"
    result = sandbox.run(stdio_job(program, "1\n", "-1\n", "2\n", early_stop=True))
    assert statuses(result) == ["ok", "error", "not_run"]
    result = sandbox.run(stdio_job(program, "1\n", "-1\n", "2\n", early_stop=False))
    assert statuses(result) == ["ok", "error", "ok"]


def test_stdio_job_result_carries_the_last_stderr_tail(sandbox: Sandbox) -> None:
    result = sandbox.run(stdio_job("import sys\nsys.stderr.write('x' * 5000 + 'END')"))
    assert result["stderr"].endswith("END") and len(result["stderr"]) == 2000


def test_stdio_output_limit_keeps_the_first_bytes(sandbox: Sandbox) -> None:
    start = time.monotonic()
    case = one(sandbox.run(stdio_job("import sys\nsys.stdout.write('z' * 10_000_000)")))
    assert case["status"] == "output_limit"
    assert case["stdout"] == "z" * (1 << 20)
    assert time.monotonic() - start < 3


@pytest.mark.parametrize(
    ("cap", "status"), [(1 << 20, "ok"), (100_000, "output_limit")], ids=["captured", "capped"]
)
def test_stdio_burst_on_both_pipes_without_reading_stdin_does_not_deadlock(
    sandbox: Sandbox, cap: int, status: str
) -> None:
    program = "import sys\nsys.stdout.write('o' * 200_000)\nsys.stderr.write('e' * 200_000)"
    case = one(sandbox.run(stdio_job(program, "i" * 500_000, output_bytes=cap)))
    assert case["status"] == status
    assert case["stdout"] == "o" * min(200_000, cap)


def test_stdio_memory_bomb_past_the_container_limit_is_oom_killed(sandbox: Sandbox) -> None:
    # RLIMIT_AS above the container's 256 MB: the cgroup OOM killer ends it, and it picks the
    # program (oom_score_adj 1000), not the runner.
    program = "x = b'1' * (400 << 20)\nprint('survived')"
    case = one(sandbox.run(stdio_job(program, memory_mb=2048)))
    assert case["status"] == "memory", case
    assert one(sandbox.run(stdio_job("print('next')")))["stdout"] == "next\n"


def test_forged_result_line_on_stdout_is_just_output(sandbox: Sandbox) -> None:
    forged = json.dumps({"id": 1, "results": [{"status": "ok", "detail": "", "wall_s": 0}]})
    job = stdio_job(f"print({forged!r})\nraise SystemExit(1)")
    result = sandbox.run(job)
    assert result["id"] == job["id"]
    assert one(result)["status"] == "error" and one(result)["stdout"] == forged + "\n"


# --- rpc: the three harness styles ---------------------------------------------------------------

ADD = """
def f(x):
    return x + 1
"""
CHECK_ADD = """
def check(candidate):
    assert candidate(1) == 2
    assert candidate(-5) == -4
"""


def test_rpc_assert_pass(sandbox: Sandbox) -> None:
    result = sandbox.run(rpc_job(ADD, assert_harness(CHECK_ADD)))
    assert result["program"]["status"] == "ok"
    assert statuses(result) == ["ok"]


def test_rpc_assert_failure_names_the_line(sandbox: Sandbox) -> None:
    test = """
    def check(candidate):
        assert candidate(1) == 2
        assert candidate(2) == 4, "two"
    """
    case = one(sandbox.run(rpc_job(ADD, assert_harness(test))))
    assert case["status"] == "failed"
    assert "line 3" in case["detail"] and "two" in case["detail"]


def test_rpc_assert_uses_helpers_from_the_prompt(sandbox: Sandbox) -> None:
    # HumanEval/38-like: the test calls encode_cyclic, defined by the program, not the test.
    program = """
    def encode(s):
        return s[::-1]
    def decode(s):
        return s[::-1]
    """
    test = """
    def check(candidate):
        assert candidate(encode("abc")) == "abc"
    """
    assert statuses(sandbox.run(rpc_job(program, assert_harness(test, "decode")))) == ["ok"]


def test_rpc_candidate_exceptions_keep_their_builtin_type(sandbox: Sandbox) -> None:
    program = """
    def f(x):
        if x < 0:
            raise ValueError("negative")
        return x
    """
    expects = """
    def check(candidate):
        try:
            candidate(-1)
        except ValueError:
            pass
        else:
            assert False
    """
    assert statuses(sandbox.run(rpc_job(program, assert_harness(expects)))) == ["ok"]
    unexpected = "def check(candidate):\n    assert candidate(-1) == 1\n"
    case = one(sandbox.run(rpc_job(program, assert_harness(unexpected))))
    assert (case["status"], case["detail"]) == ("error", "ValueError: negative")


def test_rpc_mbpp_reports_each_test(sandbox: Sandbox) -> None:
    program = """
    import math
    def add(a, b):
        return a + b
    def area(r):
        return math.pi * r * r
    """
    harness = mbpp_harness(
        "assert add(1, 2) == 3",
        "assert add(2, 2) == 5",
        "assert math.isclose(area(1), 3.14159, rel_tol=1e-3)",
    )
    result = sandbox.run(rpc_job(program, harness))
    assert statuses(result) == ["ok", "failed", "ok"]
    assert "add(2, 2) == 5" in result["results"][1]["detail"]


def test_rpc_mbpp_setup_failure_fails_every_test(sandbox: Sandbox) -> None:
    harness = mbpp_harness("assert add(1, 2) == 3", "assert True", setup="undefined_name")
    result = sandbox.run(rpc_job("def add(a, b):\n    return a + b\n", harness))
    assert statuses(result) == ["error", "error"]
    assert "setup failed" in result["results"][0]["detail"]


def test_rpc_mbpp_early_stop(sandbox: Sandbox) -> None:
    harness = mbpp_harness("assert add(1, 1) == 3", "assert add(1, 2) == 3")
    result = sandbox.run(rpc_job("def add(a, b):\n    return a + b\n", harness, early_stop=True))
    assert statuses(result) == ["failed", "not_run"]


CALL_PROGRAM = """
def f(kind):
    values = {
        "tuple": (1, (2, 3)), "dict": {"a": [1, None, True]}, "big": 2 ** 70, "none": None,
        "str": "é\\n", "float": 0.1, "set": {1, 2}, "inf": float("inf"), "bytes": b"x",
        "intkey": {1: 2}, "gen": (i for i in range(3)),
    }
    if kind == "raise":
        raise KeyError(kind)
    return values[kind]
"""
CALL_CASES: list[tuple[str, str, Any]] = [
    ("tuple", "ok", [1, [2, 3]]),
    ("dict", "ok", {"a": [1, None, True]}),
    ("big", "ok", 2**70),
    ("none", "ok", None),
    ("str", "ok", "é\n"),
    ("float", "ok", 0.1),
    ("set", "error", "JSON"),
    ("inf", "error", "JSON"),
    ("bytes", "error", "JSON"),
    ("intkey", "error", "JSON"),
    ("gen", "error", "non-literal value: generator"),
    ("raise", "error", "KeyError"),
]


def test_rpc_call_style_returns_values_as_json(sandbox: Sandbox) -> None:
    result = sandbox.run(rpc_job(CALL_PROGRAM, call_harness(*[[k] for k, _, _ in CALL_CASES])))
    for (kind, status, expected), case in zip(CALL_CASES, result["results"], strict=True):
        assert case["status"] == status, (kind, case)
        if status == "ok":
            assert case["value"] == expected, kind
        else:
            assert expected in case["detail"] and "value" not in case, (kind, case)


def test_rpc_call_style_answers_many_cases_in_order(sandbox: Sandbox) -> None:
    # Later calls go out ahead of their turn (`tester.AHEAD_BYTES`); answers stay in order.
    program = "def f(x, s):\n    return [x * 2, s[::-1]]\n"
    cases = [[k, "ab" * (k % 50)] for k in range(500)]
    result = sandbox.run(rpc_job(program, call_harness(*cases)))
    assert [case.get("value") for case in result["results"]] == [
        [k * 2, ("ab" * (k % 50))[::-1]] for k in range(500)
    ]


def test_rpc_call_style_times_each_case_from_its_own_turn(sandbox: Sandbox) -> None:
    # Five calls of 0.3 s under a 0.5 s test limit: all sent ahead, each timed on its own.
    program = "import time\ndef f(x):\n    time.sleep(0.3)\n    return x\n"
    result = sandbox.run(rpc_job(program, call_harness(*[[k] for k in range(5)]), test_wall_s=0.5))
    assert statuses(result) == ["ok"] * 5
    assert all(0.25 < case["wall_s"] < 0.5 for case in result["results"]), result


def test_rpc_call_style_timeout_ends_at_its_own_case(sandbox: Sandbox) -> None:
    program = "import time\ndef f(x):\n    if x == 2:\n        time.sleep(60)\n    return x\n"
    result = sandbox.run(rpc_job(program, call_harness(*[[k] for k in range(5)]), test_wall_s=0.5))
    assert statuses(result)[:3] == ["ok", "ok", "timeout"], result
    assert [case.get("value") for case in result["results"][:2]] == [0, 1]


def test_rpc_call_style_case_larger_than_a_pipe_goes_in_its_turn(sandbox: Sandbox) -> None:
    # A first frame over the pipe's 64 KB is never sent ahead (the write would wait on the
    # program before any test's time limit is set).
    result = sandbox.run(
        rpc_job("def f(s):\n    return len(s)\n", call_harness(["x" * 100_000], ["y"]))
    )
    assert [case.get("value") for case in result["results"]] == [100_000, 1], result


def test_rpc_call_style_program_that_shrinks_its_pipe_is_still_judged(sandbox: Sandbox) -> None:
    program = (
        "import fcntl\nfcntl.fcntl(5, fcntl.F_SETPIPE_SZ, 4096)\ndef f(x):\n    return x + 1\n"
    )
    result = sandbox.run(rpc_job(program, call_harness(*[[k] for k in range(50)])))
    assert "runner_error" not in result, result
    assert [case.get("value") for case in result["results"]] == [k + 1 for k in range(50)]


def test_rpc_call_style_case_that_raises_fails_alone(sandbox: Sandbox) -> None:
    program = "def f(x):\n    if x == 1:\n        raise ValueError('one')\n    return x + 1\n"
    result = sandbox.run(rpc_job(program, call_harness([0], [1], [2], [3])))
    assert statuses(result) == ["ok", "error", "ok", "ok"], result
    assert [result["results"][i].get("value") for i in (0, 2, 3)] == [1, 3, 4]


# --- rpc: how the program failed -----------------------------------------------------------------

LOAD_FAILURES = [
    ("syntax-error", "x = 1\ndef f(:\n    pass\n", "syntax_error", "line 2"),
    ("import-error", "import no_such_module_here\n", "import_error", "ModuleNotFoundError"),
    ("raises-at-load", "1 / 0\n", "import_error", "ZeroDivisionError: division by zero"),
    (
        "exit-0-at-load",
        "import sys\nsys.exit(0)\ndef f(x):\n    return x + 1\n",
        "exited",
        "exit(0)",
    ),
    ("os-exit-at-load", "import os\nos._exit(0)\n", "exited", "code 0"),
    ("loops-at-load", "while True:\n    pass\n", "timeout", "wall time"),
    ("memory-at-load", "x = bytearray(1 << 30)\n", "memory", "MemoryError"),
    (
        "prints-too-much-at-load",
        "while True:\n    print('x' * 65536)\n",
        "output_limit",
        "printed more",
    ),
]


@pytest.mark.parametrize(
    ("program", "status", "detail"),
    [c[1:] for c in LOAD_FAILURES],
    ids=[c[0] for c in LOAD_FAILURES],
)
def test_rpc_program_that_does_not_load(
    sandbox: Sandbox, program: str, status: str, detail: str
) -> None:
    result = sandbox.run(rpc_job(program, assert_harness(CHECK_ADD), test_wall_s=0.5))
    assert result["program"]["status"] == status, result["program"]
    assert detail in result["program"]["detail"]
    assert statuses(result) == ["not_run"]


def test_rpc_main_block_of_the_program_does_not_run(sandbox: Sandbox) -> None:
    program = ADD + "\nif __name__ == '__main__':\n    raise SystemExit(f(1))\n"
    result = sandbox.run(rpc_job(program, assert_harness(CHECK_ADD)))
    assert result["program"]["status"] == "ok" and statuses(result) == ["ok"]


RUNTIME_FAILURES = [
    # (id, program, status of the first test, detail fragment, status of the second)
    (
        "infinite-loop",
        "def f(x):\n    while True:\n        pass\n",
        "timeout",
        "took longer",
        "not_run",
    ),
    (
        "memory-error",
        "def f(x):\n    return bytearray(1 << 30)\n",
        "memory",
        "MemoryError",
        "memory",
    ),
    ("exit-in-call", "import sys\ndef f(x):\n    sys.exit(0)\n", "error", "exit(0)", "error"),
    ("os-exit-in-call", "import os\ndef f(x):\n    os._exit(3)\n", "error", "code 3", "not_run"),
    (
        "segfault",
        "import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
        "killed",
        "SIGSEGV",
        "not_run",
    ),
    (
        "prints-too-much",
        "def f(x):\n    while True:\n        print('x' * 65536)\n",
        "output_limit",
        "printed more",
        "not_run",
    ),
    ("prints-a-little", "def f(x):\n    print('hello', x)\n    return x + 1\n", "ok", "", "ok"),
]


@pytest.mark.parametrize(
    ("program", "status", "detail", "then"),
    [c[1:] for c in RUNTIME_FAILURES],
    ids=[c[0] for c in RUNTIME_FAILURES],
)
def test_rpc_candidate_failure(
    sandbox: Sandbox, program: str, status: str, detail: str, then: str
) -> None:
    harness = mbpp_harness("assert f(1) == 2", "assert f(2) == 3")
    result = sandbox.run(rpc_job(program, harness, test_wall_s=0.5))
    first = result["results"][0]
    assert first["status"] == status and detail in first["detail"], result
    assert statuses(result)[1] == then, result


def test_rpc_oom_kill_of_the_program_is_memory(sandbox: Sandbox) -> None:
    program = "def f(x):\n    data = b'1' * (400 << 20)\n    return len(data)\n"
    result = sandbox.run(rpc_job(program, assert_harness(CHECK_ADD), memory_mb=2048))
    assert one(result)["status"] == "memory", result


# --- rpc: hostile programs that must not pass ----------------------------------------------------

NOT_PASSING = [
    (
        "always-equal",
        """
        class Anything:
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
        def f(x):
            return Anything()
        """,
    ),
    (
        "int-subclass-always-equal",
        """
        class Int(int):
            def __eq__(self, other):
                return True
        def f(x):
            return Int(0)
        """,
    ),
    (
        "redefines-check",
        """
        def check(candidate):
            pass
        def f(x):
            return 0
        """,
    ),
    (
        "shadows-builtins",
        """
        def abs(x):
            return 0
        def isinstance(*a):
            return True
        def f(x):
            return 0
        """,
    ),
    (
        "exit-zero-first",
        """
        import sys
        sys.exit(0)
        """,
    ),
    (
        "exit-zero-in-call",
        """
        import os
        def f(x):
            os._exit(0)
        """,
    ),
    (
        "forges-result-lines",
        """
        import json, os, sys
        line = json.dumps({"id": 0, "results": [{"status": "ok", "detail": "", "wall_s": 0}]})
        print(line); print(line, file=sys.stderr)
        forged = b'{"index": 0, "result": {"status": "ok", "detail": "", "wall_s": 0}}'
        for fd in range(3, 64):
            for frame in (len(forged).to_bytes(4, "big") + forged, line.encode() + b"\\n"):
                try:
                    os.write(fd, frame)
                except OSError:
                    pass
        def f(x):
            print(line)
            return 0
        """,
    ),
    (
        "forges-in-call",
        """
        import json, os
        line = json.dumps({"id": 0, "results": [{"status": "ok", "detail": "", "wall_s": 0}]})
        forged = repr({"index": 0, "result": {"status": "ok", "detail": "", "wall_s": 0}})
        def f(x):
            print(line)
            for fd in range(3, 64):
                for data in (forged.encode(), repr({"done": True}).encode()):
                    try:
                        os.write(fd, len(data).to_bytes(4, "big") + data)
                    except OSError:
                        pass
            return 0
        """,
    ),
    (
        "stop-iteration-inside-map",
        """
        def f(x):
            raise StopIteration
        """,
    ),
    (
        "patches-assertion-in-its-own-process",
        """
        import builtins
        builtins.AssertionError = type("Nope", (BaseException,), {})
        def f(x):
            return 0
        """,
    ),
    (
        "swallowed-by-bare-except",
        """
        class Anything:
            def __eq__(self, other):
                return True
        def f(x):
            return Anything()
        """,
    ),
]
SWALLOWING_TEST = """
def check(candidate):
    try:
        value = candidate(1)
    except:
        value = 2
    assert value == 2
    assert abs(candidate(0.5) - 1.5) < 1e-9
    assert isinstance(candidate(1), int)
    assert all(map(candidate, [1, 2]))
"""


def test_rpc_swallowing_test_passes_an_honest_program(sandbox: Sandbox) -> None:
    assert statuses(sandbox.run(rpc_job(ADD, assert_harness(SWALLOWING_TEST)))) == ["ok"]


@pytest.mark.parametrize("program", [c[1] for c in NOT_PASSING], ids=[c[0] for c in NOT_PASSING])
def test_rpc_hostile_program_does_not_pass(sandbox: Sandbox, program: str) -> None:
    result = sandbox.run(rpc_job(program, assert_harness(SWALLOWING_TEST)))
    assert statuses(result) != ["ok"], result
    result = sandbox.run(rpc_job(program, mbpp_harness("assert f(1) == 2")))
    assert statuses(result) != ["ok"], result


def test_rpc_stop_iteration_cannot_end_a_map_early(sandbox: Sandbox) -> None:
    test = "def check(candidate):\n    assert all(map(candidate, [1, 2]))\n"
    result = sandbox.run(rpc_job("def f(x):\n    raise StopIteration\n", assert_harness(test)))
    assert statuses(result) == ["error"] and "StopIteration" in one(result)["detail"], result


def test_rpc_kill_all_from_the_program_fails_and_the_next_job_works(sandbox: Sandbox) -> None:
    program = """
    import os, signal
    def f(x):
        os.kill(-1, signal.SIGKILL)
        return x + 1
    """
    harness = mbpp_harness("assert f(1) == 2", "assert f(2) == 3")
    result = sandbox.run(rpc_job(program, harness))
    assert statuses(result) == ["killed", "killed"], result
    assert result["results"][0]["detail"] == "tester killed by the program"
    assert statuses(sandbox.run(rpc_job(ADD, assert_harness(CHECK_ADD)))) == ["ok"]


def test_rpc_program_cannot_reach_the_tester(sandbox: Sandbox) -> None:
    # P lists which other processes' fds, environ or memory it can open: none (T and the runner
    # are non-dumpable), and no process's command line holds the test code.
    program = """
    import os
    def f(marker):
        mine = {os.getpid()}
        open_to_me, leaks = [], []
        for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in mine]:
            for what in ("fd", "environ", "mem", "cwd"):
                try:
                    path = f"/proc/{pid}/{what}"
                    os.listdir(path) if what in ("fd", "cwd") else open(path, "rb").read(1)
                    open_to_me.append(f"{pid}/{what}")
                except OSError:
                    pass
            try:
                if marker in open(f"/proc/{pid}/cmdline", "rb").read().decode("latin-1"):
                    leaks.append(pid)
            except OSError:
                pass
        return (len(os.listdir("/proc")) > 0, open_to_me, leaks)
    """
    test = """
    def check(candidate):
        secret = "canary-" + "5ec2e7"
        assert candidate(secret) == (True, [], [])
    """
    assert statuses(sandbox.run(rpc_job(program, assert_harness(test)))) == ["ok"]


def test_rpc_program_stopping_the_tester_hits_the_job_wall_time(sandbox: Sandbox) -> None:
    program = """
    import os, signal
    def f(x):
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) not in (1, os.getpid()):
                os.kill(int(pid), signal.SIGSTOP)
        return x + 1
    """
    harness = mbpp_harness("assert f(1) == 2", "assert f(2) == 3")
    start = time.monotonic()
    result = sandbox.run(rpc_job(program, harness, wall_s=1.0))
    assert statuses(result) == ["timeout", "not_run"], result
    assert time.monotonic() - start < 3
    assert statuses(sandbox.run(rpc_job(ADD, assert_harness(CHECK_ADD)))) == ["ok"]


def test_signals_to_the_runner_are_not_delivered(sandbox: Sandbox) -> None:
    program = """
    import os, signal
    def f(x):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGSTOP,
                    signal.SIGKILL):
            os.kill(1, sig)
        return x + 1
    """
    assert statuses(sandbox.run(rpc_job(program, assert_harness(CHECK_ADD)))) == ["ok"]
    assert one(sandbox.run(stdio_job("print('alive')")))["stdout"] == "alive\n"


OWN_FDS = """
import os
def own_fds():
    def alive(fd):
        try:
            os.fstat(fd)
        except OSError:  # the listing's own directory handle, closed by now
            return False
        return True
    return [fd for fd in sorted(int(fd) for fd in os.listdir("/proc/self/fd")) if alive(fd)]
"""


def test_a_program_holds_only_its_own_fds(sandbox: Sandbox) -> None:
    assert one(sandbox.run(stdio_job(OWN_FDS + "print(own_fds())")))["stdout"] == "[0, 1, 2]\n"
    # In P at call time: /dev/null, its stdout and stderr, the calls and replies pipes; the
    # control and load-report pipes are closed once used, and none of T's or the runner's is
    # there.
    program = OWN_FDS + "def f():\n    return own_fds()\n"
    test = "def check(candidate):\n    assert candidate() == [0, 1, 2, 5, 6]\n"
    assert statuses(sandbox.run(rpc_job(program, assert_harness(test)))) == ["ok"]


@pytest.mark.parametrize(
    "path", ["/proc/1/environ", "/proc/1/fd", "/proc/1/mem", "/proc/1/fd/1", "/proc/1/cwd"]
)
def test_runner_is_not_readable_by_the_program(sandbox: Sandbox, path: str) -> None:
    program = f"""
    import os
    try:
        if os.path.isdir({path!r}):
            os.listdir({path!r})
        else:
            open({path!r}, "rb").read(1)
        print("readable")
    except PermissionError:
        print("denied")
    """
    assert one(sandbox.run(stdio_job(program)))["stdout"] == "denied\n"


ATTRIBUTE_CHANGES = [
    # (id, call, allowed): same-uid processes may do these to each other unless filtered.
    ("prlimit-runner", "resource.prlimit(1, resource.RLIMIT_NOFILE, (5, 5))", False),
    (
        "prlimit-others",
        "[resource.prlimit(p, resource.RLIMIT_AS, (1 << 20, 1 << 20)) for p in others]",
        False,
    ),
    ("setpriority-runner", "os.setpriority(os.PRIO_PROCESS, 1, 19)", False),
    ("setpriority-user", "os.setpriority(os.PRIO_USER, 0, 19)", False),
    ("sched-idle-runner", "os.sched_setscheduler(1, os.SCHED_IDLE, os.sched_param(0))", False),
    ("affinity-runner", "os.sched_setaffinity(1, {0})", False),
    ("x32-abi-syscall", "check(ctypes.CDLL(None, use_errno=True).syscall(0x40000000 | 39))", False),
    ("own-rlimit", "resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))", True),
    ("own-nice", "os.nice(1)", True),
    ("own-affinity", "os.sched_setaffinity(0, os.sched_getaffinity(0))", True),
]


@pytest.mark.parametrize(
    ("call", "allowed"), [c[1:] for c in ATTRIBUTE_CHANGES], ids=[c[0] for c in ATTRIBUTE_CHANGES]
)
def test_program_cannot_change_other_processes_attributes(
    sandbox: Sandbox, call: str, allowed: bool
) -> None:
    # From P, whose siblings are T and the runner.
    program = f"""
    import ctypes, os, resource
    def check(value):
        if value < 0:
            raise PermissionError(ctypes.get_errno(), "denied")
    def f():
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
        try:
            {call}
        except PermissionError:
            return "denied"
        return "allowed"
    """
    expected = "allowed" if allowed else "denied"
    test = f"def check(candidate):\n    assert candidate() == {expected!r}\n"
    assert statuses(sandbox.run(rpc_job(program, assert_harness(test)))) == ["ok"]
    assert one(sandbox.run(stdio_job("print('next')")))["stdout"] == "next\n"


def test_a_runner_changed_despite_the_filter_fails_the_job_and_retires(
    docker_client: Any, sandbox_image: str, leftover_check: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backstop, with the filter switched off in the runner's source (and the zygote's,
    # which starts the Python program).
    read: Callable[[str], str] = channel_module._source

    def without_filter(name: str) -> str:
        source = read(name)
        return (
            source.replace("_FILTER = seccomp_filter()", "_FILTER = None")
            if name in ("runner", "zygote")
            else source
        )

    monkeypatch.setattr(channel_module, "_source", without_filter)
    box = Sandbox(docker_client, config_for(sandbox_image), "runner-backstop")
    try:
        attack = "import resource\nresource.prlimit(1, resource.RLIMIT_NOFILE, (16, 16))\nprint(1)"
        result = box.run(stdio_job(attack, "", ""))
        assert statuses(result) == ["killed", "killed"], result
        assert "resource limits" in result["results"][0]["detail"]
        assert box.channel is not None and not box.channel.alive
    finally:
        box.close()


# --- state between jobs --------------------------------------------------------------------------

LIST_PROCESSES = """
import os
def is_zygote(pid):
    try:
        return b"The zygote Z" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
zygotes = [p for p in pids if p != os.getpid() and is_zygote(p)]
others = [p for p in pids if p not in zygotes]
# The runner's zygote (at most one) lives on between jobs; anything else is a leftover.
print(others == sorted({1, os.getpid()}) and len(zygotes) <= 1, pids)
"""


def test_double_fork_daemon_is_gone_before_the_next_job(sandbox: Sandbox) -> None:
    daemon = """
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
        os._exit(0)
    print("parent")
    """
    start = time.monotonic()
    assert one(sandbox.run(stdio_job(daemon)))["stdout"] == "parent\n"
    assert time.monotonic() - start < 3
    assert one(sandbox.run(stdio_job(LIST_PROCESSES)))["stdout"].startswith("True")
    # The same from inside a candidate function, followed by an rpc job.
    in_call = (
        "import os, time\ndef f(x):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        time.sleep(600)\n    return x + 1\n"
    )
    assert statuses(sandbox.run(rpc_job(in_call, assert_harness(CHECK_ADD)))) == ["ok"]
    assert one(sandbox.run(stdio_job(LIST_PROCESSES)))["stdout"].startswith("True")


def test_planted_files_are_gone_before_the_next_job(sandbox: Sandbox) -> None:
    plant = """
    import ctypes, os
    for root in ("/work", "/tmp", "/dev/shm"):
        open(f"{root}/planted", "w").write("x")
        open(f"{root}/.hidden", "w").write("x")
        os.mkdir(f"{root}/deep")
        os.chdir(f"{root}/deep")
        for _ in range(30):  # a path past PATH_MAX
            os.mkdir("d" * 200)
            os.chdir("d" * 200)
        os.chdir("/")
        os.symlink("/etc", f"{root}/link-to-etc")
        os.mkfifo(f"{root}/fifo")
        os.makedirs(f"{root}/locked/inner")
        open(f"{root}/locked/inner/f", "w").write("x")
        os.chmod(f"{root}/locked/inner", 0)
        os.chmod(f"{root}/locked", 0)
    rt = ctypes.CDLL("librt.so.1")
    rt.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    print(rt.mq_open(b"/planted-queue", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0,
          os.listdir("/dev/mqueue"))
    """
    planted = one(sandbox.run(stdio_job(plant)))
    assert planted["status"] == "ok" and planted["stdout"].startswith("True"), planted
    check = """
    import os
    print({root: sorted(os.listdir(root)) for root in ("/work", "/tmp", "/dev/shm", "/dev/mqueue")})
    """
    found = one(sandbox.run(stdio_job(check)))["stdout"]
    assert (
        found == str({"/work": ["main.py"], "/tmp": [], "/dev/shm": [], "/dev/mqueue": []}) + "\n"
    )


def test_sysv_ipc_objects_are_gone_before_the_next_job(sandbox: Sandbox) -> None:
    plant = """
    import ctypes
    libc = ctypes.CDLL(None)
    print(libc.shmget(0, 4096, 0o1600) >= 0, libc.semget(0, 1, 0o1600) >= 0,
          libc.msgget(0, 0o1600) >= 0)
    """
    assert one(sandbox.run(stdio_job(plant)))["stdout"] == "True True True\n"
    check = """
    for table in ("shm", "sem", "msg"):
        print(len(open(f"/proc/sysvipc/{table}").read().splitlines()))
    """
    assert one(sandbox.run(stdio_job(check)))["stdout"] == "1\n1\n1\n"


BOMBS = [
    (
        "fork-bomb",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    ),
    (
        "thread-bomb",
        "import threading, time\nwhile True:\n    try:\n"
        "        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n"
        "    except RuntimeError:\n        pass\n",
    ),
]


@pytest.mark.parametrize("program", [b[1] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_bombs_end_bounded_and_the_next_job_works(sandbox: Sandbox, program: str) -> None:
    start = time.monotonic()
    case = one(sandbox.run(stdio_job(program, test_wall_s=1)))
    assert case["status"] in ("timeout", "memory", "error"), case
    assert time.monotonic() - start < 6
    assert one(sandbox.run(stdio_job(LIST_PROCESSES)))["stdout"].startswith("True")
    bomb_in_call = "def f(x):\n" + "".join("    " + line + "\n" for line in program.splitlines())
    result = sandbox.run(rpc_job(bomb_in_call, assert_harness(CHECK_ADD), test_wall_s=1))
    assert statuses(result) != ["ok"]
    assert statuses(sandbox.run(rpc_job(ADD, assert_harness(CHECK_ADD)))) == ["ok"]


def test_malformed_messages_get_a_runner_error_and_the_runner_goes_on(sandbox: Sandbox) -> None:
    channel = sandbox.ensure()
    for line in (b"not json\n", b"[1, 2]\n", b'{"id": 7, "kind": "shell"}\n'):
        channel._sock.sendall(line)
        reply = channel._receive(time.monotonic() + 10)
        assert reply["results"] == [] and reply["runner_error"], reply
        assert reply["id"] == (7 if b"shell" in line else None)
    assert one(sandbox.run(stdio_job("print('fine')")))["stdout"] == "fine\n"


# --- the codec shared by the runner, the tester and the program host -----------------------------


def test_scripts_sent_to_the_container_start_with_the_codec() -> None:
    from referee.sandbox import channel

    for name in ("runner", "tester", "program_host"):
        source = channel._source(name)
        assert source.startswith(inspect.getsource(codec))
        compile(source, name, "exec")  # one __future__ import, at the top


def test_the_runner_script_holds_each_of_its_parts_once() -> None:
    from referee.sandbox import channel

    source = channel._source("runner")
    parts = channel._PARTS["runner"]
    assert parts[0] == "codec" and parts[-1] == "runner" and len(set(parts)) == len(parts)
    assert source.startswith(channel._read("codec"))
    for part in parts[1:]:
        text = channel._read(part).replace(channel._FUTURE, "", 1)
        assert source.count(text) == 1, part
    assert source.count(channel._FUTURE) == 1
    assert source.rstrip().endswith('if __name__ == "__main__":\n    main()')
    compile(source, "runner", "exec")


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -7,
        2**100,
        0.1,
        -0.0,
        float("inf"),
        float("-inf"),
        1 + 2j,
        complex(float("inf"), -1),
        "é'\"\\\n\udc80",
        b"\x00\xff",
        (),
        (1,),
        [1, [2, (3,)]],
        {"a": {1: None}},
        set(),
        {1, 2},
        frozenset(),
        frozenset({"x"}),
    ],
)
def test_codec_round_trips_literals(value: Any) -> None:
    assert codec.decode(codec.encode(value, 1 << 20)) == value
    assert type(codec.decode(codec.encode(value, 1 << 20))) is type(value)


def test_codec_decodes_nan() -> None:
    value = codec.decode(codec.encode(float("nan"), 100))
    assert value != value


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "x",
        "f(1)",
        "[1] * 3",
        "float('1e3')",
        "().__class__",
        "1 if True else 2",
        "{**{}}",
        "...",
        "lambda: 0",
    ],
)
def test_codec_rejects_non_literals(text: str) -> None:
    with pytest.raises(ValueError):
        codec.decode(text)


def test_codec_rejects_objects_deep_nesting_and_oversize() -> None:
    nested: list[Any] = []
    nested.append(nested)
    for value, error in (
        (object(), codec.NonLiteral),
        (nested, codec.NonLiteral),
        ("x" * 100, codec.TooLarge),
        ([1] * 100, codec.TooLarge),
    ):
        with pytest.raises(error):
            codec.encode(value, 50 if error is codec.TooLarge else 1 << 20)


# --- timings -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_round_trip_timings(sandbox: Sandbox) -> None:
    """Printed, not asserted: machine-dependent."""
    sandbox.run(stdio_job("print(1)"))
    timings: dict[str, list[float]] = {"stdio": [], "rpc": []}
    for _ in range(30):
        start = time.perf_counter()
        assert one(sandbox.run(stdio_job("print(1)")))["status"] == "ok"
        timings["stdio"].append(time.perf_counter() - start)
    for _ in range(30):
        start = time.perf_counter()
        assert statuses(sandbox.run(rpc_job(ADD, assert_harness(CHECK_ADD)))) == ["ok"]
        timings["rpc"].append(time.perf_counter() - start)
    for kind, values in timings.items():
        print(
            f"\n{kind} round trip over 30 runs: median {statistics.median(values) * 1000:.1f} ms,"
            f" min {min(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"
        )


def test_module_used_one_container(sandbox: Sandbox) -> None:
    assert sandbox.opened == 1
