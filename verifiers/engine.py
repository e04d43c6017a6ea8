"""Turning a raw item into a scoring plan, running the plan, and assembling the result.

`prepare` validates an item and every scorer's parameters up front, so a bad item becomes a
result with an error naming the field (`scorers[1].gold: Field required`) while the rest of
the batch still scores. `run_step` runs one scorer and never raises. `finalize` computes the
weighted reward. The executor calls these three in its workers; `score_item` chains them for
in-process use, with no time bound (see `referee.service.executor` for the bounded path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from referee.verifiers.base import Group, Sample, Scorer, ScorerParams
from referee.verifiers.contract import (
    VERDICT_SCORER_ERROR,
    Item,
    Result,
    ScoreResult,
    ScorerSpec,
    weighted_reward,
)
from referee.verifiers.field_path import render_path
from referee.verifiers.groups import TaskGroups


@dataclass(frozen=True)
class Limits:
    """Input caps enforced before any scorer runs. No defaults here: the service builds them
    from its settings (`Settings.limits()`), where the defaults are documented once."""

    max_completion_chars: int
    max_prompt_chars: int
    max_scorers: int


@dataclass(frozen=True)
class Step:
    key: str
    scorer: Scorer[Any]
    params: ScorerParams


@dataclass(frozen=True)
class Plan:
    """A validated item with its scorers resolved, ready to run in any process."""

    item: Item
    steps: tuple[Step, ...]

    @property
    def needs_group(self) -> bool:
        return any(step.scorer.needs_group for step in self.steps)

    def sample(
        self, prior: Mapping[str, ScoreResult], seat: tuple[Group, int] | None = None
    ) -> Sample:
        return Sample(
            completion=self.item.completion,
            prompt=self.item.prompt,
            completion_tokens=self.item.completion_tokens,
            prior=prior,
            group=seat[0] if seat is not None else None,
            group_index=seat[1] if seat is not None else None,
        )


def format_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line per problem, each naming its field path: `scorers[0].gold: Field required`."""
    parts = []
    for problem in error.errors():
        path = render_path(problem["loc"], prefix)
        parts.append(f"{path or '(item)'}: {problem['msg']}")
    return "; ".join(parts)


def item_id(raw: object) -> str | None:
    """The `id` of an item or item-like mapping, when it is a string."""
    if isinstance(raw, Item):
        return raw.id
    if isinstance(raw, Mapping):
        value: object = raw.get("id")
        return value if isinstance(value, str) else None
    return None


def prepare(
    raw: Item | Mapping[str, Any], registry: Mapping[str, Scorer[Any]], limits: Limits
) -> Plan | Result:
    """Validate an item against the contract, the registry and the limits."""
    try:
        item = raw if isinstance(raw, Item) else Item.model_validate(raw)
    except ValidationError as exc:
        return Result(id=item_id(raw), error=format_validation_error(exc))
    if len(item.completion) > limits.max_completion_chars:
        return Result(
            id=item.id,
            error=f"completion: {len(item.completion)} characters exceeds the limit of "
            f"{limits.max_completion_chars} (max_completion_chars)",
        )
    if item.prompt is not None and len(item.prompt) > limits.max_prompt_chars:
        return Result(
            id=item.id,
            error=f"prompt: {len(item.prompt)} characters exceeds the limit of "
            f"{limits.max_prompt_chars} (max_prompt_chars)",
        )
    if len(item.scorers) > limits.max_scorers:
        return Result(
            id=item.id,
            error=f"scorers: {len(item.scorers)} scorers exceeds the limit of "
            f"{limits.max_scorers} (max_scorers)",
        )
    steps: list[Step] = []
    errors: list[str] = []
    seen: set[str] = set()
    for index, spec in enumerate(item.scorers):
        step_or_error = _resolve(index, spec, registry, seen)
        if isinstance(step_or_error, str):
            errors.append(step_or_error)
        else:
            steps.append(step_or_error)
            seen.add(step_or_error.key)
    if not errors and item.group is None:
        errors += [
            f"group: Field required by scorer {step.scorer.name!r} ({render_path(('scorers', i))})"
            for i, step in enumerate(steps)
            if step.scorer.needs_group
        ][:1]
    if errors:
        return Result(id=item.id, error="; ".join(errors))
    return Plan(item=item, steps=tuple(steps))


