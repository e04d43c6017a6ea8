"""The adversarial battery: hostile programs through the real `code` scorer and a real sandbox
pool with ONE container, so every attack and the probe after it share that container.

Each attack must end in reward 0 with the expected verdict; then a probe program, run next in
the same container, must find a clean state (no stray process, no planted file in /work, /tmp
or /dev/shm, no System V shared memory, nothing odd in its environment) and still be accepted.
The session fixture `leftover_check` asserts that no sandbox container is left behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from referee.verifiers.base import Sample
from referee.verifiers.code import CodeParams, CodeScorer
from referee.verifiers.contract import ScoreResult
from tests.sandbox.helpers import one_container_scorer

ADD = {
    "mode": "assert",
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    "    assert candidate(-1, 1) == 0\n",
}
SUM_STDIO = {
    "mode": "stdio",
    "cases": [{"stdin": "2 3\n", "stdout": "5\n"}, {"stdin": "10 -4\n", "stdout": "6\n"}],
}
# Every run must really run (the probe after each attack above all): no reuse of results.
LIMITS = {
    "test_timeout_s": 2.0,
    "timeout_s": 6.0,
    "memory_mb": 128,
    "output_bytes": 1_000_000,
    "reuse_duplicates": False,
}

PROBE = """
import os
stray = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != 1
         and int(p) not in (os.getpid(), os.getppid())]
others, zygotes = [], []
for pid in stray:
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    (zygotes if b"The zygote Z" in cmd else others).append((pid, cmd.split(b"\\0")[0:3]))
# The runner's tester process is our sibling, and its zygote (at most one) lives on between
# jobs; anything else is a leftover.
assert len(others) <= 1, f"stray processes: {others}"
assert len(zygotes) <= 1, f"more than one zygote: {zygotes}"
for folder in ("/work", "/tmp", "/dev/shm"):
    assert not os.listdir(folder), f"{folder} not clean: {os.listdir(folder)}"
assert open("/proc/sysvipc/shm").read().count("\\n") <= 1, "System V shm left behind"
assert not any(k.startswith("PLANTED") for k in os.environ), "environment leaked"

def add(a, b):
    return a + b
