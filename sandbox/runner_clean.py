"""Cleaning the sandbox between jobs.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from referee.sandbox.runner_child import WORK_DIR
    from referee.sandbox.runner_procs import SPARED, reap
    from referee.sandbox.runner_seccomp import _libc

CLEAN_DIRS = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")


# --- cleaning the sandbox ----------------------------------------------------------------------


def other_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and name != "1"]


def kill_others(bound_s: float = 5.0) -> tuple[int, int]:
    """SIGKILL every process but us and the spared ones (`SPARED`: the zygote) until /proc
    shows none; (how many there were, how many are left when the bound ran out)."""
    found = len([pid for pid in other_pids() if pid not in SPARED])
    end = time.monotonic() + bound_s
    pause = 0.0005
    while True:
        with contextlib.suppress(ProcessLookupError):  # ESRCH: nobody left
            if SPARED:
                # Stopped processes cannot fork, so the kills one by one below catch every
                # process a bomb makes; the spared ones are let go again after.
                os.kill(-1, signal.SIGSTOP)
                for pid in other_pids():
                    if pid not in SPARED:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
            else:
                os.kill(-1, signal.SIGKILL)
        reap()
        left = [pid for pid in other_pids() if pid not in SPARED]
        if not left or time.monotonic() > end:
            for pid in SPARED:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            return found, len(left)
        # Killed processes are zombies until reaped; those of a killed parent are reparented to
        # us first. Both take a moment.
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


def wipe(root: str) -> int:
    """Delete everything under `root`, depth first without following symlinks, holding no file
    descriptors and no long paths (the program may nest directories past PATH_MAX or chmod them
    000: we own them, so we chmod back); each directory is listed once. Returns how many
    entries were removed."""
    try:
        os.chdir(root)
    except OSError:
        return 0
    if os.stat(".").st_uid == os.getuid():
        os.chmod(".", 0o700 if root == WORK_DIR else stat.S_IMODE(os.stat(".").st_mode) | 0o700)
    removed = 0
    path: list[str] = []
    pending = [os.listdir(".")]
    while True:
        if pending[-1]:
            name = pending[-1].pop()
            try:
                info = os.lstat(name)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                os.chmod(name, 0o700)
                os.chdir(name)
                path.append(name)
                pending.append(os.listdir("."))
            else:
                os.unlink(name)
                removed += 1
        elif path:
            pending.pop()
            os.chdir("..")
            os.rmdir(path.pop())
            removed += 1
        else:
            break
    os.chdir("/")
    return removed


IPC_TABLES = (("shm", "shmid"), ("sem", "semid"), ("msg", "msqid"))


def remove_ipc() -> int:
    """Remove the System V shared memory segments, semaphore sets and message queues we own."""
    removed = 0
    uid = os.getuid()
    for table, id_column in IPC_TABLES:
        try:
            with open(f"/proc/sysvipc/{table}") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        header = lines[0].split()
        ident, owner = header.index(id_column), header.index("uid")
        for line in lines[1:]:
            fields = line.split()
            if len(fields) <= max(ident, owner) or int(fields[owner]) != uid:
                continue
            number = int(fields[ident])
            if table == "shm":
                result = _libc.shmctl(number, 0, None)  # IPC_RMID
            elif table == "sem":
                result = _libc.semctl(number, 0, 0)
            else:
                result = _libc.msgctl(number, 0, None)
            removed += result == 0
    return removed


def clean() -> dict[str, int]:
    killed, left = kill_others()
    files = sum(wipe(root) for root in CLEAN_DIRS)
    return {"killed": killed, "left": left, "files": files, "ipc": remove_ipc()}
