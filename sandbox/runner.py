"""The runner: PID 1 of every sandbox container. It reads jobs on stdin, runs them, and writes
results on stdout, as `referee.sandbox.protocol` specifies.

The host starts it as `python3 -I -S -c <the runner script>` (uid 10001, read-only root, no
network: see `referee.sandbox.container`), so the script must stay stdlib-only. Each job:

1. Clean state: kill every other process (`kill(-1, SIGKILL)` spares PID 1, i.e. us; with a zygote
   alive, `kill(-1, SIGSTOP)` so nothing can fork, then SIGKILL to each process but the zygote,
   which gets SIGCONT after) until /proc lists none, reap them, wipe /work, /tmp, /dev/shm and
   /dev/mqueue, remove System V IPC objects. Done again after the result is written, so the next job
   starts clean even if this one left a daemon, files or shared memory behind.
2. stdio: the program goes to its language's source file (`runner_langs`: /work/main.py for
   Python); a C or C++ program is compiled once, under its own bounds; each case is a fresh
   process (`python3 -I /work/main.py`, `pypy3 ...`, or the binary; own session, RLIMIT_AS,
   RLIMIT_CPU, oom_score_adj 1000 so the OOM killer takes it and not us) fed the case's
   stdin, its stdout captured up to the output cap, its stderr's tail kept. Timeouts kill the
   process group. The host compares the outputs.
3. rpc: two processes, the program host P (`program_host`, the program, with the limits
   above) and the tester T (`tester`, the harness, without them), wired by pipes. T is a fork
   of us; P is forked by the zygote (`zygote`: a warm `python3 -I` kept in the container,
   started at init, spared by the cleaning, started anew when a program killed it), or a
   fresh `python3 -I` when the host turned the zygote off or it failed:

       runner --source--> P --load report--> runner --harness + P's names--> T
       T --calls--> P --replies--> T --results--> runner

   P gets its program only once T has reported that it is non-dumpable, and T gets the harness
   only once P has loaded; P never holds an fd of T's report pipe or of ours. T enforces the
   per-test time limit; the runner the job's wall time, P's output cap, and tells why P died.

The runner ignores SIGINT/SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 and, as the namespace's init, gets no
signal without a handler from inside the container anyway (so the program cannot kill it), is
non-dumpable (its memory and /proc/1/fd are closed to the program), and writes nothing to
stderr (fd 2 is /dev/null), so stdout carries only protocol lines. Program processes run under
a seccomp filter that stops them changing another process's rlimits, priority or scheduling
(same-uid processes otherwise may: the program could make us fail every later job); should one
manage anyway, we notice after the job, fail its tests, answer with `retire` and exit.

Replies may carry keys beyond `JobResult`: `cleanup` (what the pre-job cleaning found, and
its `seconds`), `phases` (rpc: seconds to each step), `zygote` (rpc: `forked`, or why P was a
fresh interpreter), `retire` (this container must not be used again).

The script is assembled from parts by `referee.sandbox.channel._source`, in this order: the codec
(`codec.py`), the host's constants (`PROTOCOL_VERSION` of `referee.sandbox.protocol`),
`runner_seccomp.py` (the seccomp filter), `runner_child.py` (a program process's limits and
descriptors), `runner_procs.py` (starting, reaping and classifying children), `runner_loop.py` (a
job's event loop), `runner_clean.py` (cleaning the sandbox), `runner_langs.py` (languages: source
paths, compiling, the command of a case), `runner_files.py` (a job's more files: graders and headers
beside the program), `runner_checker.py` (checkers: special judges run after each case),
`runner_interact.py` (interactive cases: an interactor and the program wired by pipes),
`runner_jobs.py` (checking jobs; `Runner`, which runs stdio jobs), `runner_rpc.py` (`RpcJob`),
`runner_zygote.py` (starting the zygote and asking it for program hosts) and this file (the main
loop), which ends by calling `main()`. The parts share one namespace at run time, but at definition
time (class bases, module-level values, default arguments) a part may use only names of earlier
parts; `tests/sandbox/test_scripts.py` executes each assembled script on the host (without `main`)
to catch a part that does. Each is a module for ruff and mypy only, importing the other parts' names
under `TYPE_CHECKING`.

Never run this script on a host: its cleanup kills every process the user may signal.

Left out: comparing outputs with expected values (the host does that; they never enter the
container), container lifetime and wall-clock kills of the container (`referee.sandbox.channel`).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.protocol import PROTOCOL_VERSION
    from referee.sandbox.runner_child import IGNORED_SIGNALS
    from referee.sandbox.runner_clean import clean
    from referee.sandbox.runner_jobs import Runner
    from referee.sandbox.runner_procs import reap
    from referee.sandbox.runner_seccomp import _libc


# --- the main loop -----------------------------------------------------------------------------


class Lines:
    """Lines from a blocking fd, reaping orphans while idle."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = bytearray()
        self.eof = False

    def next(self) -> bytes | None:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                return line
            if self.eof:
                return None
            readable, _, _ = select.select([self.fd], [], [], 1.0)
            reap()
            if readable:
                chunk = os.read(self.fd, 1 << 20)
                if chunk:
                    self.buffer += chunk
                else:
                    self.eof = True
                    if self.buffer:  # a last line without newline
                        line = bytes(self.buffer)
                        self.buffer.clear()
                        return line


def write_line(value: Any) -> None:
    view = memoryview(json.dumps(value).encode() + b"\n")
    while view:
        view = view[os.write(1, view) :]


def main() -> None:
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if _libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE: refuse to run readable by programs
        os._exit(3)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    runner = Runner()
    write_line({"ready": True, "protocol": PROTOCOL_VERSION})
    lines = Lines(0)
    while True:
        line = lines.next()
        if line is None:
            os._exit(0)
        if not line.strip():
            continue
        reply, was_job = runner.handle(line)
        write_line(reply)
        if reply.get("retire"):
            os._exit(0)
        if was_job:
            with contextlib.suppress(Exception):  # the next job's own cleaning reports it
                clean()
                if runner.zygote is not None:
                    runner.zygote.ensure()  # warm again before the next job, if it died


if __name__ == "__main__":
    main()
