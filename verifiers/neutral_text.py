"""Removing the language-neutral parts of a text before its words are counted by language.

Replaced by spaces: fenced code (``` and ~~~; an unclosed fence runs to the end), inline `code`,
XML-like tags, LaTeX environments (`\\begin{env}..\\end{env}`), display and inline math
(`$$..$$`, `\\[..\\]`, `\\(..\\)`, single-line `$..$`), URLs, e-mail addresses, bare
`\\commands`, and numbers with letters glued to them (`x2`, `3rd`, `1e-9`). Prose inside math
(`\\text{..}`) goes with the math. Single-line `$..$` is taken for math, so "costs $5 and $10"
loses the words between the dollars.
"""

from __future__ import annotations

import re

from referee.verifiers.words import TAG_RE

_FENCE_RE = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.DOTALL)
_INLINE_CODE_RE = re.compile(r"`[^`\n]+`")
_BEGIN_RE = re.compile(r"\\begin\{([^{}\n]{1,64})\}")
_INLINE_MATH_RE = re.compile(r"\$[^$\n]+\$")
_URL_RE = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.IGNORECASE)
# The look-behinds anchor each attempt at the start of a run, which keeps these linear.
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_COMMAND_RE = re.compile(r"\\[A-Za-z]+")
_NUMBER_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]*\d+(?:[.,eE][-+]?\d+)*[A-Za-z]*")


def _strip_delimited(text: str, opener: str, closer: str) -> str:
    """Remove `opener..closer` spans (non-nested, shortest), in linear time.

    A regex with a lazy `.*?` would rescan to the end for every opener that has no closer.
    """
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find(opener, pos)
        if start < 0:
            break
        end = text.find(closer, start + len(opener))
        if end < 0:
            break
        parts.append(text[pos:start])
        parts.append(" ")
        pos = end + len(closer)
    parts.append(text[pos:])
    return "".join(parts)


def _strip_environments(text: str) -> str:
    """Remove `\\begin{env}..\\end{env}` spans; an unmatched `\\begin` is left for later."""
    parts: list[str] = []
    pos = 0
    unmatched: set[str] = set()
    search_from = 0
    while True:
        match = _BEGIN_RE.search(text, search_from)
        if match is None:
            break
        env = match.group(1)
        end = -1 if env in unmatched else text.find(f"\\end{{{env}}}", match.end())
        if end < 0:
            # No later \end{env} exists, so no later \begin{env} can match either.
            unmatched.add(env)
            search_from = match.end()
            continue
        parts.append(text[pos : match.start()])
        parts.append(" ")
        pos = search_from = end + len(f"\\end{{{env}}}")
    parts.append(text[pos:])
    return "".join(parts)


def strip_neutral(text: str) -> str:
    """`text` with code, math, URLs, e-mails, numbers and markup replaced by spaces."""
    text = _FENCE_RE.sub(" ", text)
    text = _INLINE_CODE_RE.sub(" ", text)
    text = TAG_RE.sub(" ", text)
    text = _strip_environments(text)
    text = _strip_delimited(text, "$$", "$$")
    text = _strip_delimited(text, "\\[", "\\]")
    text = _strip_delimited(text, "\\(", "\\)")
    text = _INLINE_MATH_RE.sub(" ", text)
    text = _URL_RE.sub(" ", text)
    text = _EMAIL_RE.sub(" ", text)
    text = _COMMAND_RE.sub(" ", text)
    return _NUMBER_RE.sub(" ", text)
