"""Vector tiles of the store's layers: simplified once per layer version, cut per request, cached.

- `Tileset`: one layer at one version in one tile grid (geo/grids.py: WebMercatorQuad, the
  XYZ grid, or a geographic one such as 天地图's CGCS2000 grid), projected into the grid's CRS
  with its per-zoom simplified geometries (coverage-safe, geo/tiles.py), spatial indexes and
  one label point per polygon (inside the shape), built once on first use.
- `TileCache`: an in-memory LRU of encoded tiles, bounded in bytes, keyed by the layer
  versions and the request; a layer update drops only the tiles that contain that layer.
- `VectorTiles`: the verbs the API and CLI use: `tile(layers, z, x, y)`, `key`, `fetch`,
  `etag_of`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo import durable, mvt
from geo.crs import CRS84, resolve_crs
from geo.errors import InvalidParameter, LayerWithoutGeometry, UnknownChoice, UnknownCrs, UnknownFields
from geo.gcj02 import transform_geometry_wgs84_to_gcj02
from geo.grids import WEB_MERCATOR, Grid, grid as grid_of
from geo.packed_geometries import IndexedGeometries, PackedGeometries
from geo.tiles import (DEFAULT_BUFFER, EXTENT, MAX_SIMPLIFY_ZOOM, TOLERANCE_UNITS, check_buffer,
                       check_tile, geometry_kind, simplify_levels, to_tile_coordinates)
from layers import pyramids
from layers.model import Layer
from layers.store import Store

log = logging.getLogger(__name__)
TILE_CRS = ("WGS84", "GCJ-02")  # whose coordinates tiles carry (高德 basemaps need GCJ-02)


def tile_crs(text: str | None) -> str:
    """"WGS84" (default; also CRS84, EPSG:4326) or "GCJ-02": the coordinates drawn in the
    WebMercatorQuad tile grid. GCJ-02 tiles line up with 高德 basemaps."""
    if text is None or not text.strip():
        return "WGS84"
    try:
        choice = resolve_crs(text)
    except UnknownCrs:
        raise UnknownChoice("crs", text, TILE_CRS) from None
    if choice.is_gcj02:
        return "GCJ-02"
    if choice is CRS84 or choice.epsg == 4326:
        return "WGS84"
    raise UnknownChoice("crs", text, TILE_CRS)
FRESHNESS_S = 0.05  # how stale a layer version the cache fast path may act on, seconds
ENTRY_OVERHEAD = 300  # bytes counted per cached tile besides its data (key, dict slot)
# A mapped pyramid level up to this much WKB is decoded once and kept by the worker (China's
# counties: z0–z5, ~8 MB of objects); bigger levels are decoded per tile, only what it touches.
DECODED_LEVEL_BYTES = 3 * 2**20
LABEL_SUFFIX = "_label"  # tile layer `{layer}_label`: one point per polygon, for its name
LABEL_FIELDS = ("name", "name_zh", "title")  # the first one a layer has is its label text


def _plain(value: object) -> object:
    """A JSON/MVT-friendly Python value (numpy scalars unwrapped), None for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, (str, bool, int, float)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _feature_id(text: str) -> int | None:
    """MVT ids are unsigned integers; administrative codes are digits, so use them as is."""
    return int(text) if text.isdigit() and len(text) <= 19 else None


