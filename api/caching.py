"""HTTP caching helpers shared by tile routes: ETag matching and cache headers."""

from __future__ import annotations

from fastapi import Request


def etag_matches(request: Request, etag: str) -> bool:
    """Whether `If-None-Match` names this ETag (weak comparison, as RFC 9110 asks for GET)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or wanted in tags


def cache_headers(max_age: int, etag: str) -> dict[str, str]:
    """ETag plus public caching for `max_age` seconds."""
    return {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
