"""The event loop of one job, literal frames and pipes.

Part of the sandbox runner script (see `referee.sandbox.runner`), concatenated with the codec and
the other parts by `referee.sandbox.channel._source`; never imported on the host.
"""

from __future__ import annotations

import os
import selectors
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.sandbox.codec import decode
    from referee.sandbox.runner_procs import Child, reap

CHUNK = 1 << 16


# --- the event loop of one job -----------------------------------------------------------------


class Loop:
    """Non-blocking pipes and child exits of one job, multiplexed with a selector."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.handlers: dict[int, Callable[[], None]] = {}
        self.readers: set[int] = set()
        self.owned: set[int] = set()
        self.polled: list[tuple[Child, Callable[[], None]]] = []

    def _add(self, fd: int, events: int, handler: Callable[[], None]) -> None:
        self.selector.register(fd, events)
        self.handlers[fd] = handler

    def drop(self, fd: int) -> None:
        if fd in self.handlers:
            self.selector.unregister(fd)
            del self.handlers[fd]
        self.readers.discard(fd)
        if fd in self.owned:
            self.owned.discard(fd)
            os.close(fd)

    def read(
        self, fd: int, on_data: Callable[[bytes], None], on_eof: Callable[[], None] | None = None
    ) -> None:
        """Deliver what arrives on `fd` until end of file; the fd is closed then."""
        os.set_blocking(fd, False)
        self.owned.add(fd)
        self.readers.add(fd)

        def handler() -> None:
            try:
                data = os.read(fd, CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data:
                on_data(data)
                return
            self.drop(fd)
            if on_eof is not None:
                on_eof()

        self._add(fd, selectors.EVENT_READ, handler)

    def write(self, fd: int, data: bytes) -> None:
        """Write `data` to `fd` as the reader takes it, then close `fd` (its reader sees EOF). A
        reader that goes away just ends the write."""
        os.set_blocking(fd, False)
        self.owned.add(fd)
        view = memoryview(data)

        def handler() -> None:
            nonlocal view
            try:
                view = view[os.write(fd, view[:CHUNK]) :]
            except BlockingIOError:
                return
            except OSError:  # EPIPE: the reader exited or closed its end
                view = view[:0]
            if not view:
                self.drop(fd)

        if view:
            self._add(fd, selectors.EVENT_WRITE, handler)
        else:
            self.drop(fd)

    def watch(self, child: Child, on_exit: Callable[[], None] | None = None) -> None:
        """Reap `child` as soon as it exits (`child.done` turns true)."""

        def handler() -> None:
            reap()
            if child.done:
                if child.pidfd is not None and child.pidfd in self.handlers:
                    self.drop(child.pidfd)
                if on_exit is not None:
                    on_exit()

        if child.pidfd is not None:
            self._add(child.pidfd, selectors.EVENT_READ, handler)
        else:
            self.polled.append((child, handler))

    @property
    def reading(self) -> bool:
        return bool(self.readers)

    def run(self, until: Callable[[], bool], deadline: float) -> bool:
        """Dispatch events until `until()` is true (True) or the deadline passes (False)."""
        while not until():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.polled:
                remaining = min(remaining, 0.01)
            for key, _ in self.selector.select(remaining):
                handler = self.handlers.get(key.fd)
                if handler is not None:
                    handler()
            for child, handler in list(self.polled):
                if not child.done:
                    handler()
                if child.done:
                    self.polled.remove((child, handler))
        return True

    def close(self) -> None:
        for fd in list(self.handlers):
            self.drop(fd)
        for fd in list(self.owned):
            self.drop(fd)
        self.selector.close()


class Frames:
    """Length-prefixed literal frames from a byte stream; `feed` returns the complete ones. A
    frame over the cap, or one that is not a literal, makes `broken` true and stops delivery."""

    def __init__(self, cap: int):
        self.cap = cap
        self.buffer = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[Any]:
        if self.broken:
            return []
        self.buffer += data
        out: list[Any] = []
        while len(self.buffer) >= 4:
            size = int.from_bytes(self.buffer[:4], "big")
            if size > self.cap:
                self.broken = True
                break
            if len(self.buffer) < 4 + size:
                break
            body = bytes(self.buffer[4 : 4 + size])
            del self.buffer[: 4 + size]
            try:
                out.append(decode(body.decode()))
            except ValueError:  # UnicodeDecodeError included
                self.broken = True
                break
        return out


def pipe() -> tuple[int, int]:
    return os.pipe()  # O_CLOEXEC: a child only ever gets the fds spawn() maps


def release(theirs: list[int], child: Child | None, loop: Loop) -> None:
    """After one process's run: close the child's pipe ends we still hold, kill the child if
    it still runs, and close the loop (and our ends with it)."""
    for fd in theirs:
        os.close(fd)
    if child is not None:
        if not child.done:
            child.kill()
        child.close()
    loop.close()
