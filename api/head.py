"""HEAD wherever GET is (HTTP/1.1 and OGC API Features /req/core/http): ASGI middleware.

FastAPI registers GET routes for GET only, so HEAD answered 405 on `/`, `/collections`,
items… This runs a HEAD request as the GET it stands for and sends its status and headers
(Content-Length, ETag, Content-Type included) without the body, for every route at once.
"""

from __future__ import annotations

from typing import Any


class _HeadersSent(Exception):
    """Raised into the GET once HEAD's headers are out: stops a streamed body early."""


class HeadAsGet:
    """ASGI middleware: HEAD → the route's GET, body dropped."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: dict) -> None:
            if message["type"] == "http.response.body":
                # one empty final body message, whatever the GET sends
                await send({"type": "http.response.body", "body": b""})
                if message.get("more_body", False):
                    # a streamed answer (all China's counties): stop producing it — the
                    # stream's own clean-up closes its producer and database cursor
                    raise _HeadersSent
                return
            await send(message)

        try:
            await self.app({**scope, "method": "GET"}, receive, headers_only)
        except _HeadersSent:
            pass
