"""Warm tiles answered before FastAPI runs (ASGI middleware in front of the whole app).

A warm tile costs a regex and a few dict lookups here instead of routing, validation and a
thread-pool hop (on this 2-core machine ~1.6k requests/s through the route, ~10× more through
this path; bench/RESULTS.md).
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from geo.errors import AtlasError
from geo.mvt import MEDIA_TYPE
from geo.tiles import DEFAULT_BUFFER
from geo.grids import WEB_MERCATOR
from layers.ogc_tiles import map_layer_ids
from layers.tilesets import VectorTiles, parse_layer_ids, parse_properties, tile_crs


@lru_cache(maxsize=1024)
def layer_list(text: str) -> tuple[str, ...]:
    """parse_layer_ids, remembered: the same few layer lists come again and again."""
    return tuple(parse_layer_ids(text))


TILE_PATH = re.compile(r"/tiles/([^/]+)/(\d+)/(\d+)/(\d+)\.mvt")  # XYZ: layers/z/x/y.mvt
# OGC API Tiles (api/routers/ogc_tiles.py): …/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}
OGC_TILE_PATH = re.compile(r"/collections/([^/]+)/tiles/([^/]+)/(\d+)/(\d+)/(\d+)")
MAP_TILE_PATH = re.compile(r"/tiles/([^/]+)/(\d+)/(\d+)/(\d+)")  # the default map's layers
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
            match = (TILE_PATH.fullmatch(path) or OGC_TILE_PATH.fullmatch(path)
                     or MAP_TILE_PATH.fullmatch(path))
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
            properties, buffer, crs = None, DEFAULT_BUFFER, "WGS84"
            if scope["query_string"]:
                query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                if "properties" in query:
                    properties = parse_properties(query["properties"][-1])
                if "buffer" in query:
                    buffer = int(query["buffer"][-1])
                if "crs" in query:  # a GCJ-02 tile is another tile: the key must say so
                    crs = tile_crs(query["crs"][-1])
            layer_ids, grid, z, x, y = _tile_of(tiles, match)
            key = tiles.key(layer_ids, z, x, y, properties, buffer, build=False, crs=crs,
                            grid=grid, labels=match.re is not TILE_PATH)  # OGC routes: labels
        except (AtlasError, ValueError):
            return None  # the route answers with the bilingual error
        if key is None:
            return None  # a tileset must be built first: slow work, for the route's threads
        if len(self._keys) > 100_000:  # bounded; rebuilt as requests come
            self._keys.clear()
        known = self._keys[request] = (key, tiles.etag_of(key).encode())
        return known

    async def _answer(self, scope: dict, path: str, match: re.Match, send: Any) -> bool:
        """Answer from the cache (or with a 304) when the tile is known; False otherwise."""
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


def install_fast_path(app: Any) -> None:
    """Put `CachedTiles` in front of the whole FastAPI stack (outside even its error and
    telemetry middleware, which cost as much as the cache hit itself). Middleware added with
    `app.add_middleware` before the app starts still works as usual."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: CachedTiles(build(), atlas=app)


def _tile_of(tiles: VectorTiles, match: re.Match) -> tuple[tuple[str, ...], str, int, int, int]:
    """(layer ids, grid id, level, column, row) of a matched tile path."""
    if match.re is TILE_PATH:
        return layer_list(match[1]), WEB_MERCATOR.id, int(match[2]), int(match[3]), int(match[4])
    if match.re is OGC_TILE_PATH:
        return (match[1],), match[2], int(match[3]), int(match[5]), int(match[4])
    layer_ids = tuple(map_layer_ids(tiles.store))
    return layer_ids, match[1], int(match[2]), int(match[4]), int(match[3])
