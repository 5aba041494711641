"""``RequestSizeLimit``: a 413 for a request body over ``max_request_bytes``, before a route reads it.

Webhooks keep their own, smaller limit (``max_payload_bytes``, checked by the webhook route), so this
middleware leaves their paths alone. The declared ``Content-Length`` is checked first; a body sent in
chunks is counted as it arrives, and the request fails as soon as it is over.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestSizeLimit"]

WEBHOOK_PREFIX = "/api/v1/webhooks/"


class _TooLarge(Exception):
    pass


class RequestSizeLimit:
    """ASGI middleware answering 413 ``{"faultstring"}`` for a body over ``limit`` bytes (webhooks excepted)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(WEBHOOK_PREFIX):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, int(declared))
            return
        seen = 0
        over = False
        replaced = False

        async def counting() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise _TooLarge
            return message

        async def answering(message: Message) -> None:
            # A route that caught the error while reading the body answers something else: send the 413 instead.
            nonlocal replaced
            if not over:
                await send(message)
            elif not replaced:
                replaced = True
                await self._refuse(send, seen)

        try:
            await self.app(scope, counting, answering)
        except _TooLarge:
            if not replaced:
                await self._refuse(send, seen)

    async def _refuse(self, send: Send, size: int) -> None:
        message = (
            f"request body of {size} bytes or more is over the limit of {self.limit} bytes; "
            "send less (the limit is the setting max_request_bytes)"
        )
        body = orjson.dumps({"faultstring": message})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
