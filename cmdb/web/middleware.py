"""Pure ASGI middleware: a request id on every request, and the body size limit.

Pure ASGI (not BaseHTTPMiddleware) so streaming bodies are counted as they arrive and a
20 MB upload is refused after the first chunk over the limit, not after reading it all.
"""

from __future__ import annotations

import re
import uuid

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cmdb.web.errors import _unexpected
from cmdb.web.logs import REQUEST_ID

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Take a well-formed ``X-Request-ID`` from the client (for tracing across systems) or
    make one; put it in ``request.state.request_id`` and on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode(), b"").decode()
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                message["headers"] = headers
            await send(message)

        # Every record logged while serving it carries the id (cmdb.web.logs).
        context = REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Starlette answers an unexpected error from its outermost middleware, outside
            # this one, so that answer would lack the request id header. Answer here, with
            # the app's own handler (generic message, request id, traceback to the log).
            if started:
                raise
            response = await _unexpected(Request(scope), exc)
            await response(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(context)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: at once when Content-Length says so, else as
    soon as the streamed chunks add up past it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        rid = (scope.get("state") or {}).get("request_id")
        body = orjson.dumps(
            {
                "error": {
                    "type": "payload_too_large",
                    "message": f"request body over {self.max_bytes} bytes",
                    "request_id": rid,
                }
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
