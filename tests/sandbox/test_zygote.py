"""The zygote (`referee.sandbox.zygote`) in a real container: rpc programs are forked from it,
see what a fresh `python3 -I` would show them, and cannot use it to reach another job: changes
to its warm modules stay in their own copy, its memory and descriptors are closed to them, and
killing or stopping it costs only a fresh one.
"""

from __future__ import annotations

import ast
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from referee.sandbox import channel as channel_module
from tests.sandbox.helpers import (
    Sandbox,
    assert_harness,
    call_harness,
    config_for,
    rpc_job,
    statuses,
    stdio_job,
)

pytestmark = pytest.mark.timeout(60)

FIND_ZYGOTE = """
import os
def zygote_pid():
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if b"The zygote Z" in open(f"/proc/{name}/cmdline", "rb").read():
                    return int(name)
            except OSError:
                pass
    raise AssertionError("no zygote")
"""
CHECK_ADD = """
def check(candidate):
    assert candidate(1) == 2
"""


@pytest.fixture(scope="module")
def sandbox(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[Sandbox]:
    box = Sandbox(docker_client, config_for(sandbox_image), "zygote")
    try:
        yield box
    finally:
        box.close()


@pytest.fixture(scope="module")
def plain(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[Sandbox]:
    """A container whose runner has no zygote: every program host is a fresh interpreter."""
    config = dataclasses.replace(config_for(sandbox_image), zygote=False)
    box = Sandbox(docker_client, config, "no-zygote")
    try:
        yield box
    finally:
        box.close()


def value(box: Sandbox, program: str, *args: Any) -> Any:
    result = box.run(rpc_job(program, call_harness(list(args))))
    assert statuses(result) == ["ok"], result
    return result["results"][0]["value"]


def test_rpc_program_hosts_are_forked_from_the_zygote(sandbox: Sandbox) -> None:
    result = sandbox.run(rpc_job("def f(x):\n    return x + 1\n", assert_harness(CHECK_ADD)))
    assert (statuses(result), result.get("zygote")) == (["ok"], "forked")


def test_without_the_setting_program_hosts_are_fresh_interpreters(plain: Sandbox) -> None:
    result = plain.run(rpc_job("def f(x):\n    return x + 1\n", assert_harness(CHECK_ADD)))
    assert (statuses(result), result.get("zygote")) == (["ok"], "not configured")


PROCESS_STATE = """
import os, resource, signal, sys, threading
def f():
    handlers = {}
    for sig in sorted(signal.valid_signals()):
        try:
            handlers[int(sig)] = repr(signal.getsignal(sig))
        except (OSError, ValueError):
            pass
    status = dict(
        line.split(":", 1) for line in open("/proc/self/status").read().splitlines()
    )
    main = sys.modules["__main__"]
    state = {
        "flags": tuple(sys.flags),
        "path": sys.path,
        "argv": sys.argv,
        "executable": sys.executable,
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "signals": handlers,
        "blocked": status["SigBlk"].strip(),
        # The address space apart: the zygote's is raised by what its warm modules take.
        "limits": [resource.getrlimit(n) for n in range(16) if n != resource.RLIMIT_AS],
        "umask": os.umask(0o022),
        "fds": sorted(os.listdir("/proc/self/fd")),
        "ppid": os.getppid(),
        "session leader": os.getsid(0) == os.getpid(),
        "group leader": os.getpgid(0) == os.getpid(),
        "oom_score_adj": open("/proc/self/oom_score_adj").read(),
        "seccomp": status["Seccomp"].strip(),
        "no_new_privs": status["NoNewPrivs"].strip(),
        "threads": threading.active_count(),
        "module": __name__,
        "main names": sorted(k for k in vars(main) if not k.startswith("__")),
        "main name": main.__name__,
        "stdout": (sys.stdout.fileno(), sys.stdout.encoding, sys.stdout.line_buffering),
        "recursion limit": sys.getrecursionlimit(),
    }
    return repr(state)
"""


def test_a_forked_program_sees_what_a_fresh_interpreter_shows(
    sandbox: Sandbox, plain: Sandbox
) -> None:
    forked = ast.literal_eval(value(sandbox, PROCESS_STATE))
    fresh = ast.literal_eval(value(plain, PROCESS_STATE))
    assert forked == fresh


def test_a_programs_changes_to_warm_modules_do_not_reach_the_next_program(
    sandbox: Sandbox,
) -> None:
    meddle = (
        "import math, re, typing, collections\nmath.pi = 3\ntyping.List = 42\n"
        "re.compile = None\ncollections.Counter = dict\ndef f():\n    return 0\n"
    )
    assert value(sandbox, meddle) == 0
    look = (
        "import math, re, typing, collections\ndef f():\n"
        "    return [math.pi, typing.List is not 42, callable(re.compile),\n"
        "            collections.Counter is not dict]\n"
    )
    assert value(sandbox, look) == [3.141592653589793, True, True, True]


def test_each_forked_program_gets_its_own_random_seed(sandbox: Sandbox) -> None:
    draw = "import random\ndef f():\n    return random.random()\n"
    assert len({value(sandbox, draw) for _ in range(3)}) == 3


def test_the_zygotes_memory_and_descriptors_are_closed_to_programs(sandbox: Sandbox) -> None:
    probe = FIND_ZYGOTE + (
        "def f():\n    z = zygote_pid()\n    denied = []\n"
        "    for path in (f'/proc/{z}/mem', f'/proc/{z}/environ', f'/proc/{z}/fd/3'):\n"
        "        try:\n            open(path, 'rb').read(1)\n            denied.append(False)\n"
        "        except PermissionError:\n            denied.append(True)\n"
        "    try:\n        os.listdir(f'/proc/{z}/fd')\n        denied.append(False)\n"
        "    except PermissionError:\n        denied.append(True)\n"
        "    return denied\n"
    )
    assert value(sandbox, probe) == [True, True, True, True]


def test_a_program_cannot_change_the_zygotes_limits(sandbox: Sandbox) -> None:
    probe = FIND_ZYGOTE + (
        "import resource\ndef f():\n    try:\n"
        "        resource.prlimit(zygote_pid(), resource.RLIMIT_NOFILE, (3, 3))\n"
        "        return 'changed'\n    except PermissionError:\n        return 'refused'\n"
    )
    assert value(sandbox, probe) == "refused"


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGSTOP", "SIGTERM", "SIGSEGV"])
def test_a_program_that_signals_the_zygote_leaves_the_next_job_a_working_one(
    sandbox: Sandbox, signal_name: str
) -> None:
    attack = FIND_ZYGOTE + (
        f"import signal\ndef f(x):\n    os.kill(zygote_pid(), signal.{signal_name})\n"
        "    return x + 1\n"
    )
    assert statuses(sandbox.run(rpc_job(attack, assert_harness(CHECK_ADD)))) == ["ok"]
    result = sandbox.run(rpc_job("def f(x):\n    return x + 1\n", assert_harness(CHECK_ADD)))
    assert (statuses(result), result.get("zygote")) == (["ok"], "forked")


# --- stdio: `python3 -I main.py` forked ----------------------------------------------------------

STDIO_PROGRAMS = [
    ("reads-stdin", "a = input()\nrest = sys.stdin.read()\nprint(a * 2, rest.split())\n"),
    ("iterates-stdin", "for line in sys.stdin:\n    print(line.strip()[::-1])\n"),
    ("traceback", "def f(x):\n    return 1 / x\nprint('before')\nf(0)\n"),
    ("syntax-error", "print('never')\ndef f(:\n    pass\n"),
    ("exit-code", "print('out')\nsys.exit(3)\n"),
    ("exit-message", "sys.exit('bye')\n"),
    ("os-exit", "print('lost', end='')\nos._exit(5)\n"),
    (
        "thread-outlives-main",
        "import threading, time\ndef late():\n    time.sleep(0.05)\n    print('late')\n"
        "threading.Thread(target=late).start()\nprint('main done')\n",
    ),
    ("atexit", "import atexit\natexit.register(lambda: print('at exit'))\nprint('main')\n"),
    (
        "del-at-exit",
        "class A:\n    def __del__(self):\n        print('deleted')\nkeep = A()\nprint('main')\n",
    ),
    (
        "unclosed-writer",
        "out = open(1, 'w', closefd=False)\nout.write('through a second writer, never closed')\n",
    ),
    (
        "executor-never-shut-down",
        "from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor(2)\n"
        "print(pool.submit(pow, 2, 10).result())\n",
    ),
    (
        "del-when-dropped",
        "class A:\n    def __del__(self):\n        print('deleted')\nkeep = A()\ndel keep\n"
        "print('main')\n",
    ),
    ("stdout-replaced", "import io\nsys.stdout = io.StringIO()\nprint('kept in memory')\n"),
    ("stderr-closed", "sys.stderr.close()\nprint('out')\n"),
    ("unflushed", "sys.stdout.write('no newline, no flush')\n"),
    ("keyboard-interrupt", "raise KeyboardInterrupt\n"),
    ("main-block", "if __name__ == '__main__':\n    print('main block runs')\n"),
    ("closes-stdout", "print('x')\nsys.stdout.close()\n"),
    (
        "state",
        "import signal, __main__\nprint(repr((sys.argv, __file__, __main__.__file__, sys.path,"
        " sys.flags, os.getcwd(), sys.stdin.seekable(), sys.stdin.encoding, sys.stdin.errors,"
        " sys.stdin.mode, sys.stdin.name, sys.stdout.seekable(), sys.stdout.line_buffering,"
        " sys.stderr.line_buffering, sys.stdin is sys.__stdin__, type(__loader__).__name__,"
        " __spec__, __cached__, __package__, __doc__, __builtins__ is __import__('builtins'),"
        " [repr(signal.getsignal(s)) for s in (1, 2, 13, 15, 25)], sys.getrecursionlimit(),"
        " dict(os.environ))))\n",
    ),
]


def stdio_outcome(box: Sandbox, program: str) -> tuple[Any, ...]:
    result = box.run(stdio_job("import os, sys\n" + program, "ab\ncd\nef\n"))
    case = result["results"][0]
    return case["status"], case["detail"], case.get("stdout"), result.get("stderr")


@pytest.mark.parametrize(
    "program", [p for _, p in STDIO_PROGRAMS], ids=[name for name, _ in STDIO_PROGRAMS]
)
def test_a_forked_stdio_program_runs_as_a_fresh_python3_would(
    sandbox: Sandbox, plain: Sandbox, program: str
) -> None:
    assert stdio_outcome(sandbox, program) == stdio_outcome(plain, program)


def test_stdio_python_programs_are_forked_from_the_zygote(sandbox: Sandbox, plain: Sandbox) -> None:
    probe = "print(b'The zygote Z' in open('/proc/self/cmdline', 'rb').read())\n"
    assert [stdio_outcome(box, probe)[2] for box in (sandbox, plain)] == ["True\n", "False\n"]


def test_a_zygote_changed_despite_the_filter_is_replaced_not_used(
    docker_client: Any, sandbox_image: str, leftover_check: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backstop: with the filter switched off, a program lowers the zygote's open-file
    # limit, which every program it forks would inherit. The zygote notices before its next
    # fork and exits; that job's program is a fresh interpreter, the next one's a new zygote's.
    read: Callable[[str], str] = channel_module._source

    def without_filter(name: str) -> str:
        source = read(name)
        return source.replace("_FILTER = seccomp_filter()", "_FILTER = None")

    monkeypatch.setattr(channel_module, "_source", without_filter)
    box = Sandbox(docker_client, config_for(sandbox_image), "zygote-backstop")
    add = "def f(x):\n    return x + 1\n"
    try:
        attack = FIND_ZYGOTE + (
            "import resource\nresource.prlimit(zygote_pid(), resource.RLIMIT_NOFILE, (16, 16))\n"
            + add
        )
        runs = [box.run(rpc_job(p, assert_harness(CHECK_ADD))) for p in (attack, add, add)]
        assert [statuses(r) for r in runs] == [["ok"]] * 3
        assert [r.get("zygote") for r in runs] == [
            "forked",
            "not used: error the zygote's attributes changed",
            "forked",
        ]
    finally:
        box.close()


HEADROOM = """
import resource
size = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
print(resource.getrlimit(resource.RLIMIT_AS)[0] // 1024 - size)
"""


def test_a_forked_program_has_the_address_space_a_fresh_one_has(
    sandbox: Sandbox, plain: Sandbox
) -> None:
    # What the zygote's warm modules map (about 11 MB) is added to the limit, so a program
    # near its memory limit gets the same verdict either way (within 2 MB).
    forked, fresh = (int(stdio_outcome(box, HEADROOM)[2]) for box in (sandbox, plain))
    assert abs(forked - fresh) < 2048, (forked, fresh)


def test_a_job_sent_while_the_zygote_starts_waits_for_it_not_for_a_stuck_cleaning(
    docker_client: Any, sandbox_image: str, leftover_check: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first job reaches a new container while its zygote still starts, here held 0.5 s in
    # the interpreter it measures itself against. Cleaning then would stop the zygote and kill
    # that interpreter, whose zombie (of a stopped parent) no one could reap: the cleaning
    # would run out its 5 s and fail the job as ours.
    read: Callable[[str], str] = channel_module._source

    def slow_start(name: str) -> str:
        source = read(name)
        if name == "zygote":
            source = source.replace('VM_PROBE = "', "VM_PROBE = \"__import__('time').sleep(0.5); ")
        return source

    monkeypatch.setattr(channel_module, "_source", slow_start)
    box = Sandbox(docker_client, config_for(sandbox_image), "zygote-start")
    try:
        box.ensure()
        time.sleep(0.2)  # the zygote is in its probe now
        started = time.monotonic()
        result = box.run(stdio_job("print(6 * 7)"))
        assert "runner_error" not in result, result
        assert (result["results"][0]["stdout"], result["cleanup"]["left"]) == ("42\n", 0)
        assert time.monotonic() - started < 3
        # And it was forked: the zygote started, slowly, and is in use.
        rpc = box.run(rpc_job("def f(x):\n    return x + 1\n", assert_harness(CHECK_ADD)))
        assert rpc.get("zygote") == "forked"
    finally:
        box.close()


def test_quick_exits_keep_their_status(sandbox: Sandbox) -> None:
    # Each case's process may end before the zygote's middle process has exited; it must stay
    # a zombie for the runner (status 3), not be reaped by the kernel unseen.
    result = sandbox.run(stdio_job("import sys\nsys.exit(3)\n", *[""] * 60))
    assert {(case["status"], case["detail"]) for case in result["results"]} == {
        ("error", "exit code 3")
    }
