"""The program host P: the one process of an rpc job that runs the untrusted program.

The zygote (`referee.sandbox.zygote`, a warm `python3 -I` in the container) forks it and runs
this source as `__main__`; without a zygote the runner (`referee.sandbox.runner`) starts it as a
fresh `python3 -I -c <this source>`. Either way it gets the job's memory and CPU limits,
`oom_score_adj` 1000, the seccomp filter, and these file descriptors (everything else closed):

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
DETAIL_CHARS = 1000


# --- literal values as text: `referee.sandbox.codec`, prepended to this source by the host ---

if TYPE_CHECKING:
    from referee.sandbox.codec import (
        NonLiteral,
        TooLarge,
        decode,
        encode,
        read_frame,
        write_frame,
    )


# --- frames ------------------------------------------------------------------------------------


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
    write(LOAD_OUT, report, FRAME_CAP)
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
        write(REPLIES_OUT, answer(namespace, request), FRAME_CAP)


if __name__ == "__main__":
    try:
        main()
    finally:
        # Skip interpreter shutdown: no atexit hooks or non-daemon threads of the program.
        os._exit(0)
