"""The samples `referee eval` and `POST /v1/eval` read, and how each one's result becomes an
`eval_stats.Outcome`.

A sample is a contract item with a `group` (its prompt: the samples of a group are that
prompt's k samples), scored through the executor like any item. It may instead carry its
result already, as `"result": {...}` in the shape `referee score` writes (for samples scored
before, e.g. code whose tests ran during training): then its scorers are not run again.

Which score decides correctness: the one named by `key` (`--key`), else the item's first
scorer; a sample is correct when that score is at least 1 (R1's accuracy reward: a right math
answer, a program passing every test). How answers are classed for maj@k depends on that
scorer: `math` items get a `majority` scorer appended (result key `_vote`, weight 0, the math
scorer's `answer` mode, no minimum group size), so their answers are clustered by equivalence
in the scoring processes, under the executor's time bounds, once per group; `code` samples
are classed by their test outcomes (the `code` scorer's verdict and per-test verdicts).

Errors name the field: `group: Field required ...`, `result: ...`, `key: no scorer ...`; the
caller adds the line (CLI) or the item's place (HTTP).

Left out: classing the answers of other scorers (they get pass@k, not maj@k).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from referee.service.eval_stats import Outcome
from referee.verifiers.contract import Result, ScoreResult
from referee.verifiers.engine import format_validation_error

VOTE_KEY = "_vote"
"""Result key of the `majority` scorer appended to math items."""
PASS_SCORE = 1.0
"""A correctness score at least this is correct."""

Kind = Literal["math", "code", "other"]


@dataclass(frozen=True)
class EvalSample:
    """One sample: what to score (None: nothing) and how to read its result."""

    group: str
    key: str
    kind: Kind
    item: dict[str, Any] | None
    given: Result | None


class SampleError(ValueError):
    """A sample that cannot be evaluated; the message names the field."""


def _spec_key(spec: Mapping[str, Any]) -> object:
    key = spec.get("key")
    return key if key is not None else spec.get("name")


def to_sample(raw: object, key: str | None, max_comparisons: int | None = None) -> EvalSample:
    """Validate what eval needs of one sample (the item itself is validated where it is
    scored); raises `SampleError` naming the field."""
    if not isinstance(raw, Mapping):
        raise SampleError(f"(item): expected an object, got {type(raw).__name__}")
    item = dict(raw)
    given: Result | None = None
    if "result" in item:
        try:
            given = Result.model_validate(item.pop("result"))
        except ValidationError as exc:
            raise SampleError(format_validation_error(exc, prefix="result")) from None
    group = item.get("group")
    if not isinstance(group, str):
        raise SampleError("group: Field required (eval takes a group's samples as a prompt's)")
    scorers = item.get("scorers")
    if not isinstance(scorers, list) or not scorers or not isinstance(scorers[0], Mapping):
        raise SampleError("scorers: expected a non-empty list of scorers")
    specs = [spec for spec in scorers if isinstance(spec, Mapping)]
    wanted = key if key is not None else _spec_key(specs[0])
    chosen = next((spec for spec in specs if _spec_key(spec) == wanted), None)
    if chosen is None or not isinstance(wanted, str):
        raise SampleError(f"key: no scorer with result key {wanted!r} in this item")
    name = chosen.get("name")
    kind: Kind = "math" if name == "math" else "code" if name == "code" else "other"
    submit: dict[str, Any] | None = None if given is not None else item
    if kind == "math":
        vote: dict[str, Any] = {
            "name": "majority",
            "key": VOTE_KEY,
            "weight": 0.0,
            "min_group_size": 1,
            "answer": chosen.get("answer", "boxed"),
        }
        if max_comparisons is not None:
            vote["max_comparisons"] = max_comparisons
        base = item if given is None else {k: v for k, v in item.items() if k != "scorers"}
        others = [] if given is not None else list(scorers)
        submit = {**base, "scorers": [*others, vote], "null_as_zero": True}
    return EvalSample(group=group, key=wanted, kind=kind, item=submit, given=given)


def _details(score: ScoreResult) -> dict[str, Any]:
    return dict(score.model_extra or {})


def outcome(sample: EvalSample, scored: Result | None) -> Outcome:
    """The outcome of a sample from its results: the given one (if any) and the scored one."""
    result = sample.given if sample.given is not None else scored
    if result is None or result.error is not None:
        return Outcome(correct=None, invalid=result is not None)
    score = result.scores.get(sample.key)
    if score is None or score.score is None:
        return Outcome(correct=None)
    correct = score.score >= PASS_SCORE
    if sample.kind == "code":
        details = _details(score)
        tests = details.get("tests")
        outcome_key = (score.verdict, tuple(tests) if isinstance(tests, list) else None)
        return Outcome(correct=correct, label=outcome_key, answer=score.verdict)
    if sample.kind == "math" and scored is not None and scored.error is None:
        vote = scored.scores.get(VOTE_KEY)
        details = _details(vote) if vote is not None else {}
        vote_class = details.get("class")
        answer = details.get("extracted")
        if isinstance(vote_class, int) and isinstance(answer, str):
            return Outcome(correct=correct, label=vote_class, string=answer, answer=answer)
    return Outcome(correct=correct)
