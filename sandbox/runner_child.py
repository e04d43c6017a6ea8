"""What every process that runs program code gets before the program's first instruction: its
limits, its file descriptors, its directory.

Part of the sandbox runner script (see `referee.sandbox.runner`) and of the zygote's
(`referee.sandbox.zygote`), concatenated with the other parts by
`referee.sandbox.channel._source`; never imported on the host. Both scripts prepare program
processes the same way: the runner before it execs a program (`runner_procs.spawn`), the
zygote before a forked copy of itself runs the program host.

Left out: starting the process (fork, exec, sessions) and signal dispositions, which differ
between an exec'd program and a forked one.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.runner_seccomp import _libc, install_filter

WORK_DIR = "/work"
CHILD_ENV = {
    # /usr/local/bin first for python:*-slim images, whose interpreter lives there.
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": WORK_DIR,
    "PYTHONDONTWRITEBYTECODE": "1",
}
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
# Dispositions a program should start with: Python ignores SIGPIPE and SIGXFSZ at startup and
# SIG_IGN survives exec.
RESET_SIGNALS = (*IGNORED_SIGNALS, signal.SIGPIPE, signal.SIGXFSZ)


def limit_program(limits: dict[str, Any]) -> None:
    """Hold this process to a job's `limits`: RLIMIT_AS, RLIMIT_CPU, `stack_mb` when present,
    oom_score_adj 1000 (the OOM killer takes it, not us) and the seccomp filter."""
    memory = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = max(1, int(limits["cpu_s"]))
    # SIGXCPU at the soft limit, SIGKILL a second later if the program ignores it.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if "stack_mb" in limits:
        stack = int(limits["stack_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_STACK, (stack, stack))
    # A non-dumpable process's /proc files belong to root, so this copy of its parent becomes
    # dumpable to write its own oom_score_adj (exec would make it dumpable anyway). Its memory,
    # a copy of the parent's, is readable from here on by processes of our uid; no program code
    # runs now (stdio cases run one at a time after a kill of everything else; in rpc jobs P
    # is the only process that ever runs program code). A zygote's copy holds no job at all.
    if _libc.prctl(4, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 1) failed")
    with open("/proc/self/oom_score_adj", "w") as adj:
        adj.write("1000")
    install_filter()


def place_fds(fds: dict[int, int], keep: int) -> int:
    """Make `fds` (child fd -> current fd) this process's only open descriptors, but for
    `keep`, which is moved above them, close-on-exec; its new number."""
    # Every fd we need first goes above the target range, so no dup2 below clobbers it.
    top = max(fds) + 1
    keep = fcntl.fcntl(keep, fcntl.F_DUPFD_CLOEXEC, top)
    moved = {
        target: fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, top) for target, source in fds.items()
    }
    for target, source in moved.items():
        os.dup2(source, target)
    os.closerange(top, keep)
    os.closerange(keep + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    return keep
