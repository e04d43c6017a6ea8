"""Integrity canaries while training: for a sampled share of groups, synthetic completions
built from the group's own gold are scored with the batch, and each must get the score a sound
grader gives it. A canary that scores otherwise means the grader, the gold or the sandbox is
broken, not the model: a sandbox image where everything passes or everything fails, a grader
regression, a gold column the grader misreads. It shows within minutes, not after the run.

- Sampling (`plan_canaries`): per group (items sharing `group`; an item without one is its own
  group), in the order groups first appear, one draw of the injected `random.Random` per group
  that has an item with a `math` or `code` spec; a drawn group (probability `canary_rate`) gets
  one canary set, built from its first such item's first such spec. Groups with neither get no
  draw.
- Canaries (from `referee.verifiers.probes`): math `gold_boxed` (must score 1) and `off_by_one`
  (0; the first perturbation there is when it is missing); code `reference` (1, when the item
  carries one) and `trivial_program` (0; `empty_program` when the tests cannot tell a trivial
  program apart). A canary item carries that one scorer spec only (a code spec with
  `scoring="all"`, so that both expectations are exact), no prompt, an id `referee-canary:...`
  and its own group, so it never shares a task with the trainer's items.
- Judging (`judge`): `pass` when the score is the expected one, `fail` when it is another
  number, `undecided` when there is none (null score, an item error, the request's deadline, a
  worker lost). Only `fail` counts against the service.
- `CanaryMonitor` keeps the outcomes: a counter per (scorer, kind, outcome) through its
  `observe` callback (the app's metrics), a WARNING per failure (item id, scorer, kind,
  expected and got score, verdict, the gold's first 200 characters), and the failures of the
  last `canary_window_s` for /readyz. Thread-safe.
- `CanaryBackend` wraps the app's `ScoringBackend`, the one layer every scoring route shares
  (`/v1/rewards`, `/v1/jobs`, OpenRLHF `/get_reward`, slime `/v1/reward`) over either backend:
  `score`, `submit` and `asubmit` put the canary items in front of the batch's items (dispatched
  first, so they rarely lengthen a batch), through the same executor workers or queue workers
  as the trainer's items, and take their results out before anything is returned or stored (a
  job's handle strips them before the job store sees them). A batch read from another API
  replica (`attach`) loses its canaries by their ids; the replica that submitted it judges them.

Canaries never change the trainer's results: their items score in their own groups, anything
that goes wrong while building or judging them is logged and dropped, and a canary that
raises, times out or is undecided is counted `undecided`. Cost: a sampled group adds two items
(at 0.05 and groups of 8: 1.3% more items, 1-3% more scoring CPU and about 1% of it here, in
the API process; docs/benchmarks.md), and admission counts the request's own items only, so a
full queue may take those few more.

Left out: canaries for scorers without a gold, a process-wide (cross-replica) failure record
(each API replica's /readyz reports the canaries it judged), and judging the canaries of a job
whose submitting replica went away.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

from referee.service.backend import (
    BatchHandle,
    OnResult,
    ScoringBackend,
    SharedBatch,
    deadline_error,
)
from referee.verifiers.contract import Item, Result

if TYPE_CHECKING:
    from referee.verifiers.probes import Probe

logger = logging.getLogger("referee.canary")

Outcome = Literal["pass", "fail", "undecided"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("pass", "fail", "undecided")
CANARY_SCORERS: Final = ("math", "code")
ID_PREFIX: Final = "referee-canary:"
_CANARY_ID: Final = re.compile(r"referee-canary:[0-9a-f]{12}-\d+:[a-z_]+")
GOLD_PREVIEW_CHARS: Final = 200
_TOLERANCE: Final = 1e-9

ProbesFor = Callable[[str, Mapping[str, Any]], "list[Probe]"]
Observer = Callable[[str, str, Outcome], None]
"""(scorer, probe kind, outcome): called once per judged canary."""


def is_canary_id(value: object) -> bool:
    return isinstance(value, str) and _CANARY_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Canary:
    """One canary item and what its result must show."""

    item: dict[str, Any]
    scorer: str
    key: str
    """The scorer's key in the result (`key`, else `name`)."""
    kind: str
    expect: float
    source_id: str | None
    """The id of the trainer's item the canary was built from."""
    group: str | None
    gold: str
    """The gold (math) or reference program / tests (code), for the failure log."""


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    got: float | None
    verdict: str | None


