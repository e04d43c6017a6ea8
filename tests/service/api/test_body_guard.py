"""The body guard on raw bytes: what it refuses (code and the place it names), and what it
must let through untouched (the parser answers malformed JSON)."""

from __future__ import annotations

import json

import pytest

from referee.service.api.body_guard import parsed_as_json
from referee.service.json_guard import BodyLimits, BodyProblem, check_body

LIMITS = BodyLimits(max_depth=32, max_number_chars=100)


def _item(**extra: object) -> bytes:
    return json.dumps(
        {"items": [{"completion": "x", "scorers": [{"name": "math", "gold": "1"}], **extra}]}
    ).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


REFUSED = [
    # (case, body, code, field the answer names)
    (
        "param nested 600",
        _item().replace(b'"gold": "1"', b'"gold": "1", "p": ' + nested(600)),
        "too_deep",
        "items[0].scorers[0].p[0][0][0][0][0][0][0]...(depth 32)",
    ),
    (
        "body nested 100k",
        nested(100_000),
        "too_deep",
        "[0][0][0][0][0][0][0][0][0][0][0][0]...(depth 32)",
    ),
    (
        "extra field nested 1k",
        _item().replace(b'"x"', b'"x", "e": ' + nested(1000)),
        "too_deep",
        "items[0].e[0][0][0][0][0][0][0][0][0]...(depth 32)",
    ),
    (
        "objects nested 5k",
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        "too_deep",
        "a.a.a.a.a.a.a.a.a.a.a.a...(depth 32)",
    ),
    ("lone high surrogate in id", _item(id="\ud800"), "invalid_string", "items[0].id"),
    (
        "lone low surrogate in completion",
        _item().replace(b'"x"', b'"\\udc00"'),
        "invalid_string",
        "items[0].completion",
    ),
    ("surrogate inside a key", b'{"items": [{"\\ud800": 1}]}', "invalid_string", "items[0]"),
    (
        "NaN weight",
        _item().replace(b'"gold": "1"', b'"gold": "1", "weight": NaN'),
        "invalid_number",
        "items[0].scorers[0].weight",
    ),
    ("Infinity", b'{"timeout_s": Infinity}', "invalid_number", "timeout_s"),
    ("-Infinity", b'{"timeout_s": -Infinity}', "invalid_number", "timeout_s"),
    ("float overflow", b'{"items": [], "timeout_s": 1e400}', "invalid_number", "timeout_s"),
    ("5,000-digit integer", b'{"items": [' + b"9" * 5000 + b"]}", "invalid_number", "items[0]"),
    ("invalid UTF-8", b'{"items": [{"completion": "\xff\xfe"}]}', "invalid_json", None),
]


@pytest.mark.parametrize(
    ("body", "code", "field"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_refused_naming_the_place(body: bytes, code: str, field: str | None) -> None:
    with pytest.raises(BodyProblem) as caught:
        check_body(body, LIMITS)
    assert (caught.value.code, caught.value.field) == (code, field)


ACCEPTED = [
    ("an ordinary item", _item()),
    ("nesting at the limit", nested(32)),
    ("a surrogate pair (an emoji, escaped)", _item(id="\U0001f600")),
    ("an escaped backslash before u", b'{"id": "\\\\ud800"}'),
    ("brackets inside strings", _item().replace(b'"x"', json.dumps("[{" * 5000).encode())),
    ("1e308 (finite)", b'{"timeout_s": 1e308}'),
    ("NaN inside a string", _item(id="NaN Infinity 1e999")),
    ("malformed: left to the parser", b'{"items": [{"completion": "x'),
    ("empty body", b""),
]


@pytest.mark.parametrize("body", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_let_through(body: bytes) -> None:
    check_body(body, LIMITS)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/vnd.api+json", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
    ],
)
def test_which_bodies_are_parsed_as_json(content_type: str | None, expected: bool) -> None:
    assert parsed_as_json(content_type) is expected
