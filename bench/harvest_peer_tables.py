"""One-off harvest of peer projects' labelled grader tests into the `math` corpus.

Writes `tests/verifiers/math_corpus/peer_tables.jsonl` (schema: that folder's README) from the
labelled (gold, prediction, expected) cases in the tests of three peer projects:

- huggingface/Math-Verify `tests/*.py`: `pytest.mark.parametrize` tables run through
  `compare_strings` (or `verify(parse(gold), parse(pred))`); the harness call in each test's body
  says which extraction configs, precision and flags the table runs with;
- huggingface/open-r1 `tests/test_rewards.py` and huggingface/trl `tests/test_rewards.py` plus
  the doctest examples of `trl/rewards/accuracy_rewards.py`: calls of `accuracy_reward`,
  `reasoning_accuracy_reward` and the cosine-scaled reward, with the asserted rewards as labels
  (1.0 or a positive cosine reward: accept; 0.0 or a negative one: reject).

Everything is read with `ast` (a small evaluator for the literal lists, string concatenation and
loops the reward tests use), never imported or run. Cases whose setting has no equivalent in our
scorer are dropped with a reason (see `drop_reason_mv` and `drop_reason_reward`); exact
duplicates within one peer project are kept once. Families and `why` come from the test names,
the comment above each row and a few content rules; the labels are the peers' own, and the few
that are mathematically wrong are kept but marked `peer_label_disputed` (see `DISPUTED`).

Not part of CI: it needs the peers' git history, fetched over the network. To rerun:

    git clone --bare https://github.com/huggingface/Math-Verify /tmp/peers/Math-Verify
    git clone --bare https://github.com/huggingface/open-r1 /tmp/peers/open-r1
    git clone --bare https://github.com/huggingface/trl /tmp/peers/trl
    python bench/harvest_peer_tables.py --git-dir Math-Verify=/tmp/peers/Math-Verify \
        --git-dir open-r1=/tmp/peers/open-r1 --git-dir trl=/tmp/peers/trl

(the default git dirs are the `/work/.mirror/huggingface+<name>/repo` snapshots of the `fetch`
tool). Files are read at each repository's HEAD, whose commit goes into every `source`; the
summary of harvested, dropped and duplicate cases per test is printed to stderr.
"""

from __future__ import annotations

import argparse
import ast
import doctest
import io
import json
import re
import subprocess
import sys
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OWNER = "huggingface"
DEFAULT_GIT_DIRS = {
    name: Path(f"/work/.mirror/{OWNER}+{name}/repo") for name in ("Math-Verify", "open-r1", "trl")
}
OUT = Path(__file__).resolve().parent.parent / "tests/verifiers/math_corpus/peer_tables.jsonl"

MV_TEST_FILES = (
    "tests/test_all.py",
    "tests/test_boxed.py",
    "tests/test_numina_cases.py",
    "tests/test_open_thoughts.py",
    "tests/test_strict.py",
    "tests/test_yujianll.py",
    "tests/test_string_extraction.py",
)
"""Math-Verify test files holding tables (test_configs, test_timeout and test_raise_on_error
check parser options and timeouts on single strings: no gold/prediction pairs)."""
REWARD_TEST_FILES = {"open-r1": ("tests/test_rewards.py",), "trl": ("tests/test_rewards.py",)}
REWARD_DOC_FILES = {"trl": ("trl/rewards/accuracy_rewards.py",)}
REWARD_FUNCS = {"accuracy_reward", "reasoning_accuracy_reward", "cosine_scaled_reward"}
"""`len_reward` (open-r1) is left out: its tests rank completions by length against each
other, and which completions are correct is said only in comments."""

DEFAULT_PRECISION = 6
PROSE_WORDS = 12
"""A gold with this many words outside math is a solution text, not an answer."""

