"""Read the files planners send: zip (shapefile sets, also in subfolders), loose shapefile
parts, GeoPackage, GeoJSON, KML/KMZ, CSV/XLSX with coordinate or WKT columns and 报盘
coordinate text files (`geo.baopan`).

`read_folder(folder)` finds every dataset under a folder of received files (unpacking archives
safely, `geo.archive`), and returns one `ReadLayer` per layer and geometry family: features in
WGS84, repaired, with what was learnt on the way — text encoding and how it was chosen
(`geo.shapefile_check`), source CRS declared, inferred or overridden (`geo.source_crs`),
bounding box, and counts of each geometry fix. Nothing here writes outside the folder.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.archive import Budget, UnpackLimits, unpack_zip
from geo.baopan import looks_like_baopan, read_baopan
from geo.errors import AtlasError, InvalidData, UnknownCrs, UnreadableUpload
from geo.gcj02 import transform_geometry_gcj02_to_wgs84
from geo.kml import read_kml
from geo.shapefile_check import Encoding, check_shp, read_dbf, resolve_encoding
from geo.tables import header_frame, read_table
from geo.source_crs import SourceCrs, from_file, from_override, from_prj, sniff

VECTOR_SUFFIXES = {".shp", ".gpkg", ".geojson", ".json", ".kml", ".csv", ".xlsx", ".txt"}
ARCHIVE_SUFFIXES = {".zip", ".kmz"}
SIDECARS = {".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qmd", ".xml", ".qix", ".fix"}
X_NAMES = {"lon", "lng", "long", "longitude", "x", "经度", "东坐标", "point_x", "easting"}
Y_NAMES = {"lat", "latitude", "y", "纬度", "北坐标", "point_y", "northing"}
FAMILIES = {"Point": "Point", "MultiPoint": "Point", "LineString": "LineString",
            "MultiLineString": "LineString", "LinearRing": "LineString",
            "Polygon": "Polygon", "MultiPolygon": "Polygon"}
RESERVED_NAMES = {"fid", "geometry", "geom"}
_FAMILY_SUFFIX = {"Point": "points", "LineString": "lines", "Polygon": "polygons"}


@dataclass
class ReadLayer:
    """One layer of an upload, in WGS84, with what the report must say about it."""

    name: str
    source: str  # path inside the upload (and ":layer" for multi-layer files)
    frame: gpd.GeoDataFrame  # WGS84, repaired, non-empty geometries only
    geometry_type: str  # "Point", "MultiPolygon", …
    encoding: Encoding
    crs: SourceCrs
    fixes: dict[str, int]
    source_bounds: tuple[float, float, float, float]  # in the source CRS, east-first
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """WGS84 lon/lat bounds."""
        return tuple(float(v) for v in self.frame.total_bounds)  # type: ignore[return-value]


@dataclass
class Upload:
    """Everything read from one upload."""

    layers: list[ReadLayer]
    ignored: list[str]  # files that are not geodata (listed in the report)


def read_folder(folder: Path, crs_override: str | None = None,
                limits: UnpackLimits | None = None) -> Upload:
    """Unpack archives in `folder` and read every dataset found; raises if none."""
    limits = limits or UnpackLimits()
    budget = Budget(limits)
    unpacked: set[Path] = set()
    for archive in sorted(p for p in folder.rglob("*") if p.suffix.lower() in ARCHIVE_SUFFIXES):
        # Members land beside the archive in "<name>.d/"; archives inside archives are
        # unpacked one level deep (a KMZ inside a zip), no further.
        files = unpack_zip(archive, archive.with_name(archive.name + ".d"), budget)
        unpacked.add(archive)
        for inner in files:
            if inner.suffix.lower() in ARCHIVE_SUFFIXES:
                unpack_zip(inner, inner.with_name(inner.name + ".d"), budget)
                unpacked.add(inner)
    override = from_override(crs_override) if crs_override else None
    layers: list[ReadLayer] = []
    ignored: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        # Shown as "plans.zip/一期/地块.shp", the way the planner packed it.
        rel = re.sub(r"(\.(?:zip|kmz))\.d/", r"\1/", path.relative_to(folder).as_posix(),
                     flags=re.IGNORECASE)
        suffix = path.suffix.lower()
        if "__MACOSX" in path.parts or path.name.startswith("._"):
            continue
        if path in unpacked or suffix in SIDECARS and _has_shp(path):
            continue
        if suffix not in VECTOR_SUFFIXES:
            ignored.append(rel)
            continue
        try:
            found = _read_dataset(path, rel, override)
        except UnreadableUpload:
            if suffix != ".json":
                raise
            found = None  # ".json" is often not GeoJSON (metadata, styles): not read, listed
        if found is None:
            ignored.append(rel)
        else:
            layers.extend(found)
    if not layers:
        raise UnreadableUpload(
            "上传中没有可读取的地理数据（支持 zip/shp/gpkg/geojson/kml/kmz、含坐标列或 WKT 列的 "
            "csv/xlsx、报盘 txt）。",
            "No readable geodata in the upload (supported: zip, shp sets, gpkg, geojson, kml, "
            "kmz, csv/xlsx with coordinate or WKT columns, 报盘 txt).", ignored=ignored[:20],
        )
    _unique_names(layers)
    return Upload(layers, ignored)


def _has_shp(path: Path) -> bool:
    return _sibling(path.with_suffix(".shp")) is not None


def _sibling(path: Path) -> Path | None:
    """`path`, matching its suffix case-insensitively (A.SHP beside a.dbf happens)."""
    if not path.parent.exists():
        return None
    for candidate in path.parent.iterdir():
        if candidate.stem == path.stem and candidate.suffix.lower() == path.suffix.lower():
            return candidate
    return None


def _unique_names(layers: list[ReadLayer]) -> None:
    seen: dict[str, int] = {}
    for layer in layers:
        n = seen.get(layer.name, 0)
        seen[layer.name] = n + 1
        if n:
            layer.name = f"{layer.name}_{n + 1}"


def _read_dataset(path: Path, rel: str, override: SourceCrs | None) -> list[ReadLayer] | None:
    suffix = path.suffix.lower()
    try:
        if suffix == ".shp":
            return _read_shapefile(path, rel, override)
        if suffix in (".csv", ".xlsx"):
            return _read_csv(path, rel, override)
        if suffix == ".txt":
            return _read_baopan(path, rel, override)
        if suffix == ".kml":
            return _read_kml(path, rel, override)
        return _read_self_describing(path, rel, override)
    except AtlasError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.GeometryError, pyogrio.errors.FieldError, ValueError) as error:
        raise UnreadableUpload(
            f"无法读取“{rel}”：文件损坏或格式不符。",
            f"Cannot read '{rel}': the file is corrupt or not what its name says.",
            file=rel,
        ) from error  # GDAL's own text (may hold a server path) is logged by the API, not shown


def _read_shapefile(shp: Path, rel: str, override: SourceCrs | None) -> list[ReadLayer]:
    shx, dbf = _sibling(shp.with_suffix(".shx")), _sibling(shp.with_suffix(".dbf"))
    shapes = check_shp(shp, shx)
    if dbf is None:
        raise UnreadableUpload(f"“{rel}”缺少 .dbf 属性表。", f"'{rel}' has no .dbf table.",
                               file=rel)
    info = read_dbf(dbf)
    if info.records != shapes:
        raise UnreadableUpload(
            f"“{rel}”：.dbf 有 {info.records} 条记录，而 .shp 有 {shapes} 个图形。",
            f"'{rel}': the .dbf has {info.records} records but the .shp has {shapes} shapes.",
            file=rel,
        )
    cpg = _sibling(shp.with_suffix(".cpg"))
    cpg_text = cpg.read_bytes().decode("ascii", errors="replace") if cpg else None
    encoding = resolve_encoding(cpg_text, info, rel)
    prj = _sibling(shp.with_suffix(".prj"))
    frame = _read_ogr(shp, encoding=encoding.gdal)
    if override is not None:
        declared = override
    elif prj is not None:
        declared = from_prj(prj.read_bytes().decode("utf-8", errors="replace"))
    else:
        declared = None
    return _finish(frame, shp.stem, rel, encoding, declared)


def _read_ogr(path: Path, **kwargs) -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL notes become our own report entries
        frame = pyogrio.read_dataframe(path, **kwargs)
    if not isinstance(frame, gpd.GeoDataFrame):
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame)))
    return frame


def _read_self_describing(path: Path, rel: str, override: SourceCrs | None) -> list[ReadLayer]:
    """GeoPackage, GeoJSON, KML: UTF-8 by definition, CRS in the file (or implied)."""
    out = []
    listed = pyogrio.list_layers(path)
    for layer_name, geom_type in listed:
        if geom_type is None:
            continue  # an attribute table inside a GeoPackage: not a map layer
        frame = _read_ogr(path, layer=layer_name)
        if not len(frame):
            continue
        declared = override
        if declared is None and frame.crs is not None:
            declared = from_file(frame.crs)
            # GeoJSON without a "crs" member is WGS84 by definition, yet Chinese exports often
            # hold projected numbers there: trust the numbers, not the default.
            if declared.crs is not None and declared.crs.is_geographic \
                    and not _looks_geographic(frame):
                declared = None
        name = path.stem if len(listed) == 1 else str(layer_name)
        where = rel if len(listed) == 1 else f"{rel}:{layer_name}"
        out.extend(_finish(frame, name, where, Encoding("utf-8", "format"), declared))
    return out


def _read_kml(path: Path, rel: str, override: SourceCrs | None) -> list[ReadLayer] | None:
    """KML by our own reader (geo/kml.py): every ExtendedData field kept, WGS84 by the
    standard unless the planner overrides it."""
    frame = read_kml(path.read_bytes(), rel)
    if not len(frame):
        return None  # a KML without placemarks (styles only): listed as ignored
    declared = override or from_file(frame.crs)
    return _finish(frame, path.stem, rel, Encoding("utf-8", "format"), declared)


def _read_baopan(path: Path, rel: str, override: SourceCrs | None) -> list[ReadLayer] | None:
    """A 报盘 coordinate file (geo/baopan.py): one polygon per parcel, CRS from its header.
    Any other .txt is not geodata (listed as ignored)."""
    data = path.read_bytes()
    if not looks_like_baopan(data):
        return None
    parsed = read_baopan(data, rel)
    declared = override
    if declared is None:
        declared = from_file(parsed.crs)  # flags Xian 80 / Beijing 54 like any declared CRS
        declared.reason_zh, declared.reason_en = parsed.reason_zh, parsed.reason_en
    encoding = Encoding(parsed.encoding, parsed.encoding)
    layers = _finish(parsed.frame, path.stem, rel, encoding, declared)
    for layer in layers:
        layer.warnings.extend(parsed.warnings)
    return layers


def _looks_geographic(frame: gpd.GeoDataFrame) -> bool:
    geoms = frame.geometry.to_numpy()
    present = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if not len(present):
        return True
    xmin, ymin, xmax, ymax = shapely.total_bounds(present)
    return -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90


def _read_csv(path: Path, rel: str, override: SourceCrs | None) -> list[ReadLayer] | None:
    """A table with coordinate columns, decoded like every uploaded table (geo/tables.py);
    rows whose field count differs from the header's are refused, never shifted."""
    table = read_table(path.read_bytes(), path.name)
    ragged = table.ragged_rows()
    if ragged:
        lines = ragged[:50]
        listed = "、".join(str(n) for n in lines[:10]) + (" …" if len(ragged) > 10 else "")
        raise InvalidData(
            f"“{rel}”第 {listed} 行的字段数与表头不一致（多了或少了逗号），请修正后再上传。",
            f"'{rel}': line(s) {', '.join(str(n) for n in lines[:10])} have a different number "
            "of fields than the header (a comma too many or too few); fix them and upload "
            "again.", file=rel, lines=lines)
    encoding = Encoding(table.encoding or "utf-8", table.encoding or "utf-8")
    table = header_frame(table)
    xcol = next((c for c in table.columns if c.strip().lower() in X_NAMES), None)
    ycol = next((c for c in table.columns if c.strip().lower() in Y_NAMES), None)
    if xcol is None or ycol is None:
        return None  # a table without coordinates: not a map layer
    x = pd.to_numeric(table[xcol], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(table[ycol], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    geometry = np.where(ok, shapely.points(np.where(ok, x, 0), np.where(ok, y, 0)), None)
    frame = gpd.GeoDataFrame(table.rename(columns={"geometry": "geometry_source"}),
                             geometry=list(geometry))
    return _finish(frame, path.stem, rel, encoding, override)


def _finish(frame: gpd.GeoDataFrame, name: str, rel: str, encoding: Encoding,
            declared: SourceCrs | None) -> list[ReadLayer]:
    """Repair, resolve the CRS, reproject to WGS84 and split by geometry family."""
    geoms, keep, fixes, per_row = repair(frame.geometry.to_numpy())
    table = frame.drop(columns=frame.geometry.name)
    # Names GeoPackage (our store) reserves: an attribute called "fid" or "geometry" is kept
    # under "<name>_source".
    table = table.rename(columns={c: f"{c}_source" for c in table.columns
                                  if str(c).lower() in RESERVED_NAMES})
    frame = gpd.GeoDataFrame(table.iloc[np.flatnonzero(keep)].reset_index(drop=True),
                             geometry=list(geoms[keep]))
    if not len(frame):
        raise UnreadableUpload(f"“{rel}”中没有有效的图形。", f"'{rel}' has no usable geometry.",
                               file=rel, fixes=fixes)
    bounds = tuple(float(v) for v in frame.total_bounds)
    source = declared or sniff(bounds)  # type: ignore[arg-type]
    if source.swap_xy:
        frame.geometry = shapely.transform(frame.geometry.to_numpy(), lambda c: c[:, ::-1])
        bounds = tuple(float(v) for v in frame.total_bounds)
    frame = _to_wgs84(frame, source, rel)
    out = []
    families = frame.geometry.geom_type.map(FAMILIES)
    fixed_rows = {kind: rows[keep] for kind, rows in per_row.items()}  # aligned with `frame`
    for family in sorted(families.dropna().unique()):
        in_family = (families == family).to_numpy()
        part = frame[in_family].reset_index(drop=True)
        part, geometry_type = _uniform(part, family)
        suffix = "" if families.nunique() == 1 else f"_{_FAMILY_SUFFIX[family]}"
        # Drops (null, empty, collections) belong to the file; Z/M and repairs to their layer.
        layer_fixes = fixes | {kind: int(rows[in_family].sum())
                               for kind, rows in fixed_rows.items()}
        out.append(ReadLayer(f"{name}{suffix}", rel, part, geometry_type, encoding, source,
                             layer_fixes, bounds, list(source.warnings)))
    return out


def _to_wgs84(frame: gpd.GeoDataFrame, source: SourceCrs, rel: str) -> gpd.GeoDataFrame:
    if source.is_gcj02:
        geoms = transform_geometry_gcj02_to_wgs84(frame.geometry.to_numpy())
        return frame.set_geometry(list(geoms), crs=4326)
    frame = frame.set_crs(source.crs, allow_override=True)
    out = frame.to_crs(4326)
    finite = np.isfinite(shapely.get_coordinates(out.geometry.to_numpy())).all()
    xmin, ymin, xmax, ymax = out.total_bounds
    if not finite or not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise UnknownCrs(
            f"“{rel}”的坐标与坐标系 {source.key} 不符（转换后超出经纬度范围）。请用 crs 参数指定。",
            f"The coordinates of '{rel}' do not fit CRS {source.key} (outside lon/lat range "
            "after transformation). Give the CRS with the crs parameter.", file=rel,
        )
    return out


def repair(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, int],
                                       dict[str, np.ndarray]]:
    """Drop Z/M, make valid, drop nulls and empties.

    Returns (geoms, keep mask, fix counts, per-row flags of the Z/M and validity fixes).
    """
    geoms = np.asarray(geoms, dtype=object)
    null = shapely.is_missing(geoms)
    present = ~null
    has_z = np.zeros(len(geoms), dtype=bool)
    # Z and M (PolygonZM shapefiles from survey software) both go: the atlas is 2D.
    has_z[present] = shapely.has_z(geoms[present]) | shapely.has_m(geoms[present])
    geoms = geoms.copy()
    if has_z.any():
        geoms[has_z] = shapely.force_2d(geoms[has_z])
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[present] = ~shapely.is_valid(geoms[present])
    for i in np.flatnonzero(invalid):
        family = FAMILIES.get(geoms[i].geom_type)
        fixed = shapely.make_valid(geoms[i])
        # make_valid may return a collection with lower-dimension debris (a bow-tie's
        # touching point): keep the parts of the original family only.
        parts = [p for p in shapely.get_parts(fixed) if FAMILIES.get(p.geom_type) == family]
        geoms[i] = _combine(parts, family) if parts else shapely.Polygon()
    empty = np.zeros(len(geoms), dtype=bool)
    empty[present] = shapely.is_empty(geoms[present])
    collection = np.array([g is not None and FAMILIES.get(g.geom_type) is None for g in geoms])
    keep = present & ~empty & ~collection
    fixes = {"z_dropped": int(has_z.sum()), "made_valid": int(invalid.sum()),
             "null_dropped": int(null.sum()), "empty_dropped": int(empty.sum()),
             "collection_dropped": int((collection & ~empty).sum())}
    return geoms, keep, fixes, {"z_dropped": has_z, "made_valid": invalid}


def _combine(parts: list, family: str | None):
    if len(parts) == 1:
        return parts[0]
    flat = [q for p in parts for q in shapely.get_parts(p)]
    if family == "Polygon":
        return shapely.union_all(flat)
    if family == "LineString":
        return shapely.MultiLineString(flat)
    return shapely.MultiPoint(flat)


def _uniform(frame: gpd.GeoDataFrame, family: str) -> tuple[gpd.GeoDataFrame, str]:
    """One geometry type per layer: single parts stay single, mixed become Multi*."""
    kinds = set(frame.geometry.geom_type)
    if kinds == {family}:
        return frame, family
    multi = {"Point": shapely.multipoints, "LineString": shapely.multilinestrings,
             "Polygon": shapely.multipolygons}[family]
    geoms = [g if g.geom_type.startswith("Multi") else multi([g]) for g in frame.geometry]
    return frame.set_geometry(geoms), f"Multi{family}"
