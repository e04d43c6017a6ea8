"""Tests for the `language` scorer (R1 language consistency) against the real lid.176 model."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from referee.verifiers.base import Sample
from referee.verifiers.contract import ScoreResult
from referee.verifiers.language import (
    LID176_LABELS,
    LanguageParams,
    LanguageScorer,
    default_model_path,
)

EN = (
    "Okay, so I need to find the sum of all positive integers n such that the expression is "
    "divisible by six. Hmm, let me think about this step by step.\n\n"
    "First, let's factor the expression into two consecutive integers. The product of two "
    "consecutive integers is always even, so divisibility by two is automatic.\n"
    "Wait, we still need divisibility by three. Therefore one of the two factors must be a "
    "multiple of three. Let me double-check with small values before I answer."
)
ZH = (
    "好的，我需要计算所有满足条件的正整数之和。首先，我们把表达式分解因式。"
    "两个连续整数的乘积总是偶数，所以只需要考虑能否被三整除。让我再检查一下小的数值。"
)
FR = (
    "D'accord, je dois trouver la somme de tous les entiers positifs. D'abord, factorisons "
    "l'expression. Le produit de deux entiers consécutifs est toujours pair. Il faut encore "
    "vérifier la divisibilité par trois. Donc la réponse est correcte."
)
JA = (
    "まず、式を因数分解します。連続する二つの整数の積は常に偶数です。"
    "したがって、三で割り切れるかどうかだけを考えればよいです。"
)
KO = (
    "먼저 식을 인수분해합니다. 연속된 두 정수의 곱은 항상 짝수입니다. "
    "따라서 세 번째 조건만 확인하면 됩니다."
)
RU = (
    "Сначала разложим выражение на множители. Произведение двух последовательных чисел "
    "всегда чётно. Значит, осталось проверить делимость на три."
)
DE = (
    "Zuerst zerlegen wir den Ausdruck in Faktoren. Das Produkt zweier aufeinanderfolgender "
    "Zahlen ist immer gerade. Also müssen wir nur noch die Teilbarkeit durch drei prüfen."
)
LATEX_EN = r"""Let me set up the integral carefully.
$$\int_0^1 x^2 \, dx = \left[\frac{x^3}{3}\right]_0^1 = \frac{1}{3}$$
Now we substitute $u = x^2 + 1$, so that $du = 2x\,dx$ and the bounds become \(1\) and \(2\).
\begin{align*}
\int_0^1 \frac{2x}{x^2+1}\,dx &= \int_1^2 \frac{du}{u} \\
&= \ln 2 - \ln 1 = \ln 2
\end{align*}
\[ \sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6} \]
Therefore the value of the second integral is \ln 2, which matches the numeric estimate."""
CODE_ZH = """让我写一个程序来验证这个结果。
```python
def check(limit):
    return sum(n for n in range(1, limit) if (n + 1) * (n + 2) % 6 == 0)
print(check(100))
```
运行结果和我们的推导一致，变量 `total_count` 的值也正确。"""
URL_ZH = (
    "根据 https://en.wikipedia.org/wiki/Divisibility_rule 上的规则，以及 "
    "www.example.com/math/rules 的说明，或者写信给 someone.name@example.org 询问，"
    "我们得到 12345 和 3.14159 以及 1e-9 这些数值。"
)
ONLY_MATH = r"$$x^2 + y^2 = 1$$ \[ \frac{a}{b} \] $n = 42$ 3.14 2 * 3 = 6 \sqrt{2}"


def _think(reasoning: str, answer: str = "The answer is 42.") -> str:
    return f"<think>\n{reasoning}\n</think>\n{answer}"


def _score(completion: str, target: str, prompt: str | None = None, **params: Any) -> ScoreResult:
    return LanguageScorer().score(
        Sample(completion=completion, prompt=prompt), LanguageParams(target=target, **params)
    )


def _details(res: ScoreResult) -> dict[str, Any]:
    return dict(res.model_extra or {})


# --------------------------------------------------------------------------------------------
# single-language reasoning

CONSISTENT_CASES = [
    ("english", EN, "en"),
    ("chinese", ZH, "zh"),
    ("french", FR, "fr"),
    ("japanese", JA, "ja"),
    ("korean", KO, "ko"),
    ("russian", RU, "ru"),
    ("german", DE, "de"),
    ("latex_heavy_english", LATEX_EN, "en"),
    ("code_block_in_chinese", CODE_ZH, "zh"),
    ("urls_and_numbers_in_chinese", URL_ZH, "zh"),
]


@pytest.mark.parametrize(
    ("reasoning", "target"),
    [(r, t) for _, r, t in CONSISTENT_CASES],
    ids=[i for i, *_ in CONSISTENT_CASES],
)
def test_single_language_reasoning_scores_one(reasoning: str, target: str) -> None:
    assert _score(_think(reasoning), target).score == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("reasoning", "target"),
    [(r, t) for _, r, t in CONSISTENT_CASES],
    ids=[i for i, *_ in CONSISTENT_CASES],
)
def test_single_language_reasoning_is_consistent(reasoning: str, target: str) -> None:
    assert _score(_think(reasoning), target).verdict == "consistent"


WRONG_LANGUAGE_CASES = [
    ("english_for_zh", EN, "zh"),
    ("english_for_fr", EN, "fr"),
    ("french_for_en", FR, "en"),
    ("chinese_for_en", ZH, "en"),
    ("japanese_for_zh", JA, "zh"),
    ("russian_for_en", RU, "en"),
]


@pytest.mark.parametrize(
    ("reasoning", "target"),
    [(r, t) for _, r, t in WRONG_LANGUAGE_CASES],
    ids=[i for i, *_ in WRONG_LANGUAGE_CASES],
)
def test_reasoning_in_another_language_scores_low(reasoning: str, target: str) -> None:
    score = _score(_think(reasoning), target).score
    assert score is not None and score <= 0.1


# --------------------------------------------------------------------------------------------
# mixed reasoning

EN_SENTENCES = [
    "First we factor the expression into two consecutive integers.",
    "The product of two consecutive integers is always even.",
    "So we only need to check divisibility by three.",
    "Let me verify this with a few small values.",
]
ZH_SENTENCES = [
    "然后我们需要检查乘积能否被三整除。",
    "所以只需要考虑三的倍数的情况。",
    "让我用几个小的数值来验证一下。",
    "这样就得到了最后的答案。",
]


def _interleave(n_en: int, n_zh: int) -> str:
    en, zh = EN_SENTENCES[:n_en], ZH_SENTENCES[:n_zh]
    parts = [s for pair in zip(en, zh, strict=False) for s in pair]
    return " ".join(parts + en[len(zh) :] + zh[len(en) :])


def _expected_share(text: str, target: str) -> float:
    # Words as the scorer counts them: Latin words, and one word per Han character.
    latin = len(re.findall(r"[A-Za-z]+", text))
    han = len(re.findall(r"[\u4e00-\u9fff]", text))
    return latin / (latin + han) if target == "en" else han / (latin + han)


MIXED_CASES = [
    ("half_half_en", 4, 4, "en"),
    ("half_half_zh", 4, 4, "zh"),
    ("mostly_en", 4, 1, "en"),
    ("mostly_zh", 1, 4, "zh"),
    ("mostly_zh_target_en", 1, 4, "en"),
]


@pytest.mark.parametrize(
    ("n_en", "n_zh", "target"),
    [(e, z, t) for _, e, z, t in MIXED_CASES],
    ids=[i for i, *_ in MIXED_CASES],
)
def test_mixed_reasoning_scores_the_word_share(n_en: int, n_zh: int, target: str) -> None:
    text = _interleave(n_en, n_zh)
    score = _score(_think(text), target).score
    assert score == pytest.approx(_expected_share(text, target), abs=0.05)


@pytest.mark.parametrize("target", ["en", "zh"], ids=["en", "zh"])
def test_half_half_mix_is_in_the_middle(target: str) -> None:
    score = _score(_think(_interleave(4, 4)), target).score
    assert score is not None and 0.3 <= score <= 0.7


def test_mixed_reasoning_verdict() -> None:
    assert _score(_think(_interleave(4, 4)), "en").verdict == "mixed"


def test_mixed_within_one_sentence_counts_the_english_words() -> None:
    # "Python" and "check the answer carefully" are 5 English words among 17 Han characters.
    text = "我们用 Python 写一个程序来验证这个结果，然后 check the answer carefully."
    assert _score(_think(text), "zh").score == pytest.approx(17 / 22)


def test_mixed_details_report_both_languages() -> None:
    details = _details(_score(_think(_interleave(4, 4)), "en"))
    assert set(details["languages"]) == {"en", "zh"}


# --------------------------------------------------------------------------------------------
# what is scored

NEUTRAL_CASES = [
    (
        "code_block",
        f"Let me check this.\n```python\n{'print(valeur) ' * 50}\n```\nDone now.",
        6,
    ),
    ("unclosed_fence", "Let me check this code here.\n```\nretourner valeur sinon autre", 6),
    ("inline_code", "The variable `число_значение` holds the count we need.", 7),
    ("latex_text", r"We get $\text{ist gleich die Antwort}$ for the value here.", 6),
    ("url", "See https://fr.wikipedia.org/wiki/Nombre_premier_entier for the proof.", 4),
    ("email", "Ask jean.dupont@universite.fr about the proof details.", 5),
    ("numbers", "We get 1,234.5 and 3rd and x2 and 1e-9 as the values here.", 9),
]


@pytest.mark.parametrize(
    ("text", "prose_words"),
    [(t, n) for _, t, n in NEUTRAL_CASES],
    ids=[i for i, *_ in NEUTRAL_CASES],
)
def test_neutral_spans_are_not_counted(text: str, prose_words: int) -> None:
    assert _details(_score(_think(text), "en"))["counted_words"] == prose_words


@pytest.mark.parametrize(
    "text", [t for _, t, _ in NEUTRAL_CASES], ids=[i for i, *_ in NEUTRAL_CASES]
)
def test_neutral_spans_leave_english_consistent(text: str) -> None:
    res = _score(_think(text), "en")
    assert (res.score, res.verdict) == (1.0, "consistent")


def test_reasoning_scope_ignores_the_answer() -> None:
    res = _score(_think(ZH, answer="The final answer is clearly forty two."), "zh")
    assert res.score == pytest.approx(1.0)


def test_completion_scope_scores_the_answer_too() -> None:
    completion = _think(ZH, answer="The final answer is clearly forty two, as shown above.")
    score = _score(completion, "zh", scope="completion").score
    assert score is not None and 0.5 < score < 0.95


def test_no_think_block_scores_the_whole_completion() -> None:
    assert _score(EN, "en").score == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        # Pre-filled <think>, truncated: the whole completion is reasoning.
        (ZH, 1.0),
        # Pre-filled <think>, closed: only the text before </think> counts.
        (f"{ZH}\n</think>\nThe final answer is clearly forty two.", 1.0),
    ],
    ids=["truncated", "closed"],
)
def test_prefilled_prompt(completion: str, expected: float) -> None:
    res = _score(completion, "zh", prompt="<|User|>Solve it.<|Assistant|><think>\n")
    assert res.score == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# degenerate inputs and verdicts

DEGENERATE_CASES = [
    ("empty_think", "<think>\n\n</think>The answer is 42.", 0.0, "no_reasoning"),
    ("empty_completion", "", 0.0, "no_reasoning"),
    ("only_tags", "<think></think>", 0.0, "no_reasoning"),
    ("only_math", _think(ONLY_MATH), 1.0, "language_neutral"),
    ("only_code", _think("```\nprint('hello world')\n```"), 1.0, "language_neutral"),
    ("two_words", _think("Hmm, okay."), 1.0, "short"),
]


@pytest.mark.parametrize(
    ("completion", "expected"),
    [(c, s) for _, c, s, _ in DEGENERATE_CASES],
    ids=[i for i, *_ in DEGENERATE_CASES],
)
def test_degenerate_score(completion: str, expected: float) -> None:
    assert _score(completion, "en").score == expected


@pytest.mark.parametrize(
    ("completion", "verdict"),
    [(c, v) for _, c, _, v in DEGENERATE_CASES],
    ids=[i for i, *_ in DEGENERATE_CASES],
)
def test_degenerate_verdict(completion: str, verdict: str) -> None:
    assert _score(completion, "en").verdict == verdict


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        # fastText's top 3 for the lone "Hmm" is en/ca/de, so French does not get it.
        ("Hmm.", "fr", 0.0),
        ("Hmm.", "en", 1.0),
        # Han alone means Chinese without asking fastText.
        ("答案。", "zh", 1.0),
        # Kana alone means Japanese.
        ("です。", "ja", 1.0),
    ],
    ids=["latin_not_in_top3", "latin_in_top3", "han_owned_by_zh", "kana_owned_by_ja"],
)
def test_short_runs_fall_back_to_script(text: str, target: str, expected: float) -> None:
    assert _score(_think(text), target, min_words=0).score == expected


def test_min_words_zero_never_short() -> None:
    assert _score(_think("Hmm, okay."), "en", min_words=0).verdict == "consistent"


def test_details() -> None:
    details = _details(_score(_think(DE), "de"))
    assert details == {
        "target": "de",
        "scope": "reasoning",
        "target_words": 25,
        "counted_words": 25,
        "languages": {"de": 25},
    }


@pytest.mark.parametrize(
    "text",
    ["Let me check \ud800this value again now.", "Let me check\x00 this value again now."],
    ids=["lone_surrogate", "nul"],
)
def test_odd_characters_do_not_break_fasttext(text: str) -> None:
    assert _score(_think(text), "en").verdict == "consistent"


# --------------------------------------------------------------------------------------------
# params and model


@pytest.mark.parametrize(
    "params",
    [
        {"target": "xx"},
        {"target": "english"},
        {"target": "zh-CN"},
        {"target": ""},
        {"target": "en", "scope": "answer"},
        {"target": "en", "min_words": -1},
        {"target": "en", "prefilled": True},
        {},
    ],
    ids=["unknown", "name", "region", "empty", "bad_scope", "negative_min", "extra", "missing"],
)
def test_invalid_params_rejected(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LanguageParams.model_validate(params)


def test_region_subtag_error_suggests_the_language() -> None:
    with pytest.raises(ValidationError, match="did you mean 'zh'"):
        LanguageParams(target="zh-CN")


@pytest.mark.parametrize(("given", "stored"), [("EN", "en"), (" fr ", "fr"), ("yue", "yue")])
def test_target_is_normalized(given: str, stored: str) -> None:
    assert LanguageParams(target=given).target == stored


def test_label_set_is_lid176() -> None:
    assert len(LID176_LABELS) == 176


def test_model_path_override() -> None:
    scorer = LanguageScorer(model_path=default_model_path())
    res = scorer.score(Sample(completion=_think(FR)), LanguageParams(target="fr"))
    assert (res.score, res.verdict) == (1.0, "consistent")


def test_missing_model_path_fails_at_construction(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError):
        LanguageScorer(model_path=str(tmp_path / "lid.176.bin"))


def test_scorer_identity() -> None:
    assert (LanguageScorer.name, LanguageScorer.params_model) == ("language", LanguageParams)
