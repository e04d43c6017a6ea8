"""Answer classes: the final answers of a group of samples, clustered by mathematical equivalence.

Exact-string voting (verl's `calc_maj_val`, NeMo-Skills, NeMo-RL, NeMo-Gym) splits `1/2`,
`0.5` and `\\frac{1}{2}` into three votes. Here they are one class, by the `math` scorer's own
judgement (`math_equiv.judge`), in three steps whose cost is bounded:

1. `final_answer` extracts each sample's final answer once, as the `math` scorer does (the text
   after the last `</think>`, the last box, or a marker in `any` mode); an answer longer than
   `max_answer_chars` is no answer (it would cost sympy time and is not a vote anyone means).
2. Identical answers after normalisation (`math_literals.compact`: spacing, `$`, `\\text{}`
   wrappers, `\\dfrac`) are one form, for free. Forms are taken most frequent first (ties in
   order of first appearance), so the most common spelling represents its class.
3. Leader clustering: each form is compared with the representative (the first form) of each
   class so far, in class order, and joins the first that judges it equal; otherwise it starts
   a class. "Equal" is `judge(representative, form, "any")` being `correct`: the representative
   stands as the gold, and arithmetic left unsimplified (`1+1`) counts as its value. Forms too
   complex for sympy (bracket nesting past `MAX_NESTING`, a power tower with a million digits:
   the `math` scorer's own guards) are equal only to their own spelling.

Why no transitive closure: an equivalence judgement with numeric tolerances, case folding and
guards need not be transitive (a ~ b and b ~ c without a ~ c). A closure (union-find over every
judged-equal pair) would chain such pairs into one class that holds answers the grader calls
different, and would need every pair compared. Leader clustering compares a form only with each
class's representative, so every member of a class was judged equal to its representative, and
a chain a ~ b ~ c with a !~ c leaves c in a class of its own (tested in
`tests/verifiers/test_answer_classes.py`).

Bound: at most `max_comparisons` judgements per group. When the budget is spent, every form not
yet placed becomes a class of its own and the result says `capped`; the comparisons made are
reported either way. A judgement is cached per process (`judge` is an LRU), so a group's repeat
forms and a gold compared again cost nothing.

Left out: clustering code answers (programs are grouped by their test outcomes, which the
`code` scorer reports, not by equivalence), and merging classes after the fact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from referee.verifiers.math_equiv import judge
from referee.verifiers.math_extract import MAX_NESTING, extract_answer, is_huge, nesting_depth
from referee.verifiers.math_literals import compact
from referee.verifiers.think import prompt_prefills_think, split_think

Equal = Callable[[str, str], bool]
"""Whether a form (second) equals a class's representative (first)."""

DEFAULT_MAX_COMPARISONS = 256
"""Equivalence judgements per group, at most (about 0.1-1 s of sympy; see docs/benchmarks.md)."""
DEFAULT_MAX_ANSWER_CHARS = 1000
"""Longer answers are no answer: the `math` scorer's own default for `max_answer_chars`."""


def final_answer(
    completion: str,
    prompt: str | None = None,
    mode: str = "boxed",
    max_answer_chars: int = DEFAULT_MAX_ANSWER_CHARS,
) -> str | None:
    """The final answer as the `math` scorer reads it (`mode` `boxed` or `any`); None when the
    completion has none, or one longer than `max_answer_chars`."""
    split = split_think(completion, prompt_prefills_think(prompt))
    extraction = extract_answer(split.answer, "any" if mode == "any" else "boxed")
    answer = extraction.answer
    if answer is None or len(answer) > max_answer_chars:
        return None
    return answer


def _too_complex(form: str) -> bool:
    return nesting_depth(form) > MAX_NESTING or is_huge(form)


def math_equal(representative: str, form: str) -> bool:
    """The `math` scorer's judgement with the representative as the gold (module docstring)."""
    if _too_complex(representative) or _too_complex(form):
        return False  # spelled the same was handled before; sympy must not see these
    return judge(representative, form, "any").verdict == "correct"


@dataclass(frozen=True)
class AnswerClasses:
    """The classes of one group's answers, largest first."""

    labels: tuple[int | None, ...]
    """Each sample's class (0 is the largest); None for a sample without an answer."""
    representatives: tuple[str, ...]
    """Each class's representative: its most frequent spelling."""
    sizes: tuple[int, ...]
    """Each class's number of samples, in decreasing order."""
    comparisons: int
    """Equivalence judgements made (normalised duplicates cost none)."""
    capped: bool
    """The comparison budget ran out: some forms were left in classes of their own."""

    @property
    def votes(self) -> int:
        return sum(self.sizes)

    def leaders(self) -> tuple[int, ...]:
        """The classes tied for the most votes (empty when nobody answered)."""
        if not self.sizes:
            return ()
        return tuple(i for i, size in enumerate(self.sizes) if size == self.sizes[0])


def cluster_answers(
    answers: Sequence[str | None],
    equal: Equal = math_equal,
    max_comparisons: int = DEFAULT_MAX_COMPARISONS,
) -> AnswerClasses:
    """Cluster `answers` (None: no answer) by `equal`, within `max_comparisons` judgements."""
    form_of: list[str | None] = [None if a is None else compact(a) for a in answers]
    counts: dict[str, int] = {}
    spelling: dict[str, str] = {}
    for answer, form in zip(answers, form_of, strict=True):
        if answer is not None and form is not None:
            counts[form] = counts.get(form, 0) + 1
            spelling.setdefault(form, answer)
    first_seen = {form: i for i, form in enumerate(counts)}
    ordered = sorted(counts, key=lambda form: (-counts[form], first_seen[form]))

    class_of_form: dict[str, int] = {}
    representatives: list[str] = []
    comparisons = 0
    capped = False
    for form in ordered:
        joined: int | None = None
        for index, representative in enumerate(representatives):
            if comparisons >= max_comparisons:
                capped = True
                break
            comparisons += 1
            if equal(representative, spelling[form]):
                joined = index
                break
        if joined is None:
            joined = len(representatives)
            representatives.append(spelling[form])
        class_of_form[form] = joined

    sizes = [0] * len(representatives)
    for form, index in class_of_form.items():
        sizes[index] += counts[form]
    # Largest first; ties keep creation order (which is most frequent spelling first).
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))
    rank = {old: new for new, old in enumerate(order)}
    labels = tuple(None if form is None else rank[class_of_form[form]] for form in form_of)
    return AnswerClasses(
        labels=labels,
        representatives=tuple(representatives[i] for i in order),
        sizes=tuple(sizes[i] for i in order),
        comparisons=comparisons,
        capped=capped,
    )
