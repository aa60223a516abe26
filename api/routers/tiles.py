"""Vector tiles over HTTP: MVT of any vector layers (several per tile), TileJSON and a
MapLibre style.

Caching: tiles come from an in-memory LRU keyed by layer versions (layers/tilesets.py); every
response carries an ETag derived from that key, so `If-None-Match` gets a 304 without
rendering, and `Cache-Control` lets browsers reuse tiles for `tile_max_age` seconds. Warm tiles
are answered before FastAPI by `api/tile_cache.py`; this router renders the rest.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.caching import tile_response
from api.deps import settings_of, vector_tiles
from geo.mvt import MEDIA_TYPE
from geo.tiles import DEFAULT_BUFFER
from layers import styles
from layers.pmtiles_archive import layers_bounds
from layers.tilesets import parse_layer_ids, parse_properties, tile_crs

router = APIRouter(tags=["Vector tiles 矢量瓦片"])


@router.get("/tiles/{layers}/{z}/{x}/{y}.mvt", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}}, 204: {"description": "Empty tile"},
                       304: {"description": "Not modified (ETag matched)"}})
def tile(request: Request, layers: str, z: int, x: int, y: int,
         properties: str | None = Query(None, description="Comma-separated attributes to "
                                        "include (default all; empty for none)"),
         buffer: int = Query(DEFAULT_BUFFER, description="Tile units (of 4096) drawn beyond "
                             "each edge"),
         crs: str | None = Query(None, description="WGS84 (default) or GCJ-02: geometries "
                                 "shifted to sit on 高德 (Amap) basemaps")) -> Response:
    """Mapbox Vector Tile (extent 4096) of one or more layers (`counties,cities`)."""
    tiles = vector_tiles(request)
    layer_ids = parse_layer_ids(layers)
    key = tiles.key(layer_ids, z, x, y, parse_properties(properties), buffer,
                    crs=tile_crs(crs))
    return tile_response(request, tiles, key, settings_of(request).tile_max_age, MEDIA_TYPE)


# HEAD answers like GET without the body (uvicorn drops it), kept out of the OpenAPI document.
router.add_api_route("/tiles/{layers}/{z}/{x}/{y}.mvt", tile, methods=["HEAD"],
                     response_class=Response, include_in_schema=False)


def _tiles_url(request: Request, layers: str) -> str:
    query = {k: v for k, v in request.query_params.items() if k in ("properties", "buffer", "crs")}
    base = str(request.base_url).rstrip("/")
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{base}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt{suffix}"


@router.get("/tiles/{layers}/tilejson.json")
def tilejson(request: Request, layers: str) -> JSONResponse:
    """TileJSON 3.0 of a tileset (one or more comma-separated layers)."""
    tiles = vector_tiles(request)
    sets = [tiles.tileset(layer_id) for layer_id in parse_layer_ids(layers)]
    bounds = layers_bounds(tiles, [s.layer.id for s in sets])
    return JSONResponse(styles.tilejson(sets, _tiles_url(request, layers), bounds))


@router.get("/tiles/{layers}/style.json")
def style(request: Request, layers: str) -> JSONResponse:
    """A MapLibre GL style (v8) drawing the tileset: fills, outlines, lines and circles."""
    tiles = vector_tiles(request)
    sets = [tiles.tileset(layer_id) for layer_id in parse_layer_ids(layers)]
    base = str(request.base_url).rstrip("/")
    query = {k: v for k, v in request.query_params.items() if k in ("properties", "buffer", "crs")}
    suffix = f"?{urlencode(query)}" if query else ""
    return JSONResponse(styles.maplibre_style(sets, f"{base}/tiles/{layers}/tilejson.json{suffix}"))