@dataclass(frozen=True)
class CanaryPlan:
    """A batch with its canaries in front: `items` goes to the backend; `split` takes the
    results apart again."""

    items: list[Any]
    canaries: list[Canary]

    def split(self, results: Sequence[Result]) -> tuple[list[Result], list[Result]]:
        """(the trainer's results, the canaries' results)."""
        n = len(self.canaries)
        return list(results[n:]), list(results[:n])


# ---- building -----------------------------------------------------------------------------


def _field(item: Any, name: str) -> Any:
    if isinstance(item, dict):  # what the routes pass: checked first, it is the cheap check
        return item.get(name)
    if isinstance(item, Item):
        return getattr(item, name)
    if isinstance(item, Mapping):
        return item.get(name)
    return None


def _canary_spec(item: Any) -> dict[str, Any] | None:
    """The item's first math or code scorer spec, as a plain dict; None when it has none."""
    if isinstance(item, Item):
        for spec in item.scorers:
            if spec.name in CANARY_SCORERS:
                return spec.model_dump(exclude_unset=True)
        return None
    specs = _field(item, "scorers")
    if not isinstance(specs, list):
        return None
    for spec in specs:
        if isinstance(spec, Mapping) and spec.get("name") in CANARY_SCORERS:
            return dict(spec)
    return None


def _params(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k not in ("name", "weight", "key")}


def _pick(scorer: str, probes: Sequence[Probe]) -> list[Probe]:
    """The canary subset of a spec's probes (see the module doc)."""
    by_kind = {probe.kind: probe for probe in probes}
    if scorer == "math":
        right = by_kind.get("gold_boxed")
        wrong = by_kind.get("off_by_one") or next(
            (p for p in probes if p.kind in ("sign", "transposed")), None
        )
    else:
        right = by_kind.get("reference")
        wrong = by_kind.get("trivial_program") or by_kind.get("empty_program")
    return [probe for probe in (right, wrong) if probe is not None]


def _gold_text(scorer: str, params: Mapping[str, Any]) -> str:
    if scorer == "math":
        return str(params.get("gold", ""))
    reference = params.get("reference")
    if isinstance(reference, str) and reference.strip():
        return reference
    return repr(params.get("tests"))[: GOLD_PREVIEW_CHARS + 1]


def build_canaries(item: Any, tag: str, probes_for: ProbesFor) -> list[Canary]:
    """The canaries of one trainer's item (its first math or code spec), each item id and group
    starting with `ID_PREFIX` + `tag`; [] when it has no such spec or its parameters are
    invalid (its own result says so)."""
    spec = _canary_spec(item)
    if spec is None:
        return []
    scorer = str(spec["name"])
    params = _params(spec)
    try:
        probes = probes_for(scorer, params)
    except Exception:  # invalid parameters (ValidationError), or a gold no probe handles
        return []
    key = spec.get("key") or scorer
    canary_spec = dict(spec)
    if scorer == "code":
        canary_spec["scoring"] = "all"
    source_id = _field(item, "id")
    group = _field(item, "group")
    gold = _gold_text(scorer, params)[:GOLD_PREVIEW_CHARS]
    return [
        Canary(
            item={
                "id": f"{ID_PREFIX}{tag}:{probe.kind}",
                "group": f"{ID_PREFIX}{tag}",
                "completion": probe.completion,
                "scorers": [canary_spec],
            },
            scorer=scorer,
            key=str(key),
            kind=probe.kind,
            expect=probe.expect,
            source_id=source_id if isinstance(source_id, str) else None,
            group=group if isinstance(group, str) else None,
            gold=gold,
        )
        for probe in _pick(scorer, probes)
    ]


