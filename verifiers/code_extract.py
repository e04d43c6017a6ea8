"""Finding the program in a completion (`code` scorer).

The answer part is the text after the last `</think>` (`referee.verifiers.think`); code
written only inside the reasoning does not count, and an unterminated `<think>` leaves no
answer part at all. In the answer part:

- Fenced blocks are found line by line, CommonMark-style: an opening fence of three or more
  backticks or tildes with an optional info string (a backtick fence's info string holds no
  backtick, so ```` ```x``` ```` on one line is not a fence), closed by a line of the same
  character at least as long, or by the end of the text. Fences may be indented (models nest
  them in list items); the opening fence's indentation is removed from the block's lines.
- Each tag (the info string's first word, any case) names a language family through
  `LANGUAGE_TAGS` (`py`, `python3`, `pypy3` -> `python`; `c++`, `cc`, `cpp` -> `cpp`; `c`;
  `java`, `rust`, `go`, ...), or none (`text`, `output`, an unknown word).
- The program is the LAST block of a family the item allows (by default only `python`).
  Failing that, the last untagged block; failing that, the last block whose tag names no
  language. The order matters because models often end with an untagged block of sample
  input/output after their ```` ```python ```` solution. Failing all three, the answer is in
  a language the item does not allow: the last such block comes back with its family, and
  the scorer says `wrong_language`.
- With no fence at all, the whole answer part (dedented) is the program.

Left out: picking among several Python blocks (a trailing usage example wins over the solution
above it, as in open-r1 and LiveCodeBench), code in `<answer>` tags without a fence (it is used
whole, tags included), and inline code spans.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Literal

from referee.verifiers.think import prompt_prefills_think, split_think

LANGUAGE_TAGS: dict[str, str] = {
    **dict.fromkeys(("python", "py", "python3", "py3", "pypy", "pypy3"), "python"),
    **dict.fromkeys(("cpp", "c++", "cc", "cxx", "hpp", "c++17", "c++20", "cpp17"), "cpp"),
    **dict.fromkeys(("c", "h"), "c"),
    "java": "java",
    **dict.fromkeys(("rust", "rs"), "rust"),
    **dict.fromkeys(("go", "golang"), "go"),
    **dict.fromkeys(("javascript", "js", "node", "typescript", "ts"), "javascript"),
    **dict.fromkeys(("kotlin", "kt"), "kotlin"),
    **dict.fromkeys(("csharp", "c#", "cs"), "csharp"),
    **dict.fromkeys(("bash", "sh", "shell"), "shell"),
    "ruby": "ruby",
    "haskell": "haskell",
    "pascal": "pascal",
}
"""Fence tags that name a language, and the family each names. A tag not here names none."""

_OPEN = re.compile(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_CLOSE = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*")


@dataclass(frozen=True)
class CodeBlock:
    language: str
    """First word of the info string, lowercased ('' when untagged)."""
    code: str
    closed: bool


@dataclass(frozen=True)
class Extraction:
    program: str
    """The program ('' when there is none)."""
    source: Literal["fence", "answer", "none"]
    """`fence`: a fenced block; `answer`: the whole answer part; `none`: nothing to run."""
    n_blocks: int
    """Fenced blocks in the answer part."""
    language: str | None = None
    """The chosen block's tag ('' untagged), None when not from a fence."""
    family: str | None = None
    """The language family the chosen block's tag names; None when it names none (untagged,
    `text`, no fence). Outside the allowed families only when no block of one was found."""
    reason: str | None = None
    """Why there is no program: `no_answer` (no text after the reasoning) or `empty`."""


def _strip_indent(line: str, indent: str) -> str:
    """Remove up to the opening fence's indentation from one line of a block."""
    width = 0
    while width < len(indent) and width < len(line) and line[width] in " \t":
        width += 1
    return line[width:]


def find_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block of `text`, in order (see the module docstring for the rules)."""
    blocks: list[CodeBlock] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _OPEN.fullmatch(lines[index].rstrip("\r"))
        index += 1
        if opening is None:
            continue
        fence, info = opening["fence"], opening["info"].strip()
        if fence[0] == "`" and "`" in info:
            continue
        body: list[str] = []
        closed = False
        while index < len(lines):
            line = lines[index].rstrip("\r")
            index += 1
            closing = _CLOSE.fullmatch(line)
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
            ):
                closed = True
                break
            body.append(_strip_indent(line, opening["indent"]))
        words = info.split()
        language = words[0].lower() if words else ""
        blocks.append(CodeBlock(language=language, code="\n".join(body), closed=closed))
    return blocks


def choose_block(
    blocks: list[CodeBlock], families: frozenset[str] = frozenset({"python"})
) -> CodeBlock | None:
    """The last block of an allowed family, else the last untagged one, else the last one
    naming no language, else the last one."""
    for wanted in (
        lambda b: LANGUAGE_TAGS.get(b.language) in families,
        lambda b: b.language == "",
        lambda b: b.language not in LANGUAGE_TAGS,
    ):
        chosen = [block for block in blocks if wanted(block)]
        if chosen:
            return chosen[-1]
    return blocks[-1] if blocks else None


def extract_program(
    completion: str,
    prompt: str | None = None,
    families: frozenset[str] = frozenset({"python"}),
) -> Extraction:
    """The program of a completion, preferring blocks of the language `families` allowed;
    `program == ''` when there is nothing to run."""
    answer = split_think(completion, prompt_prefills_think(prompt)).answer
    if not answer.strip():
        return Extraction(program="", source="none", n_blocks=0, reason="no_answer")
    blocks = find_blocks(answer)
    block = choose_block(blocks, families)
    if block is None:
        program = textwrap.dedent(answer).strip("\n")
        source: Literal["fence", "answer"] = "answer"
    else:
        program = block.code.strip("\n")
        source = "fence"
    if not program.strip():
        return Extraction(
            program="",
            source="none",
            n_blocks=len(blocks),
            reason="empty",
            language=None if block is None else block.language,
        )
    return Extraction(
        program=program,
        source=source,
        n_blocks=len(blocks),
        language=None if block is None else block.language,
        family=None if block is None else LANGUAGE_TAGS.get(block.language),
    )
