"""The hardened container a sandboxed program runs in: every isolation setting in one place.

`container_config(config)` returns the keyword arguments for docker-py's
`client.containers.run`/`create`:

- no network at all (`network_mode="none"`): no egress, no DNS, no metadata endpoint, and no
  route to the host's Redis or API; the Docker socket is never mounted;
- a read-only root filesystem; writable only a size-capped tmpfs `/work` (owned by the sandbox
  user; executable, for compiled programs) and size-capped, noexec `/tmp` and `/dev/shm`;
- a non-root user (uid 10001), all capabilities dropped, `no-new-privileges`, Docker's default
  seccomp profile (never `unconfined`);
- cgroup limits: pids, memory with swap equal to it (no swap), a CPU quota;
- ulimits on open files and file size, and no core dumps;
- an empty environment: nothing of ours leaks in (the image sets only PATH, LANG and two
  PYTHON* flags);
- optionally another OCI runtime, e.g. gVisor's `runsc`, where the engine has it.

Left out here: the warm pool, the runner inside the container, and wall-clock kills; they
build on this configuration.
"""

from __future__ import annotations

from typing import Any

from referee.sandbox.config import SandboxConfig

SANDBOX_UID = 10001
WORK_DIR = "/work"
SANDBOX_LABEL = "org.referee.sandbox"
"""Label (value "1") on every sandbox container: what sweeps and leak checks filter on."""
OWNER_LABEL = "org.referee.owner"
"""Label naming the process that owns a pooled container (`referee.sandbox.pool`)."""


def container_config(config: SandboxConfig) -> dict[str, Any]:
    """Keyword arguments for `containers.run`/`create` of one sandbox container."""
    memory = f"{config.memory_mb}m"
    owner = f"uid={SANDBOX_UID},gid={SANDBOX_UID}"
    kwargs: dict[str, Any] = {
        "image": config.image,
        "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "working_dir": WORK_DIR,
        "environment": {},
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {
            # exec: a compiled program runs from here. Docker would mount it noexec, which
            # adds nothing: whatever runs from /work keeps its parent's uid, seccomp filter
            # and rlimits, and nosuid plus no-new-privileges leave it no way to gain any.
            WORK_DIR: f"rw,size={config.work_mb}m,{owner},mode=0700,nosuid,nodev,exec",
            "/tmp": f"rw,size={config.tmp_mb}m,mode=1777,nosuid,nodev,noexec",
        },
        "shm_size": f"{config.tmp_mb}m",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": config.pids,
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": int(config.cpus * 1e9),
        "ulimits": _ulimits(config),
        "labels": {SANDBOX_LABEL: "1"},
        "detach": True,
    }
    if config.runtime is not None:
        kwargs["runtime"] = config.runtime
    return kwargs


def _ulimits(config: SandboxConfig) -> list[Any]:
    from docker.types import Ulimit

    fsize = config.fsize_mb * 1024 * 1024
    return [
        Ulimit(name="nofile", soft=config.nofile, hard=config.nofile),
        Ulimit(name="fsize", soft=fsize, hard=fsize),
        Ulimit(name="core", soft=0, hard=0),
    ]
