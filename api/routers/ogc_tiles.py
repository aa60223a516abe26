"""OGC API – Tiles over HTTP: tile matrix sets, per-collection tilesets (vector layers as MVT,
rasters as PNG) and the default map tileset, in WebMercatorQuad, WorldCRS84Quad and
CGCS2000Quad (天地图's 'c' grid on EPSG:4490).

Vector tiles come from the same `VectorTiles` as the XYZ routes (api/routers/tiles.py, kept
unchanged): the same per-zoom simplification, LRU cache and version-derived ETags, per grid.
The documents are built in layers/ogc_tiles.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.caching import tile_response
from api.deps import raster_catalog, settings_of, vector_tiles
from geo.errors import UnknownChoice
from geo.grids import GRIDS, grid as grid_of
from geo.mvt import MEDIA_TYPE
from geo.raster import info, tile_png
from geo.tiles import DEFAULT_BUFFER
from layers import ogc_tiles, styles
from layers.catalogue import raster_layer
from layers.pmtiles_archive import layers_bounds
from layers.tilesets import LABEL_SUFFIX, VectorTiles, parse_properties, tile_crs

router = APIRouter(tags=["OGC API Tiles 瓦片"])

TILE_RESPONSES = {200: {"content": {MEDIA_TYPE: {}, "image/png": {}}},
                  204: {"description": "Empty tile"},
                  304: {"description": "Not modified (ETag matched)"}}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _is_raster(request: Request, collection_id: str) -> bool:
    store_ids = {layer.id for layer in vector_tiles(request).store.layers()}
    return collection_id not in store_ids and raster_catalog(request).has(collection_id)


@router.get("/tileMatrixSets")
def tile_matrix_sets(request: Request) -> JSONResponse:
    """The tile grids tiles are served in."""
    return JSONResponse(ogc_tiles.tile_matrix_sets(_base(request)))


@router.get("/tileMatrixSets/{tileMatrixSetId}")
def tile_matrix_set(tileMatrixSetId: str) -> JSONResponse:
    """An OGC TMS 2.0 definition (JSON)."""
    return JSONResponse(grid_of(tileMatrixSetId).document())


# ------------------------------------------------------------------ one collection

@router.get("/collections/{collectionId}/tiles")
def collection_tilesets(request: Request, collectionId: str) -> JSONResponse:
    """The tilesets of a vector layer (MVT) or raster (PNG): one per tile matrix set."""
    path = f"{_base(request)}/collections/{collectionId}/tiles"
    if _is_raster(request, collectionId):
        meta = raster_catalog(request).meta(collectionId)
        return JSONResponse(ogc_tiles.tileset_list(_base(request), path, meta.title_zh, "map"))
    layer = vector_tiles(request).tileset(collectionId).layer  # 404 / 400 without geometry
    return JSONResponse(ogc_tiles.tileset_list(_base(request), path, layer.title, "vector"))


def _vector_tileset(request: Request, layer_ids: list[str], path: str, title: str, grid_id: str,
                    f: str | None, styles_href: str | None) -> JSONResponse:
    grid = grid_of(grid_id)
    tiles = vector_tiles(request)
    sets = [tiles.tileset(layer_id) for layer_id in layer_ids]
    bounds = layers_bounds(tiles, layer_ids)
    if f == "tilejson":
        url = f"{path}/{{z}}/{{y}}/{{x}}"
        return JSONResponse(styles.tilejson(sets, url, bounds, grid=grid, name=title,
                                            labels=True),
                            media_type="application/json")
    if f not in (None, "json"):
        raise UnknownChoice("f", f, ("json", "tilejson"))
    labels = [s.layer.id + LABEL_SUFFIX for s in sets if s.label_field]
    return JSONResponse(ogc_tiles.tileset(_base(request), path, grid, title,
                                          [s.layer for s in sets], labels, bounds,
                                          styles_href=styles_href))


@router.get("/collections/{collectionId}/tiles/{tileMatrixSetId}")
def collection_tileset(request: Request, collectionId: str, tileMatrixSetId: str,
                       f: str | None = Query(None, description="json (default) or tilejson")
                       ) -> JSONResponse:
    """Tileset metadata: grid, limits, layers (with `{layer}_label` points), links to the tile
    template, the tile matrix set, TileJSON (`?f=tilejson`) and styles."""
    base = _base(request)
    path = f"{base}/collections/{collectionId}/tiles/{tileMatrixSetId}"
    if _is_raster(request, collectionId):
        grid = grid_of(tileMatrixSetId)
        catalog = raster_catalog(request)
        meta = catalog.meta(collectionId)
        bounds = info(catalog.path(collectionId)).bounds_wgs84
        return JSONResponse(ogc_tiles.tileset(base, path, grid, meta.title_zh,
                                              [raster_layer(meta)], [], tuple(bounds),
                                              data_type="map"))
    layer = vector_tiles(request).tileset(collectionId).layer
    return _vector_tileset(request, [collectionId], path, layer.title, tileMatrixSetId, f,
                           f"{base}/collections/{collectionId}/styles")


def _vector_tile(request: Request, tiles: VectorTiles, layer_ids: list[str], grid_id: str,
                 z: int, row: int, col: int, properties: str | None, buffer: int,
                 crs: str | None) -> Response:
    grid_of(grid_id)
    key = tiles.key(layer_ids, z, col, row, parse_properties(properties), buffer,
                    crs=tile_crs(crs), grid=grid_id, labels=True)
    return tile_response(request, tiles, key, settings_of(request).tile_max_age, MEDIA_TYPE)


@router.get("/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix:int}/"
            "{tileRow:int}/{tileCol:int}", response_class=Response, responses=TILE_RESPONSES)
def collection_tile(request: Request, collectionId: str, tileMatrixSetId: str, tileMatrix: int,
                    tileRow: int, tileCol: int,
                    properties: str | None = Query(None, description="Comma-separated "
                                                   "attributes (default all; empty for none)"),
                    buffer: int = Query(DEFAULT_BUFFER, description="Tile units (of 4096) "
                                        "drawn beyond each edge"),
                    crs: str | None = Query(None, description="WGS84 (default) or GCJ-02")
                    ) -> Response:
    """One tile: MVT (extent 4096, with `{layer}_label` points) for a vector layer, a 256 px
    PNG for a raster."""
    if _is_raster(request, collectionId):
        catalog = raster_catalog(request)
        meta = catalog.meta(collectionId)
        png = tile_png(catalog.path(collectionId), tileMatrix, tileCol, tileRow, meta.colormap,
                       meta.rescale, tile_crs(crs), grid=grid_of(tileMatrixSetId))
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "public, max-age=300"})
    return _vector_tile(request, vector_tiles(request), [collectionId], tileMatrixSetId,
                        tileMatrix, tileRow, tileCol, properties, buffer, crs)


# ------------------------------------------------------------------ the default map

@router.get("/tiles")
def map_tilesets(request: Request) -> JSONResponse:
    """Tilesets of the default map (the administrative layers together), one per grid."""
    base = _base(request)
    return JSONResponse(ogc_tiles.tileset_list(base, f"{base}/tiles", ogc_tiles.MAP_TITLE,
                                               "vector"))


@router.get("/tiles/{tileMatrixSetId}")
def map_tileset(request: Request, tileMatrixSetId: str,
                f: str | None = Query(None, description="json (default) or tilejson")
                ) -> JSONResponse:
    """The default map's tileset metadata in one grid (or its TileJSON)."""
    if tileMatrixSetId not in GRIDS:
        grid_of(tileMatrixSetId)  # 404 naming the known grids
    layer_ids = ogc_tiles.map_layer_ids(vector_tiles(request).store)
    return _vector_tileset(request, layer_ids, f"{_base(request)}/tiles/{tileMatrixSetId}",
                           ogc_tiles.MAP_TITLE, tileMatrixSetId, f, None)


@router.get("/tiles/{tileMatrixSetId}/{tileMatrix:int}/{tileRow:int}/{tileCol:int}",
            response_class=Response, responses=TILE_RESPONSES)
def map_tile(request: Request, tileMatrixSetId: str, tileMatrix: int, tileRow: int,
             tileCol: int, properties: str | None = Query(None), buffer: int = Query(
                 DEFAULT_BUFFER), crs: str | None = Query(None)) -> Response:
    """One MVT tile of the default map: every administrative layer, with label points."""
    tiles = vector_tiles(request)
    return _vector_tile(request, tiles, ogc_tiles.map_layer_ids(tiles.store), tileMatrixSetId,
                        tileMatrix, tileRow, tileCol, properties, buffer, crs)


# HEAD answers like GET without the body (uvicorn drops it), kept out of the OpenAPI document.
for _path, _endpoint in (
        ("/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix:int}/{tileRow:int}/"
         "{tileCol:int}", collection_tile),
        ("/tiles/{tileMatrixSetId}/{tileMatrix:int}/{tileRow:int}/{tileCol:int}", map_tile)):
    router.add_api_route(_path, _endpoint, methods=["HEAD"], response_class=Response,
                         include_in_schema=False)
