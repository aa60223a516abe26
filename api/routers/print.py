"""Printed maps (出图): `GET /print?layers=counties,axes&bbox=w,s,e,n&paper=A4|A3&format=png|pdf
&title=…&lang=zh|en` → a 300 dpi landscape PNG or a vector PDF (rendering: maps/print.py)."""

from __future__ import annotations

import math
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import raster_catalog, store_of
from geo.crs import CRS84, bbox_to_wgs84, resolve_crs
from geo.errors import InvalidParameter

router = APIRouter(tags=["一张图 workspace"])
MEDIA = {"png": "image/png", "pdf": "application/pdf"}


def _bbox(text: str | None, store, crs_text: str | None = None
          ) -> tuple[float, float, float, float]:
    """w,s,e,n in WGS84; default: the extent of the counties layer. A bbox given in another
    CRS (`bbox-crs`, e.g. GCJ-02 from a page over a 高德 basemap) is brought back to WGS84
    (GCJ-02 by our `geo.gcj02`), so the sheet shows the same ground the planner saw."""
    if text is None:
        if any(layer.id == "counties" for layer in store.layers()):
            return tuple(float(v) for v in store.frame("counties").total_bounds)
        raise InvalidParameter("请给出出图范围 bbox=w,s,e,n。", "Give the extent: bbox=w,s,e,n.",
                               parameter="bbox")
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidParameter(f"bbox“{text}”无效：须为 4 个数 w,s,e,n（经纬度）。",
                               f"Invalid bbox '{text}': give 4 numbers w,s,e,n (lon/lat).",
                               parameter="bbox")
    crs = resolve_crs(crs_text)
    if crs is not CRS84 and values[0] < values[2] and values[1] < values[3]:
        values = bbox_to_wgs84(values, crs)  # type: ignore[arg-type]
    return values  # type: ignore[return-value]


@router.get("/print", response_class=Response,
            responses={200: {"content": {"image/png": {}, "application/pdf": {}}}})
def print_map(request: Request,
              layers: str = Query("", description="图层，逗号分隔，如 counties,axes（栅格亦可）"),
              bbox: str | None = Query(None, description="w,s,e,n (WGS84); default: counties"),
              bbox_crs: str | None = Query(None, alias="bbox-crs",
                                           description="bbox 的坐标系，如 GCJ-02（默认 WGS84）"),
              paper: str = Query("A4", description="A4 or A3 (landscape)"),
              format_key: str = Query("png", alias="format", description="png (300 dpi) or pdf"),
              title: str = Query("", max_length=80, description="图名"),
              lang: str = Query("zh", description="zh or en")) -> Response:
    """A printable map sheet: title, layers, legend, km scale bar (EPSG:4549), north arrow,
    sources of every drawn layer, a note for every derived/演示 layer."""
    store = store_of(request)
    layer_ids = tuple(part.strip() for part in layers.split(",") if part.strip())
    # matplotlib (~0.4 s of imports) loads with the first print, not at every worker start
    from maps.print import PrintJob, render

    job = PrintJob(layer_ids, _bbox(bbox, store, bbox_crs), paper.upper(), format_key.lower(), title,
                   lang.lower())
    content = render(store, raster_catalog(request), job)
    name = f"gongfu_map_{job.paper}.{job.fmt}"
    return Response(content, media_type=MEDIA[job.fmt],
                    headers={"Content-Disposition": f"inline; filename=\"{name}\"; "
                             f"filename*=UTF-8''{quote(name)}"})