def sampled_sources(items: Sequence[Any], rate: float, rng: random.Random) -> list[int]:
    """Positions of the items canaries are built from: for each group (in order of first
    appearance) that has an item with a math or code spec, its first such item, when a draw of
    `rng` falls under `rate`."""
    if rate <= 0:
        return []
    first: dict[str | int, int] = {}  # a group's name, or a loose item's position
    for pos, item in enumerate(items):
        group = _field(item, "group")
        key = group if isinstance(group, str) else pos
        if key not in first and _canary_spec(item) is not None:
            first[key] = pos
    return [pos for pos in first.values() if rng.random() < rate]


# ---- judging ------------------------------------------------------------------------------


def judge(canary: Canary, result: Result) -> Judgement:
    """pass: the expected score; fail: another score; undecided: no score at all."""
    score = result.scores.get(canary.key)
    if result.error is not None or score is None:
        return Judgement("undecided", None, score.verdict if score is not None else None)
    if score.score is None or not math.isfinite(score.score):
        return Judgement("undecided", score.score, score.verdict)
    outcome: Outcome = "pass" if abs(score.score - canary.expect) <= _TOLERANCE else "fail"
    return Judgement(outcome, score.score, score.verdict)


@dataclass(frozen=True)
class Failure:
    at: float
    """Unix time."""
    item_id: str | None
    group: str | None
    scorer: str
    kind: str
    expected: float
    got: float | None
    verdict: str | None

    def describe(self) -> str:
        where = self.item_id or self.group or "an item without id"
        return (
            f"{self.scorer} canary {self.kind} of {where}: expected {self.expected:g}, "
            f"got {self.got:g} ({self.verdict})"
            if self.got is not None
            else f"{self.scorer} canary {self.kind} of {where}: expected {self.expected:g}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
            "item_id": self.item_id,
            "group": self.group,
            "scorer": self.scorer,
            "kind": self.kind,
            "expected": self.expected,
            "got": self.got,
            "verdict": self.verdict,
        }


def _load_probes() -> ProbesFor:
    # The probes import the math scorer (sympy, math-verify: ~0.6 s, tens of MB): only an app
    # with canaries on pays it, when it is created rather than on its first batch.
    from referee.verifiers.probes import probes_for

    return probes_for


