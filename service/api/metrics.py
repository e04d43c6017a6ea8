"""Prometheus metrics of one app, in its own `CollectorRegistry` (never the global one, so a
process or a test may hold several apps).

Per route: requests (by method and status) and latency. From the backend, read at scrape time:
queue depth (pending items), items scored, item timeouts, worker crashes and respawns, executor
restarts (its dispatcher recovered from an internal failure), and the sandbox pools
(containers held, started, failed starts, retries, waits for a container); over the queue these
come from every worker, through Redis, with the queue's own chunk retries and orphaned chunks
requeued (`queue_stats`). From the
results the API hands out: verdicts per scorer, null rewards, item errors; and requests that
missed their timeout_s; requests with an idempotency key by outcome; micro-batches and the
requests they carried (`referee.service.coalescer`). From the integrity canaries
(`referee.service.canaries`): their outcomes per scorer, probe kind and outcome (`pass`,
`fail`, `undecided`), never mixed into the verdicts.

Left out: per-client labels, and verdict label pairs past `MAX_VERDICT_SERIES` (scorer keys and
plugin verdicts come from requests, so they are capped and the rest counted as `other`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from referee.service.backend import ScoringBackend
from referee.verifiers.contract import Result

MAX_VERDICT_SERIES = 256
LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)

# backend.stats() key -> (metric name, help, is counter)
_BACKEND_SERIES = {
    "pending_items": (
        "referee_queue_depth_items",
        "Items submitted to the backend and not finished yet.",
        False,
    ),
    "items_scored": ("referee_items_scored", "Items the backend finished scoring.", True),
    "items_per_s": (
        "referee_items_per_second",
        "Items finished per second over the last 10 s (this replica's batches).",
        False,
    ),
    "item_timeouts": ("referee_item_timeouts", "Items killed at the per-item time bound.", True),
    "worker_crashes": ("referee_worker_crashes", "Worker processes that died.", True),
    "worker_respawns": (
        "referee_worker_respawns",
        "Worker processes started as replacements.",
        True,
    ),
    "executor_restarts": (
        "referee_executor_restarts",
        "Times the executor's dispatcher failed and recovered by restarting its scoring processes.",
        True,
    ),
    "chunk_retries": (
        "referee_queue_chunk_retries",
        "Retries of queued chunk jobs whose "
        "worker failed or died, counted once per settled chunk on the whole "
        "queue.",
        True,
    ),
    "orphans_requeued": (
        "referee_queue_orphans_requeued",
        "Chunk jobs found held by no "
        "worker (left in RQ's intermediate list) and put back on the "
        "queue.",
        True,
    ),
    "sandbox_ready": (
        "referee_sandbox_ready_workers",
        "Workers whose host can run sandboxes "
        "(Docker engine up, sandbox image present); queue backend only.",
        False,
    ),
    "sandbox_pool_size": (
        "referee_sandbox_pool_containers",
        "Sandbox containers held by the scoring processes' warm pools.",
        False,
    ),
    "sandbox_started": ("referee_sandbox_containers_started", "Sandbox containers started.", True),
    "sandbox_failed_starts": (
        "referee_sandbox_failed_starts",
        "Sandbox container starts that failed.",
        True,
    ),
    "sandbox_retries": (
        "referee_sandbox_retries",
        "Sandbox jobs retried on a fresh container after their container failed.",
        True,
    ),
    "sandbox_waits": (
        "referee_sandbox_pool_waits",
        "Sandbox jobs that found no idle container and waited for one.",
        True,
    ),
}


class _BackendCollector(Collector):
    def __init__(self, backend: ScoringBackend) -> None:
        self.backend = backend

    def collect(self) -> Iterable[Metric]:
        stats = self.backend.stats()
        for key, (name, doc, is_counter) in _BACKEND_SERIES.items():
            value = float(stats.get(key, 0.0))
            if is_counter:
                yield CounterMetricFamily(name, doc, value=value)
            else:
                yield GaugeMetricFamily(name, doc, value=value)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # values only exist at scrape time


class Metrics:
    def __init__(self, backend: ScoringBackend) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "referee_http_requests",
            "HTTP requests answered.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "referee_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.verdicts = Counter(
            "referee_verdicts",
            "Scores handed out, by scorer key and verdict.",
            ("scorer", "verdict"),
            registry=self.registry,
        )
        self.null_rewards = Counter(
            "referee_null_rewards",
            "Results handed out with a null reward (undecided or invalid items).",
            registry=self.registry,
        )
        self.item_errors = Counter(
            "referee_item_errors", "Results handed out for invalid items.", registry=self.registry
        )
        self.results = Counter(
            "referee_results", "Results handed out by the API.", registry=self.registry
        )
        self.request_timeouts = Counter(
            "referee_request_timeouts",
            "Requests whose batch missed timeout_s (answered with partial results).",
            registry=self.registry,
        )
        self.canaries = Counter(
            "referee_canary",
            "Integrity canaries judged, by scorer, probe kind and outcome (pass, fail: the "
            "grader, gold or sandbox is broken; undecided: no score, e.g. a timeout).",
            ("scorer", "kind", "outcome"),
            registry=self.registry,
        )
        self.idempotency = Counter(
            "referee_idempotency",
            "Requests sent with an idempotency key, by outcome: first (scored), replayed "
            "(answered from stored results), joined (waited for the same request in flight), "
            "reused (422: the key came with other items).",
            ("outcome",),
            registry=self.registry,
        )
        self.micro_batches = Counter(
            "referee_micro_batches",
            "Batches the coalescer sent to the backend (requests per batch: "
            "referee_coalesced_requests_total over this).",
            registry=self.registry,
        )
        self.coalesced_requests = Counter(
            "referee_coalesced_requests",
            "Scoring requests sent to the backend through the coalescer.",
            registry=self.registry,
        )
        self.registry.register(_BackendCollector(backend))
        self._verdict_series: set[tuple[str, str]] = set()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_results(self, results: Iterable[Result]) -> None:
        tally: dict[tuple[str, str], int] = {}
        count = nulls = errors = 0
        for result in results:
            count += 1
            if result.reward is None:
                nulls += 1
            if result.error is not None:
                errors += 1
            for key, score in result.scores.items():
                pair = (key, score.verdict)
                tally[pair] = tally.get(pair, 0) + 1
        for pair, n in tally.items():
            self.verdicts.labels(*self._series(pair)).inc(n)
        self.results.inc(count)
        self.null_rewards.inc(nulls)
        self.item_errors.inc(errors)

    def observe_canary(self, scorer: str, kind: str, outcome: str) -> None:
        self.canaries.labels(scorer, kind, outcome).inc()

    def observe_idempotency(self, outcome: str) -> None:
        self.idempotency.labels(outcome).inc()

    def observe_micro_batch(self, requests: int) -> None:
        self.micro_batches.inc()
        self.coalesced_requests.inc(requests)

    def _series(self, pair: tuple[str, str]) -> tuple[str, str]:
        if pair in self._verdict_series:
            return pair
        if len(self._verdict_series) < MAX_VERDICT_SERIES:
            self._verdict_series.add(pair)
            return pair
        return ("other", "other")

    def render(self) -> bytes:
        return generate_latest(self.registry)