# (test name, gold, completion) -> why the peer's label is mathematically wrong.
DISPUTED: dict[tuple[str, str, str], str] = {
    (
        "test_string_extraction",
        "$1 - \\frac{1}{\\mathrm{e}}$",
        "$1 + \\frac{1}{\\mathrm{e}}$",
    ): "1 + 1/e != 1 - 1/e; the peer expects a match",
    (
        "test_set_rel_assymetry",
        "$x \\in [-2,7]$",
        "$-2 \\\\le x \\\\le 7$",
    ): "-2 <= x <= 7 is the same set as x in [-2, 7]; the peer expects no match "
    "(math-verify's allow_set_relation_comp=False default, not a mathematical judgement)",
    (
        "test_latex_notation",
        "$9$",
        "Answer $ \n 9 \n $",
    ): "the answer 9 is stated; refusing inline math that spans lines is a parser policy",
    (
        "test_latex_notation",
        "$9$",
        "Answer \\( \n 9 \n \\)",
    ): "the answer 9 is stated; refusing inline math that spans lines is a parser policy",
    (
        "test_relations_math",
        "$x = 11$",
        "$x = 5+5+1 = 7 =11$",
    ): "the answer asserts 5+5+1 = 7 = 11, a false equality chain",
    (
        "test_relations_math",
        "$x = 1/3$",
        "$x = 5+5+1 = 1/3 \\approx 11$",
    ): "the answer asserts 5+5+1 = 1/3 and 1/3 ~ 11",
    (
        "test_relations_math",
        "$1/3$",
        "$x=1/3\\approx1.3$",
    ): "the answer asserts 1/3 ~ 1.3",
    (
        "test_relations_math",
        "$z = 1 + 1 = 2$",
        "$z = 3+3 = 2$",
    ): "the answer asserts 3+3 = 2",
}

# (test name, gold, completion) -> the scorer parameter whose strict default refuses this right
# answer (README: unevaluated arithmetic or an unreduced fraction for a number gold).
STRICT: dict[tuple[str, str, str], str] = {
    ("test_latex_notation", "$10$", "Answer \\( (9+1) \\)"): "allow_unsimplified",
    ("test_latex_notation", "$1$", "$\\frac3{3} $"): "allow_unsimplified",
}


@dataclass
class Case:
    repo: str
    commit: str
    path: str
    test: str
    gold: str
    completion: str
    expected: bool
    comment: str
    drop: str | None = None

    @property
    def source(self) -> str:
        return f"{OWNER}/{self.repo}@{self.commit}:{self.path}::{self.test}"


# --- git ---------------------------------------------------------------------------------


def git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True
    ).stdout


