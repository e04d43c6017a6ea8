"""The body guard: an ASGI middleware that reads a JSON request body whole and checks it with
`json_guard.check_body` (UTF-8, nesting depth, numbers, lone surrogates) before FastAPI parses
it; a failing body is a 422 naming the place and the limit.

Left out: bodies FastAPI does not parse as JSON (form posts, `text/plain`), which its own
validation answers 422.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referee.service.api.errors import APIError, error_response
from referee.service.json_guard import BodyLimits, BodyProblem, check_body

__all__ = ["BodyGuardMiddleware", "BodyLimits", "parsed_as_json"]


def parsed_as_json(content_type: str | None) -> bool:
    """Whether FastAPI may parse a body with this Content-Type as JSON: `application/json`,
    `application/*+json`, or no type at all (which FastAPI parses unless its strict content
    type is on, as it is by default: guarding it anyway costs nothing)."""
    if not content_type:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    main, _, subtype = kind.partition("/")
    return main == "application" and (subtype == "json" or subtype.endswith("+json"))


class BodyGuardMiddleware:
    """Reads a JSON body whole (the body-size middleware outside it bounds it), checks it
    (`check_body`), then hands it on unchanged; a failing body is a 422 naming the place."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("POST", "PUT", "PATCH")
            or not parsed_as_json(Headers(scope=scope).get("content-type"))
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            try:
                message = await receive()
            except APIError as refused:  # the body-size limit, outside FastAPI's handlers
                await refused.response()(scope, receive, send)
                return
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            if len(body) > _OFF_LOOP_BYTES:
                await asyncio.to_thread(check_body, body, self.limits)
            else:
                check_body(body, self.limits)
        except BodyProblem as problem:
            response = error_response(problem.code, problem.message, field=problem.field)
            await response(scope, receive, send)
            return
        await self.app(
            scope,
            _replay([{"type": "http.request", "body": body, "more_body": False}], receive),
            send,
        )


_OFF_LOOP_BYTES = 1 << 20
"""Bodies above this are checked in a thread, so a large one never stalls the event loop."""


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()  # after the body: e.g. http.disconnect
        return {"type": "http.disconnect"}

    return receive
