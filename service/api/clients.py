"""Who sent a request, for the per-client limits and the fair order (`referee.service.coalescer`)
and for scoping idempotency keys: the API key it authenticated with, or its address when auth
is off.

`AuthMiddleware` sets `current_client` for the request it lets through; the routes read it.
A key is named by a short hash of itself, never the key, so it can appear in logs.

Left out: client names chosen by the client (a header anyone can set would let a run jump the
line).
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar

from starlette.types import Scope

ANONYMOUS = "anonymous"
current_client: ContextVar[str] = ContextVar("referee_client", default=ANONYMOUS)


def client_of(scope: Scope, token: str | None) -> str:
    """`key:<hash>` for an authenticated request, `addr:<host>` otherwise."""
    if token is not None:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    client = scope.get("client")
    return f"addr:{client[0]}" if client else ANONYMOUS