def comments_by_line(source: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            found[tok.start[0]] = tok.string.lstrip("#").strip()
    return found


def comment_for(comments: dict[int, str], after: int, last: int) -> str:
    """Comments between the previous row (line `after`) and the end of this one (`last`),
    leaving out commented-out rows."""
    lines = [comments[n] for n in range(after + 1, last + 1) if n in comments]
    return " ".join(c for c in lines if not re.match(r"[()\[\]'\"]|r\"|\d,?$", c))


# --- Math-Verify tables ------------------------------------------------------------------


def _parametrize(fn: ast.FunctionDef) -> tuple[list[str], ast.List] | None:
    for dec in fn.decorator_list:
        if (
            isinstance(dec, ast.Call)
            and isinstance(dec.func, ast.Attribute)
            and dec.func.attr == "parametrize"
        ):
            names = ast.literal_eval(dec.args[0])
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else names
            table = dec.args[1]
            assert isinstance(table, ast.List)
            return list(names), table
    return None


def _harness(fn: ast.FunctionDef) -> dict[str, Any]:
    """The grading setting of a test body: its compare_strings / verify / parse call."""
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if node.func.id == "compare_strings":
            setting: dict[str, Any] = {"harness": "compare_strings"}
            mt = kw.get("match_types")
            setting["match_types"] = ast.literal_eval(mt) if mt else ["latex", "expr"]
            for name, default in (
                ("precision", DEFAULT_PRECISION),
                ("strict", True),
                ("allow_set_relation_comp", False),
            ):
                value = kw.get(name)
                if value is None:
                    setting[name] = default
                elif isinstance(value, ast.Name):
                    setting[name] = ("param", value.id)
                else:
                    setting[name] = ast.literal_eval(value)
            return setting
        if node.func.id == "verify":
            return {"harness": "verify(parse(gold), parse(pred))", "match_types": ["latex", "expr"]}
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "parse":
            return {"harness": "parse(pred, [StringExtractionConfig])"}
    return {"harness": None}


def _prose_words(gold: str) -> int:
    """Words in the gold outside `\\text{...}`-like commands and variable names."""
    text = re.sub(r"\\[A-Za-z]+(\{[^{}]*\})?", " ", gold)
    return len(re.findall(r"(?<![A-Za-z])[A-Za-z]{2,}", text))


def _control_chars(text: str) -> bool:
    return any(ord(ch) < 32 and ch != "\n" for ch in text)


def drop_reason_mv(setting: dict[str, Any], gold: str, pred: str) -> str | None:
    harness = setting["harness"]
    if harness == "parse(pred, [StringExtractionConfig])":
        return "string extraction of a letter from the prediction alone: no gold, no verdict"
    if setting["match_types"] == ["expr"]:
        return (
            "expression-only extraction (ExprExtractionConfig) of raw non-LaTeX text with no "
            "box or marker: a reading mode our scorer does not have"
        )
    if setting.get("precision", DEFAULT_PRECISION) != DEFAULT_PRECISION:
        return f"float_rounding={setting['precision']}: a precision setting we do not have"
    if setting.get("strict", True) is not True:
        return "strict=False (variables renamed freely): a setting we do not have"
    if setting.get("allow_set_relation_comp", False) is not False:
        return "allow_set_relation_comp=True: a setting we do not have"
    if _control_chars(gold) or _control_chars(pred):
        return "a Python escape accident (`\\t`, `\\f` in a non-raw string) broke the strings"
    if _prose_words(gold) >= PROSE_WORDS:
        return "the gold is a whole solution text, not an answer"
    if gold.startswith("$1 = \\zzz"):
        return "the gold `1 = \\zzz = x = 0` is not an answer (it asserts 1 = 0)"
    return None


def harvest_math_verify(git_dir: Path, commit: str) -> list[Case]:
    cases: list[Case] = []
    for path in MV_TEST_FILES:
        source = git(git_dir, "show", f"HEAD:{path}")
        comments = comments_by_line(source)
        for fn in ast.walk(ast.parse(source)):
            if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test_"):
                continue
            param = _parametrize(fn)
            setting = _harness(fn)
            if param is None:
                if setting["harness"] == "compare_strings":  # test_precision's one string case
                    for call in ast.walk(fn):
                        if getattr(getattr(call, "func", None), "id", None) != "compare_strings":
                            continue
                        assert isinstance(call, ast.Call)
                        gold, pred = (ast.literal_eval(a) for a in call.args[:2])
                        case = Case("Math-Verify", commit, path, fn.name, gold, pred, True, "")
                        case.drop = drop_reason_mv(setting, gold, pred)
                        cases.append(case)
                continue
            names, table = param
            prev_end = table.lineno
            for row in table.elts:
                assert isinstance(row, ast.Tuple)
                comment = comment_for(comments, prev_end, row.end_lineno or row.lineno)
                prev_end = row.end_lineno or row.lineno
                if setting["harness"] == "parse(pred, [StringExtractionConfig])":
                    case = Case("Math-Verify", commit, path, fn.name, "", "", True, comment)
                    case.drop = drop_reason_mv(setting, "", "")
                    cases.append(case)
                    continue
                try:
                    values = dict(zip(names, (ast.literal_eval(e) for e in row.elts), strict=True))
                except ValueError:  # an f-string gold (test_float_precision): a float of sqrt(17)
                    values = {"gold": ast.unparse(row.elts[0]), "pred": "", "expected": 1}
                row_setting = {
                    k: values[v[1]] if isinstance(v, tuple) else v for k, v in setting.items()
                }
                expected = values.get("expected", values.get("result"))
                case = Case(
                    "Math-Verify",
                    commit,
                    path,
                    fn.name,
                    values["gold"],
                    values["pred"],
                    bool(expected),
                    comment,
                )
                case.drop = drop_reason_mv(row_setting, case.gold, case.completion)
                cases.append(case)
    return cases


# --- reward-function tests (open-r1, trl) ------------------------------------------------


@dataclass
class Approx:
    value: float


@dataclass
class RewardFn:
    name: str


@dataclass
class RewardCall:
    fn: str
    completions: list[str]
    solutions: list[str]
    kwargs: dict[str, Any]


class Unknown:
    """A value the evaluator does not model (token ids, threads, mocks)."""


def _evaluate(node: ast.expr, env: dict[str, Any]) -> Any:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.List(elts=elts) | ast.Tuple(elts=elts):
            return [_evaluate(e, env) for e in elts]
        case ast.Dict(keys=keys, values=values):
            return {
                _evaluate(k, env): _evaluate(v, env)
                for k, v in zip(keys, values, strict=True)
                if k is not None
            }
        case ast.Name(id=name):
            return env.get(name, Unknown())
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            value = _evaluate(operand, env)
            return -value if isinstance(value, int | float) else Unknown()
        case ast.BinOp(left=left, op=op, right=right):
            a, b = _evaluate(left, env), _evaluate(right, env)
            try:
                if isinstance(op, ast.Add):
                    return a + b
                if isinstance(op, ast.Sub):
                    return a - b
                if isinstance(op, ast.Mult):
                    return a * b
            except TypeError:
                return Unknown()
            return Unknown()
        case ast.Call(func=func, args=args, keywords=keywords):
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            fval = _evaluate(func, env) if isinstance(func, ast.Name) else None
            arg_values = [_evaluate(a, env) for a in args]
            kwargs = {k.arg: _evaluate(k.value, env) for k in keywords if k.arg}
            if fname == "approx":
                value = arg_values[0]
                return Approx(float(value)) if isinstance(value, int | float) else Unknown()
            if fname == "len" and arg_values and isinstance(arg_values[0], str | list):
                return len(arg_values[0])
            if fname == "get_cosine_scaled_reward":
                return RewardFn("cosine_scaled_reward")
            if fname in ("loads", "dumps") and arg_values:
                return arg_values[0]  # pickle round trip of a reward function
            reward_name = fval.name if isinstance(fval, RewardFn) else fname
            if isinstance(func, ast.Call):
                inner = _evaluate(func, env)
                reward_name = inner.name if isinstance(inner, RewardFn) else None
            if reward_name in REWARD_FUNCS and len(arg_values) >= 2:
                completions, solutions = arg_values[0], arg_values[1]
                if isinstance(completions, list) and isinstance(solutions, list):
                    contents = [c[0]["content"] for c in completions]
                    assert reward_name is not None
                    return RewardCall(reward_name, contents, list(solutions), kwargs)
            return Unknown()
        case _:
            return Unknown()


def _label(value: Any) -> bool | Unknown | None:
    if isinstance(value, Approx):
        return value.value > 0
    if value is None:
        return None
    if isinstance(value, int | float):
        return value > 0  # 1.0 / 0.0, or a cosine-scaled reward: negative when wrong
    return Unknown()


def _assertions(node: ast.stmt, env: dict[str, Any]) -> list[tuple[RewardCall, int, Any]]:
    """(call, index, asserted reward) triples of one assert statement."""
    pairs: list[tuple[ast.expr, ast.expr]] = []
    if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
        op = node.test.ops[0]
        right = node.test.comparators[0]
        is_none = isinstance(op, ast.Is) and isinstance(right, ast.Constant) and right.value is None
        if isinstance(op, ast.Eq) or is_none:
            pairs.append((node.test.left, right))
    elif (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr in ("assertEqual", "assertAlmostEqual")
    ):
        pairs.append((node.value.args[0], node.value.args[1]))
    found: list[tuple[RewardCall, int, Any]] = []
    for left, right in pairs:
        expected = _evaluate(right, env)
        if isinstance(left, ast.Subscript):
            call = _evaluate(left.value, env)
            index = _evaluate(left.slice, env)
            if isinstance(call, RewardCall) and isinstance(index, int):
                found.append((call, index, expected))
        else:
            call = _evaluate(left, env)
            if isinstance(call, RewardCall) and isinstance(expected, list):
                found.extend((call, i, e) for i, e in enumerate(expected))
    return found


def _run(body: list[ast.stmt], env: dict[str, Any], out: list[tuple[RewardCall, int, Any]]) -> None:
    for stmt in body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            env[stmt.targets[0].id] = _evaluate(stmt.value, env)
        elif isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Tuple | ast.Name):
            items = _evaluate(stmt.iter, env)
            if not isinstance(items, list):
                continue
            for item in items:
                if isinstance(stmt.target, ast.Name):
                    env[stmt.target.id] = item
                else:
                    for target, value in zip(stmt.target.elts, item, strict=True):
                        assert isinstance(target, ast.Name)
                        env[target.id] = value
                _run(stmt.body, env, out)
        else:
            out.extend(_assertions(stmt, env))


