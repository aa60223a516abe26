"""Planner uploads: `POST /uploads` (multipart), then the owner's report, features, downloads,
overlay and deletion. Everyone else gets 404 for an upload, whether it exists or not.

The body is parsed as it streams (`api.upload_stream`), each part written straight to a
private work folder, and the size limit is enforced on the bytes received.
A bad upload leaves nothing behind: the work folder is removed and the store is untouched.

Tokens: `Authorization: Bearer <token>`; map pages opened in a browser may pass
`?access_token=` instead (RFC 6750 §2.3), since a link cannot carry a header.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.caching import json_text
from api.deps import PRIVATE, owner_of, raster_catalog, store_of, uploads_of
from api.negotiation import wants_html
from api.pages import render_page
from api.paging import PagingDep, paged
from api.streaming import streamed
from api.upload_stream import receive
from geo import geojson
from geo.crs import resolve_crs
from geo.vector_io import resolve_encoding, resolve_format, stream_vector
from layers.overlay import RasterSource, overlay, overlay_csv, overlay_xlsx
from geo.mvt import MEDIA_TYPE
from layers.uploads import UploadRecord, remove_tree
from maps.page_cache import rendered_page

router = APIRouter(tags=["uploads"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _links(request: Request, record: UploadRecord) -> list[dict]:
    base = f"{str(request.base_url).rstrip('/')}/uploads/{record.id}"
    links = [{"href": base, "rel": "self", "type": "application/json"},
             {"href": f"{base}?f=html", "rel": "alternate", "type": "text/html"},
             {"href": f"{base}/overlay", "rel": "overlay", "type": "application/json"},
             {"href": f"{str(request.base_url).rstrip('/')}/maps/overlay/{record.id}",
              "rel": "map", "type": "text/html"}]
    for layer in record.layers:
        links.append({"href": f"{base}/layers/{layer.id}/items", "rel": "items",
                      "type": "application/geo+json", "title": layer.title_zh})
        links.append({"href": f"{base}/layers/{layer.id}/download?format=gpkg",
                      "rel": "enclosure", "title": f"{layer.title_zh} (GeoPackage)"})
    return links


@router.post("/uploads", status_code=201)
async def create_upload(
    request: Request,
    crs: str | None = Query(None, description="CRS of the coordinates when the files do not "
                            "say (or say wrongly), e.g. EPSG:4549, EPSG:2385 or GCJ-02"),
    dry_run: bool = Query(False, description="Only report; store nothing"),
) -> JSONResponse:
    """Upload zip/shp parts/gpkg/geojson/kml/kmz/csv (multipart field `file`, repeatable)."""
    uploads = uploads_of(request)
    owner = owner_of(request, required=False)
    work = Path(tempfile.mkdtemp(prefix="gongfu-upload-"))
    try:
        names = await receive(request, work, uploads.limits.max_upload_bytes)
        filename = names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1})"
        done = await asyncio.to_thread(uploads.intake, work, filename, crs, dry_run, owner)
    finally:
        remove_tree(work)
    if dry_run:
        return JSONResponse({"dry_run": True, "report": done.report}, status_code=200)
    record, report, token = done.record, done.report, done.token
    body = {"id": record.id, "report": report, "links": _links(request, record)}
    if token:
        body["token"] = token
        body["token_note"] = {"zh": "请妥善保存此令牌：只有持有者能查看、下载或删除此上传。",
                              "en": "Keep this token: only its holder can see, download or "
                                    "delete this upload."}
    return JSONResponse(body, status_code=201)


@router.get("/uploads")
def list_uploads(request: Request, page: PagingDep) -> JSONResponse:
    """The caller's own uploads (never anyone else's), oldest first; paged (`limit`/`offset`,
    `next`) and searchable (`q`: id, file name, layer titles)."""
    owner = owner_of(request, required=True)
    records = uploads_of(request).store.list(owner)
    return JSONResponse(paged(request, records, page, _search_text, UploadRecord.summary,
                              "uploads"), headers=PRIVATE)


def _search_text(record: UploadRecord) -> str:
    return " ".join([record.id, record.filename, *(f"{layer.id} {layer.title_zh}"
                                                   for layer in record.layers)])


@router.get("/uploads/{upload_id}")
def get_upload(request: Request, upload_id: str) -> Response:
    """The upload's report (JSON, or bilingual HTML with `f=html`)."""
    record = uploads_of(request).store.get(upload_id, owner_of(request, required=False))
    if wants_html(request):
        token = request.query_params.get("access_token")
        query = f"?{urlencode({'access_token': token})}" if token else ""
        return HTMLResponse(render_page("upload_report.html", request, record=record,
                                        report=record.report, token_query=query),
                            headers=PRIVATE)
    return JSONResponse({**record.summary(), "report": record.report,
                         "links": _links(request, record)}, headers=PRIVATE)


@router.delete("/uploads/{upload_id}", status_code=204)
def delete_upload(request: Request, upload_id: str) -> Response:
    uploads_of(request).delete(upload_id, owner_of(request, required=False))
    return Response(status_code=204)


def _layer(request: Request, upload_id: str, layer_id: str):
    record, store = uploads_of(request).store.layers_store(
        upload_id, owner_of(request, required=False))
    layer = store.layer(layer_id)
    return record, store, layer


