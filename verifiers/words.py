"""Word tokenization shared by the language and repetition scorers, without jieba or MeCab.

A "word" is one Han ideograph or one kana character (Chinese and Japanese are written without
spaces, and a dictionary segmenter is out of scope), or else a maximal run of letters, digits
and combining marks. Hangul is split on whitespace and punctuation like Latin, because Korean
writes spaces between words. Thai, Lao, Khmer and Myanmar also write no spaces but are NOT
split per character: a whole space-free phrase counts as one word (a known under-count).

Scripts are read from Unicode character names (`LATIN SMALL LETTER A` -> Latin), which covers
every script Python's `unicodedata` knows without a hand-written range table; only Han and
kana, which need ranges for the regex anyway, are special.

Left out: word segmentation of Thai-like scripts, Unicode normalization (NFC/NFKC), and the
Unicode Script property proper (Python's `re` has no `\\p{Script}`).
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Han ideographs (URO, Ext A, compatibility, Ext B-H) plus 々 and 〇 which behave as Han.
_HAN_RANGES = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# Hiragana, katakana (incl. the prolonged sound mark), katakana extensions, halfwidth kana.
_KANA_RANGES = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_CJK_RANGES = _HAN_RANGES + _KANA_RANGES

_HAN_RE = re.compile(f"[{_HAN_RANGES}]")
_KANA_RE = re.compile(f"[{_KANA_RANGES}]")


def _mark_class() -> str:
    # Combining marks (Mn/Mc/Me) are not `\w` in Python, yet they sit inside words in Indic
    # scripts and in decomposed Latin; without them "हिन्दी" would fall apart. The scan of the
    # first two planes (where all word-internal marks live) takes about 10 ms once per process.
    ranges: list[str] = []
    start = -1
    prev = -2
    for code in range(0x20000):
        if unicodedata.category(chr(code))[0] == "M":
            if code != prev + 1:
                if start >= 0:
                    ranges.append(_range(start, prev))
                start = code
            prev = code
    if start >= 0:
        ranges.append(_range(start, prev))
    return "".join(ranges)


def _range(first: int, last: int) -> str:
    low, high = re.escape(chr(first)), re.escape(chr(last))
    return low if first == last else f"{low}-{high}"


_MARKS = _mark_class()

# One CJK character, or a run that starts with a non-CJK word character and continues with
# word characters or marks. `[^\W_...]` is "a word character that is not _ and not CJK",
# the only set difference Python's `re` can express.
_NON_CJK_WORD = f"[^\\W_{_CJK_RANGES}](?:[^\\W_{_CJK_RANGES}]|[{_MARKS}])*"
WORD_RE = re.compile(f"[{_CJK_RANGES}]|{_NON_CJK_WORD}")
CJK_STRETCH_OR_WORD_RE = re.compile(f"[{_CJK_RANGES}]+|{_NON_CJK_WORD}")
"""Like WORD_RE, but a stretch of Han/kana is one match (of len(match) words): a per-character
match costs a Python iteration per character, which dominates on long Chinese text."""

TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9_-]*\s*/?>")
"""XML-like tags such as `<think>` or `</answer>`: template markup, not words."""

_SCRIPT_ALIASES = {
    "CJK": "Han",
    "IDEOGRAPHIC": "Han",
    "HIRAGANA": "Kana",
    "KATAKANA": "Kana",
    "KATAKANA-HIRAGANA": "Kana",
    "HANGUL": "Hangul",
    # Modifier letters are nearly all Latin phonetic letters (ʰ, ʼ, ˈ).
    "MODIFIER": "Latin",
}
_WIDTH_PREFIXES = ("FULLWIDTH", "HALFWIDTH")


@functools.cache
def char_script(ch: str) -> str:
    """The script of one character, e.g. "Latin", "Han", "Kana", "Hangul", "Cyrillic".

    Derived from the first word of the Unicode name (after FULLWIDTH/HALFWIDTH); characters
    without a name give "Unknown". Cached per character (bounded by Unicode itself).
    """
    try:
        parts = unicodedata.name(ch).split()
    except ValueError:
        parts = []
    if parts and parts[0] in _WIDTH_PREFIXES:
        parts = parts[1:]
    return _SCRIPT_ALIASES.get(parts[0], parts[0].title()) if parts else "Unknown"


def is_han(ch: str) -> bool:
    return _HAN_RE.match(ch) is not None


def has_kana(text: str) -> bool:
    return _KANA_RE.search(text) is not None


def words(text: str) -> list[str]:
    """Lowercased word tokens of `text`: one per Han/kana character, else letter/digit runs.

    Punctuation and XML-like tags are dropped, so "end." and "end" are the same word (unlike
    `str.split`) and `<think>` is no word at all.
    """
    return WORD_RE.findall(TAG_RE.sub(" ", text).lower())
