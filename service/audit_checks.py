"""What `referee audit` checks on one item, and how it reads the answers.

For each scorer of an item that has a gold (`math`, `code`), the probes of
`referee.verifiers.probes` become probe items: one completion each, with that scorer alone (its
parameters as the dataset wrote them, weight 1), grouped so one scoring process parses the gold
once. The caller scores them through the embedded executor like any item, so time bounds, kills
and the code sandbox apply. `judge` then compares each probe's score with the score it must get:

- a score below 1 where 1 was due: `gold_not_self_accepted` (math) or `reference_fails` (code);
- a score above 0 where 0 was due: `perturbation_accepted` (math), `empty_program_passes` or
  `trivial_program_passes` (code);
- the gold verdicts `gold_unparsable` / `gold_too_long`: that reason, once for the scorer;
- any other null score (`timeout`, `sandbox_error`, `worker_crashed`, `scorer_error`) or a probe
  item that could not be scored at all: `could_not_check`, once for the scorer, naming the probes
  and the first verdict. An infrastructure fault is never a dataset problem.

Two findings need no probe: a gold over the scorer's `max_gold_chars` (`gold_too_long`, not
probed), and stdio tests whose every case expects blank output (`tests_accept_empty_output`).
Left out: the completion, prompt and other scorers of the item (probes test the gold and the
grader, not the template), and a probe's extra forms when `skip` names its kind.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from referee.service.audit_input import Entry
from referee.verifiers.code import CodeParams
from referee.verifiers.contract import Result, ScoreResult
from referee.verifiers.math import MathParams
from referee.verifiers.probes import Probe, ProbeKind, expects_only_empty_output, probes_for


class Reason(enum.StrEnum):
    INVALID_ITEM = "invalid_item"
    GOLD_UNPARSABLE = "gold_unparsable"
    GOLD_TOO_LONG = "gold_too_long"
    GOLD_NOT_SELF_ACCEPTED = "gold_not_self_accepted"
    PERTURBATION_ACCEPTED = "perturbation_accepted"
    REFERENCE_FAILS = "reference_fails"
    EMPTY_PROGRAM_PASSES = "empty_program_passes"
    TRIVIAL_PROGRAM_PASSES = "trivial_program_passes"
    TESTS_ACCEPT_EMPTY_OUTPUT = "tests_accept_empty_output"
    COULD_NOT_CHECK = "could_not_check"
    """Not a dataset problem (a timeout, the sandbox, a crash); a problem only with --strict."""


GOLD_VERDICTS: Final = {
    "gold_unparsable": Reason.GOLD_UNPARSABLE,
    "gold_too_long": Reason.GOLD_TOO_LONG,
}
_MUST_PASS: Final[Mapping[ProbeKind, Reason]] = {"reference": Reason.REFERENCE_FAILS}
_MUST_FAIL: Final[Mapping[ProbeKind, Reason]] = {
    "empty_program": Reason.EMPTY_PROGRAM_PASSES,
    "trivial_program": Reason.TRIVIAL_PROGRAM_PASSES,
}
_TEXT_CHARS: Final = 200


def quoted(text: str) -> str:
    """`text` in quotes for a one-line report: backslashes kept as written, newlines as `\\n`."""
    return "'" + text.replace("\n", "\\n") + "'"


def _short(text: str | None) -> str | None:
    if text is None or len(text) <= _TEXT_CHARS:
        return text
    return text[:_TEXT_CHARS] + "..."


@dataclass(frozen=True)
class Finding:
    """One thing wrong with (or not checkable on) one item."""

    line: int
    id: str | None
    reason: Reason
    scorer: str | None = None
    """The scorer's result key; None for an invalid line."""
    probe: str | None = None
    """The probe kind (for could_not_check: every probe that could not be scored)."""
    form: str | None = None
    """The answer the probe wrote (a perturbation, an equivalent form)."""
    verdict: str | None = None
    detail: str | None = None

    @property
    def is_problem(self) -> bool:
        return self.reason is not Reason.COULD_NOT_CHECK

    def to_json_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class Check:
    """The probes of one scorer of one item."""

    line: int
    id: str | None
    key: str
    scorer: str
    spec: dict[str, Any]
    """The scorer as the item wrote it: name, key and parameters (weight 1)."""
    probes: list[Probe] = field(default_factory=list)

    def finding(self, reason: Reason, **details: str | None) -> Finding:
        return Finding(self.line, self.id, reason, self.key, **details)

    def probe_items(self) -> list[dict[str, Any]]:
        group = f"audit:{self.line}:{self.key}"
        return [
            {
                "id": f"{group}:{index}",
                "group": group,
                "completion": probe.completion,
                "scorers": [self.spec],
            }
            for index, probe in enumerate(self.probes)
        ]


