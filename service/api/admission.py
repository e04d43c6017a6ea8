"""The one way a batch gets into the backend from a route: `admitted(state, items, field)`.

On entry it applies the request limits in order (413 past `max_items_per_request`, 413 for a
completion or prompt over its size limit, 429 `client_limit` with Retry-After past the
client's own limits, 429 `queue_full` with Retry-After when the queue is full); inside,
the route submits; a `BackendError` raised there is answered 503 `unavailable`. Every route
that scores (`/v1/rewards`, `/v1/jobs`, and the compatibility routes through `score_batch`)
goes through it, so they refuse alike.

Left out: the limits themselves (limits.py) and the body-size limit, which a middleware
applies before any route runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from referee.service.api.clients import current_client
from referee.service.api.errors import APIError
from referee.service.api.limits import admit, check_client, check_item_count, check_item_sizes
from referee.service.api.state import AppState
from referee.service.backend import BackendError


@asynccontextmanager
async def admitted(state: AppState, items: list[Any], field: str) -> AsyncIterator[None]:
    """Refuse `items` (413, 429) or let the block submit them, a backend failure being 503.

    Submit first thing in the block: `admit` counts the queue right before it, and there is
    no `await` between the two (entering the block does not yield to the event loop), so
    concurrent requests cannot both squeeze into the last places."""
    settings = state.settings
    check_item_count(len(items), settings.max_items_per_request, field)
    check_item_sizes(
        items,
        {
            "max_completion_chars": settings.max_completion_chars,
            "max_prompt_chars": settings.max_prompt_chars,
        },
        field,
    )
    check_client(
        state.coalescer.of(current_client.get()),
        len(items),
        settings.key_max_requests,
        settings.key_max_pending_items,
        lambda: state.backend.stats().get("items_per_s", 0.0),
    )
    await admit(state.backend, len(items), settings.max_queue_items, state.coalescer.waiting_items)
    try:
        yield
    except BackendError as exc:
        raise APIError("unavailable", f"scoring backend unavailable: {exc}") from None
