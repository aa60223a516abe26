"""Place search for the 一张图 workspace: `GET /search?q=安吉&limit=10` (layers/search.py)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from api.deps import store_of
from layers.search import MAX_LIMIT, search_places

router = APIRouter(tags=["一张图 workspace"])


@router.get("/search")
def search(request: Request,
           q: str = Query("", description="地名或 6/9/12 位代码，如 安吉、安吉县、余村、330523"),
           limit: int = Query(10, description=f"1–{MAX_LIMIT}")) -> dict:
    """Cities, counties, townships and villages matching a name or code, with where to show
    each (a village without coordinates says so and gives its township's or county's)."""
    root = request.scope.get("root_path", "").rstrip("/")
    return search_places(store_of(request), q, limit, root)