def _resolve(
    index: int, spec: ScorerSpec, registry: Mapping[str, Scorer[Any]], seen: set[str]
) -> Step | str:
    field = render_path(("scorers", index))
    scorer = registry.get(spec.name)
    if scorer is None:
        known = ", ".join(sorted(registry))
        return f"{field}.name: unknown scorer {spec.name!r} (known: {known})"
    if spec.result_key in seen:
        return (
            f"{field}.key: duplicate result key {spec.result_key!r}; give each repeated scorer "
            "a distinct `key`"
        )
    try:
        params = scorer.params_model.model_validate(spec.params)
    except ValidationError as exc:
        return format_validation_error(exc, prefix=field)
    for needed in scorer.requires(params):
        if needed not in seen:
            return (
                f"{field}: scorer {spec.name!r} needs a scorer with key {needed!r} listed "
                "before it in the same item"
            )
    return Step(key=spec.result_key, scorer=scorer, params=params)


def time_bound(plan: Plan, default_s: float) -> float:
    """The item's time bound: the default, or more when one of its scorers needs more."""
    bounds = [step.scorer.time_bound(step.params) for step in plan.steps]
    return max([default_s, *(b for b in bounds if b is not None)])


def run_step(
    plan: Plan,
    step: Step,
    prior: Mapping[str, ScoreResult],
    seat: tuple[Group, int] | None = None,
) -> ScoreResult:
    """Run one scorer; an exception becomes a `scorer_error` verdict with a null score.
    `seat`: the item's group and its place in it, for scorers that need the group."""
    try:
        sample = plan.sample(prior, seat if step.scorer.needs_group else None)
        return step.scorer.score(sample, step.params)
    except MemoryError:
        return ScoreResult(
            score=None, verdict=VERDICT_SCORER_ERROR, error="out of memory in scorer"
        )
    except Exception as exc:  # a scorer bug must not lose the item or the batch
        return ScoreResult(
            score=None, verdict=VERDICT_SCORER_ERROR, error=f"{type(exc).__name__}: {exc}"[:500]
        )


def finalize(plan: Plan, scores: Mapping[str, ScoreResult]) -> Result:
    """Assemble the result in the item's scorer order, with the weighted reward."""
    ordered = {step.key: scores[step.key] for step in plan.steps if step.key in scores}
    reward = weighted_reward(plan.item.scorers, ordered, plan.item.null_as_zero)
    return Result(id=plan.item.id, reward=reward, scores=ordered)


def seat_of(plan: Plan, pos: int, groups: TaskGroups) -> tuple[Group, int] | None:
    """The item's group and place, when one of its scorers needs the group."""
    if not plan.needs_group or plan.item.group is None:
        return None
    return groups.seat(plan.item.group, pos, plan.item.completion, plan.item.prompt)


def score_item(
    raw: Item | Mapping[str, Any],
    registry: Mapping[str, Scorer[Any]],
    limits: Limits,
    seat: tuple[Group, int] | None = None,
) -> Result:
    """Validate and score one item in this process, with no time bound. Alone, an item is a
    group of one; `score_items` scores items with their groups."""
    plan = prepare(raw, registry, limits)
    if isinstance(plan, Result):
        return plan
    if seat is None:
        seat = seat_of(plan, 0, TaskGroups(()))
    scores: dict[str, ScoreResult] = {}
    for step in plan.steps:
        scores[step.key] = run_step(plan, step, scores, seat)
    return finalize(plan, scores)


def score_items(
    raws: Sequence[Item | Mapping[str, Any]],
    registry: Mapping[str, Scorer[Any]],
    limits: Limits,
) -> list[Result]:
    """Validate and score items in this process, with no time bound, each group-needing
    scorer seeing the items of its group among `raws` (`referee.verifiers.groups`)."""
    groups = TaskGroups(list(enumerate(raws)))
    results = []
    for pos, raw in enumerate(raws):
        plan = prepare(raw, registry, limits)
        if isinstance(plan, Result):
            results.append(plan)
            continue
        scores: dict[str, ScoreResult] = {}
        seat = seat_of(plan, pos, groups)
        for step in plan.steps:
            scores[step.key] = run_step(plan, step, scores, seat)
        results.append(finalize(plan, scores))
    return results