@dataclass
class Tileset:
    """One layer at one version, ready to be cut into tiles.

    Built in memory from the store's features (`from_store`: the per-zoom pyramid on first
    use), or mapped from the pyramid saved for this version (`from_pyramid`, layers/pyramids.py:
    nothing to build, pages shared by every worker).
    """

    layer: Layer
    version: str
    mercator: np.ndarray | None  # geometries in the grid's CRS (None when mapped from a file)
    ids: list[int | None]
    properties: list[dict]  # per feature: attribute name -> plain value (missing ones left out)
    fields: list[str]
    simplify: bool = True  # False: every zoom cuts the full geometry (small private layers)
    crs: str = "WGS84"  # or "GCJ-02": geometries shifted by geo.gcj02 before projecting
    grid: Grid = WEB_MERCATOR  # the tile matrix set the tiles are cut in
    bounds: tuple[float, float, float, float] | None = None  # WGS84, None when empty
    _levels: dict[int, IndexedGeometries | PackedGeometries] = field(default_factory=dict)
    _labels: IndexedGeometries | PackedGeometries | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_store(cls, store: Store, layer_id: str, simplify: bool = True,
                   crs: str = "WGS84", grid: Grid = WEB_MERCATOR) -> "Tileset":
        layer = store.layer(layer_id)
        if layer.geometry_type == "None":
            raise LayerWithoutGeometry(
                f"图层“{layer_id}”是没有几何的名录，无法生成瓦片；请用 /collections/{layer_id}/items。",
                f"Layer '{layer_id}' is a registry without geometry and has no tiles; "
                f"use /collections/{layer_id}/items instead.", collection=layer_id)
        version = store.version(layer_id)
        frame = store.frame(layer_id)
        fields = [c for c in frame.columns if c != frame.geometry.name]
        records = frame[fields].to_dict("records")
        properties = [{k: v for k, v in ((k, _plain(v)) for k, v in row.items()) if v is not None}
                      for row in records]
        ids = [_feature_id(str(i)) for i in frame.index]
        geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
        box = frame.total_bounds if len(frame) else np.full(4, np.nan)
        bounds = tuple(float(b) for b in box) if np.isfinite(box).all() else None
        if crs == "GCJ-02":  # shift first, then project, simplify and cut like any tileset
            geoms = transform_geometry_wgs84_to_gcj02(geoms)
        return cls(layer, version, grid.project(geoms), ids, properties, fields, simplify, crs,
                   grid, bounds)

    @classmethod
    def from_pyramid(cls, layer: Layer, pyramid: pyramids.Pyramid, crs: str,
                     grid: Grid) -> "Tileset":
        """The tileset of a saved pyramid (its levels memory-mapped, nothing built)."""
        return cls(layer, pyramid.version, None, pyramid.ids, pyramid.properties, pyramid.fields,
                   True, crs, grid, pyramid.bounds, dict(pyramid.levels), pyramid.labels)

    def pyramid(self) -> dict[str, np.ndarray]:
        """What a saved pyramid holds, built if needed: every level's geometries in the grid's
        CRS (by level key) and, for labelled layers, the label points ("labels")."""
        self.level(0)
        saved = {str(key): level.geometries for key, level in sorted(self._levels.items())}
        if self.label_field is not None:
            saved["labels"] = self.labels().geometries
        return saved

    def level(self, z: int) -> IndexedGeometries | PackedGeometries:
        """Geometries for zoom z and their index; the whole pyramid is built on first call."""
        key = min(z, MAX_SIMPLIFY_ZOOM + 1) if self.simplify else 0
        if not self.simplify and key not in self._levels:
            with self._lock:
                self._levels[key] = IndexedGeometries.of(self.mercator)
        if key not in self._levels:
            with self._lock:
                if key not in self._levels:
                    kind = geometry_kind(self.layer.geometry_type)
                    levels = simplify_levels(self.mercator, kind, tolerance=self.grid.tolerance(
                        TOLERANCE_UNITS))
                    levels[MAX_SIMPLIFY_ZOOM + 1] = self.mercator
                    self._levels.update({zoom: IndexedGeometries.of(geoms)
                                         for zoom, geoms in levels.items()})
        return self._decode_if_small(self._levels, key)

    def _decode_if_small(self, levels: dict, key: object) -> IndexedGeometries | PackedGeometries:
        """A mapped level small enough is decoded once and kept (an overview zoom's tile
        holds hundreds of features: decoding them per tile would cost more than cutting)."""
        level = levels[key]
        if isinstance(level, PackedGeometries) and level.blob.nbytes <= DECODED_LEVEL_BYTES:
            with self._lock:
                level = levels[key]
                if isinstance(level, PackedGeometries):
                    level = levels[key] = level.decoded()
        return level

    def cut(self, z: int, x: int, y: int, properties: Sequence[str] | None,
            buffer: int = DEFAULT_BUFFER) -> mvt.TileLayer:
        """This layer's part of tile z/x/y: clipped to the tile plus `buffer` units, in tile units."""
        minx, miny, maxx, maxy = bounds = self.grid.tile_bounds(z, x, y)
        pad = (maxx - minx) * buffer / EXTENT
        box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        hits, geoms = self.level(z).intersecting(box)
        clipped = shapely.clip_by_rect(geoms, *box)
        local = to_tile_coordinates(clipped, bounds)
        keep = ~shapely.is_empty(local)
        hits, local = hits[keep], local[keep]
        wanted = None if properties is None else set(properties)
        props = [self.properties[i] if wanted is None
                 else {k: v for k, v in self.properties[i].items() if k in wanted} for i in hits]
        return mvt.TileLayer(self.layer.id, local, [self.ids[i] for i in hits], props)

    @property
    def label_field(self) -> str | None:
        """The attribute a label shows: the layer's name field, else its id field; None for
        layers that are not polygons (points and lines are labelled on their own geometry)."""
        if geometry_kind(self.layer.geometry_type) != "polygon":
            return None
        for name in (*LABEL_FIELDS, self.layer.id_field):
            if name in self.fields:
                return name
        return None

    def labels(self) -> IndexedGeometries | PackedGeometries:
        """One point per polygon, inside it (`point_on_surface` of the full-detail shape, in
        the grid's CRS, so it stays inside at every zoom); built on first use."""
        if self._labels is None:
            with self._lock:
                if self._labels is None:
                    present = ~(shapely.is_missing(self.mercator) | shapely.is_empty(self.mercator))
                    points = np.full(len(self.mercator), None, dtype=object)
                    points[present] = shapely.point_on_surface(self.mercator[present])
                    self._labels = IndexedGeometries.of(points)
        if isinstance(self._labels, PackedGeometries):  # mapped: points, small, decoded once
            with self._lock:
                if isinstance(self._labels, PackedGeometries):
                    self._labels = self._labels.decoded()
        return self._labels

    def cut_labels(self, z: int, x: int, y: int) -> mvt.TileLayer | None:
        """The `{layer}_label` part of tile z/x/y: the label points inside the tile (no buffer,
        so a label is drawn by one tile only), with the label text and the feature's id."""
        name = self.label_field
        if name is None:
            return None
        minx, miny, maxx, maxy = bounds = self.grid.tile_bounds(z, x, y)
        hits, points = self.labels().intersecting(bounds)
        xy = shapely.get_coordinates(points)
        inside = (xy[:, 0] >= minx) & (xy[:, 0] < maxx) & (xy[:, 1] > miny) & (xy[:, 1] <= maxy)
        hits = hits[inside]
        keep = [self.layer.id_field, name]
        props = [{k: self.properties[i][k] for k in keep if k in self.properties[i]} for i in hits]
        return mvt.TileLayer(self.layer.id + LABEL_SUFFIX,
                             to_tile_coordinates(points[inside], bounds),
                             [self.ids[i] for i in hits], props)

    def parts(self, z: int, x: int, y: int, properties: Sequence[str] | None,
              buffer: int = DEFAULT_BUFFER, labels: bool = False) -> list[mvt.TileLayer]:
        """This layer's tile layers in tile z/x/y: its features, then (with `labels`) its
        label points."""
        points = self.cut_labels(z, x, y) if labels else None
        return [self.cut(z, x, y, properties, buffer), *([points] if points is not None else [])]


