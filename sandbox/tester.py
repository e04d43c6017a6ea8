"""The tester T: runs an rpc job's tests, calling the untrusted program over a pipe.

The runner (`referee.sandbox.runner`) forks itself (a `python3 -I -S`) to run this source,
without the program's resource limits, with these file descriptors (everything else closed):

- 0: job in, from the runner: one frame, sent only once the program has loaded:
  `{"harness": Harness, "early_stop", "test_wall_s", "callables": [...], "modules": {...}}`;
- 1: /dev/null (test code that prints cannot corrupt anything); 2: a pipe to the runner;
- 3: report out, to the runner: `{"ready": true}` once this process is non-dumpable, then
  `{"index": i, "result": CaseResult}` per test, `{"lost": i}` when the program stopped
  answering during test i (the runner knows why: it sees the program's exit status),
  `{"internal": "..."}` on a bug here, and `{"done": true}` last;
- 4: calls out, to the program host P; 5: replies in, from P (see `program_host`).

Frames are a 4-byte big-endian length and that many bytes of UTF-8 Python literal text
(`encode`/`decode`, copied byte for byte from `program_host`; not JSON, whose import costs a
fresh interpreter ~14 ms). SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 stay ignored as the
runner left them, so the program (same uid) cannot end this process with them.

Why the program cannot pass a test it should fail:
- This process makes itself non-dumpable before it says ready, and the runner gives P the
  program only after that, so P can never read this process's memory (the harness, expected
  values) or open its file descriptors through /proc (the report pipe).
- The program's functions are proxies: a call sends literal arguments to P and accepts only
  literal text back (`decode`), rebuilt here as plain builtin values. An object whose `__eq__`
  is always True, a generator or a class instance fails the call; so do an `exit()` in the
  candidate, a MemoryError, a reply past the time limit or a broken channel. Those failures are
  BaseExceptions recorded on the test, so a bare `except:` in test code cannot hide them.
- The harness's own `check` is used, never one the program defines; builtins are never
  shadowed by the program's names.

Call-style tests (a list of argument lists, values compared on the host) send later cases'
calls ahead (`AHEAD_BYTES` in flight), so the program answers the next while this process
checks and reports the last: ~7 ms for 100 cases instead of ~16. The program learns those
arguments sooner, never an expected value; each test is still timed from its own turn, and a
reply is only ever taken for the call it answers. Assert and MBPP tests stay one call at a
time: which call comes next depends on the last answer.

Left out: comparing outputs. Call-mode values go back to the host, which holds the expected
values; so do stdio outputs, which never reach this process at all.
"""

from __future__ import annotations

import builtins
import ctypes
import fcntl
import math
import os
import select
import sys
import time
import types
from collections import deque

TYPE_CHECKING = False  # importing typing would cost this interpreter milliseconds
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

JOB_IN, REPORT_OUT, CALLS_OUT, REPLIES_IN = 0, 3, 4, 5
VALUE_CAP = 1 << 20
"""Largest literal text of a return value (P enforces the same cap)."""
REPLY_CAP = 2 * VALUE_CAP + 4096
ARGS_CAP = 16 << 20
JOB_CAP = 256 << 20
FRAME_CAP = 256 << 20
DETAIL_CHARS = 1000
BUILTIN_NAMES = frozenset(dir(builtins))
AHEAD_BYTES = 32 << 10
"""Call frames of later call-style tests sent before their turn, at most; a frame is sent ahead
only when the calls pipe (64 KB unless the program shrank it) has room for it, so sending never
waits on the program, and one larger than this goes in its turn."""
PIPE_SLACK = 8192
"""Room kept free in the calls pipe beyond the frames in flight (pipes fill by pages)."""
UNSAFE_MODULES = frozenset(
    {
        "antigravity",
        "this",
        "idlelib",
        "tkinter",
        "turtle",
        "turtledemo",
        "webbrowser",
        "pydoc",
        "ensurepip",
        "venv",
        "lib2to3",
    }
)


# --- literal values as text: `referee.sandbox.codec`, prepended to this source by the host ---

