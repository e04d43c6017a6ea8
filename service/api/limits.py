"""Request limits: body size (413), items per request (413), item sizes (413) and
backpressure (429).

The body limit is a pure ASGI middleware: a declared `Content-Length` over the limit is
answered at once without reading the body, and a body streamed without one is counted while
it is read and cut off past the limit. Backpressure admits a batch while the backend's
pending items plus the batch stay within `max_queue_items` (an empty queue admits any batch
that passed the per-request limit), so the queue is bounded by
max(max_queue_items, max_items_per_request).

Item sizes: a completion or prompt over its limit is a 413 naming the item and the limit.
Each 413 carries the limit it broke as a number too (the error's `limit`), so a client need
not parse the message.

Left out: per-client quotas and rate limits (the admission here is global).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referee.service.api.errors import APIError
from referee.service.backend import ScoringBackend
from referee.service.coalescer import ClientCounts
from referee.verifiers.field_path import render_path

# Retry-After bounds, seconds.
_MIN_RETRY_S = 1
_MAX_RETRY_S = 60
_RETRY_WITHOUT_RATE_S = 5


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> APIError:
        return APIError(
            "body_too_large",
            f"request body is larger than max_request_bytes={self.max_bytes}",
            limit=self.max_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large().response()(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, limited_receive, send)


def check_item_count(count: int, limit: int, field: str) -> None:
    if count > limit:
        raise APIError(
            "too_many_items",
            f"{count} items in one request; the limit is "
            f"max_items_per_request={limit}: split the batch",
            field=field,
            limit=limit,
        )


_SIZED_FIELDS = (("completion", "max_completion_chars"), ("prompt", "max_prompt_chars"))


def check_item_sizes(items: list[Any], limits: Mapping[str, int], field: str) -> None:
    """413 naming the item, the field and the limit when a completion or prompt is longer than
    its limit: an oversized payload is refused before anything is queued. (Limits inside a
    scorer's parameters, e.g. the `code` scorer's test count and program size, are checked
    per item and come back as that item's error.)"""
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        for name, setting in _SIZED_FIELDS:
            value = item.get(name)
            if isinstance(value, str) and len(value) > limits[setting]:
                # In the compatibility routes an item is one text of `field` (`query[3]`).
                where = render_path((field, index, name) if field == "items" else (field, index))
                raise APIError(
                    "item_too_large",
                    f"{where} has {len(value)} characters; the limit is "
                    f"{setting}={limits[setting]}",
                    field=where,
                    limit=limits[setting],
                )


def retry_after_s(excess: int, items_per_s: float) -> int:
    """Seconds until roughly `excess` items have drained at the recent throughput."""
    if items_per_s <= 0:
        return _RETRY_WITHOUT_RATE_S
    return max(_MIN_RETRY_S, min(_MAX_RETRY_S, math.ceil(excess / items_per_s)))


async def admit(
    backend: ScoringBackend,
    count: int,
    max_queue_items: int,
    waiting: Callable[[], int] = lambda: 0,
) -> None:
    """Raise 429 (with Retry-After) if `count` more items would overfill the queue.

    Await it right before submitting (`score` or `asubmit`), with no other `await` in between:
    the counters are refreshed off the event loop first, then checked from memory, and the
    submit counts its items before it first yields, so concurrent requests cannot both
    squeeze in. `waiting` counts items admitted and not in the backend yet (a micro-batch
    still forming)."""
    await backend.refresh()
    pending = backend.pending_items() + waiting()
    if pending == 0 or pending + count <= max_queue_items:
        return
    wait = retry_after_s(pending + count - max_queue_items, backend.stats().get("items_per_s", 0.0))
    raise APIError(
        "queue_full",
        f"scoring queue is full: {pending} items pending, this request adds {count}, the "
        f"limit is max_queue_items={max_queue_items}; retry in {wait}s",
        headers={"Retry-After": str(wait)},
    )


def check_client(
    counts: ClientCounts,
    count: int,
    max_requests: int,
    max_items: int,
    items_per_s: Callable[[], float],
) -> None:
    """Raise 429 `client_limit` (with Retry-After) if one more request of `count` items would
    take its client past `key_max_requests` or `key_max_pending_items`."""
    if counts.requests + 1 > max_requests:
        wait = retry_after_s(counts.items, items_per_s())
        raise APIError(
            "client_limit",
            f"this client has {counts.requests} requests in flight, the limit is "
            f"key_max_requests={max_requests}; retry in {wait}s",
            headers={"Retry-After": str(wait)},
        )
    if counts.items and counts.items + count > max_items:
        wait = retry_after_s(counts.items + count - max_items, items_per_s())
        raise APIError(
            "client_limit",
            f"this client has {counts.items} items pending, this request adds {count}, the "
            f"limit is key_max_pending_items={max_items}; retry in {wait}s",
            headers={"Retry-After": str(wait)},
        )
