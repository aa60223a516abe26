"""Per-client request rate limits on the expensive endpoints (uploads, overlays, compliance
checks, zonal statistics): a token bucket per client and endpoint family, answered with a
bilingual 429 and `Retry-After` when empty.

A client is its bearer token (hashed) when it sends one, else its address, so planners behind
one intranet proxy with their own keys do not share a bucket. Buckets live in this process
(each worker has its own; a load balancer in front spreads clients over them).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from typing import Any

# (family, method, path pattern): only these are limited; tiles, items and pages are not.
LIMITED = (
    ("upload", "POST", re.compile(r"/uploads/?")),
    ("overlay", "GET", re.compile(r"/uploads/[^/]+/(overlay|compliance)[^/]*")),
    ("zonal", "*", re.compile(r"/rasters/[^/]+/zonal")),
)


class RateLimits:
    """ASGI middleware: at most `per_minute` requests per client and family, with bursts up
    to the same number; 0 turns limiting off."""

    def __init__(self, app: Any, per_minute: int) -> None:
        self.app = app
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(per_minute)
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # -> (tokens, time)
        self._lock = threading.Lock()

    def _family(self, scope: dict) -> str | None:
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        for family, method, pattern in LIMITED:
            if method in ("*", scope["method"]) and pattern.fullmatch(path):
                return family
        return None

    @staticmethod
    def _client(scope: dict) -> str:
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return "t:" + hashlib.sha256(value[7:].strip()).hexdigest()[:16]
        client = scope.get("client") or ("?", 0)
        return f"a:{client[0]}"

    def _take(self, key: tuple[str, str]) -> float:
        """0 when a request may go ahead, else the seconds until one may."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > 100_000:  # bounded: forget idle clients
                self._buckets.clear()
            return (1 - tokens) / self.rate

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.rate > 0:
            family = self._family(scope)
            if family is not None:
                wait = self._take((family, self._client(scope)))
                if wait > 0:
                    await self._refuse(send, math.ceil(wait))
                    return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Any, seconds: int) -> None:
        body = json.dumps({
            "status": 429, "code": "too_many_requests",
            "message": {"zh": f"请求过于频繁，请 {seconds} 秒后再试。",
                        "en": f"Too many requests; try again in {seconds} s."},
            "detail": {"retry_after_s": seconds}, "request_id": "-"},
            ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"), (b"retry-after", str(seconds).encode()),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
