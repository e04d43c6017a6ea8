"""An rpc job: the program host P and the tester T at work.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.codec import frame
    from referee.sandbox.runner_clean import kill_others
    from referee.sandbox.runner_jobs import GRACE_S, count_tests, result
    from referee.sandbox.runner_loop import Frames, Loop
    from referee.sandbox.runner_procs import TAIL_CHARS, Child, Tail, classify, last_line

LOAD_REPORT_CAP = 1 << 20  # P is hostile: parsing is not free
FRAME_TO_CHILD_CAP = 1 << 30  # what we send T and P: ours, bounded by the job's own size
REPORT_CAP = 256 << 20
MAX_NAMES = 10000
STATUSES = frozenset(
    {"ok", "failed", "error", "timeout", "memory", "output_limit", "killed", "not_run"}
)
PROGRAM_STATUSES = frozenset(
    {"ok", "syntax_error", "import_error", "timeout", "memory", "killed", "output_limit", "exited"}
)


class RpcJob:
    """The state of one rpc job while its event loop runs."""

    def __init__(
        self,
        job: dict[str, Any],
        loop: Loop,
        tester: Child,
        host: Child,
        start: float,
        oom_before: int | None,
        fds: dict[str, int],
    ):
        self.job, self.loop = job, loop
        self.tester, self.host = tester, host
        limits = job["limits"]
        self.count = count_tests(job["harness"])
        self.deadline = start + float(limits["wall_s"])
        self.test_wall_s = float(limits["test_wall_s"])
        self.cap = int(limits["output_bytes"])
        self.oom_before = oom_before
        self.fds = fds
        self.results: dict[int, dict[str, Any]] = {}
        self.ready = False
        self.done = False
        self.report_eof = False
        self.lost: int | None = None
        self.internal: str | None = None
        self.load: Any = None
        self.load_eof = False
        self.host_cause: str | None = None
        self.host_out = 0
        self.host_err = Tail()
        self.tester_err = Tail()
        self.start = start
        self.phases: dict[str, float] = {}
        """Seconds from the job's start to each step: where an rpc job's time goes."""

    def run(self) -> dict[str, Any]:
        loop, fds = self.loop, self.fds
        report = Frames(REPORT_CAP)
        load = Frames(LOAD_REPORT_CAP)

        def on_report(data: bytes) -> None:
            for message in report.feed(data):
                self.on_report(message)

        def on_load(data: bytes) -> None:
            for message in load.feed(data):
                if self.load is None:
                    self.load = message
            if load.broken and self.load is None:
                self.load = "broken"

        def on_host_out(data: bytes) -> None:
            self.host_out += len(data)  # discarded: rpc programs print only for themselves
            if self.host_out > self.cap:
                self.kill_host("output_limit")

        def on_host_err(data: bytes) -> None:
            self.host_err.add(data)
            if self.host_err.total > self.cap:
                self.kill_host("output_limit")

        loop.read(fds["report"], on_report, lambda: setattr(self, "report_eof", True))
        loop.read(fds["load"], on_load, lambda: setattr(self, "load_eof", True))
        loop.read(fds["p_out"], on_host_out)
        loop.read(fds["p_err"], on_host_err)
        loop.read(fds["t_err"], self.tester_err.add)
        loop.watch(self.tester)
        loop.watch(self.host)

        # 1. T starts and makes itself non-dumpable; only then does P get the program.
        if not loop.run(lambda: self.ready or self.report_eof or self.tester.done, self.deadline):
            return self.finish(runner_error="the tester did not start in time")
        if not self.ready:
            loop.run(lambda: fds["t_err"] not in loop.readers, time.monotonic() + GRACE_S)
            return self.finish(
                runner_error="the tester failed to start: "
                + (last_line(self.tester_err.text()) or "no output")
            )
        self.mark("tester_ready")
        loop.write(fds["control"], frame({"source": self.job["program"]}, FRAME_TO_CHILD_CAP))
        load_deadline = min(self.deadline, time.monotonic() + self.test_wall_s)
        if not loop.run(
            lambda: self.load is not None or self.load_eof or self.host.done, load_deadline
        ):
            self.kill_host("timeout")
        self.mark("loaded")
        program = self.program_status()
        if program["status"] != "ok":
            return self.finish(program=program)

        # 2. T gets the harness and P's names, and runs the tests.
        load_report = self.load if isinstance(self.load, dict) else {}
        loop.write(
            fds["job"],
            frame(
                {
                    "harness": self.job["harness"],
                    "early_stop": bool(self.job["early_stop"]),
                    "test_wall_s": self.test_wall_s,
                    "callables": _names(load_report.get("callables")),
                    "modules": _modules(load_report.get("modules")),
                },
                FRAME_TO_CHILD_CAP,
            ),
        )
        if not loop.run(lambda: self.done or self.report_eof, self.deadline):
            return self.finish(program=program, wall_timeout=True)
        self.mark("tested")
        if self.internal is not None:
            return self.finish(program=program, runner_error="tester: " + self.internal)
        return self.finish(program=program)

    def mark(self, phase: str) -> None:
        self.phases[phase] = round(time.monotonic() - self.start, 6)

    def on_report(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if message.get("ready") is True:
            self.ready = True
        elif message.get("done") is True:
            self.done = True
        elif isinstance(message.get("lost"), int):
            self.lost = message["lost"]
        elif isinstance(message.get("internal"), str):
            self.internal = message["internal"][:TAIL_CHARS]
        elif isinstance(message.get("index"), int) and isinstance(message.get("result"), dict):
            index, case = message["index"], message["result"]
            if 0 <= index < self.count and case.get("status") in STATUSES:
                clean_case = result(
                    case["status"], str(case.get("detail", "")), float(case.get("wall_s") or 0.0)
                )
                if "value" in case:
                    clean_case["value"] = case["value"]
                self.results[index] = clean_case

    def kill_host(self, cause: str) -> None:
        if self.host_cause is None and not self.host.done:
            self.host_cause = cause
        self.host.kill()

    def host_death(self) -> tuple[str, str]:
        """Why P died (or stopped answering), as a test status and detail."""
        if self.host_cause == "output_limit":
            return "output_limit", f"printed more than {self.cap} bytes"
        if self.host_cause == "timeout":
            return "timeout", f"wall time limit ({self.test_wall_s:g} s)"
        if not self.host.done:
            return "error", "the program closed its RPC channel"
        status, detail = classify(
            self.host,
            self.host_err.text(),
            self.job["limits"],
            self.oom_before,
            self.host_err.head_text(),
        )
        if status in ("ok", "error"):
            code = os.WEXITSTATUS(self.host.status or 0)
            return "error", f"the program exited with code {code}" + (
                f": {detail}" if status == "error" and detail != f"exit code {code}" else ""
            )
        return status, detail

    def program_status(self) -> dict[str, Any]:
        if isinstance(self.load, dict) and self.load.get("status") in PROGRAM_STATUSES:
            return {
                "status": self.load["status"],
                "detail": str(self.load.get("detail", "")),
                "stderr": "",
            }
        if self.load is not None:
            return {"status": "import_error", "detail": "invalid load report", "stderr": ""}
        # No report: P died, hung, or closed the report pipe while loading.
        self.loop.run(lambda: self.host.done, time.monotonic() + GRACE_S)
        if not self.host.done and self.host_cause is None:
            return {
                "status": "import_error",
                "detail": "the program closed its load report",
                "stderr": "",
            }
        status, detail = self.host_death()
        if status == "error":
            status = "exited"
            detail = detail.replace("the program exited", "exited while loading")
        return {"status": status, "detail": detail, "stderr": ""}

    def finish(
        self,
        program: dict[str, Any] | None = None,
        wall_timeout: bool = False,
        runner_error: str | None = None,
    ) -> dict[str, Any]:
        loop = self.loop
        if self.lost is not None and self.lost not in self.results:
            # P went away mid-test: let it finish dying, then say why.
            loop.run(lambda: self.host.done, time.monotonic() + GRACE_S)
            status, detail = self.host_death()
            self.results[self.lost] = result(status, detail)
        tester_died = self.report_eof and not self.done and not wall_timeout
        self.host.kill()
        self.tester.kill()
        # Everything else too (the program's children hold copies of P's stdout and stderr),
        # then collect the exits and the stderr tails.
        kill_others()
        loop.run(
            lambda: self.host.done and self.tester.done and not loop.reading, time.monotonic() + 1.0
        )
        results: list[dict[str, Any]] = []
        first_missing = True
        for index in range(self.count):
            if index in self.results:
                results.append(self.results[index])
            elif program is not None and program["status"] != "ok":
                results.append(result("not_run", f"the program did not load: {program['status']}"))
            elif wall_timeout and first_missing:
                results.append(
                    result("timeout", f"job wall time ({self.job['limits']['wall_s']} s) used up")
                )
            elif tester_died:
                results.append(result("killed", "tester killed by the program"))
            else:
                results.append(result("not_run", "an earlier test ended the job"))
            if index not in self.results:
                first_missing = False
        self.mark("finished")
        reply: dict[str, Any] = {"id": self.job["id"], "results": results, "phases": self.phases}
        if program is not None:
            program["stderr"] = self.host_err.text()
            reply["program"] = program
        if runner_error is not None:
            reply["runner_error"] = runner_error
        return reply


def _names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [n for n in value[:MAX_NAMES] if isinstance(n, str) and len(n) < 200]


def _modules(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {
        k: v
        for k, v in list(value.items())[:MAX_NAMES]
        if isinstance(k, str) and isinstance(v, str) and len(k) < 200 and len(v) < 200
    }
