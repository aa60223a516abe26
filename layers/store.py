"""Stores persist layers: features in, features and metadata out.

`Store` is the interface every backend implements; `GeoPackageStore` keeps everything in one
GeoPackage file (the embedded default, nothing to install). A PostGIS store implements the
same verbs and can push queries down to SQL instead of filtering in memory.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo import durable
from geo.errors import InvalidData, UnknownCollection, UnknownFeature
from geo.period import Period, iso_day
from layers import filtering
from layers.model import Layer

if TYPE_CHECKING:
    from layers.uploads import UploadStore

Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class GeoJSONPage:
    """A page of features the backend encodes itself: `features` yields the page's GeoJSON
    Feature texts, comma-separated, in UTF-8 chunks (the array's content without its
    brackets), read from the backend as they are consumed."""

    features: Iterable[bytes]
    number_matched: int
    number_returned: int


@dataclass(frozen=True)
class LayerSummary:
    """What a catalogue shows of a layer: its feature count, the WGS84 bbox of its geometries
    (None: no geometry at all) and the first and last date of its time field (None: no time
    field or no dated feature)."""

    count: int
    bbox: Bbox | None
    dates: tuple[str, str] | None


@dataclass(frozen=True)
class FeaturePage:
    """One page of a query: the features and how many matched in all."""

    features: gpd.GeoDataFrame
    number_matched: int


# --- editing: one feature as stored (OGC API Features Part 4, see layers/editing.py) ------

@dataclass(frozen=True)
class FeatureRow:
    """One feature as stored: its attributes (the id field among them) and WGS84 geometry."""

    properties: dict[str, object]
    geometry: shapely.Geometry | None


def plain(value: object) -> object:
    """A stored value as plain Python (NaN/NA → None, numpy scalars → int/float/bool)."""
    if value is None or (not isinstance(value, (str, bytes, list, dict)) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def row_of(frame: gpd.GeoDataFrame, fid: str) -> FeatureRow | None:
    """Feature `fid` of a store frame as a FeatureRow (None when there is none)."""
    if fid not in frame.index:
        return None
    record = frame.loc[fid]
    geometry_name = frame.geometry.name
    properties = {c: plain(record[c]) for c in frame.columns if c != geometry_name}
    geometry = record[geometry_name]
    return FeatureRow(properties, None if geometry is None or (
        not isinstance(geometry, shapely.Geometry) and pd.isna(geometry)) else geometry)


# Given the current row (None: no such feature), the new one (None: delete it).
FeatureChange = Callable[[FeatureRow | None], FeatureRow | None]


class Store(ABC):
    """Layers in, features and metadata out. Geometries are WGS84 lon/lat.

    A backend implements `put`, `_meta` (the layer catalogue) and `_load` (one layer's rows);
    layers are kept in memory once per layer version, so a change made by another process is
    picked up as soon as `_meta` reports its new version.
    """

    def __init__(self) -> None:
        self._frames: dict[str, tuple[str, gpd.GeoDataFrame]] = {}
        self._summaries: dict[str, tuple[str, LayerSummary]] = {}
        self._queryables: dict[str, tuple[str, dict[str, filtering.Queryable]]] = {}

    def put(self, layer: Layer, frame: gpd.GeoDataFrame) -> None:
        """Replace (or add) a layer atomically: readers see the old or the new, never half."""
        self.put_many([(layer, frame)])

    @abstractmethod
    def put_many(self, pairs: Sequence[tuple[Layer, gpd.GeoDataFrame]]) -> None:
        """Replace (or add) several layers in one atomic write: readers see all of them old
        or all new (a project snapshot's history, latest and areas layers move together)."""

    @abstractmethod
    def _meta(self) -> dict[str, tuple]:
        """Layer id -> (Layer, version, *backend details), in the order layers were added."""

    @abstractmethod
    def _load(self, layer: Layer) -> gpd.GeoDataFrame:
        """Read all rows of a layer from the backend, indexed by feature id."""

    def close(self) -> None:
        """Release connections (a file store holds none)."""

    def layers(self) -> list[Layer]:
        """Metadata of every layer, in the order they were first added."""
        return [entry[0] for entry in self._meta().values()]

    def version(self, layer_id: str) -> str:
        """A token that changes whenever the layer's features or metadata change."""
        meta = self._meta()
        if layer_id not in meta:
            self.layer(layer_id)  # raises UnknownCollection with the bilingual message
        return meta[layer_id][1]

    def frame(self, layer_id: str) -> gpd.GeoDataFrame:
        """All features of a layer, indexed by feature id (cached per layer version)."""
        layer = self.layer(layer_id)
        version = self.version(layer_id)  # read before the rows: a later change re-reads
        cached = self._frames.get(layer_id)
        if cached and cached[0] == version:
            return cached[1]
        frame = self._load(layer)
        self._frames[layer_id] = (version, frame)
        return frame

    def evict(self, layer_id: str) -> None:
        """Forget a layer's features held in memory (read again when next asked for): tiles
        mapped from a saved pyramid no longer need them."""
        self._frames.pop(layer_id, None)

    def layer(self, layer_id: str) -> Layer:
        return find_layer(self.layers(), layer_id)

    def summary(self, layer_id: str) -> LayerSummary:
        """Count, bbox and date range of a layer, computed once per layer version (catalogue
        pages ask for every layer's on every request)."""
        version = self.version(layer_id)
        cached = self._summaries.get(layer_id)
        if cached and cached[0] == version:
            return cached[1]
        layer, frame = self.layer(layer_id), self.frame(layer_id)
        bbox = None
        if layer.geometry_type != "None":
            geoms = np.asarray(frame.geometry.values)
            geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
            if len(geoms):
                bbox = tuple(float(v) for v in shapely.total_bounds(geoms))
        dates = None
        if layer.time_field and layer.time_field in frame.columns:
            days = sorted(d for d in map(iso_day, frame[layer.time_field]) if d)
            dates = (days[0], days[-1]) if days else None
        summary = LayerSummary(len(frame), bbox, dates)
        self._summaries[layer_id] = (version, summary)
        return summary

    def features(
        self,
        layer_id: str,
        bbox: Bbox | None = None,
        filters: dict[str, str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        where: filtering.Node | None = None,
        sortby: tuple[filtering.SortKey, ...] = (),
        period: Period | None = None,
    ) -> FeaturePage:
        """Features intersecting `bbox` (WGS84) whose attributes equal `filters`, that meet
        the CQL2 condition `where` and whose date (the layer's `time_field`) falls in `period`,
        ordered by `sortby` (else stored order), paged. A layer without time ignores `period`,
        as OGC API `datetime` asks."""
        frame = self.frame(layer_id)
        mask = np.ones(len(frame), dtype=bool)
        if where is not None:
            mask &= filtering.mask(frame, where)
        for name, wanted in (filters or {}).items():
            mask &= frame[name].astype("string").fillna("").to_numpy() == wanted
        time_field = self.layer(layer_id).time_field
        if period is not None and time_field:
            mask &= period.matches(frame[time_field].to_numpy())
        if bbox is not None:
            hits = frame.sindex.query(shapely.box(*bbox), predicate="intersects")
            in_box = np.zeros(len(frame), dtype=bool)
            in_box[hits] = True
            mask &= in_box
        positions = filtering.order(frame, np.flatnonzero(mask), sortby)
        end = None if limit is None else offset + limit
        return FeaturePage(frame.iloc[positions[offset:end]], len(positions))

    def queryables(self, layer_id: str) -> dict[str, filtering.Queryable]:
        """The names (and types) a filter or sort key may use on this layer (worked out once
        per layer version: the date formats are read from the values)."""
        version = self.version(layer_id)
        cached = self._queryables.get(layer_id)
        if cached and cached[0] == version:
            return cached[1]
        found = filtering.queryables(self.layer(layer_id), self.frame(layer_id))
        self._queryables[layer_id] = (version, found)
        return found

    def feature(self, layer_id: str, fid: str) -> gpd.GeoDataFrame:
        """One feature (as a one-row frame) by its id."""
        frame = self.frame(layer_id)
        if fid not in frame.index:
            raise UnknownFeature(
                f"图层“{layer_id}”中没有编号为“{fid}”的要素。",
                f"Layer '{layer_id}' has no feature with id '{fid}'.",
                collection=layer_id,
                feature=fid,
            )
        return frame.loc[[fid]]

    # --- verbs a backend may do better; callers never ask which backend they have --------

    def features_geojson(self, layer_id: str, bbox: Bbox | None, filters: dict[str, str],
                         limit: int, offset: int, properties: list[str],
                         precision: int = 7, where: filtering.Node | None = None,
                         sortby: tuple[filtering.SortKey, ...] = (),
                         period: Period | None = None) -> GeoJSONPage | None:
        """A page of WGS84 features already encoded as GeoJSON text by the backend, or None
        when the caller should encode `features()` itself (the default)."""
        return None

    def change_feature(self, layer_id: str, fid: str,
                       change: FeatureChange) -> FeatureRow | None:
        """Change one feature atomically and durably, bumping the layer's version: `change`
        is called with the current row, read under the store's write lock, and returns the
        row to store (None deletes; raising leaves everything as it was). Returns the row
        stored. Backends that can be written implement it."""
        raise NotImplementedError(f"{type(self).__name__} cannot change features")

    def upload_store(self, folder: Path) -> "UploadStore":
        """Where planners' private uploads live beside this store: one GeoPackage per upload
        in `folder` (a shared backend overrides this so every process sees them)."""
        from layers.uploads import UploadStore  # uploads are themselves GeoPackage stores

        return UploadStore(folder)

    def token_secret(self, folder: Path) -> bytes:
        """The key that signs upload tokens: a file in `folder` (or the shared backend's)."""
        from layers.uploads import load_secret

        return load_secret(folder)


def find_layer(layers: list[Layer], layer_id: str) -> Layer:
    """The layer with this id, else UnknownCollection (404) listing the ids there are."""
    for layer in layers:
        if layer.id == layer_id:
            return layer
    known = ", ".join(layer.id for layer in layers)
    raise UnknownCollection(
        f"没有名为“{layer_id}”的图层。现有图层：{known}",
        f"No layer named '{layer_id}'. Available layers: {known}",
        collection=layer_id,
    )


_META_TABLE = "gongfu_layers"


def check_frame(layer: Layer, frame: gpd.GeoDataFrame) -> None:
    """Refuse features that do not fit the layer, before anything is written."""
    if layer.id_field not in frame.columns:
        raise InvalidData(
            f"缺少编号字段“{layer.id_field}”。", f"Missing id field '{layer.id_field}'.")
    ids = frame[layer.id_field].astype(str)
    if ids.duplicated().any():
        dupes = ", ".join(sorted(set(ids[ids.duplicated()]))[:5])
        raise InvalidData(f"编号重复：{dupes}", f"Duplicate feature ids: {dupes}")
    if layer.geometry_type == "None":
        return
    if frame.crs is None or not frame.crs.equals(gpd.GeoSeries(crs=4326).crs):
        raise InvalidData("要素须为 WGS84（EPSG:4326）。", "Features must be in WGS84 (EPSG:4326).")
    present = frame.geometry.dropna()
    kinds = set(present[~present.is_empty].geom_type)
    allowed = {layer.geometry_type, layer.geometry_type.removeprefix("Multi")}
    if not kinds <= allowed:
        found = ", ".join(sorted(kinds - allowed))
        raise InvalidData(
            f"图层“{layer.id}”只接受 {layer.geometry_type}，但收到 {found}。",
            f"Layer '{layer.id}' takes {layer.geometry_type} only, got {found}.",
        )


class GeoPackageStore(Store):
    """All layers in one GeoPackage file, read into memory once per layer version."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._lock = threading.Lock()
        self._meta_cache: tuple[int, dict[str, tuple[Layer, str]]] | None = None

    def put_many(self, pairs: Sequence[tuple[Layer, gpd.GeoDataFrame]]) -> None:
        for layer, frame in pairs:
            check_frame(layer, frame)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            # every layer goes into one copy of the file, swapped in by one rename
            tmp = durable.temp_path(self.path.parent, self.path.stem, ".gpkg")
            try:
                if self.path.exists():
                    shutil.copyfile(self.path, tmp)
                else:
                    tmp.unlink()
                for layer, frame in pairs:
                    _write_layer(tmp, layer, frame)
                    _write_meta(tmp, layer)
                tmp.chmod(0o644)  # mkstemp makes 0600; the store is shared with other readers
                durable.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
            self._meta_cache = None

    def _load(self, layer: Layer) -> gpd.GeoDataFrame:
        return _read_layer(self.path, layer)

    # --- editing: the layer rewritten whole under a file lock (layers are small; `put` is
    # atomic and durable, and bumps the version) -------------------------------------------

    @contextmanager
    def _edit_lock(self) -> Iterator[None]:
        """One editor at a time across threads and processes (flock on a sidecar file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / f".{self.path.name}.edit-lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def change_feature(self, layer_id: str, fid: str,
                       change: FeatureChange) -> FeatureRow | None:
        with self._edit_lock():
            self._meta_cache = None  # another process may have written since
            layer = self.layer(layer_id)
            frame = self.frame(layer_id)
            current = row_of(frame, fid)
            new = change(current)
            if new is None and current is None:
                return None
            self.put(layer, _with_row(frame, fid, new))
            return new

    def _meta(self) -> dict[str, tuple[Layer, str]]:
        if not self.path.exists():
            return {}
        stamp = self.path.stat().st_mtime_ns
        if self._meta_cache and self._meta_cache[0] == stamp:
            return self._meta_cache[1]
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as db:
            exists = db.execute(
                "SELECT 1 FROM sqlite_master WHERE name = ?", (_META_TABLE,)
            ).fetchone()
            rows = db.execute(
                f"SELECT meta, version FROM {_META_TABLE} ORDER BY position"
            ).fetchall() if exists else []
        meta = {}
        for text, version in rows:
            layer = Layer.from_json(text)
            meta[layer.id] = (layer, version)
        self._meta_cache = (stamp, meta)
        return meta


def _with_row(frame: gpd.GeoDataFrame, fid: str, row: FeatureRow | None) -> gpd.GeoDataFrame:
    """`frame` with feature `fid` replaced in place, appended, or (row None) removed; column
    types kept (an integer column that gets a null becomes nullable, not text)."""
    if row is None:
        return frame.drop(index=fid)
    geometry_name = frame.geometry.name
    data = {}
    for column in frame.columns:
        if column == geometry_name:
            continue
        value, dtype = row.properties.get(column), frame[column].dtype
        if value is None and (pd.api.types.is_integer_dtype(dtype)
                              or pd.api.types.is_bool_dtype(dtype)):
            dtype = "Int64" if pd.api.types.is_integer_dtype(dtype) else "boolean"
        elif value is None or dtype == object or pd.api.types.is_string_dtype(dtype):
            dtype = object
        data[column] = pd.Series([value], dtype=dtype, index=[fid])
    new = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([row.geometry], index=[fid], crs=4326),
                           crs=4326)
    if geometry_name != "geometry":
        new = new.rename_geometry(geometry_name)
    if fid in frame.index:
        at = frame.index.get_loc(fid)
        parts = [frame.iloc[:at], new, frame.iloc[at + 1:]]
    else:
        parts = [frame, new]
    merged = pd.concat([p for p in parts if len(p)] or [new])
    return gpd.GeoDataFrame(merged, geometry=geometry_name, crs=4326)


def _write_layer(path: Path, layer: Layer, frame: gpd.GeoDataFrame) -> None:
    data = frame.reset_index(drop=True)
    if layer.geometry_type == "None":
        pyogrio.write_dataframe(pd.DataFrame(data.drop(columns="geometry", errors="ignore")),
                                path, layer=layer.id, driver="GPKG")
    else:
        pyogrio.write_dataframe(data.to_crs(4326), path, layer=layer.id, driver="GPKG",
                                geometry_type=layer.geometry_type, promote_to_multi=False)


def _write_meta(path: Path, layer: Layer) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {_META_TABLE} "
            "(id TEXT PRIMARY KEY, position INTEGER, meta TEXT NOT NULL, version TEXT NOT NULL)"
        )
        row = db.execute(f"SELECT position FROM {_META_TABLE} WHERE id = ?", (layer.id,)).fetchone()
        position = row[0] if row else db.execute(
            f"SELECT COALESCE(MAX(position), 0) + 1 FROM {_META_TABLE}"
        ).fetchone()[0]
        version = os.urandom(8).hex()
        db.execute(
            f"INSERT OR REPLACE INTO {_META_TABLE} (id, position, meta, version) VALUES (?,?,?,?)",
            (layer.id, position, layer.to_json(), version),
        )


def _read_layer(path: Path, layer: Layer) -> gpd.GeoDataFrame:
    raw = pyogrio.read_dataframe(path, layer=layer.id)
    if not isinstance(raw, gpd.GeoDataFrame):
        raw = gpd.GeoDataFrame(raw, geometry=gpd.GeoSeries([None] * len(raw)), crs=4326)
    raw[layer.id_field] = raw[layer.id_field].astype(str)
    frame = raw.set_index(layer.id_field, drop=False)
    frame.index.name = None
    return frame


def open_store(path: str | os.PathLike[str], database_url: str = "") -> Store:
    """The one place a store is chosen: PostGIS when a database URL is given, else the
    GeoPackage file at `path`."""
    if database_url:
        from layers.postgis_store import PostGISStore  # psycopg only when PostGIS is used

        return PostGISStore(database_url)
    durable.sweep(Path(path).parent)  # a writer killed mid-write left its temp file behind
    return GeoPackageStore(path)
