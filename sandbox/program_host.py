"""The program host P: the one process of an rpc job that runs the untrusted program.

The runner (`referee.sandbox.runner`) starts it as a fresh `python3 -I -c <this source>` inside
the sandbox container, with the job's memory and CPU limits and `oom_score_adj` 1000, and these
file descriptors (everything else closed):

- 0: /dev/null; 1, 2: pipes to the runner (the program's prints and tracebacks; capped there);
- 3: control in, from the runner: one frame `{"source": <program>}`, then EOF;
- 4: load report out, to the runner: one frame
  `{"status", "detail", "callables": [top-level callable names], "modules": {name: module}}`;
- 5: calls in, from the tester T: `{"seq": n, "call": name, "args": encode((args, kwargs))}`;
- 6: replies out, to T: `{"seq": n, "ok": encode(value)}`, or `{"seq": n, "error": "Type: msg",
  "type": "Type", "message": "msg"}` when the candidate raised, or `{"seq": n, "memory": ...}`
  (MemoryError), or `{"seq": n, "fault": ...}` (non-literal or oversized value, exit()).

Frames are a 4-byte big-endian length and that many bytes of UTF-8 Python literal text
(`encode`/`decode`, copied byte for byte in `tester` and `runner`; not JSON, whose import costs
a fresh interpreter ~14 ms). Values travel the same way: T rebuilds plain ints, strs, lists...
and never unpickles or evaluates anything. So whatever this process does (it runs hostile code,
which may rewrite any of this module's functions, forge frames on fd 6 or kill itself), it can
only make its own answers wrong.

The program runs as module `__candidate__` (registered in `sys.modules`), so its
`if __name__ == "__main__":` block, where completions often put example usage, does not run.

Left out: everything about tests. This process never sees the harness or any expected value;
it only learns which function T calls and with which arguments.
"""

from __future__ import annotations

import _ast  # not ast: that costs a fresh interpreter ~2.5 ms more
import math
import os
import sys
import types

TYPE_CHECKING = False  # importing typing would cost this interpreter milliseconds
if TYPE_CHECKING:
    from typing import Any

CONTROL_IN, LOAD_OUT, CALLS_IN, REPLIES_OUT = 3, 4, 5, 6
VALUE_CAP = 1 << 20
"""Largest literal text of a return value; past it the call fails (T caps at the same size)."""
REQUEST_CAP = 64 << 20
SOURCE_CAP = 64 << 20
FRAME_CAP = 2 * VALUE_CAP + 4096
MAX_DEPTH = 100
DETAIL_CHARS = 1000


# --- literal values as text (keep identical in all three) -------------------------------------

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
            return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)
                    if k is not None}
    elif isinstance(node, _ast.UnaryOp) and isinstance(node.op, _ast.USub | _ast.UAdd):
        operand = _literal(node.operand)
        if type(operand) in _NUMBERS:
            return -operand if isinstance(node.op, _ast.USub) else operand
    elif (isinstance(node, _ast.Call) and isinstance(node.func, _ast.Name) and not node.keywords
          and node.func.id in ("float", "complex", "set", "frozenset")):
        args = [_literal(a) for a in node.args]
        name = node.func.id
        if name == "float" and len(args) == 1 and args[0] in ("inf", "-inf", "nan"):
            return float(args[0])
        if (name == "complex" and len(args) == 2
                and all(type(a) in (int, float) for a in args)):
            return complex(args[0], args[1])
        if name == "set" and not args:
            return set()
        if name == "frozenset" and (not args or (
                len(args) == 1 and type(args[0]) in (set, list, tuple))):
            return frozenset(*args)
    raise ValueError(f"not a literal: {type(node).__name__}")


# --- frames ------------------------------------------------------------------------------------

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


def write_frame(fd: int, value: Any) -> None:
    data = encode(value, FRAME_CAP).encode()
    view = memoryview(len(data).to_bytes(4, "big") + data)
    while view:
        view = view[os.write(fd, view):]


