"""The hardened container a sandboxed program runs in: every isolation setting in one place.

`container_config(settings)` returns the keyword arguments for docker-py's
`client.containers.run`/`create`:

- no network at all (`network_mode="none"`): no egress, no DNS, no metadata endpoint, and no
  route to the host's Redis or API; the Docker socket is never mounted;
- a read-only root filesystem; writable only a size-capped tmpfs `/work` (owned by the sandbox
  user) and size-capped, noexec `/tmp` and `/dev/shm`;
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

from referee.service.settings import Settings

SANDBOX_UID = 10001
WORK_DIR = "/work"


def container_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `containers.run`/`create` of one sandbox container."""
    memory = f"{settings.sandbox_memory_mb}m"
    owner = f"uid={SANDBOX_UID},gid={SANDBOX_UID}"
    config: dict[str, Any] = {
        "image": settings.sandbox_image,
        "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "working_dir": WORK_DIR,
        "environment": {},
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {
            WORK_DIR: f"rw,size={settings.sandbox_work_mb}m,{owner},mode=0700,nosuid,nodev",
            "/tmp": f"rw,size={settings.sandbox_tmp_mb}m,mode=1777,nosuid,nodev,noexec",
        },
        "shm_size": f"{settings.sandbox_tmp_mb}m",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": settings.sandbox_pids,
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": int(settings.sandbox_cpus * 1e9),
        "ulimits": _ulimits(settings),
        "labels": {"org.referee.sandbox": "1"},
        "detach": True,
    }
    if settings.sandbox_runtime is not None:
        config["runtime"] = settings.sandbox_runtime
    return config


def _ulimits(settings: Settings) -> list[Any]:
    from docker.types import Ulimit

    fsize = settings.sandbox_fsize_mb * 1024 * 1024
    return [
        Ulimit(name="nofile", soft=settings.sandbox_nofile, hard=settings.sandbox_nofile),
        Ulimit(name="fsize", soft=fsize, hard=fsize),
        Ulimit(name="core", soft=0, hard=0),
    ]
