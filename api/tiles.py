"""Vector tiles over HTTP: MVT of any vector layers (several per tile), TileJSON, a MapLibre
style, and tiles out of PMTiles archives.

Caching: tiles come from an in-memory LRU keyed by layer versions (layers/tilesets.py); every
response carries an ETag derived from that key, so `If-None-Match` gets a 304 without
rendering, and `Cache-Control` lets browsers reuse tiles for `tile_max_age` seconds.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from api.deps import pmtiles_folder, vector_tiles
from geo.mvt import MEDIA_TYPE
from geo.tiles import DEFAULT_BUFFER, MAX_SIMPLIFY_ZOOM, check_tile, geometry_kind
from layers.pmtiles_archive import PMTilesFolder, layers_bounds
from geo.errors import AtlasError
from layers.tilesets import VectorTiles, parse_layer_ids

log = logging.getLogger(__name__)
router = APIRouter(tags=["Vector tiles 矢量瓦片"])

TILEJSON_MAXZOOM = MAX_SIMPLIFY_ZOOM + 2  # clients overzoom past this; the server answers to 24
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


def _properties(text: str | None) -> list[str] | None:
    """`properties=` absent: all attributes; empty: none; else the comma-separated names."""
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or wanted in tags  # weak comparison, as RFC 9110 asks for GET


def _cache_headers(request: Request, etag: str) -> dict[str, str]:
    max_age = request.app.state.settings.tile_max_age
    return {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}


@router.get("/tiles/{layers}/{z}/{x}/{y}.mvt", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}}, 204: {"description": "Empty tile"},
                       304: {"description": "Not modified (ETag matched)"}})
def tile(request: Request, layers: str, z: int, x: int, y: int,
         properties: str | None = Query(None, description="Comma-separated attributes to "
                                        "include (default all; empty for none)"),
         buffer: int = Query(DEFAULT_BUFFER, description="Tile units (of 4096) drawn beyond "
                             "each edge")) -> Response:
    """Mapbox Vector Tile (extent 4096) of one or more layers (`counties,cities`)."""
    tiles = vector_tiles(request)
    layer_ids = parse_layer_ids(layers)
    key = tiles.key(layer_ids, z, x, y, _properties(properties), buffer)
    headers = _cache_headers(request, tiles.etag_of(key))
    if _matches(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    data = tiles.fetch(key)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MEDIA_TYPE, headers=headers)


# HEAD answers like GET without the body (uvicorn drops it), kept out of the OpenAPI document.
router.add_api_route("/tiles/{layers}/{z}/{x}/{y}.mvt", tile, methods=["HEAD"],
                     response_class=Response, include_in_schema=False)


def _tiles_url(request: Request, layers: str) -> str:
    query = {k: v for k, v in request.query_params.items() if k in ("properties", "buffer")}
    base = str(request.base_url).rstrip("/")
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{base}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt{suffix}"


@router.get("/tiles/{layers}/tilejson.json")
def tilejson(request: Request, layers: str) -> JSONResponse:
    """TileJSON 3.0 of a tileset (one or more comma-separated layers)."""
    tiles = vector_tiles(request)
    sets = [tiles.tileset(layer_id) for layer_id in parse_layer_ids(layers)]
    west, south, east, north = layers_bounds(tiles, [s.layer.id for s in sets])
    attribution = []
    for s in sets:
        credit = s.layer.provenance.attribution or f"{s.layer.provenance.source} ({s.layer.provenance.license})"
        if s.layer.provenance.illustrative:
            credit += "（示意数据 illustrative）"
        attribution.append(f"{s.layer.title_zh}: {credit}")
    body: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": " + ".join(s.layer.title for s in sets),
        "scheme": "xyz",
        "tiles": [_tiles_url(request, layers)],
        "minzoom": 0,
        "maxzoom": TILEJSON_MAXZOOM,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, 8],
        "attribution": "; ".join(attribution),
        "vector_layers": [{
            "id": s.layer.id,
            "description": s.layer.title + ("（示意 illustrative）"
                                            if s.layer.provenance.illustrative else ""),
            "fields": {name: s.layer.fields.get(name, "") for name in s.fields},
            "minzoom": 0, "maxzoom": TILEJSON_MAXZOOM,
        } for s in sets],
    }
    return JSONResponse(body)


@router.get("/tiles/{layers}/style.json")
def style(request: Request, layers: str) -> JSONResponse:
    """A MapLibre GL style (v8) drawing the tileset: fills, outlines, lines and circles."""
    tiles = vector_tiles(request)
    sets = [tiles.tileset(layer_id) for layer_id in parse_layer_ids(layers)]
    base = str(request.base_url).rstrip("/")
    query = {k: v for k, v in request.query_params.items() if k in ("properties", "buffer")}
    style_layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f7f7f2"}}]
    for i, s in enumerate(sets):
        colour, lid = PALETTE[i % len(PALETTE)], s.layer.id
        common = {"source": "atlas", "source-layer": lid}
        kind = geometry_kind(s.layer.geometry_type)
        if kind == "polygon":
            style_layers += [
                {"id": f"{lid}-fill", "type": "fill", **common,
                 "paint": {"fill-color": colour, "fill-opacity": 0.35}},
                {"id": f"{lid}-line", "type": "line", **common,
                 "paint": {"line-color": colour, "line-width": 1}}]
        elif kind == "line":
            style_layers.append({"id": f"{lid}-line", "type": "line", **common,
                                 "paint": {"line-color": colour, "line-width": 2}})
        else:
            style_layers.append({"id": f"{lid}-circle", "type": "circle", **common,
                                 "paint": {"circle-color": colour, "circle-radius": 4,
                                           "circle-stroke-color": "#fff",
                                           "circle-stroke-width": 1}})
    suffix = f"?{urlencode(query)}" if query else ""
    return JSONResponse({
        "version": 8,
        "name": " + ".join(s.layer.title for s in sets),
        "sources": {"atlas": {"type": "vector",
                              "url": f"{base}/tiles/{layers}/tilejson.json{suffix}"}},
        "layers": style_layers,
    })


# --- PMTiles archives (written by `gongfu export pmtiles`) -------------------------------


@router.get("/pmtiles")
def pmtiles_index(request: Request) -> JSONResponse:
    """Names of the PMTiles archives this server holds."""
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"archives": [
        {"name": name, "tilejson": f"{base}/pmtiles/{name}/tilejson.json",
         "href": f"{base}/pmtiles/{name}.pmtiles"} for name in pmtiles_folder(request).names()]})


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
    headers = _cache_headers(request, etag)
    if _matches(request, etag):
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


# --- Fast path for cached tiles ---------------------------------------------------------

@lru_cache(maxsize=1024)
def layer_list(text: str) -> tuple[str, ...]:
    """parse_layer_ids, remembered: the same few layer lists come again and again."""
    return tuple(parse_layer_ids(text))


TILE_PATH = re.compile(r"/tiles/([^/]+)/(\d+)/(\d+)/(\d+)\.mvt")
GZIP_MIN = 1000  # bytes; as GZipMiddleware's minimum_size
MEDIA_BYTES = MEDIA_TYPE.encode()
CHECKED = "gongfu.tile_cache_checked"


class CachedTiles:
    """ASGI middleware: answers tile cache hits and ETag matches before FastAPI runs.

    A warm tile costs a regex and a few dict lookups here instead of routing, validation and
    a thread-pool hop (on this 2-core machine ~1.6k requests/s through the route, ~10× more
    through this path; bench/RESULTS.md). Layer versions are re-read at most every 50 ms
    here (`FRESHNESS_S`), so a layer change reaches cached tiles within that time.
    Misses, errors and anything unusual fall through to the normal route, which renders,
    caches and reports errors in the one JSON shape. Gzip variants are cached beside the tile.
    """

    def __init__(self, app: Any, atlas: Any) -> None:
        self.app = app
        self.atlas = atlas  # the FastAPI app, for its state (settings, store, tiles)
        self._keys: dict[tuple[str, bytes], tuple] = {}  # (path, query) -> (key, ETag) seen
        self._tiles: VectorTiles | None = None
        self._cache_control = b""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            match = TILE_PATH.fullmatch(path)
            if match and not scope.get(CHECKED):
                scope[CHECKED] = True  # an inner CachedTiles need not look again
                try:
                    answered = await self._answer(scope, path, match, send)
                except Exception:  # noqa: BLE001 - the route reports errors in the JSON shape
                    answered = False
                if answered:
                    return
        await self.app(scope, receive, send)

    def _key(self, tiles: VectorTiles, scope: dict, path: str, match: re.Match
             ) -> tuple[tuple, bytes] | None:
        """The cache key and ETag of this request, or None when the route must answer it.

        A request seen before reuses its key while the layers' versions (re-read at most every
        `FRESHNESS_S`) are unchanged, which skips parsing and validation.
        """
        request = (path, scope["query_string"])
        known = self._keys.get(request)
        if known is not None:
            for layer_id, version in known[0][0]:
                if tiles.recent_version(layer_id) != version:
                    break
            else:
                return known
        try:
            properties, buffer = None, DEFAULT_BUFFER
            if scope["query_string"]:
                query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                if "properties" in query:
                    properties = _properties(query["properties"][-1])
                if "buffer" in query:
                    buffer = int(query["buffer"][-1])
            key = tiles.key(layer_list(match[1]), int(match[2]), int(match[3]),
                            int(match[4]), properties, buffer, build=False)
        except (AtlasError, ValueError):
            return None  # the route answers with the bilingual error
        if key is None:
            return None  # a tileset must be built first: slow work, for the route's threads
        if len(self._keys) > 100_000:  # bounded; rebuilt as requests come
            self._keys.clear()
        known = self._keys[request] = (key, tiles.etag_of(key).encode())
        return known

    async def _answer(self, scope: dict, path: str, match: re.Match, send: Any) -> bool:
        if self._tiles is None:
            self._tiles = self.atlas.state.services.tiles
            self._cache_control = b"public, max-age=%d" % self.atlas.state.settings.tile_max_age
        tiles = self._tiles
        if tiles.cache is None:
            return False
        known = self._key(tiles, scope, path, match)
        if known is None:
            return False
        key, etag = known
        if_none, accept = b"", b""
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none = value
            elif name == b"accept-encoding":
                accept = value
        common = [(b"etag", etag), (b"cache-control", self._cache_control)]
        if if_none and (b"*" in if_none or etag.removeprefix(b"W/") in if_none):
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return True
        data = tiles.cache.get(key)
        if data is None:
            return False
        if not data:
            await send({"type": "http.response.start", "status": 204, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return True
        common.append((b"content-type", MEDIA_BYTES))
        if len(data) >= GZIP_MIN and b"gzip" in accept:
            zipped_key = (*key, "gzip")
            zipped = tiles.cache.get(zipped_key)
            if zipped is None:
                zipped = gzip.compress(data, compresslevel=6, mtime=0)
                tiles.cache.put(zipped_key, zipped)
            data = zipped
            common += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        common.append((b"content-length", b"%d" % len(data)))
        await send({"type": "http.response.start", "status": 200, "headers": common})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else data})
        return True


def serving_app() -> CachedTiles:
    """The ASGI app `gongfu serve` runs (uvicorn factory): the atlas with cached tiles answered
    before FastAPI is entered at all, whose own per-request work (telemetry check, error
    middleware) costs about as much as a cache hit."""
    from api.app import create_app

    app = create_app()
    threading.Thread(target=prebuild, args=(app.state.services.tiles,), name="tile-prebuild",
                     daemon=True).start()
    return CachedTiles(app, atlas=app)


def prebuild(tiles: VectorTiles) -> None:
    """Build every vector layer's simplified pyramid now, so first map views do not wait for
    it (China's counties take ~20 s); layers changed later are rebuilt on their next tile."""
    for layer in tiles.store.layers():
        if layer.geometry_type == "None":
            continue
        try:
            tiles.tileset(layer.id).level(0)
        except Exception:  # noqa: BLE001 - a broken layer must not stop the server starting
            log.exception("could not prebuild tiles of %s", layer.id)


def install_fast_path(app: Any) -> None:
    """Put `CachedTiles` in front of the whole FastAPI stack (outside even its error and
    telemetry middleware, which cost as much as the cache hit itself). Middleware added with
    `app.add_middleware` before the app starts still works as usual."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: CachedTiles(build(), atlas=app)