def describe(exc: BaseException) -> tuple[str, str]:
    """(type name, message) of an exception, even one whose `__str__` raises."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable message>"
    return name[:200], message[:DETAIL_CHARS]


def _joined(name: str, message: str) -> str:
    return f"{name}: {message}" if message else name


# --- loading and serving -----------------------------------------------------------------------

def load(source: str) -> tuple[types.ModuleType | None, dict[str, Any]]:
    """Compile and run the program as module `__candidate__`; the module and the load report."""
    try:
        code = compile(source, "<candidate>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return None, _report("syntax_error", f"{type(exc).__name__}: {exc.msg}{where}")
    except MemoryError:
        return None, _report("memory", "MemoryError while compiling")
    except (ValueError, RecursionError, OverflowError) as exc:  # null bytes, deep nesting
        return None, _report("syntax_error", _joined(*describe(exc)))
    module = types.ModuleType("__candidate__")
    sys.modules["__candidate__"] = module
    try:
        exec(code, module.__dict__)
    except SystemExit as exc:
        try:
            detail = f"exit({exc.code!r:.200}) while loading"
        except BaseException:
            detail = "exit() while loading"
        return None, _report("exited", detail)
    except MemoryError:
        return None, _report("memory", "MemoryError while loading")
    except BaseException as exc:
        return None, _report("import_error", _joined(*describe(exc)))
    callables: list[str] = []
    modules: dict[str, str] = {}
    for name, value in list(module.__dict__.items()):
        if not isinstance(name, str) or name.startswith("__"):
            continue
        try:
            if isinstance(value, types.ModuleType):
                if isinstance(value.__name__, str):
                    modules[name] = value.__name__
            elif callable(value):
                callables.append(name)
        except BaseException:  # a hostile object's __class__ property; skip it
            continue
    report = _report("ok", "")
    report.update(callables=callables, modules=modules)
    return module, report


def _report(status: str, detail: str) -> dict[str, Any]:
    return {"status": status, "detail": detail[:DETAIL_CHARS]}


def answer(namespace: dict[str, Any], request: Any) -> dict[str, Any]:
    """The reply to one call request."""
    seq = request.get("seq") if isinstance(request, dict) else None
    try:
        name, text = request["call"], request["args"]
        if not isinstance(name, str) or not isinstance(text, str):
            raise TypeError("malformed call")
        args, kwargs = decode(text)
        function = namespace.get(name)
        if function is None or not callable(function):
            raise NameError(f"name {name!r} is not defined")
        value = function(*args, **kwargs)
    except SystemExit as exc:
        try:
            code = f"{exc.code!r:.200}"
        except BaseException:
            code = ""
        return {"seq": seq, "fault": f"candidate called exit({code})"}
    except MemoryError:
        return {"seq": seq, "memory": "MemoryError"}
    except BaseException as exc:
        kind, message = describe(exc)
        return {"seq": seq, "error": _joined(kind, message), "type": kind, "message": message}
    try:
        return {"seq": seq, "ok": encode(value, VALUE_CAP)}
    except NonLiteral as exc:
        return {"seq": seq, "fault": f"candidate returned a non-literal value: {exc}"}
    except TooLarge as exc:
        return {"seq": seq, "fault": f"candidate returned a value {exc}"}
    except MemoryError:
        return {"seq": seq, "memory": "MemoryError while encoding the return value"}
    except BaseException as exc:  # e.g. an int over the 4,300 digit str limit
        return {"seq": seq, "fault": "cannot encode the return value: " + _joined(*describe(exc))}


def main() -> None:
    # Bound here (not looked up at call time) so a program rebinding read_frame or write_frame
    # in this interpreter's __main__ only breaks its own replies.
    read, write, close = read_frame, write_frame, os.close
    message = read(CONTROL_IN, SOURCE_CAP)
    close(CONTROL_IN)
    if not isinstance(message, dict) or not isinstance(message.get("source"), str):
        return
    module, report = load(message["source"])
    write(LOAD_OUT, report)
    close(LOAD_OUT)
    if module is None:
        return
    namespace = module.__dict__
    while True:
        try:
            request = read(CALLS_IN, REQUEST_CAP)
        except ValueError:
            return
        if request is None:
            return
        write(REPLIES_OUT, answer(namespace, request))


if __name__ == "__main__":
    try:
        main()
    finally:
        # Skip interpreter shutdown: no atexit hooks or non-daemon threads of the program.
        os._exit(0)
