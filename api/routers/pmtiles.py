"""Tiles out of PMTiles archives written by `gongfu export pmtiles`: the archive itself (for
PMTiles clients, with range requests), its tiles as plain z/x/y, and its TileJSON."""

from __future__ import annotations

import gzip

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from api.caching import cache_headers, etag_matches
from api.deps import pmtiles_folder, settings_of
from api.paging import PagingDep, paged
from geo.mvt import MEDIA_TYPE
from geo.tiles import check_tile

router = APIRouter(tags=["Vector tiles 矢量瓦片"])


@router.get("/pmtiles")
def pmtiles_index(request: Request, page: PagingDep) -> JSONResponse:
    """Names of the PMTiles archives this server holds; paged and searchable (`q`: name)."""
    base = str(request.base_url).rstrip("/")
    return JSONResponse(paged(request, pmtiles_folder(request).names(), page, str, lambda name: {
        "name": name, "tilejson": f"{base}/pmtiles/{name}/tilejson.json",
        "href": f"{base}/pmtiles/{name}.pmtiles"}, "archives"))


@router.get("/pmtiles/{name}.pmtiles", response_class=FileResponse)
def pmtiles_file(request: Request, name: str) -> FileResponse:
    """The archive itself (HTTP range requests work, for PMTiles clients)."""
    return FileResponse(pmtiles_folder(request).path(name),
                        media_type="application/vnd.pmtiles")


@router.get("/pmtiles/{name}/{z}/{x}/{y}.mvt", response_class=Response)
def pmtiles_tile(request: Request, name: str, z: int, x: int, y: int) -> Response:
    """Tile z/x/y out of a PMTiles archive (204 when the archive holds no such tile)."""
    check_tile(z, x, y)
    archive = pmtiles_folder(request).archive(name)
    etag = f'W/"{name}-{archive.mtime_ns:x}-{z}-{x}-{y}"'
    headers = cache_headers(settings_of(request).tile_max_age, etag)
    if etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    data = archive.tile(z, x, y)
    if not data:
        return Response(status_code=204, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        # Stored gzip-compressed: pass the bytes through (GZipMiddleware leaves them alone).
        return Response(data, media_type=MEDIA_TYPE,
                        headers={**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(gzip.decompress(data), media_type=MEDIA_TYPE, headers=headers)


@router.get("/pmtiles/{name}/tilejson.json")
def pmtiles_tilejson(request: Request, name: str) -> JSONResponse:
    """TileJSON of a PMTiles archive, pointing at /pmtiles/{name}/{z}/{x}/{y}.mvt."""
    archive = pmtiles_folder(request).archive(name)
    header, meta = archive.header(), archive.metadata()
    base = str(request.base_url).rstrip("/")
    bounds = [header["min_lon_e7"] / 1e7, header["min_lat_e7"] / 1e7,
              header["max_lon_e7"] / 1e7, header["max_lat_e7"] / 1e7]
    return JSONResponse({
        "tilejson": "3.0.0", "name": meta.get("name", name), "scheme": "xyz",
        "tiles": [f"{base}/pmtiles/{name}/{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": header["min_zoom"], "maxzoom": header["max_zoom"], "bounds": bounds,
        "attribution": meta.get("attribution", ""),
        "vector_layers": meta.get("vector_layers", []),
    })
