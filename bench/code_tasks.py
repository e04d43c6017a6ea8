"""A deterministic set of HumanEval-style function-writing tasks for the code benchmarks.

Each task is one function to write (`entry_point`), the program a model "wrote" for it (a
correct solution, or for about 15% of tasks a wrong one: off by one, a missing base case, a
tie broken the wrong way...), and a HumanEval-style `test` defining `check(candidate)` with
3-8 asserts. Tasks come from 31 templates (strings, sequences, number theory, sorting,
matrices...) whose names, constants and inputs vary with the seed, so programs differ.

Expected values in the asserts are computed here by running the correct solution, and every
task is checked at build time: the wrong solution of its template must return a value for
every input (no exception, so it is a wrong answer and not a crash) and differ on at least one.
So a correct task's program passes its test and a wrong one fails an assert, by construction.

Usage: `make_tasks(n, seed)`; `python bench/code_tasks.py [--tasks 200] [--seed 0]` prints a
summary and one example.
"""

from __future__ import annotations

import argparse
import copy
import random
import string
import textwrap
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WRONG_SHARE = 0.15

Impl = tuple[str, str]
"""(helpers above the function, the function's body), both with $-placeholders."""


@dataclass(frozen=True)
class Spec:
    """One template instance before its tests are built."""

    entry_point: str
    signature: str
    doc: str
    correct: Impl
    wrong: Impl
    inputs: list[tuple[Any, ...]]
    subs: dict[str, Any]
    """Values for the $-placeholders of doc, helpers and bodies ($name is the entry point)."""


@dataclass(frozen=True)
class Task:
    task_id: str
    template: str
    entry_point: str
    solution: str
    """The program in the completion: the correct solution, or the wrong one."""
    test: str
    correct: bool
    """Whether `solution` is the correct one (its program passes `test`)."""

    def completion(self) -> str:
        think = (
            f"<think>The task asks for `{self.entry_point}`. I will handle the edge cases "
            f"first, then the main loop, and check it against the examples.</think>\n"
        )
        return f"{think}Here is my solution.\n\n```python\n{self.solution}\n```\n"

    def program(self) -> str:
        """What a bare run executes: the solution, the test, and the call of `check`."""
        return f"{self.solution}\n{self.test}\ncheck({self.entry_point})\n"

    def tests(self) -> dict[str, str]:
        return {"mode": "assert", "test": self.test, "entry_point": self.entry_point}

    def item(self) -> dict[str, Any]:
        return {
            "id": self.task_id,
            "completion": self.completion(),
            "scorers": [{"name": "code", "tests": self.tests()}],
        }


def _render(spec: Spec, impl: Impl, examples: list[str]) -> str:
    helpers, body = (
        string.Template(textwrap.dedent(part).strip("\n")).substitute(
            spec.subs, name=spec.entry_point
        )
        for part in impl
    )
    doc = string.Template(textwrap.dedent(spec.doc).strip()).substitute(
        spec.subs, name=spec.entry_point
    )
    doc_lines = [*doc.splitlines(), *examples]
    quoted = "\n".join(("    " + line).rstrip() for line in doc_lines)
    head = f'def {spec.entry_point}({spec.signature}):\n    """{quoted.lstrip()}\n    """'
    parts = [helpers, ""] if helpers else []
    return "\n".join([*parts, head, textwrap.indent(body, "    ")]) + "\n"


def _function(source: str, name: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]  # type: ignore[no-any-return]


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    return fn(*copy.deepcopy(args))


def _args(args: tuple[Any, ...]) -> str:
    return ", ".join(repr(a) for a in args)


def _build(task_id: str, template: str, spec: Spec, use_wrong: bool, rng: random.Random) -> Task:
    correct_fn = _function(_render(spec, spec.correct, []), spec.entry_point)
    wrong_fn = _function(_render(spec, spec.wrong, []), spec.entry_point)
    cases: list[tuple[tuple[Any, ...], Any]] = []
    differs = False
    for args in spec.inputs:
        expected = _call(correct_fn, args)
        try:
            got = _call(wrong_fn, args)
        except Exception:  # an input the wrong solution crashes on: leave it out
            continue
        differs = differs or got != expected
        cases.append((args, expected))
    if len(cases) < 3 or not differs:
        raise AssertionError(f"template {template}: wrong solution not caught by {cases}")
    cases = cases[:8]
    examples = []
    for args, expected in cases[:2]:
        examples.append(f">>> {spec.entry_point}({_args(args)})")
        examples.append(repr(expected))
    solution = _render(spec, spec.wrong if use_wrong else spec.correct, examples)
    lines = []
    for args, expected in cases:
        call = f"candidate({_args(args)})"
        if expected is None:
            lines.append(f"    assert {call} is None")
        elif isinstance(expected, bool):
            lines.append(f"    assert {call} is {expected}")
        else:
            lines.append(f"    assert {call} == {expected!r}")
    header = (
        "\n\nMETADATA = {'author': 'bench', 'dataset': 'test'}\n\n"
        if rng.random() < 0.5
        else "\n\n"
    )
    test = f"{header}def check(candidate):\n" + "\n".join(lines) + "\n"
    return Task(
        task_id=task_id,
        template=template,
        entry_point=spec.entry_point,
        solution=solution.rstrip("\n"),
        test=test,
        correct=not use_wrong,
    )