class CanaryMonitor:
    """Plans the canaries of a batch, judges their results and keeps the outcomes."""

    def __init__(
        self,
        rate: float,
        window_s: float,
        *,
        rng: random.Random | None = None,
        observe: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        probes_for: ProbesFor | None = None,
    ) -> None:
        self.rate = rate
        self.window_s = window_s
        self._rng = rng if rng is not None else random.Random()
        self._observe = observe
        self._clock = clock
        self._wall_clock = wall_clock
        self._probes_for = probes_for if probes_for is not None or rate <= 0 else _load_probes()
        self._lock = threading.Lock()
        self._tag = secrets.token_hex(6)
        self._sets = itertools.count()
        self._failures: deque[tuple[float, Failure]] = deque()
        self._last: Failure | None = None
        self.counts: dict[tuple[str, str, Outcome], int] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def plan(self, items: list[Any]) -> CanaryPlan:
        """The batch with the canaries of its sampled groups in front (none at rate 0). Never
        raises: a failure here costs the batch its canaries, nothing else."""
        if not self.enabled or self._probes_for is None:
            return CanaryPlan(items, [])
        try:
            with self._lock:
                sources = sampled_sources(items, self.rate, self._rng)
            canaries: list[Canary] = []
            for pos in sources:
                tag = f"{self._tag}-{next(self._sets)}"
                canaries += build_canaries(items[pos], tag, self._probes_for)
        except Exception:
            logger.exception("building canaries failed; the batch goes without")
            return CanaryPlan(items, [])
        if not canaries:
            return CanaryPlan(items, [])
        return CanaryPlan([c.item for c in canaries] + list(items), canaries)

    def settle(self, canaries: Sequence[Canary], results: Sequence[Result]) -> list[Outcome]:
        """Judge the canaries' results and record them. Never raises."""
        outcomes: list[Outcome] = []
        for canary, result in zip(canaries, results, strict=False):
            try:
                judgement = judge(canary, result)
                self._record(canary, judgement)
                outcomes.append(judgement.outcome)
            except Exception:
                logger.exception("judging a canary failed")
        return outcomes

    def _record(self, canary: Canary, judgement: Judgement) -> None:
        label = (canary.scorer, canary.kind, judgement.outcome)
        with self._lock:
            self.counts[label] = self.counts.get(label, 0) + 1
        if self._observe is not None:
            self._observe(*label)
        if judgement.outcome != "fail":
            return
        failure = Failure(
            at=self._wall_clock(),
            item_id=canary.source_id,
            group=canary.group,
            scorer=canary.scorer,
            kind=canary.kind,
            expected=canary.expect,
            got=judgement.got,
            verdict=judgement.verdict,
        )
        with self._lock:
            self._failures.append((self._clock(), failure))
            self._last = failure
            self._prune()
        logger.warning(
            "canary failed: %s",
            failure.describe(),
            extra={
                "canary_item_id": canary.source_id,
                "canary_group": canary.group,
                "scorer": canary.scorer,
                "probe": canary.kind,
                "expected": canary.expect,
                "got": judgement.got,
                "verdict": judgement.verdict,
                "gold": canary.gold,
            },
        )

    def _prune(self) -> None:
        horizon = self._clock() - self.window_s
        while self._failures and self._failures[0][0] < horizon:
            self._failures.popleft()

    def recent_failures(self) -> int:
        """Failures within the last `window_s`."""
        with self._lock:
            self._prune()
            return len(self._failures)

    def health(self) -> dict[str, Any]:
        """What /readyz reports: rate, window, failures in it, and the last failure ever."""
        with self._lock:
            self._prune()
            recent = len(self._failures)
            last = self._last
        return {
            "rate": self.rate,
            "window_s": self.window_s,
            "recent_failures": recent,
            "last_failure": last.to_json() if last is not None else None,
        }

    def summary(self) -> str | None:
        """Why readiness is degraded; None when no canary failed within the window."""
        with self._lock:
            self._prune()
            recent = len(self._failures)
            last = self._last
        if recent == 0 or last is None:
            return None
        return (
            f"{recent} integrity canaries failed in the last {self.window_s:g}s "
            f"(last: {last.describe()})"
        )


# ---- the backend wrapper ------------------------------------------------------------------


@runtime_checkable
class _KnowsItemIds(Protocol):
    def item_ids(self) -> list[str | None]: ...


class CanaryBatch:
    """A `BatchHandle` whose results and progress leave the canaries out; it judges them the
    first time its results are read (the job store does, when it sees the job finished)."""

    def __init__(
        self, inner: BatchHandle, canaries: int, judge: Callable[[list[Result]], None] | None
    ) -> None:
        self.inner = inner
        self._canaries = canaries
        self._judge = judge
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self.inner.done()

    def progress(self) -> tuple[int, int]:
        return _without_canaries(self.inner.progress(), self._canaries)

    def results(self) -> list[Result]:
        results = self.inner.results()
        theirs, ours = results[self._canaries :], results[: self._canaries]
        with self._lock:
            judge, self._judge = self._judge, None
        if judge is not None:
            judge(ours)
        return theirs


def _without_canaries(progress: tuple[int, int], canaries: int) -> tuple[int, int]:
    """A batch's (done, total) without its canaries, which lead it and are dispatched first, so
    they count as the first done."""
    done, total = progress
    return max(0, done - canaries), max(0, total - canaries)


class SharedCanaryBatch(CanaryBatch):
    """`CanaryBatch` over a `SharedBatch`: published like it, under its id."""

    inner: SharedBatch

    def __init__(
        self, inner: SharedBatch, canaries: int, judge: Callable[[list[Result]], None] | None
    ) -> None:
        super().__init__(inner, canaries, judge)
        self.batch_id = inner.batch_id

    def publish(self, ttl_s: float) -> None:
        self.inner.publish(ttl_s)

    def keep(self, ttl_s: float) -> None:
        self.inner.keep(ttl_s)