if TYPE_CHECKING:
    from referee.sandbox.codec import (
        MAX_DEPTH,
        NonLiteral,
        TooLarge,
        decode,
        encode,
        frame,
        read_frame,
        write_frame,
    )


# --- frames ------------------------------------------------------------------------------------


def send(value: Any) -> None:
    """One frame to the runner (blocking: the runner always reads)."""
    write_frame(REPORT_OUT, value, FRAME_CAP)


def describe(exc: BaseException) -> str:
    name = type(exc).__name__
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable message>"
    return (f"{name}: {message}" if message else name)[:DETAIL_CHARS]


def make_nondumpable() -> None:
    """PR_SET_DUMPABLE 0: /proc/<this pid>/{mem,fd,environ,...} become root's, and ptrace is
    refused, for every other process of the sandbox user (the program's included)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0 or libc.prctl(3, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


# --- calling the program -----------------------------------------------------------------------


class Fault(BaseException):
    """A call failure that fails the test whatever the test code does with it: BaseException so
    `except Exception` does not catch it, and also recorded on the `Rpc` for a bare `except:`.
    `fatal`: the channel to the program is unusable, the job ends after this test."""

    def __init__(self, status: str, detail: str, fatal: bool = False, lost: bool = False):
        super().__init__(detail)
        self.status, self.detail, self.fatal, self.lost = status, detail[:DETAIL_CHARS], fatal, lost


class CandidateError(Exception):
    """An exception the candidate raised whose type is not a builtin exception."""


class Rpc:
    """The pipe pair to the program host: numbered calls, one at a time, each bounded by the
    current test's deadline."""

    def __init__(self, test_wall_s: float):
        self.test_wall_s = test_wall_s
        self.seq = 0
        self.buffer = bytearray()
        self.deadline = math.inf
        self.fault: Fault | None = None
        """The first fault of the current test."""
        self.broken: Fault | None = None
        """A fatal fault: no more calls go out."""
        os.set_blocking(CALLS_OUT, False)
        os.set_blocking(REPLIES_IN, False)

    def begin(self, deadline: float) -> None:
        self.deadline = deadline
        self.fault = self.broken

    def fail(self, fault: Fault) -> Fault:
        if self.fault is None:
            self.fault = fault
        if fault.fatal and self.broken is None:
            self.broken = fault
        return fault

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.broken is not None:
            raise Fault(self.broken.status, self.broken.detail, True, self.broken.lost)
        try:
            text = encode((args, kwargs), ARGS_CAP)
        except (NonLiteral, TooLarge) as exc:
            raise TypeError(
                f"cannot pass a non-literal or huge argument to the candidate: {exc}"
            ) from None
        self.seq += 1
        self._write(frame({"seq": self.seq, "call": name, "args": text}, FRAME_CAP))
        return self.collect(self.seq)

    def prepare(self, name: str, args: list[Any]) -> bytes | None:
        """The frame of the next call, to send ahead (`send_ahead`); None when its arguments
        cannot travel (the test then calls normally and fails there)."""
        try:
            text = encode((tuple(args), {}), ARGS_CAP)
        except (NonLiteral, TooLarge):
            return None
        return frame({"seq": self.seq + 1, "call": name, "args": text}, FRAME_CAP)

    def send_ahead(self, data: bytes, in_flight: int) -> int | None:
        """Send a frame from `prepare` now, if the calls pipe takes it without waiting (the
        frames already ahead, `in_flight` bytes, are at most what it holds unread); its call
        number, or None: not now, or the channel is broken."""
        if self.broken is not None:
            return None
        try:
            size = fcntl.fcntl(CALLS_OUT, fcntl.F_GETPIPE_SZ)
        except OSError:
            return None
        if in_flight + len(data) + PIPE_SLACK > size:
            return None
        try:
            self._write(data)
        except Fault:
            return None
        self.seq += 1
        return self.seq

    def collect(self, seq: int) -> Any:
        """The value of call `seq` (sent already), or its failure raised."""
        if self.broken is not None:
            raise Fault(self.broken.status, self.broken.detail, True, self.broken.lost)
        reply = self._reply(seq)
        if "ok" in reply:
            value = reply["ok"]
            try:
                if not isinstance(value, str) or len(value) > VALUE_CAP:
                    raise ValueError("oversized")
                return decode(value)
            except ValueError:
                raise self.fail(
                    Fault("error", "TypeError: candidate returned a non-literal value")
                ) from None
        if "fault" in reply:
            raise self.fail(Fault("error", str(reply["fault"])))
        if "memory" in reply:
            raise self.fail(Fault("memory", str(reply["memory"])))
        raise candidate_error(
            str(reply.get("type", "")),
            str(reply.get("message", "")),
            str(reply.get("error", "error")),
        )

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(CALLS_OUT, view) :]
            except BlockingIOError:
                self._wait(CALLS_OUT, write=True)
            except OSError:  # EPIPE: the program host is gone
                raise self.fail(self._lost()) from None

    def _reply(self, seq: int) -> dict[str, Any]:
        while True:
            message = self._frame()
            # Frames for another call number are stale or forged; the program could only ever
            # answer its own calls with them.
            if isinstance(message, dict) and message.get("seq") == seq:
                return message

    def _frame(self) -> Any:
        while True:
            if len(self.buffer) >= 4:
                size = int.from_bytes(self.buffer[:4], "big")
                if size > REPLY_CAP:
                    raise self.fail(Fault("error", "the program sent an oversized reply", True))
                if len(self.buffer) >= 4 + size:
                    body = bytes(self.buffer[4 : 4 + size])
                    del self.buffer[: 4 + size]
                    try:
                        return decode(body.decode())
                    except ValueError:  # UnicodeDecodeError included
                        raise self.fail(
                            Fault("error", "the program corrupted its replies", True)
                        ) from None
            self._wait(REPLIES_IN, write=False)
            try:
                chunk = os.read(REPLIES_IN, 1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                raise self.fail(self._lost())
            self.buffer += chunk

    def _wait(self, fd: int, write: bool) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self.fail(Fault("timeout", f"test took longer than {self.test_wall_s:g} s", True))
        timeout = None if remaining == math.inf else remaining  # select takes no infinity
        if write:
            select.select([], [fd], [], timeout)
        else:
            select.select([fd], [], [], timeout)

    @staticmethod
    def _lost() -> Fault:
        return Fault("error", "the program stopped answering", True, True)


CONTROL_FLOW = (StopIteration, StopAsyncIteration)
"""Never re-raised as themselves: a StopIteration out of a proxy inside `map()` would end the
iteration early, and `all(map(candidate, xs))` would pass."""


def candidate_error(kind: str, message: str, text: str) -> Exception:
    """The candidate's exception as an instance of the same builtin type when there is one (so
    tests expecting e.g. ValueError work), else a CandidateError."""
    cls = getattr(builtins, kind, None) if kind.isidentifier() else None
    exc: Exception = CandidateError(text)
    if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, CONTROL_FLOW):
        try:
            exc = cls(message)
        except Exception:  # e.g. UnicodeDecodeError needs five arguments
            exc = CandidateError(text)
    exc.referee_text = text  # type: ignore[attr-defined]  # the detail, verbatim from P
    return exc


