"""End to end, with real Docker: docker-compose.yml from the prebuilt images (`make images`).

One stack under a unique project name (`referee-e2e-<hex>`), the API published on a free
loopback port, settings and an API key from an env file:

1. up, wait for `/readyz` (Redis healthy, a worker registered);
2. score a batch of math, format, language and code items over HTTP from the host;
3. scale to 3 workers, SIGKILL one that is running a chunk mid-batch: every item still comes
   back scored (its chunk is requeued after the heartbeat TTL, 3 s here);
4. restart `redis` while a batch is in flight: the AOF kept the data, the batch completes, and a
   new batch scores;
5. `down -v` (also in a finalizer): no container, network or volume of the project is left,
   nor any sandbox container that its workers started.

Under CI=true a missing Docker engine or compose tool fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE

from referee.sandbox.container import OWNER_LABEL, SANDBOX_LABEL
from tests.conftest import REPO
from tests.service.serving import free_port

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]

API_KEY = "e2e-" + uuid.uuid4().hex
HEARTBEAT_TTL_S = 3
IMAGES = (
    "REFEREE_API_IMAGE",
    "REFEREE_WORKER_IMAGE",
    "REFEREE_REDIS_IMAGE",
    "REFEREE_SANDBOX_IMAGE",
)
DEFAULT_TAGS = {
    "REFEREE_API_IMAGE": "referee-api:latest",
    "REFEREE_WORKER_IMAGE": "referee-worker:latest",
    "REFEREE_REDIS_IMAGE": "referee-redis:latest",
    "REFEREE_SANDBOX_IMAGE": "referee-sandbox:latest",
}


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def compose_command() -> list[str]:
    """`docker compose` (v2) when present, else `docker-compose` (v1.29)."""
    docker = shutil.which("docker")
    if (
        docker is not None
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return [legacy]
    _unavailable("the compose test needs 'docker compose' or 'docker-compose'")
    raise AssertionError("unreachable")


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (httpx.HTTPError, subprocess.CalledProcessError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@dataclass
class Stack:
    project: str
    env: dict[str, str]
    compose: list[str]
    docker: Any
    port: int
    worker_hosts: set[str] = field(default_factory=set)
    """Hostnames (container id prefixes) of every worker container seen: the owners of the
    sandbox containers they start."""

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.compose, *args],
            cwd=REPO,
            env=self.env,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"compose {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def containers(self, service: str | None = None, all: bool = False) -> list[Any]:
        labels = [f"com.docker.compose.project={self.project}"]
        if service is not None:
            labels.append(f"com.docker.compose.service={service}")
        found = self.docker.containers.list(all=all, filters={"label": labels})
        if service == "worker":
            self.worker_hosts.update(c.attrs["Config"]["Hostname"] for c in found)
        return list(found)

    def logs(self) -> str:
        done = subprocess.run(
            [*self.compose, "logs", "--no-color", "--tail", "40"],
            cwd=REPO,
            env=self.env,
            text=True,
            capture_output=True,
            timeout=60,
        )
        return done.stdout[-8000:]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=120, headers={"Authorization": f"Bearer {API_KEY}"}
        )

    def redis_cli(self, *args: str) -> str:
        (redis,) = self.containers("redis")
        code, out = redis.exec_run(["redis-cli", "--raw", *args])
        assert code == 0, out
        return str(out.decode().strip())

    def sandboxes(self) -> list[Any]:
        """Sandbox containers started by this stack's workers (owner label:
        hostname/pid-namespace:pid)."""
        found = self.docker.containers.list(
            all=True, sparse=True, filters={"label": f"{SANDBOX_LABEL}=1"}
        )
        return [
            c
            for c in found
            if (c.attrs.get("Labels") or {}).get(OWNER_LABEL, "").rpartition(":")[0].split("/")[0]
            in self.worker_hosts
        ]


def _ensure_images(docker: Any) -> None:
    missing = []
    for name in IMAGES:
        tag = os.environ.get(name, DEFAULT_TAGS[name])
        try:
            docker.images.get(tag)
        except Exception:
            missing.append(tag)
    if missing:  # CI builds them before the tests (`make images` in .ci/run)
        subprocess.run([str(REPO / "deploy" / "build-images.sh")], check=True, cwd=REPO)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Stack]:
    client = docker_client
    compose = compose_command()
    _ensure_images(client)
    env_file = tmp_path_factory.mktemp("compose") / "referee.env"
    env_file.write_text(
        "\n".join(
            [
                f"REFEREE_API_KEY={API_KEY}",
                "REFEREE_WORKERS=1",
                "REFEREE_SANDBOX_POOL_SIZE=1",
                f"REFEREE_QUEUE_HEARTBEAT_TTL_S={HEARTBEAT_TTL_S}",
                "REFEREE_QUEUE_CHUNK_SIZE=4",
                "REFEREE_LOG_LEVEL=WARNING",
            ]
        )
        + "\n"
    )
    socket_path = Path("/var/run/docker.sock")
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": f"referee-e2e-{uuid.uuid4().hex[:10]}",
        "REFEREE_ENV_FILE": str(env_file),
        "DOCKER_GID": str(socket_path.stat().st_gid) if socket_path.exists() else "0",
    }
    port = free_port()
    env["REFEREE_API_BIND"] = f"127.0.0.1:{port}"
    the_stack = Stack(
        project=env["COMPOSE_PROJECT_NAME"], env=env, compose=compose, docker=client, port=port
    )
    try:
        yield the_stack
    finally:
        the_stack.containers("worker", all=True)
        subprocess.run(
            [*compose, "down", "-v", "--remove-orphans", "--timeout", "20"],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=300,
        )


# -- the batches ---------------------------------------------------------------------------


def math_items() -> list[dict[str, Any]]:
    return [
        {
            "id": "math-right",
            "completion": "<think>2+2 is 4.</think> \\boxed{4}",
            "scorers": [{"name": "math", "gold": "4"}, {"name": "format", "weight": 0.5}],
        },
        {
            "id": "math-wrong",
            "completion": "<think>2+2 is 5.</think> \\boxed{5}",
            "scorers": [{"name": "math", "gold": "4"}],
        },
        {
            "id": "format-bad",
            "completion": "no tags here \\boxed{4}",
            "scorers": [{"name": "format"}],
        },
        {
            "id": "lang-fr",
            "completion": "<think>Je pense que la réponse est quatre, "
            "car deux plus deux font quatre.</think> 4",
            "scorers": [{"name": "language", "target": "fr"}],
        },
        {
            "id": "lang-en-for-fr",
            "completion": "<think>I think the answer is four because two "
            "plus two makes four.</think> 4",
            "scorers": [{"name": "language", "target": "fr"}],
        },
    ]


def code_item(item_id: str, body: str, sleep_s: float = 0.0) -> dict[str, Any]:
    prelude = f"import time\ntime.sleep({sleep_s})\n" if sleep_s else ""
    program = f"{prelude}def add(a, b):\n    return {body}\n"
    scorer: dict[str, Any] = {
        "name": "code",
        "tests": {
            "mode": "assert",
            "test_list": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"],
        },
    }
    if sleep_s:  # slow on purpose: every copy must really run (no reuse of a duplicate's run)
        scorer["reuse_duplicates"] = False
    return {"id": item_id, "completion": f"```python\n{program}```", "scorers": [scorer]}


EXPECTED_FIRST = {
    "math-right": 1.5,
    "math-wrong": 0.0,
    "format-bad": 0.0,
    "lang-fr": 1.0,
    "code-right": 1.0,
    "code-wrong": 0.0,
}


def slow_batch(n: int, sleep_s: float) -> list[dict[str, Any]]:
    """Code items whose programs sleep before defining the function: a chunk of 4 takes about
    4 x sleep_s, so a worker killed mid-batch is killed holding a chunk."""
    return [code_item(f"slow-{i}", "a + b" if i % 5 else "a - b", sleep_s) for i in range(n)]


def check_slow_results(results: list[dict[str, Any]], n: int) -> None:
    assert [r["id"] for r in results] == [f"slow-{i}" for i in range(n)]
    problems = [
        r for i, r in enumerate(results) if r.get("error") or r["reward"] != (1.0 if i % 5 else 0.0)
    ]
    assert not problems, problems[:3]


def run_job(client: httpx.Client, items: list[dict[str, Any]]) -> str:
    answer = client.post("/v1/jobs", json={"items": items})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["job_id"])


def job_view(client: httpx.Client, job_id: str) -> dict[str, Any] | None:
    answer = client.get(f"/v1/jobs/{job_id}")
    if answer.status_code == 503:  # Redis restarting
        return None
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


def api_ready(client: httpx.Client) -> bool:
    return client.get("/readyz").status_code == 200


def worker_hashes(stack: Stack) -> list[tuple[str, int]]:
    """(hostname, running executions) of every live RQ worker, from its Redis hash (RQ lists
    the keys in the set rq:workers; a key expires when its worker stops heart-beating) and its
    rq 3 executions set (rq 3 no longer writes `current_job` into the hash)."""
    found = []
    for key in stack.redis_cli("SMEMBERS", "rq:workers").split():
        host = stack.redis_cli("HGET", key, "hostname").strip()
        if not host:
            continue
        name = key.removeprefix("rq:worker:")
        running = stack.redis_cli("SCARD", WORKER_EXECUTIONS_KEY_TEMPLATE.format(name)).strip()
        found.append((host, int(running or 0)))
    return found


def registered_hosts(stack: Stack) -> set[str]:
    return {host for host, _ in worker_hashes(stack)}


def busy_worker_hosts(stack: Stack) -> list[str]:
    """Hostnames of the workers holding a chunk right now."""
    return [host for host, running in worker_hashes(stack) if running]


# -- the test --------------------------------------------------------------------------------


def test_compose_stack_end_to_end(stack: Stack) -> None:
    started = time.monotonic()
    stack.run("up", "-d", "--no-build")
    client = stack.client()
    try:
        wait_for(lambda: api_ready(client), 180, "the API to be ready")
        api = stack.containers("api")[0]
        wait_for(
            lambda: (api.reload(), api.attrs["State"]["Health"]["Status"])[1] == "healthy",
            60,
            "the api container's healthcheck",
        )
        (worker,) = stack.containers("worker")
        wait_for(
            lambda: (worker.reload(), worker.attrs["State"]["Health"]["Status"])[1] == "healthy",
            90,
            "the worker container's healthcheck (registered in Redis)",
        )
        assert httpx.get(f"{stack.url}/v1/rewards").status_code == 401  # the env file's key
        # 1. one batch of every kind of item
        items = [*math_items(), code_item("code-right", "a + b"), code_item("code-wrong", "a * b")]
        answer = client.post("/v1/rewards", json={"items": items})
        assert answer.status_code == 200, answer.text
        results = {r["id"]: r for r in answer.json()["results"]}
        for item_id, reward in EXPECTED_FIRST.items():
            assert results[item_id]["reward"] == reward, results[item_id]
        assert results["lang-en-for-fr"]["reward"] is not None
        assert results["lang-en-for-fr"]["reward"] < 0.5
        assert results["code-wrong"]["scores"]["code"]["verdict"] == "wrong_answer"

        # 2. three workers; kill one holding a chunk mid-batch
        stack.run("up", "-d", "--no-build", "--no-recreate", "--scale", "worker=3")
        workers = stack.containers("worker")
        assert len(workers) == 3
        hosts = {c.attrs["Config"]["Hostname"] for c in workers}
        wait_for(lambda: registered_hosts(stack) >= hosts, 120, "3 workers registered")
        n = 48
        job_id = run_job(client, slow_batch(n, 0.25))
        busy = wait_for(
            lambda: busy_worker_hosts(stack), 60, "a worker holding a chunk", interval=0.1
        )
        victim = next(c for c in workers if c.attrs["Config"]["Hostname"] == busy[0])
        view_before = job_view(client, job_id)
        assert view_before is not None and view_before["status"] != "finished"
        killed_at = time.monotonic()
        victim.kill()
        view = wait_for(
            lambda: (v := job_view(client, job_id)) and v["status"] in ("finished", "failed") and v,
            180,
            "the batch after a worker died",
        )
        assert view["status"] == "finished", view
        print(
            f"worker {busy[0]} killed at {view_before['progress']}; batch done "
            f"{time.monotonic() - killed_at:.1f}s later"
        )
        check_slow_results(view["results"], n)

        # 3. restart Redis with a batch in flight
        stack.redis_cli("SET", "e2e:aof-marker", "kept")
        job_id = run_job(client, slow_batch(30, 0.3))
        before = wait_for(
            lambda: (v := job_view(client, job_id)) and v["progress"]["done"] > 0 and v,
            60,
            "the batch to start",
            interval=0.1,
        )
        assert before["status"] != "finished"
        stack.run("restart", "redis")
        print(f"redis restarted at {before['progress']}")
        assert stack.redis_cli("GET", "e2e:aof-marker") == "kept"  # AOF replayed
        view = wait_for(
            lambda: (v := job_view(client, job_id)) and v["status"] in ("finished", "failed") and v,
            180,
            "the batch after a Redis restart",
        )
        assert view["status"] == "finished", view
        check_slow_results(view["results"], 30)
        alive = {c.attrs["Config"]["Hostname"] for c in stack.containers("worker")}
        wait_for(
            lambda: api_ready(client) and registered_hosts(stack) >= alive,
            120,
            "the workers registered again after the restart",
        )
        answer = client.post("/v1/rewards", json={"items": items})
        assert answer.status_code == 200, answer.text
        again = {r["id"]: r["reward"] for r in answer.json()["results"]}
        assert all(again[k] == v for k, v in EXPECTED_FIRST.items()), again
    except BaseException:
        print(stack.logs())
        raise
    finally:
        client.close()

    # 4. down -v leaves nothing behind
    stack.containers("worker", all=True)
    assert stack.worker_hosts
    stack.run("down", "-v", "--remove-orphans", "--timeout", "30")
    label = f"com.docker.compose.project={stack.project}"
    assert stack.docker.containers.list(all=True, filters={"label": label}) == []
    assert stack.docker.networks.list(filters={"label": label}) == []
    assert stack.docker.volumes.list(filters={"label": label}) == []
    wait_for(lambda: not stack.sandboxes(), 30, "the workers' sandbox containers to go")
    print(f"compose end-to-end: {time.monotonic() - started:.1f}s")


def test_compose_file_is_valid_for_the_installed_tool() -> None:
    """`config` parses and interpolates docker-compose.yml with the defaults a user gets."""
    if shutil.which("docker") is None and shutil.which("docker-compose") is None:
        _unavailable("no docker or docker-compose command")
    compose = compose_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFEREE_", "DOCKER_"))}
    done = subprocess.run(
        [*compose, "config"], cwd=REPO, env=env, text=True, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "referee-healthcheck" in done.stdout
    # Published on loopback only by default (v1 prints "127.0.0.1:8000:8000", v2 the long form).
    assert "127.0.0.1" in done.stdout and "0.0.0.0:8000" not in done.stdout