class _AttachedBatch:
    """A batch another API replica submitted: its canaries, found by their ids, left out."""

    def __init__(self, inner: SharedBatch) -> None:
        self.inner = inner
        self.batch_id = inner.batch_id
        ids = inner.item_ids() if isinstance(inner, _KnowsItemIds) else []
        self._canaries = sum(is_canary_id(i) for i in ids)

    def done(self) -> bool:
        return self.inner.done()

    def progress(self) -> tuple[int, int]:
        return _without_canaries(self.inner.progress(), self._canaries)

    def results(self) -> list[Result]:
        return [r for r in self.inner.results() if not is_canary_id(r.id)]

    def publish(self, ttl_s: float) -> None:
        self.inner.publish(ttl_s)

    def keep(self, ttl_s: float) -> None:
        self.inner.keep(ttl_s)


class CanaryBackend:
    """A `ScoringBackend` that adds canaries to the batches of `inner` and takes them out of
    the results (see the module doc); at rate 0 it passes every batch through untouched."""

    def __init__(self, inner: ScoringBackend, monitor: CanaryMonitor) -> None:
        self.inner = inner
        self.monitor = monitor

    def _wrap(self, handle: BatchHandle, plan: CanaryPlan) -> BatchHandle:
        if not plan.canaries:
            return handle
        canaries = plan.canaries

        def settle(results: list[Result]) -> None:
            self.monitor.settle(canaries, results)

        if isinstance(handle, SharedBatch):
            return SharedCanaryBatch(handle, len(canaries), settle)
        return CanaryBatch(handle, len(canaries), settle)

    async def score(self, items: list[Any], timeout_s: float | None) -> list[Result]:
        plan = self.monitor.plan(items)  # no await before the inner backend reserves
        results = await self.inner.score(plan.items, timeout_s)
        if not plan.canaries:
            return results
        theirs, ours = plan.split(results)
        self.monitor.settle(plan.canaries, ours)
        return theirs

    async def stream(self, items: list[Any], on_result: OnResult, timeout_s: float | None) -> bool:
        plan = self.monitor.plan(items)  # no await before the inner backend reserves
        n = len(plan.canaries)
        if not n:
            return await self.inner.stream(items, on_result, timeout_s)
        judged: set[int] = set()

        def split(pos: int, result: Result) -> None:
            if pos >= n:
                on_result(pos - n, result)
            else:  # judged as it comes: the trainer's answer never waits for a canary
                judged.add(pos)
                self.monitor.settle([plan.canaries[pos]], [result])

        reason = "scoring failed"
        try:
            finished = await self.inner.stream(plan.items, split, timeout_s)
            if not finished and timeout_s is not None:
                reason = deadline_error(timeout_s)
            return finished
        finally:
            # A canary cut off by the deadline or a failure is undecided, as in `score`.
            left = [k for k in range(n) if k not in judged]
            self.monitor.settle(
                [plan.canaries[k] for k in left],
                [Result(error=reason) for _ in left],
            )

    def submit(self, items: list[Any]) -> BatchHandle:
        plan = self.monitor.plan(items)
        return self._wrap(self.inner.submit(plan.items), plan)

    async def asubmit(self, items: list[Any]) -> BatchHandle:
        plan = self.monitor.plan(items)
        return self._wrap(await self.inner.asubmit(plan.items), plan)

    async def refresh(self) -> None:
        await self.inner.refresh()

    def attach(self, job_id: str) -> BatchHandle | None:
        handle = self.inner.attach(job_id)
        if handle is None or not isinstance(handle, SharedBatch):
            return handle
        return _AttachedBatch(handle)

    def pending_items(self) -> int:
        return self.inner.pending_items()

    def ready(self) -> tuple[bool, str]:
        return self.inner.ready()

    def alive(self) -> tuple[bool, str]:
        return self.inner.alive()

    def stats(self) -> dict[str, float]:
        return self.inner.stats()

    def close(self) -> None:
        self.inner.close()