# --- running the tests -------------------------------------------------------------------------


class Tester:
    def __init__(self, job: dict[str, Any]):
        self.job = job
        self.harness: dict[str, Any] = job["harness"]
        self.early_stop = bool(job.get("early_stop"))
        self.test_wall_s = float(job["test_wall_s"])
        self.rpc = Rpc(self.test_wall_s)

    def run(self) -> None:
        style = self.harness.get("style")
        if style == "assert":
            self.run_assert()
        elif style == "mbpp":
            self.run_mbpp()
        elif style == "call":
            self.run_call()
        else:
            raise ValueError(f"unknown harness style {style!r}")

    def proxy(self, name: str) -> Callable[..., Any]:
        rpc = self.rpc

        def candidate(*args: Any, **kwargs: Any) -> Any:
            return rpc.call(name, args, kwargs)

        candidate.__name__ = candidate.__qualname__ = name
        return candidate

    def namespace(self, code_text: str) -> dict[str, Any]:
        """Globals for the test code: the program's top-level functions as proxies (HumanEval
        tests call helpers from the prompt, MBPP asserts call any of them) and the standard
        modules the program imported that the test code names (MBPP tests use `math` without
        importing it). Never a builtin's name, and the test's own definitions come after."""
        namespace: dict[str, Any] = {"__name__": "__test__", "__builtins__": builtins}
        for name in self.job.get("callables", []):
            if _usable_name(name):
                namespace[name] = self.proxy(name)
        modules = self.job.get("modules", {})
        for alias, module in modules.items() if isinstance(modules, dict) else ():
            if (
                _usable_name(alias)
                and alias not in namespace
                and alias in code_text
                and isinstance(module, str)
                and _safe_module(module)
            ):
                try:
                    namespace[alias] = __import__(module, fromlist=["_"])
                except Exception:
                    continue
        return namespace

    def one(
        self,
        index: int,
        body: Callable[[], dict[str, Any]],
        where: Callable[[BaseException], str] | None = None,
    ) -> bool:
        """Run one test, report it; whether the job goes on."""
        start = time.monotonic()
        self.rpc.begin(start + self.test_wall_s)
        status, detail, extra = "ok", "", {}
        try:
            extra = body()
        except Fault as raised:
            status, detail = raised.status, raised.detail
        except AssertionError as exc:
            status = "failed"
            detail = describe(exc) + (where(exc) if where else "")
        except BaseException as exc:
            status, detail = "error", getattr(exc, "referee_text", None) or describe(exc)
        fault = self.rpc.fault
        if fault is not None:
            if fault.lost:
                send({"lost": index})
                return False
            status, detail = fault.status, fault.detail
        result = {
            "status": status,
            "detail": detail[:DETAIL_CHARS],
            "wall_s": round(time.monotonic() - start, 6),
        }
        if status == "ok":
            result.update(extra)
        send({"index": index, "result": result})
        if fault is not None and fault.fatal:
            return False
        return not (self.early_stop and status != "ok")

    def run_assert(self) -> None:
        test = str(self.harness["test"])
        entry_point = str(self.harness["entry_point"])
        namespace = self.namespace(test)
        lines = test.splitlines()

        def body() -> dict[str, Any]:
            exec(compile(test, "<test>", "exec", dont_inherit=True), namespace)
            check = namespace.get("check")
            # Only the harness's own check counts, never a proxy named check.
            if not (
                isinstance(check, types.FunctionType) and check.__code__.co_filename == "<test>"
            ):
                raise RuntimeError("the test code defines no check(candidate)")
            check(self.proxy(entry_point))
            return {}

        def where(exc: BaseException) -> str:
            line = None
            tb = exc.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code.co_filename == "<test>":
                    line = tb.tb_lineno
                tb = tb.tb_next
            if line is None or not 0 < line <= len(lines):
                return ""
            return f" (line {line}: {lines[line - 1].strip()[:300]})"

        self.one(0, body, where)

    def run_mbpp(self) -> None:
        setup = str(self.harness.get("setup") or "")
        tests = [str(t) for t in self.harness["tests"]]
        namespace = self.namespace(setup + "\n" + "\n".join(tests))
        if setup.strip():
            start = time.monotonic()
            self.rpc.begin(start + self.test_wall_s)
            failure = ""
            try:
                exec(compile(setup, "<setup>", "exec", dont_inherit=True), namespace)
            except BaseException as exc:
                failure = exc.detail if isinstance(exc, Fault) else describe(exc)
            fault = self.rpc.fault
            if fault is not None and fault.fatal:
                if fault.lost:
                    send({"lost": 0})
                else:
                    send(
                        {
                            "index": 0,
                            "result": {
                                "status": fault.status,
                                "detail": fault.detail,
                                "wall_s": round(time.monotonic() - start, 6),
                            },
                        }
                    )
                return
            if fault is not None or failure:
                detail = ("setup failed: " + (fault.detail if fault else failure))[:DETAIL_CHARS]
                for index in range(len(tests)):
                    send(
                        {
                            "index": index,
                            "result": {"status": "error", "detail": detail, "wall_s": 0.0},
                        }
                    )
                return
        for index, test in enumerate(tests):

            def body(test: str = test, index: int = index) -> dict[str, Any]:
                exec(compile(test, f"<test {index}>", "exec", dont_inherit=True), namespace)
                return {}

            def where(exc: BaseException, test: str = test) -> str:
                return f" ({test.strip()[:300]})"

            if not self.one(index, body, where):
                return

    def run_call(self) -> None:
        """Each case a call. The calls of later cases go out ahead (up to `AHEAD_BYTES` in
        flight), so the program answers one while the last answer is checked here: no round
        trip per test. Each test's time still starts when the previous answer arrived, which
        is when the program turned to it, and the program only ever sees arguments."""
        name = str(self.harness["fn_name"])
        function = self.proxy(name)
        cases = self.harness["cases"]
        sent: dict[int, int] = {}  # case -> call number
        flight: deque[tuple[int, int]] = deque()  # (case, frame bytes) sent ahead, oldest first
        in_flight = 0  # their bytes
        ahead = 0  # the next case whose call may go ahead

        def top_up(current: int) -> None:
            """Send the calls of the cases after `current` while they fit, in order: a case
            that cannot go ahead stops it (its call, made in its turn, must reach the
            program before any later one)."""
            nonlocal ahead, in_flight
            while flight and flight[0][0] < current:  # answered
                in_flight -= flight.popleft()[1]
            while ahead < len(cases) and isinstance(cases[ahead], list):
                data = self.rpc.prepare(name, cases[ahead])
                if data is None or in_flight + len(data) > AHEAD_BYTES:
                    return
                seq = self.rpc.send_ahead(data, in_flight)
                if seq is None:
                    return
                sent[ahead] = seq
                flight.append((ahead, len(data)))
                in_flight += len(data)
                ahead += 1

        for index, args in enumerate(cases):

            def body(args: Any = args, index: int = index) -> dict[str, Any]:
                nonlocal ahead
                if index in sent:
                    top_up(index)  # the next calls go out while this one is answered
                    value = self.rpc.collect(sent[index])
                else:
                    ahead = index + 1  # nothing after this case was sent yet
                    if not isinstance(args, list):
                        raise TypeError("call arguments must be a list")
                    try:
                        value = function(*args)
                    finally:
                        top_up(index + 1)
                try:
                    return {"value": json_value(value, 0)}
                except (TypeError, ValueError):
                    raise Fault("error", "return value is not JSON-serialisable") from None

            if not self.one(index, body):
                return


def json_value(value: Any, depth: int) -> Any:
    """A decoded literal as JSON: tuples become lists; sets, bytes, complex numbers, non-finite
    floats and non-string dict keys raise (the host could not compare them faithfully). Less
    deep than MAX_DEPTH, so that the report frame around it still encodes."""
    if depth > MAX_DEPTH - 10:
        raise ValueError("too deep")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite float")
        return value
    if isinstance(value, list | tuple):
        return [json_value(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("non-string key")
        return {k: json_value(v, depth + 1) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def _usable_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and name.isidentifier()
        and not name.startswith("__")
        and name not in BUILTIN_NAMES
    )


def _safe_module(module: str) -> bool:
    top = module.partition(".")[0]
    return top in sys.stdlib_module_names and top not in UNSAFE_MODULES and not top.startswith("_")


def main() -> None:
    make_nondumpable()
    send({"ready": True})
    job = read_frame(JOB_IN, JOB_CAP)
    if not isinstance(job, dict):
        return
    Tester(job).run()
    send({"done": True})


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:
        try:
            send({"internal": describe(exc)})
        finally:
            os._exit(1)
    os._exit(0)