# -- templates ---------------------------------------------------------------------------------
# Each takes the task's rng and returns a Spec. Inputs list the edge cases that catch the wrong
# solution first, then random ones.


def _words(rng: random.Random, k: int) -> list[str]:
    vocab = [
        "apple",
        "river",
        "stone",
        "cloud",
        "tiger",
        "maple",
        "orbit",
        "lemon",
        "piano",
        "crane",
        "delta",
        "ember",
        "frost",
        "grape",
        "honey",
        "ivory",
        "jelly",
        "kiwi",
    ]
    return [rng.choice(vocab) for _ in range(k)]


def _ints(rng: random.Random, k: int, lo: int = -50, hi: int = 50) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(k)]


def t_fibonacci(rng: random.Random) -> Spec:
    a, b = rng.choice([(0, 1), (2, 1), (1, 1), (rng.randint(1, 5), rng.randint(2, 9))])
    return Spec(
        entry_point=rng.choice(["fib", "fibonacci", "sequence_term", "nth_term"]),
        signature="n: int",
        subs={"a": a, "b": b},
        doc="""Return the n-th term (counting from 0) of the sequence with t(0) = $a,
            t(1) = $b and t(n) = t(n - 1) + t(n - 2).""",
        correct=(
            "",
            """
            if n < 0:
                raise ValueError("n must be non-negative")
            if n == 0:
                return $a
            previous, current = $a, $b
            for _ in range(n - 1):
                previous, current = current, previous + current
            return current
        """,
        ),
        wrong=(
            "",
            """
            if n < 0:
                raise ValueError("n must be non-negative")
            if n == 0:
                return $a
            previous, current = $a, $b
            for _ in range(n):
                previous, current = current, previous + current
            return current
        """,
        ),
        inputs=[(1,), (0,), (2,), *[(rng.randint(3, 40),) for _ in range(rng.randint(1, 4))]],
    )