def checks_for(entry: Entry, skip: Collection[str] = ()) -> tuple[list[Check], list[Finding]]:
    """The probe checks of a valid entry, and what is found without probing."""
    if entry.plan is None:
        return [], [Finding(entry.line, entry.id, Reason.INVALID_ITEM, detail=entry.error)]
    specs = {spec.result_key: spec for spec in entry.plan.item.scorers}
    checks: list[Check] = []
    found: list[Finding] = []
    for step in entry.plan.steps:
        spec = specs[step.key]
        scorer = {"name": spec.name, "key": step.key, **spec.params}
        check = Check(entry.line, entry.id, step.key, spec.name, scorer)
        params = step.params
        if isinstance(params, MathParams) and len(params.gold) > params.max_gold_chars:
            found.append(
                check.finding(
                    Reason.GOLD_TOO_LONG,
                    detail=f"{len(params.gold)} characters, over max_gold_chars "
                    f"({params.max_gold_chars})",
                )
            )
            continue
        if isinstance(params, CodeParams) and expects_only_empty_output(params):
            found.append(
                check.finding(
                    Reason.TESTS_ACCEPT_EMPTY_OUTPUT,
                    detail="every stdio case expects blank output: a program that prints "
                    "nothing passes",
                )
            )
        probes = [p for p in probes_for(spec.name, spec.params) if p.kind not in skip]
        if probes:
            checks.append(Check(check.line, check.id, check.key, check.scorer, check.spec, probes))
    return checks, found


def _detail(score: ScoreResult) -> str | None:
    extra = score.model_extra or {}
    for name in ("detail", "reason", "error"):
        value = extra.get(name)
        if isinstance(value, str) and value:
            return _short(value)
    extracted = extra.get("extracted")
    return _short(f"extracted {quoted(extracted)}") if isinstance(extracted, str) else None


def judge(check: Check, results: Sequence[Result]) -> list[Finding]:
    """Compare each probe's score (results in probe order) with the score it must get."""
    found: list[Finding] = []
    undecided: list[tuple[str, str, str | None]] = []
    for probe, result in zip(check.probes, results, strict=True):
        score = result.scores.get(check.key) if result.error is None else None
        if score is None:
            undecided.append((probe.kind, "error", _short(result.error or "no score")))
            continue
        if score.verdict in GOLD_VERDICTS:
            gold = check.spec.get("gold")
            detail = f"gold {quoted(gold)}" if isinstance(gold, str) else None
            return [
                check.finding(GOLD_VERDICTS[score.verdict], verdict=score.verdict, detail=detail)
            ]
        if score.score is None:
            undecided.append((probe.kind, score.verdict, _detail(score)))
            continue
        if probe.expect >= 1.0 and score.score < 1.0:
            reason = _MUST_PASS.get(probe.kind, Reason.GOLD_NOT_SELF_ACCEPTED)
        elif probe.expect <= 0.0 and score.score > 0.0:
            reason = _MUST_FAIL.get(probe.kind, Reason.PERTURBATION_ACCEPTED)
        else:
            continue
        found.append(
            check.finding(
                reason,
                probe=probe.kind,
                form=_short(probe.form),
                verdict=score.verdict,
                detail=_detail(score),
            )
        )
    if undecided:
        _, verdict, detail = undecided[0]
        found.append(
            check.finding(
                Reason.COULD_NOT_CHECK,
                probe=",".join(k for k, _, _ in undecided),
                verdict=verdict,
                detail=detail,
            )
        )
    return found