@router.get("/uploads/{upload_id}/layers/{layer_id}/items")
def upload_items(request: Request, upload_id: str, layer_id: str,
                 limit: int = Query(1000, ge=1, le=10000),
                 offset: int = Query(0, ge=0)) -> JSONResponse:
    """The layer's features as GeoJSON (WGS84)."""
    _, store, layer = _layer(request, upload_id, layer_id)
    page = store.features(layer.id, limit=limit, offset=offset)
    frame = page.features
    props = [c for c in frame.columns if c != frame.geometry.name]
    feats = geojson.features(frame, frame.geometry.to_numpy(), props, 7)
    return JSONResponse({"type": "FeatureCollection", "features": feats,
                         "numberMatched": page.number_matched,
                         "numberReturned": len(feats)}, media_type="application/geo+json",
                        headers=PRIVATE)


@router.get("/uploads/{upload_id}/layers/{layer_id}/download")
def upload_download(request: Request, upload_id: str, layer_id: str,
                    format_key: str = Query("geojson", alias="format"),
                    encoding_key: str = Query("utf-8", alias="encoding"),
                    crs: str | None = Query(None)) -> Response:
    """The layer as a file (geo.vector_io writers: geojson, gpkg, shp, kml, csv)."""
    record, store, layer = _layer(request, upload_id, layer_id)
    frame = store.frame(layer.id)
    fmt = resolve_format(format_key)
    # the public downloads' writer and sender: the file read back in blocks, not held whole
    result, blocks = stream_vector(frame, name=layer.id, geometry_type=layer.geometry_type,
                                   fmt=fmt, crs=resolve_crs(crs),
                                   encoding=resolve_encoding(encoding_key),
                                   description=f"{layer.title_zh} — {layer.provenance.source}")
    headers = {"Content-Disposition": f'attachment; filename="{result.filename}"', **PRIVATE}
    return streamed(request, blocks, result.media_type, headers=headers,
                    compress=fmt.key not in ("shp", "xlsx"))


_BY_FEATURE = Query(0, ge=0, le=100_000, description=(
    "Also list up to this many (feature, zone) rows with areas"))
_ZONE_LAYERS = Query(None, alias="layers", description=(
    "Zone layers, comma-separated: any published polygon layer (e.g. counties,constraint_x); "
    "default counties, townships, axis_domains"))


async def _overlay(request: Request, upload_id: str, by_feature: int,
                   zone_layers: str | None) -> dict:
    uploads = uploads_of(request)
    record, store = uploads.store.layers_store(upload_id, owner_of(request, required=False))
    zone_ids = [z.strip() for z in zone_layers.split(",") if z.strip()] if zone_layers else None

    def build() -> str:
        layers = [(layer, store.frame(layer.id)) for layer in record.layers]
        result = overlay(store_of(request), layers, _raster_sources(request), by_feature,
                         zone_ids)
        return json_text(result)

    # Computed once per version of the upload, the zone layers and the rasters (0.2–0.3 s
    # each time otherwise), shared by the JSON, XLSX and CSV answers; the owner is checked
    # above on every request.
    key = ("overlay", upload_id, uploads.store.version(upload_id), by_feature, zone_layers,
           raster_catalog(request).version())
    text = await asyncio.to_thread(rendered_page, store_of(request), key, build)
    return {"upload": upload_id, **json.loads(text)}


@router.get("/uploads/{upload_id}/overlay")
async def upload_overlay(request: Request, upload_id: str, by_feature: int = _BY_FEATURE,
                         zone_layers: str | None = _ZONE_LAYERS) -> JSONResponse:
    """Counties (townships, axis domains, carbon raster when present) the upload meets."""
    return JSONResponse(await _overlay(request, upload_id, by_feature, zone_layers),
                        headers=PRIVATE)


@router.get("/uploads/{upload_id}/overlay.xlsx")
async def upload_overlay_xlsx(request: Request, upload_id: str, by_feature: int = _BY_FEATURE,
                              zone_layers: str | None = _ZONE_LAYERS) -> Response:
    """The overlay as a workbook: zones (km², 亩, shares), rasters, per-feature rows."""
    result = await _overlay(request, upload_id, by_feature, zone_layers)
    return Response(overlay_xlsx(result, upload_id), media_type=XLSX, headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="overlay_{upload_id}.xlsx"'})


@router.get("/uploads/{upload_id}/overlay.csv")
async def upload_overlay_csv(request: Request, upload_id: str,
                             zone_layers: str | None = _ZONE_LAYERS) -> Response:
    """The overlay's zone rows as CSV (UTF-8 with BOM)."""
    result = await _overlay(request, upload_id, 0, zone_layers)
    return Response(overlay_csv(result), media_type="text/csv; charset=utf-8", headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="overlay_{upload_id}.csv"'})


def _raster_sources(request: Request) -> list[RasterSource]:
    """Every raster in the atlas' catalogue (the bamboo carbon density among them)."""
    catalog = raster_catalog(request)
    return [RasterSource(meta, catalog.path(meta.id)) for meta in catalog.list()]



@router.get("/uploads/{upload_id}/tiles/{z}/{x}/{y}.mvt")
def upload_tile(request: Request, upload_id: str, z: int, x: int, y: int) -> Response:
    """One Mapbox vector tile (WebMercatorQuad) of all the upload's layers; owner only.

    Uploads are small and private: full detail, no simplification pyramid; the projected
    layers are kept per upload (layers/intake.py) and tiles are `private, no-store`.
    """
    tile = uploads_of(request).tile(upload_id, owner_of(request, required=False), z, x, y)
    return Response(tile, media_type=MEDIA_TYPE, headers=PRIVATE)
