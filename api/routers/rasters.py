"""Raster layers over HTTP: PNG tiles (WebMercatorQuad), TileJSON, legends, import, zonal stats.

Paths live under /rasters/{raster}/… so they never collide with the vector tiles at
/tiles/{layers}/{z}/{x}/{y}.mvt (api/routers/tiles.py).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from api.caching import json_text
from api.paging import PagingDep, paged
from api.deps import (StoreDep, bamboo_parameters, raster_catalog, require_api_key,
                      settings_of, vector_tiles)
from geo import durable
from geo.errors import InvalidParameter, PayloadTooLarge
from geo.raster import (RasterCatalog, RasterMeta, check_raster_id, colormap, import_raster,
                        info, legend_png, legend_stops, tile_png)
from geo.geojson import polygons_from_geojson
from geo.sandbox import run_limited
from layers import zonal
from layers.ecology import CARBON_DENSITY_RASTER, BambooParameters
from layers.tilesets import tile_crs
from maps.page_cache import rendered_page

router = APIRouter(tags=["rasters 栅格"])

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # planners' GeoTIFFs; bigger ones go through the CLI
MAX_ZONES = 5000


Catalog = Annotated[RasterCatalog, Depends(raster_catalog)]


def parse_rescale(text: str | None, meta: RasterMeta) -> tuple[float, float]:
    if text is None:
        return meta.rescale
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidParameter("rescale 格式应为 “min,max”，例如 0,6。",
                               "rescale must be 'min,max', e.g. 0,6.") from None
    return low, high


def _describe(request: Request, catalog: RasterCatalog, meta: RasterMeta) -> dict:
    details = info(catalog.path(meta.id))
    base = str(request.base_url).rstrip("/")
    return {
        **meta.__dict__,
        "info": details.__dict__,
        "links": {
            "tiles": f"{base}/rasters/{meta.id}/tiles/{{z}}/{{x}}/{{y}}.png",
            "tilejson": f"{base}/rasters/{meta.id}/tilejson.json",
            "legend_png": f"{base}/rasters/{meta.id}/legend.png",
            "legend_json": f"{base}/rasters/{meta.id}/legend.json",
            "zonal": f"{base}/rasters/{meta.id}/zonal",
        },
    }


@router.get("/rasters")
def list_rasters(request: Request, catalog: Catalog, page: PagingDep) -> dict:
    """The raster layers with their unit, provenance (derived or not) and links; paged
    (`limit`/`offset`, `next`) and searchable (`q`: id, titles, unit)."""
    return paged(request, catalog.list(), page,
                 lambda m: f"{m.id} {m.title_zh} {m.title_en} {m.unit}",
                 lambda m: _describe(request, catalog, m), "rasters")


@router.get("/rasters/{raster}")
def raster_metadata(raster: str, request: Request, catalog: Catalog) -> dict:
    return _describe(request, catalog, catalog.meta(raster))


@router.get("/rasters/{raster}/tiles/{z}/{x}/{y}.png", response_class=Response)
# The issue's path: coexists with the vector tiles' /tiles/{layers}/{z}/{x}/{y}.mvt (the
# suffix is part of the route pattern, so .png and .mvt never match each other's route).
@router.get("/tiles/{raster}/{z}/{x}/{y}.png", response_class=Response)
def raster_tile(request: Request, raster: str, z: int, x: int, y: int, catalog: Catalog,
                colormap_name: str | None = Query(None, alias="colormap"),
                rescale: str | None = Query(None, description="min,max"),
                crs: str | None = Query(None, description="WGS84 (default) or GCJ-02 (to sit "
                                        "on 高德 basemaps)")) -> Response:
    """A 256 px PNG tile; transparent outside the data (WebMercatorQuad)."""
    meta = catalog.meta(raster)
    path = catalog.path(raster)
    cmap, scale, shift = colormap_name or meta.colormap, parse_rescale(rescale, meta), tile_crs(crs)
    # Kept in the tile LRU per raster file version (a PNG tile costs ~0.1 s of rio-tiler)
    stat = path.stat()
    version = f"{stat.st_mtime_ns}:{stat.st_size}"
    key = (((f"raster:{raster}", version),), z, x, y, cmap, scale, shift)
    cache = vector_tiles(request).cache
    png = cache.get(key)
    if png is None:
        png = tile_png(path, z, x, y, cmap, scale, shift)
        cache.put(key, png)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})


@router.get("/rasters/{raster}/tilejson.json")
def raster_tilejson(raster: str, request: Request, catalog: Catalog,
                    colormap_name: str | None = Query(None, alias="colormap"),
                    rescale: str | None = Query(None),
                    crs: str | None = Query(None, description="WGS84 or GCJ-02")) -> dict:
    meta = catalog.meta(raster)
    details = info(catalog.path(raster))
    shift = "&crs=GCJ-02" if tile_crs(crs) == "GCJ-02" else ""
    cmap = colormap_name or meta.colormap
    colormap(cmap)
    low, high = parse_rescale(rescale, meta)
    base = str(request.base_url).rstrip("/")
    west, south, east, north = details.bounds_wgs84
    label = " (派生 derived)" if meta.illustrative else ""
    return {
        "tilejson": "3.0.0",
        "name": f"{meta.title_zh} {meta.title_en}{label}",
        "description": meta.note,
        "attribution": meta.source,
        "scheme": "xyz",
        "tiles": [f"{base}/rasters/{raster}/tiles/{{z}}/{{x}}/{{y}}.png"
                  f"?colormap={cmap}&rescale={low},{high}{shift}"],
        "minzoom": 0,
        "maxzoom": max(details.maxzoom + 4, 14),
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, details.minzoom],
    }


@router.get("/rasters/{raster}/legend.json")
def raster_legend_json(raster: str, catalog: Catalog,
                       colormap_name: str | None = Query(None, alias="colormap"),
                       rescale: str | None = Query(None)) -> dict:
    """Colour stops matching the tiles (same rescale and colormap code path)."""
    meta = catalog.meta(raster)
    cmap = colormap_name or meta.colormap
    scale = parse_rescale(rescale, meta)
    return {"raster": raster, "title_zh": meta.title_zh, "title_en": meta.title_en,
            "unit": meta.unit, "colormap": cmap, "rescale": list(scale),
            "illustrative": meta.illustrative, "note": meta.note,
            "stops": legend_stops(cmap, scale)}


@router.get("/rasters/{raster}/legend.png", response_class=Response)
def raster_legend_png(raster: str, catalog: Catalog,
                      colormap_name: str | None = Query(None, alias="colormap"),
                      rescale: str | None = Query(None),
                      width: int = Query(256, ge=16, le=2048),
                      height: int = Query(16, ge=4, le=256)) -> Response:
    """A colour bar from rescale min (left) to max (right)."""
    meta = catalog.meta(raster)
    png = legend_png(colormap_name or meta.colormap, parse_rescale(rescale, meta), width, height)
    return Response(png, media_type="image/png")


@router.post("/rasters", status_code=201)
async def upload_raster(request: Request, catalog: Catalog,
                        file: UploadFile = File(...),
                        raster_id: str = Form(..., alias="id"),
                        title_zh: str = Form(""), title_en: str = Form(""),
                        unit: str = Form(""), per_ha: bool = Form(False),
                        colormap_name: str = Form("viridis", alias="colormap")) -> dict:
    """Import a GeoTIFF in any CRS: reprojected to EPSG:4549, written as a COG.

    The raster is public (every map can show it), so this needs an API key like other shared
    writes; planners' private files go through /uploads.
    """
    require_api_key(request, "发布栅格", "Publishing a raster")
    check_raster_id(raster_id)
    colormap(colormap_name)
    if raster_id == CARBON_DENSITY_RASTER:
        raise InvalidParameter("该编号为示例栅格保留。", "This id is reserved for the demo raster.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + 1024 * 1024:
        raise _too_large()
    catalog.folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=catalog.folder) as tmp:
        source = Path(tmp) / "upload.tif"
        size = 0
        with source.open("wb") as out:
            while chunk := await file.read(1024 * 1024):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise _too_large()
                out.write(chunk)
        staged = Path(tmp) / "staged.tif"
        await asyncio.to_thread(_import_limited, request, source, staged,
                                file.filename or "upload.tif")
        details = info(staged)
        low = details.value_min if details.value_min is not None else 0.0
        high = details.value_max if details.value_max is not None else 1.0
        durable.replace(staged, catalog.folder / f"{raster_id}.tif")
    meta = RasterMeta(id=raster_id, title_zh=title_zh or raster_id, title_en=title_en or raster_id,
                      unit=unit, colormap=colormap_name,
                      rescale=(low, high if high > low else low + 1.0),
                      source=f"planner upload ({file.filename})", license="planner's own",
                      per_ha=per_ha)
    catalog.put_meta(meta)
    return _describe(request, catalog, meta)


def _import_limited(request: Request, source: Path, staged: Path, filename: str) -> None:
    """GDAL reads a stranger's GeoTIFF in a limited child (geo/sandbox.py), as for vector
    uploads: a crash, hang or memory blow-up there is a bilingual 422, not a dead server."""
    limits = settings_of(request).upload_sandbox()
    if limits is None:  # GONGFU_UPLOAD_PARSE_SECONDS=0: trusted input, read in this process
        import_raster(source, staged)
    else:
        run_limited("geo.raster:import_raster", source, staged, sandbox=limits, what=filename)


def _too_large() -> PayloadTooLarge:
    mb = MAX_UPLOAD_BYTES // (1024 * 1024)
    return PayloadTooLarge(f"上传文件超过 {mb} MB 上限。", f"The upload exceeds the {mb} MB limit.",
                           limit_bytes=MAX_UPLOAD_BYTES)


@router.post("/rasters/{raster}/zonal")
def zonal_for_geojson(raster: str, catalog: Catalog,
                      body: dict = Body(..., description="GeoJSON geometry/Feature/FC, WGS84"),
                      params: BambooParameters = Depends(bamboo_parameters)) -> dict:
    """Area-weighted sum and mean of the raster in each posted polygon, plus bamboo totals."""
    geoms, props = polygons_from_geojson(body, MAX_ZONES)
    return zonal.account(catalog, raster, geoms, props, params)


@router.get("/rasters/{raster}/zonal")
def zonal_for_collection(raster: str, request: Request, catalog: Catalog, store: StoreDep,
                         collection: str = Query(..., description="polygon layer id, e.g. counties"),
                         params: BambooParameters = Depends(bamboo_parameters),
                         save_as: str | None = Query(None, description="save totals as indicator")
                         ) -> dict:
    """Zonal statistics for every polygon of a stored layer (e.g. counties)."""
    if save_as is not None:
        require_api_key(request, "保存指标", "Saving indicators")
        return zonal.account_layer(catalog, raster, store, collection, params, save_as)

    def build() -> str:
        body = zonal.account_layer(catalog, raster, store, collection, params)
        return json_text(body)

    # once per version of the layers and rasters and per parameters (exactextract, ~0.3 s)
    key = ("zonal", raster, collection, repr(params), catalog.version())
    return Response(rendered_page(store, key, build), media_type="application/json")
