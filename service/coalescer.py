"""Micro-batching and fair order in front of a scoring backend: what lets trainers that send one
sample per request (OpenRLHF, slime, verl's async reward loop, NeMo-Gym) score at batch speed,
and several trainers share one service.

Every scoring request of the API goes through `Coalescer.score(items, timeout_s, client)`:

* **Micro-batches.** A request smaller than `coalesce_max_items` waits in its client's line
  for at most `coalesce_window_ms`; the waiting requests then go to the backend together, as
  one batch, as soon as they hold `coalesce_max_items` items or the oldest has waited the
  window. A larger request goes at once, on its own. The backend groups a batch's items by
  group and gold (the executor's tasks, the queue's chunks), so samples of one prompt sent in
  separate requests share a scoring process and their gold is parsed once. Groups are the
  client's own: in a micro-batch holding several clients' requests each client's `group`
  names are marked as its own (two trainers both calling their groups `g0`, `g1` must not
  vote together under the `majority` scorer).
* **Each request on its own.** A request's results are handed back the moment its own items
  are scored (the backend streams results: per item embedded, per chunk over the queue), so a
  slow sample in the same micro-batch delays nobody else. Each request keeps its own
  `timeout_s`: past it, it answers with what is done and deadline errors for the rest, and
  leaves the others alone. Admission (413, 429) and bad input (4xx) are decided per request
  before it joins a line, and an invalid item is its own error result, as for any batch. A
  backend failure fails only the requests whose items were in that micro-batch and not yet
  answered.
* **Fair order between clients.** At most `fair_window_items` items from this replica are in
  the backend at once (a request larger than that goes alone when nothing else is in). Past
  that, requests wait in one line per client (its API key, or its address when auth is off)
  and leave them in turn, one request per client per round, so a run that sends a burst of
  batches delays another run by at most the window, not by its whole burst. The per-client
  limits (`key_max_requests`, `key_max_pending_items`: 429 with Retry-After) are applied at
  admission (`api.admission`), from the counts kept here.

Left out: fairness across API replicas (each replica orders its own requests; the queue behind
them is FIFO), weights or priorities per client, and cancelling a micro-batch's scoring when
all its requests gave up (their results are dropped, as for a batch that missed its deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from referee.service.backend import (
    BackendError,
    OnResult,
    ScoringBackend,
    deadline_error,
    fill_unfinished,
)
from referee.verifiers.contract import Result

_MARGIN_S = 1.0
"""How long a micro-batch is followed past its requests' last deadline."""


