"""The `majority` scorer: a label-free reward from the group's vote (test-time RL without golds).

For a prompt without a gold answer, a sample earns 1 when its final answer lies in the largest
class of its group's answers, clustered by mathematical equivalence (`answer_classes`: `1/2`,
`0.5` and `\\frac{1}{2}` vote together). This is the reward of test-time RL (TTRL, Zuo et al.
2025: the majority answer of the group stands as the label) with the `math` scorer's own
judgement. Each item must carry `group`; the scorer sees the members of its group that were
scored in the same task (`referee.verifiers.groups` says how they get there), and clusters them
once per group and process (`Group.memo`).

Verdicts and scores:
- `majority` 1.0: the sample's answer is in the largest class (with `ties="all"`, in one of the
  classes tied for largest);
- `tie` 0.0: with `ties="none"` (the default), the sample's class ties for largest with another:
  the group did not agree, so no sample is rewarded (a group where every answer differs ties
  everywhere);
- `minority` 0.0: the sample answered, outside the largest class;
- `no_answer` 0.0: no final answer (or one over `max_answer_chars`); it does not vote;
- `group_too_small` None: fewer than `min_group_size` members arrived (a vote of one or two is
  not a majority); not the model's fault;
- `group_incomplete` None: `group_size` is set and another number of members arrived (the group
  was split across requests or tasks), so the vote would not be the group's.

Details: `extracted` (the sample's answer, first 200 characters), `class` (its class, 0 the
largest; absent without an answer), `class_size`, `majority_size`, `majority_answer` (the
largest class's representative), `votes` (members with an answer), `members`, `classes`,
`comparisons` and `capped` (see `answer_classes`: a group that spent `max_comparisons` has its
remaining forms in classes of their own).

Left out: a vote weighted by anything but count, and a minimum share for the majority (a
plurality of two in a group of 16 wins).
"""

from __future__ import annotations

from typing import ClassVar, Literal, assert_never

from pydantic import Field

from referee.verifiers.answer_classes import (
    DEFAULT_MAX_ANSWER_CHARS,
    DEFAULT_MAX_COMPARISONS,
    AnswerClasses,
    cluster_answers,
    final_answer,
)
from referee.verifiers.base import (
    ALWAYS_ONE,
    ALWAYS_ZERO,
    UNDECIDED,
    Group,
    Sample,
    Scorer,
    ScorerParams,
    ScoreRule,
    scored,
)
from referee.verifiers.contract import ScoreResult

PREVIEW_CHARS = 200

MajorityVerdict = Literal[
    "majority", "tie", "minority", "no_answer", "group_too_small", "group_incomplete"
]


def majority_score_rule(verdict: MajorityVerdict) -> ScoreRule:
    """The score table of the module docstring."""
    match verdict:
        case "majority":
            return ALWAYS_ONE
        case "tie" | "minority" | "no_answer":
            return ALWAYS_ZERO
        case "group_too_small" | "group_incomplete":
            return UNDECIDED
        case _:
            assert_never(verdict)


def _result(verdict: MajorityVerdict, /, **details: object) -> ScoreResult:
    return scored(majority_score_rule(verdict), verdict, **details)


class MajorityParams(ScorerParams):
    answer: Literal["boxed", "any"] = "boxed"
    """Where the final answer is read, as the `math` scorer's `answer`."""
    min_group_size: int = Field(default=2, ge=1)
    """Fewer members than this: `group_too_small` (null)."""
    group_size: int | None = Field(default=None, ge=1)
    """The members to expect (the trainer's G); another number: `group_incomplete` (null)."""
    ties: Literal["none", "all"] = "none"
    """Classes tied for largest: `none` rewards none of them (`tie`), `all` rewards each."""
    max_comparisons: int = Field(default=DEFAULT_MAX_COMPARISONS, ge=0)
    """Equivalence judgements per group, at most (`answer_classes`)."""
    max_answer_chars: int = Field(default=DEFAULT_MAX_ANSWER_CHARS, ge=1)
    """Longer answers do not vote (`no_answer`)."""


class MajorityScorer(Scorer[MajorityParams]):
    name: ClassVar[str] = "majority"
    params_model = MajorityParams
    needs_group: ClassVar[bool] = True

    def score(self, sample: Sample, params: MajorityParams) -> ScoreResult:
        group = sample.group
        index = sample.group_index
        if group is None or index is None:  # called by hand, outside the engine
            group = Group(key="", completions=(sample.completion,), prompts=(sample.prompt,))
            index = 0
        if params.group_size is not None and group.size != params.group_size:
            return _result("group_incomplete", members=group.size, expected=params.group_size)
        if group.size < params.min_group_size:
            return _result("group_too_small", members=group.size)
        classes = classes_of(group, params)
        label = classes.labels[index]
        details: dict[str, object] = {
            "members": group.size,
            "votes": classes.votes,
            "classes": len(classes.sizes),
            "majority_size": classes.sizes[0] if classes.sizes else 0,
            "majority_answer": (
                classes.representatives[0][:PREVIEW_CHARS] if classes.representatives else None
            ),
            "comparisons": classes.comparisons,
            "capped": classes.capped,
        }
        if label is None:
            return _result("no_answer", extracted=None, **details)
        answer = final_answer(
            group.completions[index] or "",
            group.prompts[index],
            params.answer,
            params.max_answer_chars,
        )
        details.update(
            extracted=(answer or "")[:PREVIEW_CHARS],
            class_size=classes.sizes[label],
            **{"class": label},
        )
        leaders = classes.leaders()
        if label not in leaders:
            return _result("minority", **details)
        if len(leaders) > 1 and params.ties == "none":
            return _result("tie", **details)
        return _result("majority", **details)


def classes_of(group: Group, params: MajorityParams) -> AnswerClasses:
    """The group's answer classes under `params`, computed once per group and process."""
    key = ("majority", params)
    found = group.memo.get(key)
    if isinstance(found, AnswerClasses):
        return found
    answers = [
        None
        if completion is None
        else final_answer(completion, prompt, params.answer, params.max_answer_chars)
        for completion, prompt in zip(group.completions, group.prompts, strict=True)
    ]
    classes = cluster_answers(answers, max_comparisons=params.max_comparisons)
    group.memo[key] = classes
    return classes
