"""`RewardClient`: score items with a Referee service from a trainer, sync or async.

    with RewardClient("http://127.0.0.1:8000", api_key=...) as client:
        client.health()                    # at start-up: raises ServiceUnavailable if not ready
        results = client.score(items)      # list[Result], input order; or: await client.ascore
        rewards = client.rewards(items)    # list[float | None]

A batch is cut into chunks of at most `max_batch` items (groups kept whole, see batching.py)
sent concurrently, at most `concurrency` at a time, over one pooled HTTP connection set:
`score` uses a thread per chunk on an `httpx.Client` (it works from plain threads and needs
no event loop), `ascore` uses tasks on an `httpx.AsyncClient` kept per event loop (an async
client cannot cross loops). Connection errors, timeouts, 429 and 5xx are retried with
backoff and jitter, honouring Retry-After (retry.py). A 413 `too_many_items` teaches the
client the server's `max_items_per_request` (the error's `limit`) and re-splits; any other
413, or one without a `limit`, halves the chunk (the message is not parsed). 401/404/422 and
other 4xx raise `RequestRejected` at once: retrying cannot fix them.

A failed item never becomes 0. With `on_error="none"` (default) it comes back as a result
with `reward=None` and an `error` (when its chunk could not be scored through every retry,
the error starts with "unavailable:"); with `on_error="raise"` the first such item raises
`RewardError`, and a chunk that cannot be scored raises `ServiceUnavailable`.

Left out: the job API (`/v1/jobs`, for batches that should survive a client restart),
streaming partial results, and request signing beyond the bearer key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from referee.trainer_client.batching import ItemLike, chunked, error_result, payload_of
from referee.trainer_client.errors import (
    RefereeClientError,
    RequestRejected,
    RewardError,
    ServiceUnavailable,
)
from referee.trainer_client.retry import RetryPolicy, is_retryable, parse_retry_after
from referee.verifiers.contract import Result

__all__ = [
    "RefereeClientError",
    "RequestRejected",
    "RewardClient",
    "RewardError",
    "ServiceUnavailable",
]

logger = logging.getLogger("referee.trainer_client")

OnError = Literal["none", "raise"]
UNAVAILABLE = "unavailable"
# The service answers at `timeout_s`; give the answer this long to travel before giving up.
_DEADLINE_MARGIN_S = 10.0
_CONNECT_TIMEOUT_S = 10.0
Chunk = list[dict[str, Any]]


API_KEY_ENV = "REFEREE_API_KEY"
"""The variable the service reads its keys from, too (one key, comma-separated, or JSON)."""


def api_key_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The key to send from `REFEREE_API_KEY`: the first of a list the service accepts (a
    comma-separated string or a JSON list, as while keys are rotated), or None when unset."""
    raw = (os.environ if environ is None else environ).get(API_KEY_ENV, "").strip()
    if raw.startswith("["):
        with contextlib.suppress(ValueError):
            keys = json.loads(raw)
            if isinstance(keys, list) and keys:
                return str(keys[0])
    first = raw.split(",")[0].strip()
    return first or None


@dataclass(frozen=True)
class _ServiceError:
    """The service's error body (`{"error": {"code", "message", "field"?, "limit"?}}`)."""

    code: str
    message: str
    field: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class _Done:
    results: list[Result]


@dataclass(frozen=True)
class _Retry:
    reason: str
    retry_after_s: float | None = None


@dataclass(frozen=True)
class _Split:
    size: int


_Step = _Done | _Retry | _Split


