"""Place search for the 一张图 workspace: `GET /search?q=安吉&limit=10` (layers/search.py)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from api.deps import store_of
from layers.place_labels import resolve_label_crs
from layers.search import MAX_LIMIT, search_places

router = APIRouter(tags=["一张图 workspace"])


@router.get("/search")
def search(request: Request,
           q: str = Query("", description="地名或 6/9/12 位代码，如 安吉、安吉县、余村、330523"),
           limit: int = Query(10, description=f"1–{MAX_LIMIT}"),
           crs: str = Query("WGS84", description="WGS84，或 GCJ-02（位置与范围随高德底图偏移）"
                                                 " / WGS84 or GCJ-02 (to sit on 高德)")) -> dict:
    """Cities, counties, townships and villages matching a name or code, with where to show
    each (a village without coordinates says so and gives its township's or county's).
    `crs=GCJ-02` shifts positions and bboxes with our `geo.gcj02` for a 高德 basemap."""
    root = request.scope.get("root_path", "").rstrip("/")
    return search_places(store_of(request), q, limit, root, resolve_label_crs(crs))
