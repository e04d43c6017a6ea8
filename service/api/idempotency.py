"""Idempotent retries: a request sent again with the same `Idempotency-Key` gets the results of
the first, which is scored once.

OpenRLHF retries a reward request 5 times and slime 10 on any error, a timeout included, so a
request whose answer was lost (or slow) is sent again while the first is still scoring. With a
key, a repeat of a request already scored is answered from the stored results, and one still in
flight waits for them; neither scores anything. The key comes from the `Idempotency-Key` header
(`IdempotencyKeyMiddleware` puts it, and the route it was sent to, in `current_key`), or from
the body where a protocol carries a per-sample id (NeMo-Gym's `response.id`). Keys are scoped
by client (API key or address) and route, so two clients never see each other's results.

* A repeat whose items differ from the first's (another fingerprint) is 422
  `idempotency_key_reused`, never the first's results.
* Only complete answers are kept: results with an item cut off by a deadline are not stored,
  and a request that failed (4xx, 5xx) leaves the key free, so its repeat scores again.
* Kept for `idempotency_ttl_s`. Embedded: in this process (at most `idempotency_max_keys`,
  oldest first out). Over the queue: in Redis, shared by every API replica; a replica that dies
  while scoring leaves a marker that expires with the request's own deadline, after which a
  repeat scores again.

Outcomes are counted in `/metrics` (`referee_idempotency_total{outcome}`): `first`, `replayed`
(already done), `joined` (waited for the one in flight), `reused` (422).

Left out: `/v1/jobs` (its id already is the handle a client polls again).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import redis
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from referee.service.api.errors import APIError, error_response
from referee.service.backend import DEADLINE_ERROR, BackendError
from referee.verifiers.contract import Result

HEADER = "idempotency-key"
MAX_KEY_CHARS = 255
_POLL_S = 0.02
"""How often a repeat waiting on another replica's request looks for its results."""
_MARKER_MARGIN_S = 30.0
"""How long a scoring request's marker outlives its deadline (its answer is being stored)."""

Outcome = Literal["first", "replayed", "joined", "reused"]


@dataclass(frozen=True)
class RequestKey:
    """The idempotency key a request was sent with, and the route it was sent to."""

    key: str
    route: str


current_key: ContextVar[RequestKey | None] = ContextVar("referee_idempotency_key", default=None)


class IdempotencyKeyMiddleware:
    """Reads the `Idempotency-Key` header (only the header: the body is the route's) into
    `current_key`; a key that is empty, longer than `MAX_KEY_CHARS` or not printable ASCII is
    422 naming the header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            key = Headers(scope=scope).get(HEADER)
            if key is not None:
                if not valid_key(key):
                    response = error_response(
                        "invalid_request",
                        f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable ASCII characters",
                        field="Idempotency-Key",
                    )
                    await response(scope, receive, send)
                    return
                current_key.set(RequestKey(key, scope["path"]))
            else:
                current_key.set(None)
        await self.app(scope, receive, send)


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_CHARS and key.isascii() and key.isprintable()


def scoped(client: str, route: str, key: str) -> str:
    return hashlib.sha256(f"{client}\n{route}\n{key}".encode()).hexdigest()


def fingerprint(items: list[Any]) -> str:
    """What a repeat must match: the items, as JSON with sorted keys."""
    text = json.dumps(items, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def complete(results: list[Result]) -> bool:
    """Worth keeping: no item was cut off by a deadline."""
    return not any(r.error is not None and r.error.startswith(DEADLINE_ERROR) for r in results)


# ---- stores ------------------------------------------------------------------------------


@dataclass
class Claim:
    """What `begin` found: `first` (this request scores; `token` releases it), `done`
    (`results`), `pending` (another request scores it), `reused` (another fingerprint)."""

    state: Literal["first", "done", "pending", "reused"]
    results: list[Result] | None = None
    token: str = ""


class IdempotencyStore(Protocol):
    async def begin(self, key: str, fp: str, hold_s: float) -> Claim: ...

    async def finish(self, key: str, fp: str, token: str, results: list[Result]) -> None: ...

    async def release(self, key: str, token: str) -> None: ...

    async def wait(self, key: str, timeout_s: float) -> None:
        """Return when the pending request of `key` ended (stored or released), or at
        `timeout_s`."""
        ...


@dataclass
class _Entry:
    fp: str
    token: str
    expires: float
    results: list[Result] | None = None
    ended: asyncio.Event | None = None


class MemoryStore:
    """Keys in this process (the embedded backend)."""

    def __init__(self, ttl_s: float, max_keys: int) -> None:
        self.ttl_s = ttl_s
        self.max_keys = max(1, max_keys)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires < time.monotonic():
            self._end(key, entry)
            return None
        return entry

    def _end(self, key: str, entry: _Entry) -> None:
        self._entries.pop(key, None)
        if entry.ended is not None:
            entry.ended.set()

    async def begin(self, key: str, fp: str, hold_s: float) -> Claim:
        entry = self._live(key)
        if entry is None:
            while len(self._entries) >= self.max_keys:
                oldest, old = next(iter(self._entries.items()))
                self._end(oldest, old)
            token = secrets.token_hex(8)
            self._entries[key] = _Entry(
                fp, token, time.monotonic() + hold_s + _MARKER_MARGIN_S, ended=asyncio.Event()
            )
            return Claim("first", token=token)
        if entry.fp != fp:
            return Claim("reused")
        if entry.results is not None:
            return Claim("done", results=entry.results)
        return Claim("pending")

    async def finish(self, key: str, fp: str, token: str, results: list[Result]) -> None:
        entry = self._entries.get(key)
        if entry is None or entry.token != token:
            return
        entry.results = results
        entry.expires = time.monotonic() + self.ttl_s
        self._entries.move_to_end(key)
        if entry.ended is not None:
            entry.ended.set()

    async def release(self, key: str, token: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token == token and entry.results is None:
            self._end(key, entry)

    async def wait(self, key: str, timeout_s: float) -> None:
        entry = self._live(key)
        if entry is None or entry.results is not None or entry.ended is None:
            return
        try:
            await asyncio.wait_for(entry.ended.wait(), timeout_s)
        except TimeoutError:
            return


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""Delete the marker only if it is still this request's (not another's, not its results)."""
_FINISH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