class RewardClient:
    """A client of one Referee service; thread-safe, reusable, close it when done."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 5,
        max_batch: int = 512,
        concurrency: int = 4,
        on_error: Literal["none", "raise"] = "none",
    ) -> None:
        if on_error not in ("none", "raise"):
            raise ValueError(f"on_error must be 'none' or 'raise', not {on_error!r}")
        if max_batch < 1 or concurrency < 1 or timeout <= 0:
            raise ValueError("max_batch and concurrency must be >= 1 and timeout > 0")
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.concurrency = concurrency
        self.on_error: OnError = on_error
        self.policy = RetryPolicy(max_retries=max_retries)
        self._max_batch = max_batch
        self._headers = {"User-Agent": "referee-trainer-client/0.1"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._limits = httpx.Limits(
            max_connections=4 * concurrency, max_keepalive_connections=2 * concurrency
        )
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()

    @property
    def max_batch(self) -> int:
        """Items per request: the constructor's value, lowered if the service said less."""
        return self._max_batch

    # -- public API ---------------------------------------------------------------------------

    def score(self, items: Sequence[ItemLike], timeout_s: float | None = None) -> list[Result]:
        """Score `items`; one result per item, in input order. `timeout_s` is the service's
        deadline per request: items not done by then come back as errors (reward None)."""
        chunks = chunked([payload_of(item) for item in items], self._max_batch)
        if len(chunks) <= 1 or self.concurrency == 1:
            parts = [self._score_chunk(chunk, timeout_s) for chunk in chunks]
        else:
            with ThreadPoolExecutor(
                min(self.concurrency, len(chunks)), thread_name_prefix="referee-client"
            ) as pool:
                parts = list(pool.map(lambda c: self._score_chunk(c, timeout_s), chunks))
        return self._finish([result for part in parts for result in part])

    async def ascore(
        self, items: Sequence[ItemLike], timeout_s: float | None = None
    ) -> list[Result]:
        """`score` for async code: chunks run as tasks, at most `concurrency` at a time."""
        chunks = chunked([payload_of(item) for item in items], self._max_batch)
        client = self._async_client()
        gate = asyncio.Semaphore(self.concurrency)

        async def run(chunk: Chunk) -> list[Result]:
            async with gate:
                return await self._ascore_chunk(client, chunk, timeout_s)

        # A TaskGroup cancels the other chunks when one raises (on_error="raise", a 401);
        # the caller gets that exception itself, as from `score`, not an ExceptionGroup.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(run(chunk)) for chunk in chunks]
        except BaseExceptionGroup as grouped:
            raise grouped.exceptions[0] from None
        return self._finish([result for task in tasks for result in task.result()])

    def rewards(
        self, items: Sequence[ItemLike], timeout_s: float | None = None
    ) -> list[float | None]:
        """Just the rewards (None where an item has none)."""
        return [result.reward for result in self.score(items, timeout_s)]

    async def arewards(
        self, items: Sequence[ItemLike], timeout_s: float | None = None
    ) -> list[float | None]:
        return [result.reward for result in await self.ascore(items, timeout_s)]

    def health(self, wait_s: float = 0.0) -> dict[str, Any]:
        """`GET /readyz`: the service's answer when ready. Polls for up to `wait_s` seconds
        (for a trainer starting beside the service), then raises `ServiceUnavailable`; a bad
        key or wrong URL raises `RequestRejected` at once."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                response = self._sync_client().get(
                    "/readyz", timeout=min(self.timeout, _CONNECT_TIMEOUT_S)
                )
            except httpx.TransportError as exc:
                problem = f"cannot reach Referee at {self.url}: {type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    body: dict[str, Any] = response.json()
                    return body
                if not is_retryable(response.status_code):
                    raise _rejection(response, self.url)
                error = _error_of(response)
                problem = (
                    f"Referee at {self.url} is not ready (HTTP "
                    f"{response.status_code} {error.code}): {error.message}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServiceUnavailable(problem)
            time.sleep(min(0.5, remaining))

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sync connection pool. Async pools are closed by `aclose` on their loop;
        one whose loop is gone is dropped."""
        with self._lock:
            client, self._client = self._client, None
            self._async_clients.clear()
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close this loop's async pool, then the sync one."""
        with self._lock:
            client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the configuration, not the pools: TRL's async rollout worker and Ray send
        reward functions (and the client inside them) to other processes."""
        return {
            "url": self.url,
            "api_key": self.api_key,
            "timeout": self.timeout,
            "max_retries": self.policy.max_retries,
            "max_batch": self._max_batch,
            "concurrency": self.concurrency,
            "on_error": self.on_error,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        RewardClient.__init__(self, **state)

    # -- one chunk: send, judge the answer, retry or split ------------------------------------

    def _score_chunk(self, chunk: Chunk, timeout_s: float | None) -> list[Result]:
        last = _Retry("no attempt made")
        for attempt in range(self.policy.max_retries + 1):
            if attempt:
                time.sleep(self._backoff(attempt - 1, last, len(chunk)))
            try:
                response = self._sync_client().post(
                    "/v1/rewards", json=_body(chunk, timeout_s), timeout=self._timeout(timeout_s)
                )
            except httpx.TransportError as exc:
                step: _Step = _Retry(f"{type(exc).__name__}: {exc}")
            else:
                step = self._judge(response, chunk)
            if isinstance(step, _Done):
                return step.results
            if isinstance(step, _Split):
                return [
                    r
                    for piece in chunked(chunk, step.size)
                    for r in self._score_chunk(piece, timeout_s)
                ]
            last = step
        return self._unavailable(chunk, last.reason)

    async def _ascore_chunk(
        self, client: httpx.AsyncClient, chunk: Chunk, timeout_s: float | None
    ) -> list[Result]:
        last = _Retry("no attempt made")
        for attempt in range(self.policy.max_retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff(attempt - 1, last, len(chunk)))
            try:
                response = await client.post(
                    "/v1/rewards", json=_body(chunk, timeout_s), timeout=self._timeout(timeout_s)
                )
            except httpx.TransportError as exc:
                step: _Step = _Retry(f"{type(exc).__name__}: {exc}")
            else:
                step = self._judge(response, chunk)
            if isinstance(step, _Done):
                return step.results
            if isinstance(step, _Split):
                return [
                    r
                    for piece in chunked(chunk, step.size)
                    for r in await self._ascore_chunk(client, piece, timeout_s)
                ]
            last = step
        return self._unavailable(chunk, last.reason)

    def _judge(self, response: httpx.Response, chunk: Chunk) -> _Step:
        """What one answer means for its chunk: results, retry, split, or RequestRejected."""
        status = response.status_code
        if status == 200:
            return _Done(self._results_of(response, chunk))
        error = _error_of(response)
        if status == 413:
            return self._split_for(error, chunk)
        if is_retryable(status):
            return _Retry(
                f"HTTP {status} {error.code}: {error.message}",
                parse_retry_after(response.headers.get("Retry-After")),
            )
        raise _rejection(response, self.url)

    def _split_for(self, error: _ServiceError, chunk: Chunk) -> _Step:
        # Only too_many_items counts items; the other 413s' limits are characters or bytes.
        size = error.limit if error.code == "too_many_items" else None
        if size is not None and 0 < size < len(chunk):
            with self._lock:
                self._max_batch = min(self._max_batch, size)
            logger.info("Referee accepts at most %d items per request; splitting", size)
            return _Split(size)
        if len(chunk) > 1:
            return _Split((len(chunk) + 1) // 2)
        # One item alone is over the limit: it is that item's failure, not the batch's.
        return _Done(
            [error_result(chunk[0], f"request too large (HTTP 413 {error.code}): {error.message}")]
        )

    def _results_of(self, response: httpx.Response, chunk: Chunk) -> list[Result]:
        try:
            raw = response.json()["results"]
            results = [Result.model_validate(item) for item in raw]
        except (ValueError, KeyError, TypeError) as exc:
            raise RefereeClientError(
                f"{self.url}/v1/rewards answered 200 without valid "
                f"results ({type(exc).__name__}: {exc})"
            ) from None
        if len(results) != len(chunk):
            raise RefereeClientError(
                f"{self.url}/v1/rewards answered {len(results)} results for {len(chunk)} items"
            )
        return results

    def _backoff(self, attempt: int, last: _Retry, size: int) -> float:
        delay = self.policy.delay_s(attempt, last.retry_after_s)
        logger.warning(
            "Referee request for %d items failed (%s); retry %d/%d in %.1fs",
            size,
            last.reason,
            attempt + 1,
            self.policy.max_retries,
            delay,
        )
        return delay

    def _unavailable(self, chunk: Chunk, reason: str) -> list[Result]:
        message = (
            f"{UNAVAILABLE}: {self.url} failed after {self.policy.max_retries} retries: {reason}"
        )
        if self.on_error == "raise":
            raise ServiceUnavailable(message)
        logger.error("%d items get reward None: %s", len(chunk), message)
        return [error_result(payload, message) for payload in chunk]

    def _finish(self, results: list[Result]) -> list[Result]:
        if self.on_error == "raise":
            failed = [index for index, result in enumerate(results) if result.reward is None]
            if failed:
                raise RewardError(failed[0], results[failed[0]], len(failed))
        return results

    # -- connection pools ---------------------------------------------------------------------

    def _timeout(self, timeout_s: float | None) -> httpx.Timeout:
        read = (
            self.timeout if timeout_s is None else max(self.timeout, timeout_s + _DEADLINE_MARGIN_S)
        )
        # pool=None: waiting for a free connection is queueing behind our own chunks.
        return httpx.Timeout(read, connect=min(read, _CONNECT_TIMEOUT_S), pool=None)

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self.url, headers=self._headers, limits=self._limits
                )
            return self._client

    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async_clients.get(loop)
            if client is None:
                client = httpx.AsyncClient(
                    base_url=self.url, headers=self._headers, limits=self._limits
                )
                self._async_clients[loop] = client
            return client


def _body(chunk: Chunk, timeout_s: float | None) -> dict[str, Any]:
    return {"items": chunk} if timeout_s is None else {"items": chunk, "timeout_s": timeout_s}


def _error_of(response: httpx.Response) -> _ServiceError:
    """The service's error body, or one made from the status line when the answer is not
    ours (a proxy's HTML page, say)."""
    try:
        detail = response.json()["error"]
        limit = detail.get("limit")
        return _ServiceError(
            str(detail["code"]),
            str(detail["message"]),
            detail.get("field"),
            # A number only: anything else in `limit` (from a proxy, say) teaches nothing.
            limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text.strip().replace("\n", " ")[:200]
        return _ServiceError(response.reason_phrase or "error", text or "(no body)")


def _rejection(response: httpx.Response, url: str) -> RequestRejected:
    error = _error_of(response)
    hints: Mapping[int, str] = {
        401: " (pass api_key=, or set REFEREE_API_KEY: one of the service's keys)",
        404: f" (is {url!r} the service's base URL, without a path?)",
    }
    return RequestRejected(
        response.status_code,
        error.code,
        error.message + hints.get(response.status_code, ""),
        error.field,
    )