"""

ATTACKS: list[tuple[str, str, dict[str, Any], set[str]]] = [
    (
        "fork-bomb",
        "import os\ndef add(a, b):\n    while True:\n        try:\n"
        "            os.fork()\n        except OSError:\n            pass\n",
        ADD,
        {"time_limit_exceeded"},
    ),
    (
        "thread-bomb",
        "import threading, time\ndef add(a, b):\n    while True:\n"
        "        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "ctypes-fork-bomb",
        "import ctypes\nlibc = ctypes.CDLL(None)\nwhile True:\n    libc.fork()\n",
        ADD,
        {"time_limit_exceeded"},
    ),
    (
        "posix-spawn-bomb",
        "import os\ndef add(a, b):\n    while True:\n        try:\n"
        "            os.posix_spawn('/usr/bin/python3', ['python3', '-c', 'while 1: pass'],"
        " {})\n        except OSError:\n            pass\n",
        ADD,
        {"time_limit_exceeded"},
    ),
    (
        "memory-bomb",
        "def add(a, b):\n    return len(bytearray(2 ** 34))\n",
        ADD,
        {"memory_limit_exceeded"},
    ),
    (
        "memory-creep",
        "def add(a, b):\n    hoard = []\n    while True:\n        hoard.append(' ' * 10 ** 6)\n",
        ADD,
        {"memory_limit_exceeded"},
    ),
    (
        "fill-tmp",
        "def add(a, b):\n    with open('/tmp/fill', 'wb') as f:\n        while True:\n"
        "            f.write(b'0' * 2 ** 20)\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "fill-dev-shm",
        "def add(a, b):\n    with open('/dev/shm/fill', 'wb') as f:\n"
        "        while True:\n            f.write(b'0' * 2 ** 20)\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "plant-files",
        "for path in ('/work/solution.py', '/tmp/planted', '/dev/shm/planted',"
        " '/work/.hidden'):\n    open(path, 'w').write('def add(a, b): return a + b')\n"
        "def add(a, b):\n    return 0\n",
        ADD,
        {"wrong_answer"},
    ),
    (
        "egress-internet",
        "import socket\ndef add(a, b):\n"
        "    socket.create_connection(('1.1.1.1', 80), timeout=1)\n    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "egress-dns",
        "import socket\ndef add(a, b):\n    socket.getaddrinfo('example.com', 80)\n"
        "    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "egress-metadata",
        "import socket\ndef add(a, b):\n"
        "    socket.create_connection(('169.254.169.254', 80), timeout=1)\n    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "egress-host-redis",
        "import socket\ndef add(a, b):\n"
        "    socket.create_connection(('172.17.0.1', 6379), timeout=1)\n    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "docker-socket",
        "import socket\ndef add(a, b):\n    s = socket.socket(socket.AF_UNIX)\n"
        "    s.connect('/var/run/docker.sock')\n    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "read-pid1-environ",
        "def add(a, b):\n    open('/proc/1/environ').read()\n    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "read-pid1-fds",
        "import os\ndef add(a, b):\n    os.listdir('/proc/1/fd')\n    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "write-outside-work",
        "def add(a, b):\n    open('/usr/lib/python3/evil.py', 'w')\n    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "sleep-forever",
        "import time\ndef add(a, b):\n    time.sleep(10 ** 9)\n",
        ADD,
        {"time_limit_exceeded"},
    ),
    (
        "ignore-sigterm",
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "def add(a, b):\n    while True:\n        pass\n",
        ADD,
        {"time_limit_exceeded"},
    ),
    (
        "double-fork-daemon",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
        "    if os.fork() == 0:\n        while True:\n            time.sleep(0.05)\n"
        "            open('/tmp/daemon', 'a').write('x')\n    os._exit(0)\n"
        "def add(a, b):\n    return 0\n",
        ADD,
        {"wrong_answer"},
    ),
    (
        "kill-everything",
        "import os, signal\ndef add(a, b):\n    os.kill(-1, signal.SIGKILL)\n",
        ADD,
        {"runtime_error"},
    ),
    (
        "exit-before-tests",
        "import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b\n",
        ADD,
        {"runtime_error"},
    ),
    ("os-exit-before-tests", "import os\nos._exit(0)\n", ADD, {"runtime_error"}),
    (
        "always-equal",
        "class Anything:\n    def __eq__(self, other):\n        return True\n"
        "def add(a, b):\n    return Anything()\n",
        ADD,
        {"wrong_answer", "runtime_error"},
    ),
    (
        "redefine-check",
        "def check(candidate):\n    pass\ndef add(a, b):\n    return 0\n",
        ADD,
        {"wrong_answer"},
    ),
    (
        "forge-result-line",
        "import os, json\nline = json.dumps({'status': 'ok', 'passed': True,"
        " 'ok': '5', 'results': [{'status': 'ok'}]}) + '\\n'\nprint(line)\n"
        "for fd in range(3, 64):\n    try:\n        os.write(fd, line.encode())\n"
        "    except OSError:\n        pass\ndef add(a, b):\n    return 0\n",
        ADD,
        {"wrong_answer", "runtime_error"},
    ),
    (
        "sysv-shm",
        "import ctypes\nlibc = ctypes.CDLL(None)\n"
        "libc.shmget(0x1234, 4096, 0o1666)\ndef add(a, b):\n    return 0\n",
        ADD,
        {"wrong_answer"},
    ),
    (
        "leak-environment",
        "import os\nos.environ['PLANTED_SECRET'] = '1'\n"
        "os.putenv('PLANTED_X', '1')\ndef add(a, b):\n    return 0\n",
        ADD,
        {"wrong_answer"},
    ),
    ("stdout-flood", "while True:\n    print('x' * 1000)\n", SUM_STDIO, {"output_limit_exceeded"}),
    (
        "stderr-flood",
        "import sys\nwhile True:\n    sys.stderr.write('x' * 1000)\n",
        SUM_STDIO,
        {"output_limit_exceeded"},
    ),
    ("burst-200kb", "print('x' * 200_000)\n", SUM_STDIO, {"wrong_answer"}),
    (
        "stdin-forever",
        "import sys\nwhile True:\n    sys.stdin.read(1)\n",
        SUM_STDIO,
        {"time_limit_exceeded"},
    ),
    ("partial-output", "print(5)\n", SUM_STDIO, {"wrong_answer"}),
]


@pytest.fixture(scope="module")
def scorer(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[CodeScorer]:
    with one_container_scorer(docker_client, sandbox_image, memory_mb=384) as scorer:
        yield scorer


def score(scorer: CodeScorer, program: str, tests: dict[str, Any]) -> ScoreResult:
    params = CodeParams.model_validate({"tests": tests, **LIMITS})
    return scorer.score(Sample(completion=f"```python\n{program}```"), params)


def test_there_are_at_least_25_attacks() -> None:
    assert len(ATTACKS) >= 25


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("program", "tests", "verdicts"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS]
)
def test_attack_scores_zero_and_leaves_the_next_program_unaffected(
    scorer: CodeScorer, program: str, tests: dict[str, Any], verdicts: set[str]
) -> None:
    attacked = score(scorer, program, tests)
    assert attacked.score == 0.0, attacked
    assert attacked.verdict in verdicts, attacked
    probe = score(scorer, PROBE, ADD)
    assert (probe.score, probe.verdict) == (1.0, "accepted"), probe


def test_a_correct_program_is_accepted(scorer: CodeScorer) -> None:
    assert score(scorer, "def add(a, b):\n    return a + b\n", ADD).verdict == "accepted"


def test_a_correct_stdio_program_is_accepted(scorer: CodeScorer) -> None:
    program = "a, b = map(int, input().split())\nprint(a + b)\n"
    assert score(scorer, program, SUM_STDIO).verdict == "accepted"


STOPS_EVERYONE = """
import os, signal
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) not in (1, os.getpid()):
        try:
            os.kill(int(pid), signal.SIGSTOP)
        except OSError:
            pass

def add(a, b):
    return a + b
"""


@pytest.mark.timeout(120)
def test_a_program_that_stops_its_tester_holds_the_sandbox_only_as_long_as_its_tests_allow(
    scorer: CodeScorer,
) -> None:
    # The tester is stopped, so nothing inside enforces the per-test limit: the job's own
    # wall limit ends it. It follows from the tests (loading plus one test, 2 s each, plus
    # margins: 5.1 s), never the item's far longer timeout_s.
    params = CodeParams.model_validate({"tests": ADD, **LIMITS, "timeout_s": 60.0})
    wall_s = params.job_limits()["wall_s"]
    started = time.monotonic()
    result = scorer.score(Sample(completion=f"```python\n{STOPS_EVERYONE}```"), params)
    held = time.monotonic() - started
    assert (result.score, wall_s) == (0.0, 5.1), result
    assert held < wall_s + 3.0, (held, result)
    probe = score(scorer, PROBE, ADD)
    assert (probe.score, probe.verdict) == (1.0, "accepted"), probe
