"""HTTP caching helpers: ETag matching and cache headers (tile routes), and the JSON text of
an answer kept per data version."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
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


def tile_response(request: Request, tiles: Any, key: tuple, max_age: int, media_type: str
                  ) -> Response:
    """One vector tile by its cache key (any grid): 304 when the client's ETag still holds,
    204 when the tile is empty, else the bytes with ETag and caching headers."""
    headers = cache_headers(max_age, tiles.etag_of(key))
    if etag_matches(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    data = tiles.fetch(key)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=media_type, headers=headers)
