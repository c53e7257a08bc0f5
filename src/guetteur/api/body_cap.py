"""A cap on the request bodies of some routes, enforced before FastAPI reads them.

FastAPI reads a JSON body whole before its model can refuse a field as too long, so a route
taking texts (rule YAML) would hold any body a client sends in memory. `BodyCap` answers 413
as soon as `Content-Length`, or the bytes received so far, pass the cap, and hands the routes
under `prefix` a body it has already counted.
"""

from __future__ import annotations

from typing import Any

import orjson

Message = dict[str, Any]


class BodyCap:
    """Pure ASGI middleware: bodies of HTTP requests whose path starts with `prefix` are capped
    at `max_bytes` (413 beyond)."""

    def __init__(self, app: Any, prefix: str, max_bytes: int) -> None:
        self.app = app
        self.prefix = prefix
        self.max_bytes = max_bytes

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        pending = iter(messages)

        async def replay() -> Message:
            try:
                return next(pending)
            except StopIteration:
                message: Message = await receive()
                return message

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        body = orjson.dumps({"detail": f"body larger than {self.max_bytes} bytes"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
