"""Splitting a completion into its chain of thought and its answer part (R1 template).

The R1 template is `<think>reasoning</think>answer`. Chat templates often pre-fill `<think>`
at the end of the prompt, in which case the completion starts inside the reasoning and holds
only the closing tag. The answer part is what follows the LAST `</think>`; an unterminated
`<think>` means the completion never left its reasoning, so it has no answer part.
"""

from __future__ import annotations

from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class ThinkSplit:
    reasoning: str | None
    """Text of the chain of thought; None when the completion has no think block at all."""
    answer: str
    """Text after the last `</think>`, or the whole completion when there is no think block."""
    closed: bool
    """Whether a `</think>` was found."""


def prompt_prefills_think(prompt: str | None) -> bool:
    """True when the prompt ends with an opened `<think>` (the completion starts inside it)."""
    return prompt is not None and prompt.rstrip().endswith(THINK_OPEN)


def split_think(completion: str, prefilled: bool = False) -> ThinkSplit:
    """Split a completion into reasoning and answer; see the module docstring for the rules."""
    close_at = completion.rfind(THINK_CLOSE)
    if close_at >= 0:
        head = completion[:close_at]
        open_at = head.find(THINK_OPEN)
        reasoning = head[open_at + len(THINK_OPEN) :] if open_at >= 0 else head
        return ThinkSplit(reasoning, completion[close_at + len(THINK_CLOSE) :], True)
    open_at = completion.find(THINK_OPEN)
    if open_at >= 0:
        return ThinkSplit(completion[open_at + len(THINK_OPEN) :], "", False)
    if prefilled:
        return ThinkSplit(completion, "", False)
    return ThinkSplit(None, completion, False)