@dataclass
class _Request:
    items: list[Any]
    client: str
    arrived: float
    deadline: float | None
    done: asyncio.Future[None]
    results: list[Result | None] = field(default_factory=list)
    left: int = 0
    sent: bool = False
    gave_up: bool = False

    def deliver(self, pos: int, result: Result) -> bool:
        """Take one result; True when it completed the request."""
        if self.results[pos] is not None:
            return False
        self.results[pos] = result
        self.left -= 1
        if self.left == 0 and not self.done.done():
            self.done.set_result(None)
            return True
        return False

    def fail(self, error: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(error)
            # Retrieved or not, a failed request must not log "exception never retrieved".
            self.done.exception()


@dataclass
class ClientCounts:
    """What one client has pending here: requests and items, waiting or in the backend."""

    requests: int = 0
    items: int = 0


def _own_groups(items: list[Any], client: int) -> list[Any]:
    """`items` with each `group` marked as client number `client`'s in this micro-batch: two
    trainers that both name their groups `g0`, `g1`... must not share a group (a `majority`
    vote, a canary's group). The number, not the client's name: that may be its API key,
    which must not travel with the items."""
    return [
        {**item, "group": f"c{client}/{item['group']}"}
        if isinstance(item, dict) and isinstance(item.get("group"), str)
        else item
        for item in items
    ]


class Coalescer:
    """Micro-batches and fair order in front of `backend` (see the module doc). All methods
    run on the event loop."""

    def __init__(
        self,
        backend: ScoringBackend,
        *,
        window_s: float,
        max_items: int,
        fair_window_items: int,
        on_send: Callable[[int], None] | None = None,
    ) -> None:
        self.backend = backend
        self.window_s = max(0.0, window_s)
        self.max_items = max(1, max_items)
        self.fair_window_items = max(1, fair_window_items)
        self._lines: dict[str, deque[_Request]] = {}
        self._turns: deque[str] = deque()  # clients with a waiting request, in turn order
        self._waiting_items = 0
        self._in_backend = 0  # items sent and not answered yet
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.clients: dict[str, ClientCounts] = {}
        self.on_send = on_send
        """Called with the number of requests in each batch sent (for the metrics)."""

    # -- what admission reads --------------------------------------------------------------

    def waiting_items(self) -> int:
        """Items admitted and not yet in the backend (the backend does not count them)."""
        return self._waiting_items

    def of(self, client: str) -> ClientCounts:
        return self.clients.get(client) or ClientCounts()

    # -- scoring ---------------------------------------------------------------------------

    async def score(self, items: list[Any], timeout_s: float | None, client: str) -> list[Result]:
        """Score `items` for `client` (see the module doc). Raises `BackendError` when the
        micro-batch holding them failed."""
        loop = asyncio.get_running_loop()
        request = _Request(
            items=items,
            client=client,
            arrived=loop.time(),
            deadline=None if timeout_s is None else loop.time() + timeout_s,
            done=loop.create_future(),
            results=[None] * len(items),
            left=len(items),
        )
        counts = self.clients.setdefault(client, ClientCounts())
        counts.requests += 1
        counts.items += len(items)
        if not items:
            request.done.set_result(None)
        else:
            self._lines.setdefault(client, deque()).append(request)
            if client not in self._turns:
                self._turns.append(client)
            self._waiting_items += len(items)
            self._pump()
        try:
            await asyncio.wait_for(asyncio.shield(request.done), timeout_s)
        except TimeoutError:
            assert timeout_s is not None  # wait_for(None) never times out
            self._give_up(request)
            return fill_unfinished(request.results, items, deadline_error(timeout_s))
        finally:
            self._forget(request)
        return [result for result in request.results if result is not None]

    def _forget(self, request: _Request) -> None:
        counts = self.clients.get(request.client)
        if counts is None:
            return
        counts.requests -= 1
        counts.items -= len(request.items)
        if counts.requests <= 0:
            del self.clients[request.client]

    def _give_up(self, request: _Request) -> None:
        request.gave_up = True
        if request.sent:
            return  # its items are in the backend; their results will be dropped
        line = self._lines.get(request.client)
        if line is not None and request in line:
            line.remove(request)
            self._waiting_items -= len(request.items)
            if not line:
                self._drop_line(request.client)

    def _drop_line(self, client: str) -> None:
        self._lines.pop(client, None)
        with contextlib.suppress(ValueError):
            self._turns.remove(client)

    # -- building and sending micro-batches ------------------------------------------------

    def _pump(self) -> None:
        """Send what may go now; otherwise make sure a timer will look again."""
        loop = asyncio.get_running_loop()
        while self._turns:
            if self._in_backend and self._in_backend >= self.fair_window_items:
                return  # the next answer pumps again
            oldest = min(line[0].arrived for line in self._lines.values())
            waited = loop.time() - oldest
            if self._waiting_items < self.max_items and waited < self.window_s:
                # Not full, not due: send when the oldest request's window ends.
                if self._timer is None:
                    self._timer = loop.call_later(self.window_s - waited, self._on_timer)
                return
            batch = self._take(self.max_items)
            if not batch:
                return
            self._send(batch)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def _take(self, room: int) -> list[_Request]:
        """Requests for one micro-batch: one per client per round, while they fit in `room`
        (a request larger than `room` goes alone, as the first)."""
        taken: list[_Request] = []
        size = 0
        while self._turns:
            client = self._turns[0]
            line = self._lines[client]
            request = line[0]
            if taken and size + len(request.items) > room:
                break
            line.popleft()
            self._turns.rotate(-1)
            if not line:
                self._drop_line(client)
            taken.append(request)
            size += len(request.items)
            self._waiting_items -= len(request.items)
            if size >= room:
                break
        return taken

    def _send(self, requests: list[_Request]) -> None:
        items: list[Any] = []
        owners: list[tuple[_Request, int]] = []
        clients = {client: n for n, client in enumerate(dict.fromkeys(r.client for r in requests))}
        for request in requests:
            request.sent = True
            if len(clients) > 1:
                items.extend(_own_groups(request.items, clients[request.client]))
            else:
                items.extend(request.items)
            owners.extend((request, pos) for pos in range(len(request.items)))
        self._in_backend += len(items)
        if self.on_send is not None:
            self.on_send(len(requests))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task = asyncio.ensure_future(self._run(items, owners, requests))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, items: list[Any], owners: list[tuple[_Request, int]], requests: list[_Request]
    ) -> None:
        answered = 0

        def on_result(pos: int, result: Result) -> None:
            nonlocal answered
            answered += 1
            self._in_backend -= 1
            request, own = owners[pos]
            request.deliver(own, result)
            if self._turns and self._in_backend < self.fair_window_items:
                self._pump()

        deliver: OnResult = on_result
        deadlines = [request.deadline for request in requests]
        timeout_s = None
        if None not in deadlines:
            # The longest any of its requests may still wait, and a margin: each request's
            # own timeout answers it first, with what is done.
            last = max(d for d in deadlines if d is not None)
            timeout_s = max(0.0, last - asyncio.get_running_loop().time()) + _MARGIN_S
        failure: Exception | None = None
        try:
            finished = await self.backend.stream(items, deliver, timeout_s)
            if finished and answered < len(items):
                failure = BackendError("the backend did not answer every item")
        except Exception as exc:  # fails its requests (a bug: 500), never the loop
            failure = exc
        finally:
            self._in_backend -= len(items) - answered
            if failure is not None:
                for request in requests:
                    request.fail(failure)
            if self._turns:
                self._pump()

    async def close(self) -> None:
        """Stop following the micro-batches in flight (for the app's shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
