"""Literal values as text: the codec of the pipes inside a sandbox container.

`encode(value, cap)` writes plain builtin values (None, bool, int, float, complex, str, bytes,
tuple, list, dict, set, frozenset; subclasses as their base type) as Python literal text, and
`decode(text)` reads such text back without evaluating anything else. The tester T and the
program host P exchange call arguments and return values this way, so an object P returns
either arrives as a plain literal or not at all (`NonLiteral`): an object whose `__eq__` is
always True cannot reach a test.

`frame`, `write_frame` and `read_frame` carry such literals on the pipes between the runner,
T and P (a 4-byte length, then the text).

The host prepends this source to the runner, tester and program host scripts it sends into a
container (`referee.sandbox.channel`), so it must stay stdlib-only, and it avoids `ast` and
`typing` (each costs a fresh interpreter milliseconds).
"""

from __future__ import annotations

import _ast
import math
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_DEPTH = 100
"""Deepest nesting of containers a literal may have (deeper: NonLiteral / ValueError)."""


class NonLiteral(Exception):
    """The value is not made of None, bool, int, float, complex, str, bytes, tuple, list, dict,
    set and frozenset only."""


class TooLarge(Exception):
    """The literal text is longer than the cap."""


def encode(value: Any, cap: int) -> str:
    """`value` as Python literal text that `decode` turns back into plain builtin values.

    Subclasses of the builtin types are written as their base type (an `IntEnum` as an int, a
    namedtuple as a tuple); anything else raises `NonLiteral`. Non-finite floats are written as
    `float('inf')` and complex numbers as `complex(re, im)`, which `decode` accepts."""
    out: list[str] = []
    budget = [cap]

    def emit(text: str) -> None:
        budget[0] -= len(text)
        if budget[0] < 0:
            raise TooLarge(f"larger than {cap} bytes")
        out.append(text)

    def items(values: Any, depth: int) -> None:
        for index, item in enumerate(values):
            if index:
                emit(", ")
            walk(item, depth)

    def walk(v: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise NonLiteral(f"nested more than {MAX_DEPTH} levels deep")
        depth += 1
        if v is None or v is True or v is False:
            emit(repr(v))
        elif isinstance(v, int):
            emit(int.__repr__(v))
        elif isinstance(v, float):
            text = float.__repr__(v)
            emit(text if math.isfinite(v) else f"float({text!r})")
        elif isinstance(v, complex):
            emit("complex(")
            walk(complex.__getattribute__(v, "real"), depth)
            emit(", ")
            walk(complex.__getattribute__(v, "imag"), depth)
            emit(")")
        elif isinstance(v, str):
            if str.__len__(v) > budget[0]:
                raise TooLarge(f"larger than {cap} bytes")
            emit(str.__repr__(v))
        elif isinstance(v, bytes | bytearray):
            if len(v) > budget[0]:
                raise TooLarge(f"larger than {cap} bytes")
            emit(bytes.__repr__(bytes(v)))
        elif isinstance(v, tuple):
            emit("(")
            items(tuple.__iter__(v), depth)
            emit(",)" if tuple.__len__(v) == 1 else ")")
        elif isinstance(v, list):
            emit("[")
            items(list.__iter__(v), depth)
            emit("]")
        elif isinstance(v, dict):
            emit("{")
            for index, (key, item) in enumerate(dict.items(v)):
                if index:
                    emit(", ")
                walk(key, depth)
                emit(": ")
                walk(item, depth)
            emit("}")
        elif isinstance(v, frozenset):
            if not frozenset.__len__(v):
                emit("frozenset()")
                return
            emit("frozenset({")
            items(frozenset.__iter__(v), depth)
            emit("})")
        elif isinstance(v, set):
            if not set.__len__(v):
                emit("set()")
                return
            emit("{")
            items(set.__iter__(v), depth)
            emit("}")
        else:
            raise NonLiteral(type(v).__name__)

    walk(value, 0)
    return "".join(out)


def decode(text: str) -> Any:
    """The value of literal text written by `encode` (or any plain Python literal). Raises
    ValueError for anything else: no names, attributes, operators or calls beyond
    `float('inf'|'-inf'|'nan')`, `complex(re, im)`, `set()` and `frozenset(...)`."""
    try:
        tree: Any = compile(text, "<literal>", "eval", _ast.PyCF_ONLY_AST)
        return _literal(tree.body)
    except ValueError:
        raise
    except (SyntaxError, TypeError, MemoryError, RecursionError, OverflowError) as exc:
        raise ValueError(f"not a literal: {type(exc).__name__}") from None


_NUMBERS = (int, float, complex)


def _literal(node: Any) -> Any:
    if isinstance(node, _ast.Constant):
        value = node.value
        if value is None or type(value) in (bool, int, float, complex, str, bytes):
            return value
    elif isinstance(node, _ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    elif isinstance(node, _ast.List):
        return [_literal(e) for e in node.elts]
    elif isinstance(node, _ast.Set):
        return {_literal(e) for e in node.elts}
    elif isinstance(node, _ast.Dict):
        if all(k is not None for k in node.keys):
            return {
                _literal(k): _literal(v)
                for k, v in zip(node.keys, node.values, strict=True)
                if k is not None
            }
    elif isinstance(node, _ast.UnaryOp) and isinstance(node.op, _ast.USub | _ast.UAdd):
        operand = _literal(node.operand)
        if type(operand) in _NUMBERS:
            return -operand if isinstance(node.op, _ast.USub) else operand
    elif (
        isinstance(node, _ast.Call)
        and isinstance(node.func, _ast.Name)
        and not node.keywords
        and node.func.id in ("float", "complex", "set", "frozenset")
    ):
        args = [_literal(a) for a in node.args]
        name = node.func.id
        if name == "float" and len(args) == 1 and args[0] in ("inf", "-inf", "nan"):
            return float(args[0])
        if name == "complex" and len(args) == 2 and all(type(a) in (int, float) for a in args):
            return complex(args[0], args[1])
        if name == "set" and not args:
            return set()
        if name == "frozenset" and (
            not args or (len(args) == 1 and type(args[0]) in (set, list, tuple))
        ):
            return frozenset(*args)
    raise ValueError(f"not a literal: {type(node).__name__}")


# --- frames: how literals travel on the pipes between the runner, T and P ---


def frame(value: Any, cap: int) -> bytes:
    """A frame: a 4-byte big-endian length, then `value` as literal text (at most `cap`)."""
    data = encode(value, cap).encode()
    return len(data).to_bytes(4, "big") + data


def write_frame(fd: int, value: Any, cap: int) -> None:
    """Write one frame to a blocking pipe."""
    view = memoryview(frame(value, cap))
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd: int, cap: int) -> Any:
    """The next frame's value from a blocking pipe; None at end of file."""
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > cap:
        raise ValueError(f"frame of {size} bytes is over the {cap} byte cap")
    body = _read_exactly(fd, size)
    return None if body is None else decode(body.decode())


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