def t_is_prime(rng: random.Random) -> Spec:
    squares = [9, 25, 49, 121, 169, 289, 361]
    return Spec(
        entry_point=rng.choice(["is_prime", "check_prime", "prime_test"]),
        signature="n: int",
        subs={},
        doc="Return True if n is a prime number, and False otherwise.",
        correct=(
            "",
            """
            if n < 2:
                return False
            if n < 4:
                return True
            if n % 2 == 0:
                return False
            divisor = 3
            while divisor * divisor <= n:
                if n % divisor == 0:
                    return False
                divisor += 2
            return True
        """,
        ),
        wrong=(
            "",
            """
            if n < 2:
                return False
            if n < 4:
                return True
            if n % 2 == 0:
                return False
            divisor = 3
            while divisor * divisor < n:
                if n % divisor == 0:
                    return False
                divisor += 2
            return True
        """,
        ),
        inputs=[
            (rng.choice(squares),),
            (1,),
            (2,),
            (rng.choice([97, 101, 7919, 13441]),),
            *[(rng.randint(0, 5000),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_primes_up_to(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["primes_up_to", "sieve", "list_primes"]),
        signature="n: int",
        subs={},
        doc="Return the list of the primes p with 2 <= p <= n, in increasing order.",
        correct=(
            "",
            """
            if n < 2:
                return []
            is_candidate = [True] * (n + 1)
            is_candidate[0] = is_candidate[1] = False
            for i in range(2, int(n ** 0.5) + 1):
                if is_candidate[i]:
                    for multiple in range(i * i, n + 1, i):
                        is_candidate[multiple] = False
            return [i for i, flag in enumerate(is_candidate) if flag]
        """,
        ),
        wrong=(
            "",
            """
            if n < 2:
                return []
            is_candidate = [True] * (n + 1)
            is_candidate[0] = is_candidate[1] = False
            for i in range(2, int(n ** 0.5)):
                if is_candidate[i]:
                    for multiple in range(i * i, n + 1, i):
                        is_candidate[multiple] = False
            return [i for i, flag in enumerate(is_candidate) if flag]
        """,
        ),
        inputs=[
            (rng.choice([25, 49, 121]),),
            (1,),
            (2,),
            (10,),
            *[(rng.randint(3, 200),) for _ in range(rng.randint(0, 3))],
        ],
    )


def t_lcm(rng: random.Random) -> Spec:
    gcd = """
        def _gcd(a: int, b: int) -> int:
            while b:
                a, b = b, a % b
            return a
    """
    return Spec(
        entry_point=rng.choice(["lcm_of_list", "least_common_multiple", "lcm_all"]),
        signature="numbers: list[int]",
        subs={},
        doc="Return the least common multiple of a non-empty list of positive integers.",
        correct=(
            gcd,
            """
            result = numbers[0]
            for value in numbers[1:]:
                result = result * value // _gcd(result, value)
            return result
        """,
        ),
        wrong=(
            gcd,
            """
            result = numbers[0]
            for value in numbers[1:]:
                result = result * value // _gcd(numbers[0], value)
            return result
        """,
        ),
        inputs=[
            ([2, 3, 9],),
            ([7],),
            ([4, 6, 8],),
            *[(_ints(rng, rng.randint(2, 5), 1, 30),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_gcd(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["gcd_of_list", "greatest_common_divisor", "common_factor"]),
        signature="numbers: list[int]",
        subs={},
        doc="Return the greatest common divisor of a non-empty list of positive integers.",
        correct=(
            "",
            """
            result = numbers[0]
            for value in numbers[1:]:
                a, b = result, value
                while b:
                    a, b = b, a % b
                result = a
            return result
        """,
        ),
        wrong=(
            "",
            """
            result = numbers[0]
            for value in numbers[1:-1]:
                a, b = result, value
                while b:
                    a, b = b, a % b
                result = a
            return result
        """,
        ),
        inputs=[
            ([12, 18, 8],),
            ([5],),
            ([9, 6],),
            *[
                ([rng.randint(1, 12) * k for k in _ints(rng, rng.randint(2, 5), 1, 9)],)
                for _ in range(rng.randint(1, 4))
            ],
        ],
    )


def t_sort_by(rng: random.Random) -> Spec:
    key, doc, expr, data = rng.choice(
        [
            ("length", "their length", "len(item)", "words"),
            ("digit_sum", "the sum of their digits", "sum(int(d) for d in str(abs(item)))", "ints"),
            ("absolute", "their absolute value", "abs(item)", "ints"),
            ("last_letter", "their last letter", "item[-1]", "words"),
        ]
    )
    if data == "words":
        randoms: list[tuple[Any, ...]]
        ties: tuple[Any, ...] = (["pear", "kiwi", "fig", "lime", "date", "yam", "plum"],)
        randoms = [(_words(rng, rng.randint(3, 7)),) for _ in range(rng.randint(1, 4))]
    else:
        ties = ([13, -31, 4, 22, -4, 40],)
        randoms = [(_ints(rng, rng.randint(3, 8)),) for _ in range(rng.randint(1, 4))]
    return Spec(
        entry_point=f"sort_by_{key}",
        signature="items: list",
        subs={"expr": expr, "doc": doc},
        doc="""Return the items sorted by $doc; items with the same key are ordered by their
            own value. The input list is not changed.""",
        correct=(
            "",
            """
            def sort_key(item):
                return ($expr, item)

            result = list(items)
            result.sort(key=sort_key)
            return result
        """,
        ),
        wrong=(
            "",
            """
            def sort_key(item):
                return $expr

            result = list(items)
            result.sort(key=sort_key)
            return result
        """,
        ),
        inputs=[ties, ([],), *randoms],
    )


def t_count_vowels(rng: random.Random) -> Spec:
    final_y = rng.random() < 0.5
    doc = "Count the vowels (a, e, i, o, u, in either case) in s" + (
        "; a 'y' is a vowel too, but only at the end of s." if final_y else "."
    )
    return Spec(
        entry_point=rng.choice(["count_vowels", "vowels_count", "number_of_vowels"]),
        signature="s: str",
        subs={"final_y": final_y, "doc": doc},
        doc="$doc",
        correct=(
            "",
            """
            vowels = "aeiou"
            lowered = s.lower()
            count = 0
            for char in lowered:
                if char in vowels:
                    count += 1
            if $final_y and lowered.endswith("y"):
                count += 1
            return count
        """,
        ),
        wrong=(
            "",
            """
            vowels = "aeiou"
            count = 0
            for char in s:
                if char in vowels:
                    count += 1
            if $final_y and s.endswith("y"):
                count += 1
            return count
        """,
        ),
        inputs=[
            ("ACEDY",),
            ("",),
            ("abcde",),
            ("key",),
            *[
                (" ".join(_words(rng, rng.randint(1, 3))).title(),)
                for _ in range(rng.randint(0, 3))
            ],
        ],
    )


def t_running(rng: random.Random) -> Spec:
    op, expr = rng.choice(
        [
            ("sum", "total + value"),
            ("max", "max(total, value)"),
            ("min", "min(total, value)"),
            ("product", "total * value"),
        ]
    )
    return Spec(
        entry_point=f"running_{op}",
        signature="numbers: list[int]",
        subs={"expr": expr, "op": op},
        doc="""Return the list whose i-th element is the $op of numbers[0], ..., numbers[i].""",
        correct=(
            "",
            """
            result = []
            total = None
            for value in numbers:
                total = value if total is None else $expr
                result.append(total)
            return result
        """,
        ),
        wrong=(
            "",
            """
            result = []
            total = None
            for value in numbers[:-1]:
                total = value if total is None else $expr
                result.append(total)
            return result
        """,
        ),
        inputs=[
            ([3, 1, 4, 1, 5],),
            ([],),
            ([7],),
            *[(_ints(rng, rng.randint(2, 8), -9, 9),) for _ in range(rng.randint(1, 4))],
        ],
    )


def _matrix(rng: random.Random, rows: int, cols: int) -> list[list[int]]:
    return [[rng.randint(-9, 9) for _ in range(cols)] for _ in range(rows)]


def t_transpose(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["transpose", "transpose_matrix", "flip_diagonal"]),
        signature="matrix: list[list[int]]",
        subs={},
        doc="Return the transpose of a rectangular matrix given as a list of rows.",
        correct=(
            "",
            """
            if not matrix:
                return []
            rows, cols = len(matrix), len(matrix[0])
            result = []
            for j in range(cols):
                new_row = []
                for i in range(rows):
                    new_row.append(matrix[i][j])
                result.append(new_row)
            return result
        """,
        ),
        wrong=(
            "",
            """
            if not matrix:
                return []
            rows = len(matrix)
            result = []
            for j in range(rows):
                new_row = []
                for i in range(rows):
                    new_row.append(matrix[i][j])
                result.append(new_row)
            return result
        """,
        ),
        inputs=[
            (_matrix(rng, 2, 3),),
            ([],),
            (_matrix(rng, 2, 2),),
            *[
                (_matrix(rng, r, r + rng.randint(0, 2)),)
                for r in [rng.randint(1, 4) for _ in range(rng.randint(1, 4))]
            ],
        ],
    )


def t_rotate(rng: random.Random) -> Spec:
    clockwise = rng.random() < 0.5
    good, bad = ("row[::-1]", "row") if clockwise else ("row", "row[::-1]")
    order, bad_order = ("", "[::-1]") if clockwise else ("[::-1]", "")
    return Spec(
        entry_point="rotate_" + ("clockwise" if clockwise else "counterclockwise"),
        signature="matrix: list[list[int]]",
        subs={
            "good": good,
            "bad": bad,
            "order": order,
            "bad_order": bad_order,
            "way": "clockwise" if clockwise else "counterclockwise",
        },
        doc="Rotate a square matrix 90 degrees $way and return the new matrix.",
        correct=(
            "",
            """
            size = len(matrix)
            columns = [[matrix[i][j] for i in range(size)] for j in range(size)]
            result = []
            for row in columns$order:
                result.append(list($good))
            return result
        """,
        ),
        wrong=(
            "",
            """
            size = len(matrix)
            columns = [[matrix[i][j] for i in range(size)] for j in range(size)]
            result = []
            for row in columns$bad_order:
                result.append(list($bad))
            return result
        """,
        ),
        inputs=[
            ([[1, 2], [3, 4]],),
            ([[5]],),
            ([],),
            *[(_matrix(rng, k, k),) for k in [rng.randint(2, 4) for _ in range(rng.randint(1, 3))]],
        ],
    )


def t_to_base(rng: random.Random) -> Spec:
    base = rng.choice([2, 3, 5, 7, 8])
    return Spec(
        entry_point=f"to_base_{base}",
        signature="n: int",
        subs={"base": base},
        doc="Return the base-$base representation of the integer n, with a '-' if negative.",
        correct=(
            "",
            """
            if n < 0:
                return "-" + $name(-n)
            if n == 0:
                return "0"
            digits = []
            while n > 0:
                digits.append(str(n % $base))
                n //= $base
            return "".join(reversed(digits))
        """,
        ),
        wrong=(
            "",
            """
            if n < 0:
                return "-" + $name(-n)
            digits = []
            while n > 0:
                digits.append(str(n % $base))
                n //= $base
            return "".join(reversed(digits))
        """,
        ),
        inputs=[
            (0,),
            (1,),
            (base,),
            *[(rng.randint(-500, 5000),) for _ in range(rng.randint(1, 5))],
        ],
    )


def t_anagram(rng: random.Random) -> Spec:
    def shuffled(word: str) -> str:
        letters = list(word)
        rng.shuffle(letters)
        return "".join(letters)

    pairs = [(w, shuffled(w)) for w in _words(rng, rng.randint(1, 3))]
    return Spec(
        entry_point=rng.choice(["is_anagram", "are_anagrams", "same_letters"]),
        signature="first: str, second: str",
        subs={},
        doc="""Return True if the two strings are anagrams of each other, ignoring case and
            spaces.""",
        correct=(
            "",
            """
            def normalize(text):
                return sorted(text.replace(" ", "").lower())

            return normalize(first) == normalize(second)
        """,
        ),
        wrong=(
            "",
            """
            def normalize(text):
                return set(text.replace(" ", "").lower())

            return normalize(first) == normalize(second)
        """,
        ),
        inputs=[("aab", "abb"), ("Listen", "Silent"), ("abc", "abd"), *pairs],
    )


def t_max_subarray(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["max_subarray_sum", "best_segment", "max_contiguous_sum"]),
        signature="numbers: list[int]",
        subs={},
        doc="Return the largest sum of a non-empty contiguous part of a non-empty list.",
        correct=(
            "",
            """
            best = current = numbers[0]
            for value in numbers[1:]:
                current = max(value, current + value)
                best = max(best, current)
            return best
        """,
        ),
        wrong=(
            "",
            """
            best = current = 0
            for value in numbers:
                current = max(0, current + value)
                best = max(best, current)
            return best
        """,
        ),
        inputs=[
            ([-3, -1, -2],),
            ([5],),
            ([-2, 1, -3, 4, -1, 2, 1, -5, 4],),
            *[(_ints(rng, rng.randint(1, 9), -20, 20),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_two_sum(rng: random.Random) -> Spec:
    nums = _ints(rng, rng.randint(4, 8), 0, 20)
    i, j = sorted(rng.sample(range(len(nums)), 2))
    return Spec(
        entry_point=rng.choice(["two_sum", "pair_with_sum", "find_pair"]),
        signature="nums: list[int], target: int",
        subs={},
        doc="""Return the indices (i, j), i < j, of the first pair (by j, then i) with
            nums[i] + nums[j] == target, or None if there is none.""",
        correct=(
            "",
            """
            seen = {}
            for index, value in enumerate(nums):
                if target - value in seen:
                    return (seen[target - value], index)
                if value not in seen:
                    seen[value] = index
            return None
        """,
        ),
        wrong=(
            "",
            """
            seen = {}
            for index, value in enumerate(nums):
                if value not in seen:
                    seen[value] = index
                if target - value in seen:
                    return (seen[target - value], index)
            return None
        """,
        ),
        inputs=[
            ([3, 2, 4], 6),
            ([1, 2], 7),
            ([5, 5], 10),
            (nums, nums[i] + nums[j]),
            (nums, rng.randint(0, 40)),
        ],
    )


def t_flatten(rng: random.Random) -> Spec:
    def nested(depth: int) -> list[Any]:
        out: list[Any] = []
        for _ in range(rng.randint(1, 3)):
            out.append(nested(depth - 1) if depth and rng.random() < 0.5 else rng.randint(0, 9))
        return out

    return Spec(
        entry_point=rng.choice(["flatten", "flatten_list", "deep_flatten"]),
        signature="items: list",
        subs={},
        doc="Return the integers of an arbitrarily nested list, in order, as one flat list.",
        correct=(
            "",
            """
            result = []
            for item in items:
                if isinstance(item, list):
                    result.extend($name(item))
                else:
                    result.append(item)
            return result
        """,
        ),
        wrong=(
            "",
            """
            result = []
            for item in items:
                if isinstance(item, list):
                    result.extend(item)
                else:
                    result.append(item)
            return result
        """,
        ),
        inputs=[
            ([1, [2, [3, [4]]]],),
            ([],),
            ([[5], 6],),
            *[(nested(3),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_run_length(rng: random.Random) -> Spec:
    count_first = rng.random() < 0.5
    piece = "str(count) + previous" if count_first else "previous + str(count)"
    runs = [
        "".join(rng.choice("abc") * rng.randint(1, 4) for _ in range(rng.randint(1, 5)))
        for _ in range(rng.randint(1, 3))
    ]
    return Spec(
        entry_point=rng.choice(["run_length_encode", "rle", "compress"]),
        signature="s: str",
        subs={"piece": piece, "form": "'3a'" if count_first else "'a3'"},
        doc="Run-length encode s: each run of one character becomes $form.",
        correct=(
            "",
            """
            if not s:
                return ""
            pieces = []
            previous, count = s[0], 1
            for char in s[1:]:
                if char == previous:
                    count += 1
                else:
                    pieces.append($piece)
                    previous, count = char, 1
            pieces.append($piece)
            return "".join(pieces)
        """,
        ),
        wrong=(
            "",
            """
            if not s:
                return ""
            pieces = []
            previous, count = s[0], 1
            for char in s[1:]:
                if char == previous:
                    count += 1
                else:
                    pieces.append($piece)
                    previous, count = char, 1
            return "".join(pieces)
        """,
        ),
        inputs=[("aaabcc",), ("",), ("z",), *[(r,) for r in runs]],
    )


def t_caesar(rng: random.Random) -> Spec:
    shift = rng.randint(1, 25)
    return Spec(
        entry_point=rng.choice(["caesar", "shift_letters", "encode_shift"]),
        signature="text: str",
        subs={"shift": shift},
        doc="""Shift every lowercase letter of text $shift places forward in the alphabet,
            wrapping around after 'z'; other characters are unchanged.""",
        correct=(
            "",
            """
            result = []
            for char in text:
                if "a" <= char <= "z":
                    offset = (ord(char) - ord("a") + $shift) % 26
                    result.append(chr(ord("a") + offset))
                else:
                    result.append(char)
            return "".join(result)
        """,
        ),
        wrong=(
            "",
            """
            result = []
            for char in text:
                if "a" <= char <= "z":
                    result.append(chr(ord(char) + $shift))
                else:
                    result.append(char)
            return "".join(result)
        """,
        ),
        inputs=[
            ("xyz",),
            ("",),
            ("Hello, world!",),
            *[(" ".join(_words(rng, rng.randint(1, 4))),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_digital_root(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["digital_root", "repeated_digit_sum", "reduce_digits"]),
        signature="n: int",
        subs={},
        doc="Sum the digits of the non-negative n repeatedly until one digit is left.",
        correct=(
            "",
            """
            while n >= 10:
                total = 0
                while n:
                    total += n % 10
                    n //= 10
                n = total
            return n
        """,
        ),
        wrong=(
            "",
            """
            if n >= 10:
                total = 0
                while n:
                    total += n % 10
                    n //= 10
                n = total
            return n
        """,
        ),
        inputs=[
            (9875,),
            (0,),
            (7,),
            *[(rng.randint(10, 10**9),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_most_common(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["most_common_word", "top_word", "frequent_word"]),
        signature="text: str",
        subs={},
        doc="""Return the most frequent word of text (words split on whitespace, lowercased);
            among words equally frequent, the alphabetically first. '' for empty text.""",
        correct=(
            "",
            """
            counts = {}
            for word in text.lower().split():
                counts[word] = counts.get(word, 0) + 1
            if not counts:
                return ""
            best = max(counts.values())
            return min(word for word, count in counts.items() if count == best)
        """,
        ),
        wrong=(
            "",
            """
            counts = {}
            for word in text.lower().split():
                counts[word] = counts.get(word, 0) + 1
            if not counts:
                return ""
            best = max(counts.values())
            return [word for word, count in counts.items() if count == best][0]
        """,
        ),
        inputs=[
            ("pear apple pear apple",),
            ("",),
            ("One one two",),
            *[(" ".join(_words(rng, rng.randint(2, 10))),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_common_prefix(rng: random.Random) -> Spec:
    stem = rng.choice(["inter", "trans", "pre", "flow", "sub"])
    return Spec(
        entry_point=rng.choice(["longest_common_prefix", "common_prefix", "shared_start"]),
        signature="strings: list[str]",
        subs={},
        doc="Return the longest string that is a prefix of every string in the list.",
        correct=(
            "",
            """
            if not strings:
                return ""
            prefix = strings[0]
            for text in strings[1:]:
                i = 0
                while i < len(prefix) and i < len(text) and prefix[i] == text[i]:
                    i += 1
                prefix = prefix[:i]
            return prefix
        """,
        ),
        wrong=(
            "",
            """
            if not strings:
                return ""
            prefix = strings[0]
            for text in strings[1:]:
                i = 0
                while i < len(prefix) - 1 and i < len(text) and prefix[i] == text[i]:
                    i += 1
                prefix = prefix[:i]
            return prefix
        """,
        ),
        inputs=[
            ([stem, stem + "view", stem + "net"],),
            ([],),
            (["dog", "cat"],),
            ([stem + w for w in _words(rng, rng.randint(2, 4))],),
        ],
    )


def t_dedupe(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["remove_duplicates", "unique_in_order", "dedupe"]),
        signature="items: list[int]",
        subs={},
        doc="Return the items without repeats, each kept at its first position.",
        correct=(
            "",
            """
            seen = set()
            result = []
            for item in items:
                if item not in seen:
                    seen.add(item)
                    result.append(item)
            return result
        """,
        ),
        wrong=(
            "",
            """
            result = sorted(set(items))
            return result
        """,
        ),
        inputs=[
            ([3, 1, 3, 2, 1],),
            ([],),
            ([4, 4],),
            *[(_ints(rng, rng.randint(2, 10), 0, 6),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_factorial(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["factorial", "fact", "product_up_to"]),
        signature="n: int",
        subs={},
        doc="Return n! for a non-negative integer n (0! is 1).",
        correct=(
            "",
            """
            if n < 0:
                raise ValueError("n must be non-negative")
            if n <= 1:
                return 1
            return n * $name(n - 1)
        """,
        ),
        wrong=(
            "",
            """
            if n < 0:
                raise ValueError("n must be non-negative")
            if n <= 1:
                return n
            return n * $name(n - 1)
        """,
        ),
        inputs=[(0,), (1,), (5,), *[(rng.randint(2, 25),) for _ in range(rng.randint(1, 4))]],
    )


def t_pascal_row(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["pascal_row", "binomial_row", "triangle_row"]),
        signature="n: int",
        subs={},
        doc="Return row n of Pascal's triangle (row 0 is [1]).",
        correct=(
            "",
            """
            row = [1]
            for _ in range(n):
                next_row = [1]
                for left, right in zip(row, row[1:]):
                    next_row.append(left + right)
                next_row.append(1)
                row = next_row
            return row
        """,
        ),
        wrong=(
            "",
            """
            row = [1]
            for _ in range(n - 1):
                next_row = [1]
                for left, right in zip(row, row[1:]):
                    next_row.append(left + right)
                next_row.append(1)
                row = next_row
            return row
        """,
        ),
        inputs=[(0,), (1,), (4,), *[(rng.randint(2, 20),) for _ in range(rng.randint(1, 4))]],
    )


def t_brackets(rng: random.Random) -> Spec:
    pairs = rng.choice(["()", "()[]{}", "[]", "<>()"])
    opening, closing = pairs[0::2], pairs[1::2]
    o, c = opening[0], closing[0]
    o2, c2 = opening[-1], closing[-1]

    def sample() -> str:
        depth: list[int] = []
        out = []
        for _ in range(rng.randint(2, 10)):
            if depth and rng.random() < 0.5:
                out.append(closing[depth.pop()])
            else:
                k = rng.randrange(len(opening))
                depth.append(k)
                out.append(opening[k])
        return "".join(out + [closing[k] for k in reversed(depth)])

    wrong_input = c + o if len(opening) == 1 else o + c2
    return Spec(
        entry_point=rng.choice(["is_balanced", "balanced", "brackets_match"]),
        signature="s: str",
        subs={"opening": opening, "closing": closing, "pairs": pairs},
        doc="Return True if the brackets $pairs in s are balanced and properly nested.",
        correct=(
            "",
            """
            stack = []
            for char in s:
                if char in "$opening":
                    stack.append(char)
                elif char in "$closing":
                    if not stack or "$opening".index(stack.pop()) != "$closing".index(char):
                        return False
            return not stack
        """,
        ),
        wrong=(
            "",
            """
            count = 0
            for char in s:
                if char in "$opening":
                    count += 1
                elif char in "$closing":
                    count -= 1
            return count == 0
        """,
        ),
        inputs=[
            (wrong_input,),
            ("",),
            (o + o2 + c2 + c,),
            (o + o,),
            *[(sample(),) for _ in range(rng.randint(0, 4))],
        ],
    )


def t_multiples(rng: random.Random) -> Spec:
    a, b = rng.sample([2, 3, 4, 5, 6, 7], 2)
    return Spec(
        entry_point=f"sum_multiples_{a}_{b}",
        signature="limit: int",
        subs={"a": a, "b": b},
        doc="Return the sum of the positive integers below limit divisible by $a or by $b.",
        correct=(
            "",
            """
            total = 0
            for value in range(1, limit):
                if value % $a == 0 or value % $b == 0:
                    total += value
            return total
        """,
        ),
        wrong=(
            "",
            """
            total = 0
            for value in range(1, limit + 1):
                if value % $a == 0 or value % $b == 0:
                    total += value
            return total
        """,
        ),
        inputs=[(a * b,), (1,), (10,), *[(rng.randint(2, 500),) for _ in range(rng.randint(1, 4))]],
    )


def t_chunks(rng: random.Random) -> Spec:
    size = rng.randint(2, 4)
    return Spec(
        entry_point=rng.choice(["chunk", "split_into_chunks", "batched"]),
        signature="items: list[int]",
        subs={"size": size},
        doc="Split items into consecutive lists of $size; the last one may be shorter.",
        correct=(
            "",
            """
            result = []
            for start in range(0, len(items), $size):
                result.append(items[start:start + $size])
            return result
        """,
        ),
        wrong=(
            "",
            """
            result = []
            for start in range(0, len(items) - $size + 1, $size):
                result.append(items[start:start + $size])
            return result
        """,
        ),
        inputs=[
            (list(range(size + 1)),),
            ([],),
            (list(range(size)),),
            *[(_ints(rng, rng.randint(1, 11), 0, 9),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_collatz(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["collatz_steps", "steps_to_one", "hailstone_length"]),
        signature="n: int",
        subs={},
        doc="""Return how many Collatz steps (n -> n / 2 if even, else 3n + 1) take the
            positive n to 1.""",
        correct=(
            "",
            """
            steps = 0
            while n != 1:
                if n % 2 == 0:
                    n //= 2
                else:
                    n = 3 * n + 1
                steps += 1
            return steps
        """,
        ),
        wrong=(
            "",
            """
            steps = 1
            while n != 1:
                if n % 2 == 0:
                    n //= 2
                else:
                    n = 3 * n + 1
                steps += 1
            return steps
        """,
        ),
        inputs=[(1,), (6,), (27,), *[(rng.randint(2, 1000),) for _ in range(rng.randint(1, 4))]],
    )


def _roman(value: int) -> str:
    table = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ]
    out = []
    for number, letters in table:
        while value >= number:
            out.append(letters)
            value -= number
    return "".join(out)


def t_roman(rng: random.Random) -> Spec:
    values = """
        VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    """
    return Spec(
        entry_point=rng.choice(["roman_to_int", "parse_roman", "from_roman"]),
        signature="numeral: str",
        subs={},
        doc="Return the value of a Roman numeral such as 'XIV' or 'MCMXCIV'.",
        correct=(
            values,
            """
            total = 0
            for i, char in enumerate(numeral):
                value = VALUES[char]
                if i + 1 < len(numeral) and VALUES[numeral[i + 1]] > value:
                    total -= value
                else:
                    total += value
            return total
        """,
        ),
        wrong=(
            values,
            """
            total = 0
            for char in numeral:
                total += VALUES[char]
            return total
        """,
        ),
        inputs=[
            ("IV",),
            ("III",),
            ("MCMXCIV",),
            *[(_roman(rng.randint(1, 3999)),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_second_largest(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["second_largest", "runner_up", "next_largest"]),
        signature="numbers: list[int]",
        subs={},
        doc="Return the second largest distinct value, or None if there are fewer than two.",
        correct=(
            "",
            """
            distinct = sorted(set(numbers))
            if len(distinct) < 2:
                return None
            return distinct[-2]
        """,
        ),
        wrong=(
            "",
            """
            if len(numbers) < 2:
                return None
            ordered = sorted(numbers)
            return ordered[-2]
        """,
        ),
        inputs=[
            ([5, 5, 3],),
            ([],),
            ([1, 2],),
            *[(_ints(rng, rng.randint(1, 8), 0, 9),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_reverse_words(rng: random.Random) -> Spec:
    return Spec(
        entry_point=rng.choice(["reverse_words", "words_backwards", "flip_sentence"]),
        signature="sentence: str",
        subs={},
        doc="""Return the words of sentence in reverse order, separated by single spaces
            (runs of whitespace and leading or trailing spaces are dropped).""",
        correct=(
            "",
            """
            words = sentence.split()
            words.reverse()
            return " ".join(words)
        """,
        ),
        wrong=(
            "",
            """
            words = sentence.split(" ")
            words.reverse()
            return " ".join(words)
        """,
        ),
        inputs=[
            ("  hello   world ",),
            ("",),
            ("one",),
            *[(" ".join(_words(rng, rng.randint(2, 6))),) for _ in range(rng.randint(1, 4))],
        ],
    )


def t_palindrome(rng: random.Random) -> Spec:
    words = _words(rng, rng.randint(1, 3))
    phrase = " ".join(words)
    return Spec(
        entry_point=rng.choice(["is_palindrome", "palindrome_check", "reads_same_backwards"]),
        signature="text: str",
        subs={},
        doc="""Return True if text reads the same forwards and backwards, looking only at
            letters and digits and ignoring case.""",
        correct=(
            "",
            """
            cleaned = [char.lower() for char in text if char.isalnum()]
            left, right = 0, len(cleaned) - 1
            while left < right:
                if cleaned[left] != cleaned[right]:
                    return False
                left += 1
                right -= 1
            return True
        """,
        ),
        wrong=(
            "",
            """
            cleaned = [char.lower() for char in text]
            left, right = 0, len(cleaned) - 1
            while left < right:
                if cleaned[left] != cleaned[right]:
                    return False
                left += 1
                right -= 1
            return True
        """,
        ),
        inputs=[
            ("A man, a plan, a canal: Panama",),
            ("",),
            ("abca",),
            (phrase + phrase[::-1].title(),),
            (phrase,),
        ],
    )


TEMPLATES: dict[str, Callable[[random.Random], Spec]] = {
    name[2:]: fn for name, fn in globals().items() if name.startswith("t_") and callable(fn)
}


def make_tasks(n: int = 200, seed: int = 0) -> list[Task]:
    """n tasks cycling through the templates in a seeded order; round(15% of n) are wrong."""
    rng = random.Random(seed)
    names = sorted(TEMPLATES)
    rng.shuffle(names)
    wrong = set(rng.sample(range(n), round(WRONG_SHARE * n)))
    tasks = []
    for i in range(n):
        template = names[i % len(names)]
        spec = TEMPLATES[template](rng)
        tasks.append(_build(f"code-{i}", template, spec, i in wrong, rng))
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tasks = make_tasks(args.tasks, args.seed)
    lines = [t.solution.count("\n") + 1 for t in tasks]
    asserts = [t.test.count("assert ") for t in tasks]
    print(
        f"tasks: {len(tasks)} from {len(TEMPLATES)} templates, "
        f"{sum(not t.correct for t in tasks)} wrong, "
        f"{len({t.program() for t in tasks})} distinct programs"
    )
    print(
        f"solution lines: {min(lines)}-{max(lines)} (mean {sum(lines) / len(lines):.1f}); "
        f"asserts per test: {dict(sorted(Counter(asserts).items()))}"
    )
    print(f"example, task 0 ({'correct' if tasks[0].correct else 'wrong'} solution):")
    print(tasks[0].completion() + tasks[0].test)


if __name__ == "__main__":
    main()
