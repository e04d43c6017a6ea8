"""Group statistics of sampled answers: unbiased pass@k and majority voting at k (maj@k).

`pass_at_k(n, c, k)` is the unbiased estimator of Chen et al. 2021 (Codex, eq. 1):
1 - C(n-c, k) / C(n, k), the chance that at least one of k samples drawn without replacement
from the n is correct, computed as the product 1 - prod_{i=n-c+1}^{n} (1 - k/i) so that no
binomial coefficient is ever formed (C(64, 32) alone is 1.8e18; for n in the thousands they
overflow a float).

`majority_at_k(labels, correct, k)` is maj@k (R1's cons@k): the expected accuracy of voting
among k of the n samples. `labels[i]` is sample i's answer class (None: it gave no answer and
does not vote); `correct` holds the classes whose answer is right. In a k-subset the largest
class wins; when t classes tie for largest, the subset scores the share of them that are
correct (the expected accuracy of breaking the tie at random); a subset with no votes scores 0.
At k = n this is the vote of the whole group. Below n it averages over every k-subset when there
are at most `trials` of them, else over `trials` subsets drawn with a seeded generator, so the
figure is reproducible. The mean of correctness over the n samples (R1's "pass@1 averaged over
k samples") is `c / n` for every k, and needs no function here.

Left out: confidence intervals, and maj@k over classes re-clustered per subset (the classes of
the whole group are reused, which differs only when the equivalence judgement is not
transitive; see `answer_classes`).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

DEFAULT_TRIALS = 200
"""k-subsets averaged for maj@k when there are more than this many."""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for n samples of which c are correct (module docstring)."""
    if not 0 <= c <= n:
        raise ValueError(f"correct samples c={c} must be between 0 and n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the number of samples n={n}")
    if n - c < k:
        return 1.0  # every k-subset holds a correct sample
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def vote(labels: Iterable[int | None], correct: Collection[int]) -> float:
    """The accuracy of one vote: the share of correct classes among those tied for the most
    votes (1 or 0 without a tie); 0 when nobody voted."""
    counts = Counter(label for label in labels if label is not None)
    if not counts:
        return 0.0
    top = max(counts.values())
    leaders = [label for label, count in counts.items() if count == top]
    return sum(label in correct for label in leaders) / len(leaders)


def majority_at_k(
    labels: Sequence[int | None],
    correct: Collection[int],
    k: int,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
) -> float:
    """maj@k: the expected accuracy of a vote among k of the samples (module docstring)."""
    n = len(labels)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the number of samples n={n}")
    if trials < 1:
        raise ValueError(f"trials={trials} must be at least 1")
    if k == n:
        return vote(labels, correct)
    if math.comb(n, k) <= trials:
        subsets: Iterable[Sequence[int]] = itertools.combinations(range(n), k)
    else:
        # A generator of our own: the figure must not depend on who else drew from `random`.
        rng = random.Random(seed)
        subsets = [rng.sample(range(n), k) for _ in range(trials)]
    scores = [vote((labels[i] for i in subset), correct) for subset in subsets]
    return sum(scores) / len(scores)