def drop_reason_reward(call: RewardCall, completion: str, label: bool | None) -> str | None:
    if label is None:
        return "the gold is not an answer (unparsable gold, the peer expects reward None)"
    delimiters = call.kwargs.get("reasoning_delimiters", ["</think>"])
    if call.fn == "reasoning_accuracy_reward" and delimiters != ["</think>"]:
        return f"custom reasoning delimiters {delimiters}: a setting we do not have"
    if (
        call.fn == "reasoning_accuracy_reward"
        and "</think>" not in completion
        and "<think>" not in completion
    ):
        return (
            "trl's reasoning reward gives 0 to any completion without `</think>` (a format "
            "policy); our scorer reads a think-less completion as all answer part"
        )
    return None


def _reward_cases(
    repo: str, commit: str, path: str, test: str, found: list[tuple[RewardCall, int, Any]]
) -> list[Case]:
    cases = []
    for call, index, asserted in found:
        label = _label(asserted)
        if isinstance(label, Unknown):
            continue
        completion, gold = call.completions[index], call.solutions[index]
        case = Case(repo, commit, path, test, gold, completion, bool(label), "")
        case.drop = drop_reason_reward(call, completion, label)
        cases.append(case)
    return cases


def harvest_rewards(repo: str, git_dir: Path, commit: str) -> list[Case]:
    cases: list[Case] = []
    for path in REWARD_TEST_FILES.get(repo, ()):
        tree = ast.parse(git(git_dir, "show", f"HEAD:{path}"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test_"):
                found: list[tuple[RewardCall, int, Any]] = []
                _run(fn.body, {}, found)
                cases += _reward_cases(repo, commit, path, fn.name, found)
    for path in REWARD_DOC_FILES.get(repo, ()):
        tree = ast.parse(git(git_dir, "show", f"HEAD:{path}"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or (doc := ast.get_docstring(fn)) is None:
                continue
            env: dict[str, Any] = {}
            found = []
            for example in doctest.DocTestParser().get_examples(doc):
                stmt = ast.parse(example.source).body[0]
                if isinstance(stmt, ast.Expr) and example.want.strip():
                    call = _evaluate(stmt.value, env)
                    if isinstance(call, RewardCall):
                        wanted = ast.literal_eval(example.want.split("```")[0].strip())
                        found.extend((call, i, w) for i, w in enumerate(wanted))
                else:
                    _run([stmt], env, found)
            cases += _reward_cases(repo, commit, path, f"{fn.name} (docstring example)", found)
    return cases


# --- families and why --------------------------------------------------------------------

_UNIT_RE = re.compile(r"miles|\bcm\b|meters|yuan|\^\\circ")
_MATRIX_RE = re.compile(r"\\begin\{[pb]matrix\}|\\begin\{array\}")
_INTERVAL_RE = re.compile(r"\\cup|\\infty|^[\[(][^,]*,[^,]*[\])]$")
_RELATION_RE = re.compile(r"<|>|\\le|\\ge|\\lt|\\gt|\\neq|!=|\\in\b")
_TUPLE_RE = re.compile(r"(?:[^=]+=\s*)?\([^()\[\]]*,[^()\[\]]*\)")
_THOUSANDS_RE = re.compile(r"\d,\\!\s?\d{3}|\d, \d{3}\b|\d\{,\}\d{3}")
_RELATION_TESTS = ("test_relations_math", "test_sets_handling", "test_set_rel_assymetry")
_EXTRACTION_TESTS = ("test_math_extraction_edge_cases", "test_math_extraction_additional_cases")


def _unbox(text: str) -> str:
    """`\\boxed{X}` -> `X` throughout (braces matched)."""
    while (at := text.find("\\boxed{")) >= 0:
        depth, end = 0, len(text)
        for i in range(at + 6, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                end = i
                break
        text = text[:at] + text[at + 7 : end] + text[end + 1 :]
    return text


def _math_content(gold: str) -> str:
    """The gold without math delimiters, boxes and one pair of grouping braces."""
    text = re.sub(r"\$|\\\[|\\\]|\\\(|\\\)", "", _unbox(gold)).strip().rstrip(".").strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return text


def _top_level_parts(gold: str) -> int:
    depth, parts = 0, 1
    for ch in _math_content(gold):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        elif ch in ",;" and depth == 0:
            parts += 1
    if re.search(r"\band\b|\bor\b|\}\s*or|\\boxed\{[^}]*\}.*\\boxed", gold):
        parts += 1
    return parts


def family_of(case: Case) -> str:
    """Our best family for a case, from the test name and a few content rules."""
    gold, pred, test = case.gold, case.completion, case.test
    content = _math_content(gold)
    if "<think>" in pred and ("</think>" not in pred or "\\boxed" in pred.split("</think>")[0]):
        return "extraction"
    if test == "test_percent_notation" or "%" in gold:
        return "percentage"
    if test == "test_latex_notation":
        if pred.startswith("Answer") or "\\boxed" in pred:
            return "extraction"
        if re.search(r"\\frac\d|\\frac\d\{|\\sqrt\d|\\left\(", pred):
            return "malformed_latex"
        if "meters" in pred:
            return "units"
        return "equation" if "=" in pred else "fraction"
    if test in _RELATION_TESTS:
        return "interval" if _RELATION_RE.search(gold + pred) or "[" in gold + pred else "equation"
    if test in _EXTRACTION_TESTS and (
        len(pred) > 300 or ("answer" in pred.lower() and "\\boxed" not in pred)
    ):
        return "extraction"
    if len(pred) > 300 and "\\boxed" not in pred:
        return "extraction"
    if re.fullmatch(r"\\text\{\(?[A-E]\)?\}|[A-E]", content):
        return "choice"
    if _MATRIX_RE.search(gold):
        return "expression"
    if re.fullmatch(r"\\text\{[A-Za-z ]+\}|[A-Za-z]+", content):
        return "text"
    if re.search(r"\d:\d", gold):
        return "equation" if "=" in gold else "time"
    if _THOUSANDS_RE.search(pred) and re.search(r"\d{4,}", gold):
        return "thousands"
    if re.search(r"\\cup|\\infty", content) or _RELATION_RE.search(content):
        return "interval"
    if _top_level_parts(gold) > 1 or "\\pm" in gold:
        return "multi_part"
    if _UNIT_RE.search(gold):
        return "units"
    if _INTERVAL_RE.search(content) and ("[" in content or "]" in content):
        return "interval"
    if _TUPLE_RE.fullmatch(content):
        return "equation" if "=" in content else "multi_part"
    if "=" in gold:
        return "equation"
    if re.fullmatch(r"-?\\[dtc]?frac\{?\d+\}?\{?\d+\}?|-?\d+/\d+", content):
        return "fraction"
    if re.fullmatch(r"-?[\d.]+", content):
        return "number"
    return "expression"


_WHY_BY_FAMILY = {
    "extraction": "finds the final answer in a worked solution or past the reasoning",
    "multi_part": "several answers, in another order or layout",
    "interval": "an inequality, set or interval, written another way",
    "equation": "an equation or `name = value`, rearranged or bare",
    "expression": "an equivalent expression in another form",
    "fraction": "a fraction in another notation",
    "number": "a plain number",
    "text": "a text answer",
    "units": "a value with a unit",
    "percentage": "a percentage in another notation",
    "malformed_latex": "malformed but readable LaTeX",
    "time": "a clock time",
    "choice": "a choice letter in another notation",
    "thousands": "a number with thousands separators",
}


def why_of(case: Case, family: str) -> str:
    verdict = "match" if case.expected else "no match"
    text = _WHY_BY_FAMILY.get(family, family)
    if case.comment and case.comment.lower() != "failed":
        text = case.comment
    elif case.comment:  # test_percent_notation's `# failed` marks rows math-verify once failed
        text += f" (peer comment: {case.comment!r})"
    return f"{case.repo} expects {verdict}: {text}"[:160]


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--git-dir",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a peer's git dir (Math-Verify, open-r1, trl); default: the fetch tool's mirrors",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    git_dirs = dict(DEFAULT_GIT_DIRS)
    for item in args.git_dir:
        name, _, path = item.partition("=")
        git_dirs[name] = Path(path)

    cases: list[Case] = []
    for repo, git_dir in git_dirs.items():
        commit = git(git_dir, "rev-parse", "HEAD").strip()
        if repo == "Math-Verify":
            cases += harvest_math_verify(git_dir, commit)
        else:
            cases += harvest_rewards(repo, git_dir, commit)

    seen: set[tuple[str, str, str, bool]] = set()
    summary: Counter[tuple[str, str, str]] = Counter()
    lines: list[str] = []
    for case in cases:
        key = (case.repo, case.gold, case.completion.strip(), case.expected)
        if case.drop is not None:
            summary[(case.repo, f"{case.path}::{case.test}", f"dropped: {case.drop}")] += 1
            continue
        if key in seen:
            summary[(case.repo, f"{case.path}::{case.test}", "dropped: exact duplicate")] += 1
            continue
        seen.add(key)
        summary[(case.repo, f"{case.path}::{case.test}", "kept")] += 1
        family = family_of(case)
        record: dict[str, Any] = {
            "id": f"peer_tables-{len(lines) + 1}",
            "family": family,
            "source": case.source,
            "gold": case.gold,
            "completion": case.completion,
            "answer": "any",
            "expected": "accept" if case.expected else "reject",
            "why": why_of(case, family),
        }
        strict = STRICT.get((case.test, case.gold, case.completion))
        if strict is not None:
            record["strict"] = strict
        disputed = DISPUTED.get((case.test, case.gold, case.completion))
        if disputed is not None:
            record["peer_label_disputed"] = disputed
        lines.append(json.dumps(record, ensure_ascii=False))
    args.out.write_text("\n".join(lines) + "\n")

    for (repo, test, outcome), n in sorted(summary.items()):
        print(f"{repo:12} {test:45} {n:4}  {outcome}", file=sys.stderr)
    total = Counter(repo for (repo, _, outcome), n in summary.items() for _ in range(n))
    kept = Counter(
        repo for (repo, _, outcome), n in summary.items() if outcome == "kept" for _ in range(n)
    )
    for repo in total:
        print(f"{repo}: {total[repo]} harvested, {kept[repo]} kept", file=sys.stderr)
    print(f"wrote {len(lines)} cases to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
