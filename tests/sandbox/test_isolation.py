"""Each isolation property of the sandbox container, asserted against a real container started
with `container_config` (docker SDK), by running Python inside it as a program would."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from referee.sandbox.container import SANDBOX_UID, container_config
from referee.service.settings import Settings

CONFIG = Settings(
    sandbox_memory_mb=256,
    sandbox_cpus=0.5,
    sandbox_pids=32,
    sandbox_work_mb=8,
    sandbox_tmp_mb=4,
    sandbox_nofile=32,
    sandbox_fsize_mb=2,
).sandbox_config()
CANARY = "referee-canary-7f3d"


@pytest.fixture(scope="module")
def container(docker_client: Any, sandbox_image: str, leftover_check: None) -> Iterator[Any]:
    os.environ["REFEREE_TEST_CANARY"] = CANARY  # must not reach the container
    config = container_config(dataclasses.replace(CONFIG, image=sandbox_image))
    created = docker_client.containers.run(command=["sleep", "infinity"], **config)
    try:
        yield created
    finally:
        created.remove(force=True)
        os.environ.pop("REFEREE_TEST_CANARY", None)


def py(container: Any, code: str) -> tuple[int, str]:
    """Run Python code in the container as the sandbox user; its exit code and output."""
    result = container.exec_run(["python3", "-I", "-c", code])
    return result.exit_code, result.output.decode(errors="replace")


def host_config(container: Any) -> dict[str, Any]:
    container.reload()
    config: dict[str, Any] = container.attrs["HostConfig"]
    return config


def status_field(container: Any, name: str) -> str:
    _, out = py(container, "print(open('/proc/self/status').read())")
    line = next(x for x in out.splitlines() if x.startswith(name + ":"))
    return line.split(":", 1)[1].strip()


CONNECT = """
import socket, sys
try:
    socket.create_connection(({host!r}, {port}), timeout=2)
except OSError as exc:
    print("blocked", exc.errno); sys.exit(0)