def store_tilesets(store: Store) -> list[Tileset]:
    """Full-detail tilesets of every vector layer of a small store (a planner's private
    upload): no simplification pyramid to build first."""
    return [Tileset.from_store(store, layer.id, simplify=False)
            for layer in store.layers() if layer.geometry_type != "None"]


def cut_tile(sets: Sequence[Tileset], z: int, x: int, y: int,
             buffer: int = DEFAULT_BUFFER) -> bytes:
    """Tile z/x/y of the given tilesets, all attributes."""
    check_tile(z, x, y)
    return mvt.encode([s.cut(z, x, y, None, buffer) for s in sets])


class TileCache:
    """LRU of encoded tiles bounded in bytes; keys start with ((layer, version), ...)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: tuple, data: bytes) -> None:
        size = len(data) + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old) + ENTRY_OVERHEAD
            self._items[key] = data
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped) + ENTRY_OVERHEAD

    def drop_layer(self, layer_id: str, keep_version: str | None = None) -> int:
        """Forget every tile that contains `layer_id` (any version but `keep_version`);
        returns how many."""
        with self._lock:
            stale = [k for k in self._items
                     if any(lid == layer_id and v != keep_version for lid, v in k[0])]
            for key in stale:
                self._bytes -= len(self._items.pop(key)) + ENTRY_OVERHEAD
            return len(stale)

    def __len__(self) -> int:
        return len(self._items)


def parse_properties(text: str | None) -> list[str] | None:
    """`properties=` absent: all attributes; empty: none; else the comma-separated names."""
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_layer_ids(text: str) -> list[str]:
    """'counties,cities' -> ['counties', 'cities'] (order kept, duplicates refused)."""
    ids = [part.strip() for part in text.split(",")]
    if not all(ids) or len(set(ids)) != len(ids):
        raise InvalidParameter(
            f"图层列表“{text}”无效：须为逗号分隔、不重复的图层名。",
            f"Invalid layer list '{text}': give distinct layer ids separated by commas.")
    return ids


@dataclass(frozen=True)
class Tile:
    """An encoded tile (b"" when empty) and its ETag."""

    data: bytes
    etag: str


class VectorTiles:
    """MVT tiles of a store's layers with per-version tilesets and an LRU tile cache."""

    def __init__(self, store: Store, cache_bytes: int = 256 * 2**20,
                 pyramid_dir: Path | None = None) -> None:
        self.store = store
        # where each layer version's pyramid is saved and mapped from (None: built in memory)
        self.pyramid_dir = pyramid_dir
        if pyramid_dir is not None:
            durable.sweep(pyramid_dir)  # a writer killed mid-save left its temp file behind
        self.cache = TileCache(cache_bytes) if cache_bytes > 0 else None
        self._tilesets: dict[str, Tileset] = {}  # WGS84 WebMercatorQuad tilesets by layer id
        # by (CRS drawn, grid id), then layer id
        self._tilesets_by_crs: dict[tuple[str, str], dict[str, Tileset]] = {
            ("WGS84", WEB_MERCATOR.id): self._tilesets}
        self._etags: dict[tuple, str] = {}
        self._seen: dict[str, tuple[str, float]] = {}  # layer -> (version, when read)
        self._lock = threading.Lock()

    def recent_version(self, layer_id: str) -> str:
        """The layer's version as read at most `FRESHNESS_S` ago (the cache fast path's check:
        a stat of the store per request would cost as much as the rest of a cache hit)."""
        now = time.monotonic()
        seen = self._seen.get(layer_id)
        if seen is None or now - seen[1] > FRESHNESS_S:
            seen = self._seen[layer_id] = (self.store.version(layer_id), now)
        return seen[0]

    def tileset(self, layer_id: str, crs: str = "WGS84", grid: str = WEB_MERCATOR.id) -> Tileset:
        """The layer's tileset at its current version (rebuilt, and its tiles dropped, on
        change); one per CRS the tiles are drawn in (WGS84, GCJ-02) and tile grid, each keyed
        by version."""
        return self._tileset(layer_id, self.store.version(layer_id), crs, grid)

    def _sets(self, crs: str, grid: str) -> dict[str, Tileset]:
        sets = self._tilesets_by_crs.get((crs, grid))
        if sets is None:
            grid_of(grid)  # 404 for an unknown grid before anything is kept
            sets = self._tilesets_by_crs.setdefault((crs, grid), {})
        return sets

    def _tileset(self, layer_id: str, version: str, crs: str = "WGS84",
                 grid: str = WEB_MERCATOR.id) -> Tileset:
        sets = self._sets(crs, grid)
        current = sets.get(layer_id)
        if current is not None and current.version == version:
            return current
        with self._lock:
            current = sets.get(layer_id)
            latest = self.store.version(layer_id)
            if current is None or current.version != latest:
                current = self._open(layer_id, latest, crs, grid_of(grid))
                if self.cache is not None:
                    self.cache.drop_layer(layer_id, keep_version=current.version)
                sets[layer_id] = current
            return current

    def _open(self, layer_id: str, version: str, crs: str, grid: Grid) -> Tileset:
        """The layer's tileset at `version`: mapped from its saved pyramid when there is one,
        else built from the store's features (and saved, then mapped, for the next process)."""
        if self.pyramid_dir is None:
            return Tileset.from_store(self.store, layer_id, crs=crs, grid=grid)
        layer = self.store.layer(layer_id)
        variant = f"{crs}.{grid.id}"  # one pyramid per CRS drawn and tile grid
        # the grid's tolerances (its CRS units): a grid defined anew makes old files stale
        tolerance = grid.tolerance(TOLERANCE_UNITS)
        settings = {"tolerances": [tolerance(z) for z in range(MAX_SIMPLIFY_ZOOM + 1)]}
        saved = pyramids.load(self.pyramid_dir, layer_id, variant, version, settings)
        if saved is not None:
            return Tileset.from_pyramid(layer, saved, crs, grid)
        with pyramids.building(self.pyramid_dir, layer_id, variant):
            # another worker may have saved it while this one waited for the lock
            saved = pyramids.load(self.pyramid_dir, layer_id, variant, version, settings)
            if saved is not None:
                return Tileset.from_pyramid(layer, saved, crs, grid)
            started = time.perf_counter()
            built = Tileset.from_store(self.store, layer_id, crs=crs, grid=grid)
            try:
                pyramids.save(self.pyramid_dir, layer_id, variant, pyramids.Pyramid(
                    built.version, {}, None, built.ids, built.properties, built.fields,
                    built.bounds), built.pyramid(), settings)
                saved = pyramids.load(self.pyramid_dir, layer_id, variant, built.version,
                                       settings)
            except OSError as error:  # a read-only or full disk: serve from memory, say so
                log.warning("could not save the tile pyramid of %s: %s", layer_id, error)
                return built
        log.info("built and saved the tile pyramid of %s (%s) in %.1f s", layer_id, variant,
                 time.perf_counter() - started)
        if saved is None:  # replaced meanwhile by another version: serve what was built
            return built
        self.store.evict(layer_id)  # tiles no longer need the features in memory
        return Tileset.from_pyramid(layer, saved, crs, grid)

    def save_pyramids(self) -> list[str]:
        """Build and save the pyramid of every vector layer whose saved one is missing or
        stale (`gongfu build`); returns the layer ids that now have one."""
        done = []
        for layer in self.store.layers():
            if layer.geometry_type != "None":
                self.tileset(layer.id)
                done.append(layer.id)
        return done

    def key(self, layer_ids: Sequence[str], z: int, x: int, y: int,
            properties: Sequence[str] | None, buffer: int, build: bool = True,
            crs: str = "WGS84", grid: str = WEB_MERCATOR.id, labels: bool = False
            ) -> tuple | None:
        """The cache key of a request: layer versions first, so a change makes new keys;
        the CRS, the grid and whether label points are included last (a GCJ-02 tile, a
        CGCS2000Quad one or one with labels is another tile). x and y are the tile's column
        and row in the grid. The XYZ routes ask for no labels (their tiles stay as they were);
        the OGC API Tiles routes do.

        With `build=False`, None when a tileset would first have to be (re)built.
        """
        if grid == WEB_MERCATOR.id:
            check_tile(z, x, y)
        else:
            grid_of(grid).check_tile(z, x, y)
        check_buffer(buffer)
        if crs not in TILE_CRS:
            raise UnknownChoice("crs", crs, TILE_CRS)
        sets = []
        for layer_id in layer_ids:
            version = self.store.version(layer_id)
            current = self._sets(crs, grid).get(layer_id)
            if current is None or current.version != version:
                if not build:
                    return None
                current = self._tileset(layer_id, version, crs, grid)
            sets.append(current)
        if properties is not None:
            known = set().union(*(s.fields for s in sets))
            unknown = [p for p in properties if p not in known]
            if unknown:
                raise UnknownFields(unknown, sorted(known))
            properties = tuple(properties)
        return (tuple((s.layer.id, s.version) for s in sets), z, x, y, properties, buffer, crs,
                grid, labels)

    def etag_of(self, key: tuple) -> str:
        """The tile is a pure function of its key, so its ETag needs no rendering (fast 304s)."""
        etag = self._etags.get(key)
        if etag is None:
            if len(self._etags) > 100_000:  # bounded memo; recomputing is cheap
                self._etags.clear()
            digest = hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()
            etag = self._etags[key] = f'W/"{digest}"'
        return etag

    def tile(self, layer_ids: Sequence[str], z: int, x: int, y: int,
             properties: Sequence[str] | None = None, buffer: int = DEFAULT_BUFFER,
             crs: str = "WGS84", grid: str = WEB_MERCATOR.id, labels: bool = False) -> Tile:
        """Tile z/x/y (column x, row y) of the layers (in that order) in a grid; cached by
        layer versions and request."""
        key = self.key(layer_ids, z, x, y, properties, buffer, crs=crs, grid=grid,
                       labels=labels)
        return Tile(self.fetch(key), self.etag_of(key))

    def fetch(self, key: tuple) -> bytes:
        """The tile of a key from `key(...)`: from the cache, or rendered and cached."""
        data = self.cache.get(key) if self.cache is not None else None
        if data is None:
            data = self.render(key)
            if self.cache is not None:
                self.cache.put(key, data)
        return data

    def prebuild(self) -> None:
        """Build every vector layer's simplified pyramid now, so first map views do not wait
        for it (China's counties take ~20 s); layers changed later are rebuilt on their next
        tile. A broken layer is logged and skipped: it must not stop a server starting."""
        for layer in self.store.layers():
            if layer.geometry_type == "None":
                continue
            try:
                self.tileset(layer.id).level(0)
            except Exception:  # noqa: BLE001 - see above
                log.exception("could not prebuild tiles of %s", layer.id)

    def render(self, key: tuple) -> bytes:
        versions, z, x, y, properties, buffer, crs, grid, labels = key
        parts = [part for layer_id, _ in versions for part in
                 self.tileset(layer_id, crs, grid).parts(z, x, y, properties, buffer, labels)]
        return mvt.encode(parts)
