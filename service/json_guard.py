"""Limits on what a JSON document may hold, checked on its raw bytes before anything parses
it: UTF-8, nesting depth, number literals, lone surrogates. The API checks every body with it
(`api/body_guard.py`), `referee score` every input line.

Why before parsing: Python's `json` recurses once per nesting level (a body nested 100k deep
is a `RecursionError`, which FastAPI answers 400), and a value nested ~600 deep parses but
then breaks pickling and recursion everywhere downstream (the executor's pipe, RQ's JSON).
`\\ud800` escapes decode into strings that cannot be encoded back to UTF-8 (every answer that
echoes them would be a 500), and `1e400`, `NaN` and `Infinity` parse into floats no JSON
answer can carry. So every such body is refused (by the API as a 422) naming the place
(`items[3].scorers[0].gold`) and the limit (`max_json_depth`, `max_number_chars`).

How, without recursing and without a Python loop over every byte: strings are collapsed by
one regex (C speed), which leaves the body's skeleton (brackets, punctuation, numbers,
literals); the depth is the number of passes that remove innermost bracket pairs, stopped
past the limit; numbers and literals are searched for in the skeleton. Only a body that
fails (or holds a `\\uD8xx`-`\\uDFxx` escape) is walked token by token, iteratively, to name
the place. Malformed JSON is left to the parser, which names the character.

Left out: limits on the count of values (the body-size limit bounds it) and per-scorer
limits (each scorer checks its own parameters and answers per item).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Literal

from referee.verifiers.field_path import render_path

_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
_INNERMOST = re.compile(rb"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")
_BRACKET = re.compile(rb"[\[\]{}]")
_NON_FINITE = re.compile(rb"NaN|Infinity")
_EXPONENT = re.compile(rb"[0-9.][eE][+-]?[0-9]{3,}")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}:,]|[^\s\[\]{}:,"]+')


BodyProblemCode = Literal["invalid_json", "too_deep", "invalid_string", "invalid_number"]
"""The stable codes of the refusals here (the API sends them as they are)."""


class BodyProblem(Exception):
    """Why a body is refused: a stable error code, a message, and the field at fault."""

    def __init__(self, code: BodyProblemCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class BodyLimits:
    max_depth: int
    max_number_chars: int


def check_body(body: bytes, limits: BodyLimits) -> None:
    """Raise `BodyProblem` when `body` breaks a limit; return quietly otherwise (including
    for malformed JSON, which the parser answers)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyProblem(
            "invalid_json", f"the body is not valid UTF-8 (byte {exc.start}: {exc.reason})"
        ) from None
    skeleton = _STRING.sub(b'""', body)
    suspect = (
        _too_deep(skeleton, limits.max_depth)
        or _NON_FINITE.search(skeleton) is not None
        or _EXPONENT.search(skeleton) is not None
        or _longest_scalar(skeleton) > limits.max_number_chars
        or _SURROGATE_ESCAPE.search(body) is not None
    )
    if suspect:
        _walk(body, limits)


def _too_deep(skeleton: bytes, max_depth: int) -> bool:
    for _ in range(max_depth):
        skeleton, removed = _INNERMOST.subn(b"0", skeleton)
        if not removed:
            return False
    return _BRACKET.search(skeleton) is not None


def _longest_scalar(skeleton: bytes) -> int:
    return max((len(m) for m in re.findall(rb"[^\s\[\]{}:,\"]+", skeleton)), default=0)


_SHOWN_LEVELS = 12
"""A deeper place is named by its first levels and its depth (a path 600 levels long helps
nobody)."""


def _path(frames: list[list[object]]) -> str | None:
    # An object's frame holds no key until its first key is read: that level names nothing.
    shown = frames[:_SHOWN_LEVELS]
    out = render_path(key for kind, key in shown if kind == "[" or isinstance(key, str))
    if len(frames) > _SHOWN_LEVELS:
        out += f"...(depth {len(frames)})"
    return out or None


def _walk(body: bytes, limits: BodyLimits) -> None:
    """Token by token, iteratively: raise naming the first place that breaks a limit."""
    # One frame per open container: [kind, key or index of the value being read].
    frames: list[list[object]] = []
    after_colon = False
    for match in _TOKEN.finditer(body):
        token = match.group()
        head = token[:1]
        if head in (b"[", b"{"):
            if len(frames) + 1 > limits.max_depth:
                raise BodyProblem(
                    "too_deep",
                    f"{_path(frames) or 'the body'} nests deeper than "
                    f"max_json_depth={limits.max_depth}",
                    _path(frames),
                )
            frames.append([head.decode(), 0 if head == b"[" else None])
            after_colon = False
        elif head in (b"]", b"}"):
            if frames:
                frames.pop()
        elif head == b",":
            if frames and frames[-1][0] == "[":
                frames[-1][1] = int(str(frames[-1][1])) + 1
        elif head == b":":
            after_colon = True
        elif head == b'"':
            is_key = bool(frames) and frames[-1][0] == "{" and not after_colon
            text = _decode_string(token, _path(frames))
            if is_key:
                frames[-1][1] = text
            else:
                after_colon = False
        else:
            _check_scalar(token, _path(frames), limits)
            after_colon = False


def _decode_string(token: bytes, where: str | None) -> str:
    try:
        text = json.loads(token)
    except ValueError:
        return ""  # malformed: the parser will say where
    assert isinstance(text, str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyProblem(
            "invalid_string",
            f"{where or 'the body'} holds a lone UTF-16 "
            "surrogate escape (\\ud800-\\udfff without its pair), which is not "
            "text",
            where,
        ) from None
    return text


def _check_scalar(token: bytes, where: str | None, limits: BodyLimits) -> None:
    place = where or "the body"
    if token in (b"NaN", b"Infinity", b"-Infinity"):
        raise BodyProblem(
            "invalid_number", f"{place} is {token.decode()}, which JSON does not allow", where
        )
    if len(token) > limits.max_number_chars:
        raise BodyProblem(
            "invalid_number",
            f"{place} is a literal of {len(token)} "
            f"characters; the limit is max_number_chars="
            f"{limits.max_number_chars}",
            where,
        )
    if token[:1].isdigit() or token[:1] == b"-":
        try:
            value = float(token)
        except ValueError:
            return  # malformed: the parser will say where
        if not math.isfinite(value):
            raise BodyProblem(
                "invalid_number",
                f"{place} ({token.decode()}) is too large for a 64-bit float",
                where,
            )
