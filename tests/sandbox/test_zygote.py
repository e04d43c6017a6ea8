"""The zygote (`referee.sandbox.zygote`) in a real container: rpc programs are forked from it,
see what a fresh `python3 -I` would show them, and cannot use it to reach another job: changes
to its warm modules stay in their own copy, its memory and descriptors are closed to them, and
killing or stopping it costs only a fresh one.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.helpers import (
    Sandbox,
    assert_harness,
    call_harness,
    config_for,
    rpc_job,
    statuses,
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
        "limits": [resource.getrlimit(n) for n in range(16)],
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