class RedisStore:
    """Keys in Redis, shared by every API replica on the queue (the Redis/RQ backend)."""

    def __init__(self, client: redis.Redis, namespace: str, ttl_s: float) -> None:
        self.client = client
        self.prefix = f"referee:idempotency:{namespace}:"
        self.ttl_s = ttl_s

    async def begin(self, key: str, fp: str, hold_s: float) -> Claim:
        token = secrets.token_hex(8)
        marker = json.dumps({"fp": fp, "token": token})
        hold_ms = int((hold_s + _MARKER_MARGIN_S) * 1000)
        name = self.prefix + key
        try:
            for _ in range(3):  # a marker that expires between the SET and the GET: again
                stored, value = await asyncio.to_thread(self._claim, name, marker, hold_ms)
                if stored:
                    return Claim("first", token=marker)
                if value is not None:
                    return _read_claim(value, fp)
        except RedisError as exc:
            raise BackendError(f"redis unreachable (idempotency): {exc}") from exc
        return Claim("first", token=marker)

    def _claim(self, name: str, marker: str, hold_ms: int) -> tuple[bool, bytes | None]:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.set(name, marker, nx=True, px=hold_ms)
            pipe.get(name)
            stored, value = pipe.execute()
        return bool(stored), value

    async def finish(self, key: str, fp: str, token: str, results: list[Result]) -> None:
        body = json.dumps({"fp": fp, "results": [r.to_json_dict() for r in results]})
        # Not stored on a Redis error: a repeat scores again, which costs work, never a wrong
        # answer.
        with contextlib.suppress(RedisError):
            await asyncio.to_thread(
                self.client.eval,
                _FINISH,
                1,
                self.prefix + key,
                token,
                body,
                int(self.ttl_s * 1000),
            )

    async def release(self, key: str, token: str) -> None:
        with contextlib.suppress(RedisError):  # else the marker expires with the deadline
            await asyncio.to_thread(self.client.eval, _RELEASE, 1, self.prefix + key, token)

    async def wait(self, key: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        name = self.prefix + key
        while time.monotonic() < deadline:
            try:
                value = await asyncio.to_thread(self.client.get, name)
            except RedisError:
                value = b"{}"  # keep waiting: Redis blips are not an answer
            if value is None or b'"results"' in value:
                return
            await asyncio.sleep(_POLL_S)


def _read_claim(value: bytes, fp: str) -> Claim:
    record = json.loads(value)
    if record.get("fp") != fp:
        return Claim("reused")
    results = record.get("results")
    if results is None:
        return Claim("pending")
    return Claim("done", results=[Result.model_validate(r) for r in results])


# ---- the one entry point the scoring routes use --------------------------------------------


async def once(
    store: IdempotencyStore,
    key: str,
    items: list[Any],
    deadline_s: float,
    score: Callable[[], Awaitable[list[Result]]],
    count: Callable[[Outcome], None],
) -> list[Result]:
    """The results for `items` under the scoped `key`: scored by `score()` if this is the
    first request with it (or the first after one that left no answer), else the stored ones,
    waiting up to `deadline_s` for a request in flight."""
    fp = fingerprint(items)
    give_up = time.monotonic() + deadline_s
    waited = False
    while True:
        claim = await store.begin(key, fp, deadline_s)
        if claim.state == "reused":
            count("reused")
            raise APIError(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a request with other items; send a new "
                "key for new items",
                field="Idempotency-Key",
            )
        if claim.state == "done":
            assert claim.results is not None
            count("joined" if waited else "replayed")
            return claim.results
        if claim.state == "pending":
            left = give_up - time.monotonic()
            if left <= 0:
                # The first is still scoring past this request's own deadline: score too.
                count("first")
                return await score()
            waited = True
            await store.wait(key, left)
            continue
        count("first")
        try:
            results = await score()
        except BaseException:
            await store.release(key, claim.token)
            raise
        if complete(results):
            await store.finish(key, fp, claim.token, results)
        else:
            await store.release(key, claim.token)
        return results
