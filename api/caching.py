"""HTTP caching helpers: ETag matching and cache headers (tile routes), and the JSON text of
an answer kept per data version."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from pydantic_core import to_json


def json_text(body: Any) -> str:
    """`body` as FastAPI writes a returned dict (non-finite numbers as null), as text to keep
    in a cache and send again."""
    return to_json(jsonable_encoder(body), inf_nan_mode="null").decode("utf-8")


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
