"""The seccomp filter for program processes.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.
"""

from __future__ import annotations

import ctypes
import os
import resource
import struct
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)


# --- a seccomp filter for program processes ---------------------------------------------------

# Same-uid processes may change each other's rlimits (prlimit), priority and scheduling without
# any dumpable check, so without this a program could cripple the runner (no fds: every later
# job fails as our fault) or T, or slow every later job of the container. Program processes
# may change these for themselves only (pid 0), and may not use another syscall ABI (i386 or
# x32 numbers) to get around the filter. Numbers: (audit arch, {syscall: number}).
SECCOMP_ARCHES = {
    "x86_64": (
        0xC000003E,
        {
            "prlimit64": 302,
            "setpriority": 141,
            "sched_setparam": 142,
            "sched_setscheduler": 144,
            "sched_setaffinity": 203,
            "ioprio_set": 251,
            "sched_setattr": 314,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "prlimit64": 261,
            "setpriority": 140,
            "sched_setparam": 118,
            "sched_setscheduler": 119,
            "sched_setaffinity": 122,
            "ioprio_set": 30,
            "sched_setattr": 274,
        },
    ),
}
_ARG0, _ARG1 = 16, 24  # offsets of the low words of args[0] and args[1] in seccomp_data
SELF_ONLY = (
    ("prlimit64", ((_ARG0, 0),)),  # pid 0
    ("setpriority", ((_ARG0, 0), (_ARG1, 0))),  # PRIO_PROCESS, who 0
    ("sched_setparam", ((_ARG0, 0),)),
    ("sched_setscheduler", ((_ARG0, 0),)),
    ("sched_setaffinity", ((_ARG0, 0),)),
    ("sched_setattr", ((_ARG0, 0),)),
    ("ioprio_set", ((_ARG0, 1), (_ARG1, 0))),  # IOPRIO_WHO_PROCESS, who 0
)


def seccomp_filter() -> bytes | None:
    """The classic-BPF program (None on an architecture we have no numbers for)."""
    arch = SECCOMP_ARCHES.get(os.uname().machine)
    if arch is None:
        return None
    audit_arch, numbers = arch
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    to_deny = -1  # placeholder jump, resolved below (the last instruction denies)
    code: list[tuple[int, int, int, int]] = [
        (load, 0, 0, 4),
        (jeq, 0, to_deny, audit_arch),  # another ABI: deny all
        (load, 0, 0, 0),
        (jge, to_deny, 0, 0x40000000),  # x32 numbers: deny
    ]
    for name, checks in SELF_ONLY:
        code.append((jeq, 0, 2 * len(checks) + 1, numbers[name]))
        for offset, value in checks:
            code += [(load, 0, 0, offset), (jeq, 0, to_deny, value)]
        code.append((ret, 0, 0, allow))
    code += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    last = len(code) - 1
    return b"".join(
        struct.pack(
            "=HBBI",
            op,
            last - i - 1 if jt == to_deny else jt,
            last - i - 1 if jf == to_deny else jf,
            k,
        )
        for i, (op, jt, jf, k) in enumerate(code)
    )


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_FILTER = seccomp_filter()
_FILTER_BUFFER = ctypes.create_string_buffer(_FILTER or b"")
_FILTER_PROG = _SockFprog(len(_FILTER or b"") // 8, ctypes.addressof(_FILTER_BUFFER))


def install_filter() -> None:
    if _FILTER is None:
        return
    # PR_SET_NO_NEW_PRIVS (Docker sets it too), then PR_SET_SECCOMP, SECCOMP_MODE_FILTER.
    if (
        _libc.prctl(38, 1, 0, 0, 0) != 0
        or _libc.prctl(22, 2, ctypes.byref(_FILTER_PROG), 0, 0) != 0
    ):
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")


# --- what the filter guards ---------------------------------------------------------------------

RLIMITS = sorted(getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_"))


def own_attributes() -> dict[str, Any]:
    """What other processes of our uid could change about us but for the seccomp filter."""
    return {
        "resource limits": [resource.getrlimit(limit) for limit in RLIMITS],
        "priority": os.getpriority(os.PRIO_PROCESS, 0),
        "scheduling policy": os.sched_getscheduler(0),
        "CPU affinity": sorted(os.sched_getaffinity(0)),
    }