print("connected"); sys.exit(1)
"""


def test_only_loopback_interface(container: Any) -> None:
    _, out = py(container, "print(open('/proc/net/dev').read())")
    interfaces = {line.split(":")[0].strip() for line in out.splitlines()[2:] if ":" in line}
    assert interfaces == {"lo"}


@pytest.mark.parametrize(
    ("host", "port"),
    [("1.1.1.1", 53), ("169.254.169.254", 80), ("172.17.0.1", 6379), ("172.17.0.1", 8000)],
    ids=["internet", "metadata-endpoint", "host-redis", "host-api"],
)
def test_network_egress_is_blocked(container: Any, host: str, port: int) -> None:
    code, out = py(container, CONNECT.format(host=host, port=port))
    assert code == 0 and out.startswith("blocked"), out


def test_dns_does_not_resolve(container: Any) -> None:
    _, out = py(
        container,
        "import socket\ntry:\n socket.getaddrinfo('example.com', 80)\n"
        " print('resolved')\nexcept OSError: print('failed')",
    )
    assert out.strip() == "failed"


def test_docker_socket_is_absent(container: Any) -> None:
    _, out = py(
        container,
        "import os; print([p for p in ('/var/run/docker.sock', "
        "'/run/docker.sock') if os.path.exists(p)])",
    )
    assert out.strip() == "[]"


@pytest.mark.parametrize("path", ["/etc/planted", "/usr/lib/planted", "/planted"])
def test_root_filesystem_is_read_only(container: Any, path: str) -> None:
    code, out = py(container, f"open({path!r}, 'w')")
    assert code != 0 and "Read-only file system" in out


def test_work_dir_is_writable(container: Any) -> None:
    code, out = py(container, "open('/work/f', 'w').write('x'); print(open('/work/f').read())")
    assert (code, out.strip()) == (0, "x")


def test_work_dir_size_is_capped(container: Any) -> None:
    # Several files under the file-size limit, together over the tmpfs size.
    _, out = py(
        container,
        "import os\ntry:\n for i in range(20):\n"
        "  open(f'/work/big{i}', 'wb').write(b'0' * (1024 * 1024))\n"
        "except OSError as e: print('full', e.errno)\n"
        "finally:\n for f in os.listdir('/work'): os.remove('/work/' + f)",
    )
    assert out.startswith("full 28"), out  # ENOSPC


def test_file_size_is_capped(container: Any) -> None:
    _, out = py(
        container,
        "try:\n open('/work/huge', 'wb').write(b'0' * (3 * 1024 * 1024))\n"
        "except OSError as e: print('too big', e.errno)",
    )
    assert out.startswith("too big 27"), out  # EFBIG


def test_tmp_is_not_executable(container: Any) -> None:
    _, out = py(
        container,
        "import os, subprocess\nopen('/tmp/x.sh', 'w').write('#!/bin/sh\\n')\n"
        "os.chmod('/tmp/x.sh', 0o755)\ntry:\n subprocess.run(['/tmp/x.sh'])\n"
        "except PermissionError: print('denied')",
    )
    assert out.strip() == "denied"


def test_shared_memory_is_capped(container: Any) -> None:
    _, out = py(container, "import os; s = os.statvfs('/dev/shm'); print(s.f_blocks * s.f_frsize)")
    assert int(out) <= CONFIG.tmp_mb * 1024 * 1024


def test_runs_as_non_root(container: Any) -> None:
    _, out = py(container, "import os; print(os.getuid(), os.getgid())")
    assert out.split() == [str(SANDBOX_UID), str(SANDBOX_UID)]


@pytest.mark.parametrize("field", ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"])
def test_all_capabilities_are_dropped(container: Any, field: str) -> None:
    assert int(status_field(container, field), 16) == 0


def test_no_new_privileges(container: Any) -> None:
    assert status_field(container, "NoNewPrivs") == "1"


def test_seccomp_filter_is_active(container: Any) -> None:
    assert status_field(container, "Seccomp") == "2"


def test_pids_limit_is_set(container: Any) -> None:
    assert host_config(container)["PidsLimit"] == CONFIG.pids


def test_thread_bomb_stops_at_the_pids_limit(container: Any) -> None:
    code, out = py(
        container,
        "import threading, time\nn = 0\ntry:\n while True:\n"
        "  threading.Thread(target=time.sleep, args=(5,), daemon=True)"
        ".start(); n += 1\nexcept RuntimeError: print(n)",
    )
    assert code == 0 and 0 < int(out) < CONFIG.pids, out


def test_memory_limit_has_no_swap(container: Any) -> None:
    config = host_config(container)
    assert config["Memory"] == config["MemorySwap"] == CONFIG.memory_mb * 1024 * 1024


def test_memory_bomb_is_killed_and_container_survives(container: Any) -> None:
    code, _ = py(container, "b = bytearray(1024 * 1024 * 1024)")
    assert code != 0
    assert py(container, "print('alive')")[1].strip() == "alive"


def test_cpu_quota_is_set(container: Any) -> None:
    assert host_config(container)["NanoCpus"] == int(CONFIG.cpus * 1e9)


def test_open_files_are_limited(container: Any) -> None:
    _, out = py(
        container,
        "fs = []\ntry:\n while True: fs.append(open('/dev/null'))\n"
        "except OSError as e: print(len(fs), e.errno)",
    )
    opened, errno = out.split()
    assert int(opened) < CONFIG.nofile and errno == "24"  # EMFILE


def test_core_dumps_are_disabled(container: Any) -> None:
    _, out = py(container, "import resource; print(resource.getrlimit(resource.RLIMIT_CORE))")
    assert out.strip() == "(0, 0)"


def test_no_environment_of_ours_leaks_in(container: Any) -> None:
    _, out = py(container, "import json, os; print(json.dumps(dict(os.environ)))")
    env = json.loads(out)
    assert CANARY not in out
    assert set(env) <= {
        "PATH",
        "LANG",
        "HOME",
        "HOSTNAME",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
    }


def test_pid_1_environment_holds_nothing_of_ours(container: Any) -> None:
    _, out = py(container, "print(open('/proc/1/environ').read())")
    assert CANARY not in out and "REFEREE" not in out


def test_runtime_setting_selects_gvisor() -> None:
    config = container_config(Settings(sandbox_runtime="runsc").sandbox_config())
    assert config["runtime"] == "runsc"


def test_default_runtime_is_left_to_the_engine() -> None:
    assert "runtime" not in container_config(Settings().sandbox_config())
