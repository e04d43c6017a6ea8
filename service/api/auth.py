"""API-key authentication: `Authorization: Bearer <key>` on every route but `/healthz`.

With no key configured (`api_keys` empty) authentication is off, and `warn_if_open` logs a
loud warning when the server binds to anything but loopback. Keys are compared in constant
time against every configured key. A missing or wrong key gets 401 with
`WWW-Authenticate: Bearer`, before the body is read.

Left out: scopes or per-key permissions, key rotation without restart, TLS (terminate it in
front of the service).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Collection, Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from referee.service.api.clients import client_of, current_client
from referee.service.api.errors import error_response
from referee.service.settings import Settings

logger = logging.getLogger("referee.api")

OPEN_PATHS = frozenset({"/healthz"})


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def key_matches(token: str, keys: Sequence[str]) -> bool:
    """Constant-time comparison against every key (no early exit that would tell which)."""
    given = token.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    return matched


class AuthMiddleware:
    def __init__(
        self, app: ASGIApp, keys: Sequence[str], open_paths: Collection[str] = OPEN_PATHS
    ) -> None:
        self.app = app
        self.keys = tuple(keys)
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.keys or scope["path"] in self.open_paths:
            current_client.set(client_of(scope, None))
            await self.app(scope, receive, send)
            return
        token = bearer_token(Headers(scope=scope).get("authorization"))
        if token is None or not key_matches(token, self.keys):
            message = (
                "missing API key: send 'Authorization: Bearer <key>'"
                if token is None
                else "invalid API key"
            )
            response = error_response(
                "unauthorized", message, headers={"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        current_client.set(client_of(scope, token))
        await self.app(scope, receive, send)


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def warn_if_open(settings: Settings, host: str) -> bool:
    """Log a WARNING when the API has no key and listens beyond loopback; True if it did."""
    if settings.api_keys or is_loopback(host):
        return False
    logger.warning(
        "AUTHENTICATION IS OFF and the API listens on %s: anyone who can reach this port can "
        "use the scoring workers. Set REFEREE_API_KEY (a key, or several comma-separated) or "
        "bind to 127.0.0.1.",
        host,
    )
    return True
