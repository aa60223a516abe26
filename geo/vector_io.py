"""Write a WGS84 feature frame as a GeoJSON, GeoPackage, zipped Shapefile, KML or CSV file.

Every file is written by GDAL (through pyogrio) into a temporary directory, and only the
finished bytes leave this module. Decisions, and why:

- Coordinates are east-first (x = longitude/easting) in every file, whatever the CRS's
  authority axis order: that is what GIS files and the software reading them use.
- CRS84 is written as EPSG:4326 (same datum, same east-first coordinates in files).
- GCJ-02 has no EPSG code. Its coordinates are written under a CRS named "GCJ-02 (Amap)"
  on the WGS 84 datum: GIS software then treats them like WGS 84, which is exactly what makes
  them line up with Amap (GCJ-02) basemaps, and the name warns anyone who looks. GeoJSON
  cannot carry that name (RFC 7946 has no CRS member), so its description says it instead.
- KML is WGS 84 by definition (OGC KML 2.2), so KML in any other CRS is refused.
- GeoJSON, GeoPackage and KML are UTF-8 by definition; GBK is offered for Shapefile and CSV.
- A GBK shapefile's .cpg says "936", the Windows code page of GBK: ArcGIS writes and reads
  that, and GDAL (hence QGIS) maps it to CP936 ("GBK" would only work through iconv).
- A value GBK cannot represent is an error, never a silent loss: GDAL would write the whole
  value as null with only a warning.
- dBASE field names are at most 10 bytes: longer names are shortened, and the zip's
  README.txt lists the mapping.
- A layer without geometry becomes a Shapefile zip holding only the .dbf table (+ .cpg),
  which ArcGIS and QGIS open and join by code; other formats carry null geometries.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from geo.crs import CRS84, CrsChoice, from_wgs84
from geo.errors import UnsupportedFormat


@dataclass(frozen=True)
class VectorFormat:
    """A file format the atlas writes."""

    key: str
    title: str
    extension: str
    media_type: str
    encodings: tuple[str, ...]  # text encodings it can be written in
    title_zh: str = ""


@dataclass(frozen=True)
class TextEncoding:
    """A text encoding for attribute values, with its names in each tool."""

    key: str  # what clients ask for
    codec: str  # Python codec, used to check values before writing
    gdal: str  # name pyogrio/GDAL write with
    cpg: str  # what a shapefile's .cpg says


UTF8 = TextEncoding("utf-8", "utf-8", "UTF-8", "UTF-8")
GBK = TextEncoding("gbk", "gbk", "CP936", "936")
ENCODING_NAMES = {"gbk": ("GBK（ArcGIS 10.x）", "GBK (ArcGIS 10.x, CP936)"),
                  "utf-8": ("UTF-8（ArcGIS Pro、QGIS）", "UTF-8 (ArcGIS Pro, QGIS)")}
ENCODINGS = {e.key: e for e in (UTF8, GBK)}
_ENCODING_ALIASES = {"utf8": UTF8, "cp936": GBK, "936": GBK}

FORMATS = {
    f.key: f
    for f in (
        VectorFormat("geojson", "GeoJSON", "geojson", "application/geo+json", ("utf-8",),
                     "GeoJSON"),
        VectorFormat("gpkg", "GeoPackage", "gpkg", "application/geopackage+sqlite3", ("utf-8",),
                     "GeoPackage"),
        VectorFormat("shp", "Shapefile (zip)", "shp.zip", "application/zip", ("utf-8", "gbk"),
                     "Shapefile（zip）"),
        VectorFormat("kml", "KML", "kml", "application/vnd.google-earth.kml+xml", ("utf-8",),
                     "KML（谷歌地球）"),
        VectorFormat("csv", "CSV", "csv", "text/csv", ("utf-8", "gbk"), "CSV 表格"),
        VectorFormat("xlsx", "Excel (XLSX)", "xlsx",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     ("utf-8",), "Excel 表格"),
    )
}
KML_CRS_KEYS = ("CRS84", "EPSG:4326")

# GCJ-02 as a CRS GIS software can read: the WGS 84 datum under an honest name.
GCJ02_CRS = CRS.from_wkt(
    'GEOGCRS["GCJ-02 (Amap) offset from WGS 84",'
    'DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563]],'
    'CS[ellipsoidal,2],'
    'AXIS["longitude",east,ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],'
    'AXIS["latitude",north,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],'
    'REMARK["GCJ-02 (Amap/Gaode) coordinates, a few hundred metres from WGS 84; no EPSG code"]]'
)

DBF_NAME_BYTES = 10
DBF_TEXT_BYTES = 254
# Words shortened first when a dBASE field name is too long (then names are truncated).
_SHORT_WORDS = {"county": "cnty", "township": "town", "province": "prov", "source": "src",
                "village": "vill", "number": "num", "population": "pop", "description": "desc"}


@dataclass(frozen=True)
class VectorFile:
    """A finished file: its bytes, file name and media type."""

    content: bytes
    filename: str
    media_type: str
    renamed_fields: dict[str, str] = field(default_factory=dict)  # original -> shapefile name


def resolve_format(text: str | None) -> VectorFormat:
    """The format named `text` (case-insensitive); None means GeoJSON."""
    wanted = (text or "geojson").strip().lower()
    if wanted in FORMATS:
        return FORMATS[wanted]
    valid = ", ".join(FORMATS)
    raise UnsupportedFormat(
        f"不支持的下载格式“{text}”。可选：{valid}",
        f"Unsupported download format '{text}'. Choose one of: {valid}",
        parameter="format", value=text, valid=list(FORMATS),
    )


def resolve_encoding(text: str | None) -> TextEncoding:
    """The text encoding named `text` (case-insensitive); None means UTF-8."""
    wanted = (text or "utf-8").strip().lower()
    found = ENCODINGS.get(wanted) or _ENCODING_ALIASES.get(wanted)
    if found:
        return found
    valid = ", ".join(ENCODINGS)
    raise UnsupportedFormat(
        f"不支持的字符编码“{text}”。可选：{valid}",
        f"Unsupported encoding '{text}'. Choose one of: {valid}",
        parameter="encoding", value=text, valid=list(ENCODINGS),
    )


def check_combination(fmt: VectorFormat, crs: CrsChoice, encoding: TextEncoding) -> None:
    """Refuse format/CRS/encoding combinations the format cannot represent."""
    if encoding.key not in fmt.encodings:
        choices = ", ".join(f.key for f in FORMATS.values() if encoding.key in f.encodings)
        raise UnsupportedFormat(
            f"{fmt.title} 文件只能使用 UTF-8 编码；{encoding.key} 编码仅适用于：{choices}",
            f"{fmt.title} files are always UTF-8; encoding {encoding.key} is offered for: "
            f"{choices}",
            parameter="encoding", value=encoding.key, format=fmt.key,
        )
    if fmt.key == "kml" and crs.key not in KML_CRS_KEYS:
        raise UnsupportedFormat(
            f"KML 只能使用 WGS84 坐标（crs={' 或 '.join(KML_CRS_KEYS)}），不能输出 {crs.key}。",
            f"KML is always WGS 84 (crs={' or '.join(KML_CRS_KEYS)}); it cannot be written in "
            f"{crs.key}.",
            parameter="crs", value=crs.key, format=fmt.key,
        )


def crs_note(crs: CrsChoice, has_geometry: bool = True) -> str:
    """One bilingual line saying which coordinates a file holds."""
    if not has_geometry:
        return "无几何，仅属性表。No geometry: an attribute table only."
    if crs.is_gcj02:
        return ("坐标为 GCJ-02（高德/国测局加偏坐标），与 WGS84 相差数百米，可直接叠加高德底图。"
                "Coordinates are GCJ-02 (Amap), a few hundred metres from WGS 84; they line up "
                "with Amap basemaps, not with WGS 84 data.")
    # pyproj's name, not crs.title: the title describes the authority axis order.
    return (f"坐标系 CRS: {crs.pyproj().name} [{crs.key}]；"
            "x 为经度或东坐标 (east)，y 为纬度或北坐标 (north)。")


def write_vector(
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    geometry_type: str | None,
    fmt: VectorFormat,
    crs: CrsChoice = CRS84,
    encoding: TextEncoding = UTF8,
    description: str = "",
) -> VectorFile:
    """Write `frame` (WGS84 lon/lat; its index is the feature id) as one file in `fmt`.

    `name` is the layer name inside the file and starts the file name; `geometry_type`
    ("MultiPolygon", "Point", …) or None for a table without geometry.
    """
    with tempfile.TemporaryDirectory(prefix="gongfu-download-") as tmp:
        path, filename, media_type, renamed = _write_file(
            Path(tmp), frame, name, geometry_type, fmt, crs, encoding, description)
        return VectorFile(path.read_bytes(), filename, media_type, renamed)


def stream_vector(
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    geometry_type: str | None,
    fmt: VectorFormat,
    crs: CrsChoice = CRS84,
    encoding: TextEncoding = UTF8,
    description: str = "",
    block_bytes: int = 1 << 20,
) -> tuple[VectorFile, Iterator[bytes]]:
    """As `write_vector`, but the finished file is read back from disk in blocks as they are
    consumed (its `content` is empty): memory holds a block, not the file. The file is
    written completely first (GeoPackage, zip, KML and XLSX are only valid once finished),
    so a failure is raised here; the temporary folder goes when the blocks are done."""
    folder = Path(tempfile.mkdtemp(prefix="gongfu-download-"))
    try:
        path, filename, media_type, renamed = _write_file(
            folder, frame, name, geometry_type, fmt, crs, encoding, description)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def blocks() -> Iterator[bytes]:
        try:
            with path.open("rb") as source:
                while block := source.read(block_bytes):
                    yield block
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return VectorFile(b"", filename, media_type, renamed), blocks()


def _write_file(
    folder: Path,
    frame: gpd.GeoDataFrame,
    name: str,
    geometry_type: str | None,
    fmt: VectorFormat,
    crs: CrsChoice,
    encoding: TextEncoding,
    description: str,
) -> tuple[Path, str, str, dict[str, str]]:
    """Write the file into `folder`: its path, file name, media type and renamed fields."""
    check_combination(fmt, crs, encoding)
    data = _in_crs(frame, crs, geometry_type)
    note = "\n".join(
        part for part in (description.strip(), crs_note(crs, geometry_type is not None)) if part
    )
    filename = f"{name}_{crs.key.replace(':', '')}.{fmt.extension}"
    if fmt.key == "shp":
        stem = filename.removesuffix(".shp.zip")
        if geometry_type is None:
            filename = f"{stem}.zip"  # a lone .dbf is no shapefile GDAL opens as .shp.zip
        archive, renamed = _shapefile_zip(data, folder, stem, geometry_type, encoding, note)
        return archive, filename, fmt.media_type, renamed
    path = folder / filename
    if fmt.key == "geojson":
        precision = 7 if crs.is_geographic else 3  # ~1 cm either way
        _write(data, path, "GeoJSON", name, geometry_type,
               layer_options={"COORDINATE_PRECISION": str(precision), "DESCRIPTION": note})
    elif fmt.key == "gpkg":
        # 1.2 is read by every GeoPackage reader around (GDAL ≥ 2, ArcGIS, QGIS 3);
        # nothing written here needs a later version.
        _write(data, path, "GPKG", name, geometry_type, dataset_options={"VERSION": "1.2"},
               layer_options={"DESCRIPTION": note})
    elif fmt.key == "kml":
        # LIBKML puts a "name" column in <name> and takes a document description.
        _write(data, path, "LIBKML", name, geometry_type,
               dataset_options={"NAME": name, "DESCRIPTION": note})
    elif fmt.key == "xlsx":
        _write_xlsx(data, path, name, geometry_type, crs, note)
    else:
        _write_csv(data, path, name, geometry_type, crs, encoding)
    media_type = fmt.media_type
    if fmt.key == "csv":
        media_type = f"{media_type}; charset={encoding.key}"
    return path, filename, media_type, {}


def _in_crs(
    frame: gpd.GeoDataFrame, crs: CrsChoice, geometry_type: str | None
) -> gpd.GeoDataFrame | pd.DataFrame:
    """The frame in the output CRS (east-first), or a plain table if it has no geometry."""
    column = frame.geometry.name
    if geometry_type is None:
        return pd.DataFrame(frame.drop(columns=column))
    geoms = from_wgs84(frame.geometry.to_numpy(), crs, authority_order=False)
    target = GCJ02_CRS if crs.is_gcj02 else CRS.from_epsg(crs.epsg or 4326)
    return gpd.GeoDataFrame(frame.drop(columns=column), geometry=np.asarray(geoms), crs=target)


def _write(
    data: gpd.GeoDataFrame | pd.DataFrame,
    path: Path,
    driver: str,
    layer: str,
    geometry_type: str | None,
    **options: object,
) -> None:
    """One pyogrio write; the index (feature id, also a column) is not written twice."""
    table = data.reset_index(drop=True)
    if geometry_type is not None:
        options["geometry_type"] = geometry_type
        options["promote_to_multi"] = False
    pyogrio.write_dataframe(table, path, layer=layer, driver=driver, **options)


def _write_csv(
    data: gpd.GeoDataFrame | pd.DataFrame,
    path: Path,
    layer: str,
    geometry_type: str | None,
    crs: CrsChoice,
    encoding: TextEncoding,
) -> None:
    """Points as lon/lat (x/y when projected) columns, other geometries as a WKT column.
    Text that Excel would run as a formula gets a leading apostrophe (see `formula_safe`)."""
    data = formula_safe(data)
    options: dict[str, object] = {}
    if encoding is UTF8:
        options["layer_options"] = {"WRITE_BOM": "YES"}  # so Excel shows Chinese correctly
    else:
        _check_text(data, encoding)
        options["encoding"] = encoding.gdal
    if geometry_type == "Point":
        x_name, y_name = ("lon", "lat") if crs.is_geographic else ("x", "y")
        geoms = data.geometry.to_numpy()
        table = pd.DataFrame(data.drop(columns=data.geometry.name))
        table.insert(0, y_name, shapely.get_y(geoms))
        table.insert(0, x_name, shapely.get_x(geoms))
        _write(table, path, "CSV", layer, None, **options)
    elif isinstance(data, gpd.GeoDataFrame):
        # A column named WKT is what GDAL and QGIS recognise as geometry when reading back.
        options.setdefault("layer_options", {})["GEOMETRY"] = "AS_WKT"
        _write(data, path, "CSV", layer, None, **options)
    else:
        _write(data, path, "CSV", layer, None, **options)


EXCEL_CELL_CHARS = 32_767  # the most characters an Excel cell holds
# Text starting with these is a formula to Excel (CSV/formula injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(data: gpd.GeoDataFrame | pd.DataFrame) -> gpd.GeoDataFrame | pd.DataFrame:
    """`data` with every text value that starts like a formula (= + - @, tab, CR) prefixed
    with an apostrophe, as OWASP advises for CSV: Excel shows it as text and the quote says
    it was escaped. Numbers stay numbers; `data` itself is not changed."""
    out = data
    for column in data.columns:
        values = data[column]
        if column == getattr(data, "_geometry_column_name", None) or not (
                values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        risky = values.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_START))
        if risky.any():
            if out is data:
                out = data.copy()
            out[column] = values.where(~risky, "'" + values.astype(str))
    return out


def _write_xlsx(
    data: gpd.GeoDataFrame | pd.DataFrame,
    path: Path,
    layer: str,
    geometry_type: str | None,
    crs: CrsChoice,
    note: str,
) -> None:
    """One sheet of features (attributes, a representative point's lon/lat — x/y when
    projected — and the geometry as WKT, east-first) and a 说明 sheet with the provenance.

    Every text cell is written as text: a value starting with = + - @ never becomes a
    formula. A WKT longer than an Excel cell (32,767 characters) is not cut: its cell says so
    and points to GeoPackage/Shapefile.
    """
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = _sheet_title(layer)
    table = pd.DataFrame(data.drop(columns=data.geometry.name)) if isinstance(
        data, gpd.GeoDataFrame) else data
    columns = [str(c) for c in table.columns]
    geoms = data.geometry.to_numpy() if isinstance(data, gpd.GeoDataFrame) else None
    x_name, y_name = ("lon", "lat") if crs.is_geographic else ("x", "y")
    header = columns + ([x_name, y_name, "WKT"] if geoms is not None else [])
    sheet.append(header)
    too_long = 0
    if geoms is not None:
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        points = np.full(len(geoms), None, dtype=object)
        points[present] = shapely.point_on_surface(geoms[present])
        xs, ys = shapely.get_x(points), shapely.get_y(points)
        digits = 7 if crs.is_geographic else 3  # ~1 cm
        wkts = shapely.to_wkt(geoms, rounding_precision=digits, trim=True)
    for i, row in enumerate(table.itertuples(index=False, name=None)):
        values = [_cell(v) for v in row]
        if geoms is not None:
            wkt = wkts[i]
            if wkt is not None and len(wkt) > EXCEL_CELL_CHARS:
                too_long += 1
                wkt = (f"几何过长（{len(wkt)} 字符，超过 Excel 单元格上限 {EXCEL_CELL_CHARS}），"
                       "请下载 GeoPackage 或 Shapefile。Geometry too long for an Excel cell; "
                       "download GeoPackage or Shapefile.")
            values += [_number(xs[i], digits), _number(ys[i], digits), wkt]
        sheet.append(values)
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never "f" (formula)
                if cell.value.startswith(_FORMULA_START):
                    cell.quotePrefix = True  # Excel keeps it text even when edited
    about = book.create_sheet("说明 About")
    lines = note.splitlines()
    if geoms is not None:
        lines.append(f"{x_name}/{y_name}：点要素为其坐标，线面要素为其内部代表点。"
                     f"{x_name}/{y_name}: a point's own position, else a point inside the feature.")
    if too_long:
        lines.append(f"{too_long} 个要素的几何超过 Excel 单元格上限，WKT 未写出。"
                     f"{too_long} geometries exceed an Excel cell; their WKT is not written.")
    for line in lines:
        about.append([line])
        about.cell(about.max_row, 1).data_type = "s"
        if line.startswith(_FORMULA_START):
            about.cell(about.max_row, 1).quotePrefix = True
    book.save(path)


def _sheet_title(name: str) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in name)
    return cleaned[:31] or "features"


def _cell(value: object) -> object:
    """A value openpyxl writes as it is: numbers, text, booleans; missing → empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return _cell(value.item())
    if isinstance(value, (str, bool, int, float)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _number(value: float, digits: int) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), digits)


def _shapefile_zip(
    data: gpd.GeoDataFrame | pd.DataFrame,
    folder: Path,
    stem: str,
    geometry_type: str | None,
    encoding: TextEncoding,
    note: str,
) -> tuple[Path, dict[str, str]]:
    """A zip of .shp .shx .dbf .prj .cpg (only .dbf .cpg without geometry) and README.txt."""
    attributes = [c for c in data.columns if geometry_type is None or c != data.geometry.name]
    short = shapefile_field_names(attributes, encoding)
    renamed = {old: new for old, new in short.items() if old != new}
    _check_text(data, encoding, max_bytes=DBF_TEXT_BYTES)
    # RESIZE shrinks text fields to their longest value instead of GDAL's default 80 bytes.
    _write(data.rename(columns=renamed), folder / f"{stem}.shp", "ESRI Shapefile", stem,
           geometry_type, encoding=encoding.gdal, layer_options={"RESIZE": "YES"})
    (folder / f"{stem}.cpg").write_text(encoding.cpg, encoding="ascii")
    (folder / "README.txt").write_text(_readme(note, encoding, renamed), encoding="utf-8-sig")
    archive = folder / f"{stem}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.iterdir()):
            if path != archive:
                zipped.write(path, path.name)
    return archive, renamed


def _readme(note: str, encoding: TextEncoding, renamed: dict[str, str]) -> str:
    lines = [note, "", f"属性编码 Attribute encoding: {encoding.key.upper()} (.cpg: {encoding.cpg})"]
    if renamed:
        lines += ["", "字段名已缩短（Shapefile 字段名最多 10 字节）"
                      " Field names shortened (Shapefile field names are at most 10 bytes):"]
        lines += [f"  {new} = {old}" for old, new in renamed.items()]
    return "\n".join(lines) + "\n"


def shapefile_field_names(names: list[str], encoding: TextEncoding) -> dict[str, str]:
    """Map each name to a unique dBASE field name of at most 10 bytes in `encoding`.

    Names that fit are kept (and reserved first, so a shortened name never takes one);
    longer ones get common words abbreviated, then are truncated, then numbered.
    """
    taken = {n.upper() for n in names if _byte_len(n, encoding) <= DBF_NAME_BYTES}
    mapping: dict[str, str] = {}
    for name in names:
        if _byte_len(name, encoding) <= DBF_NAME_BYTES:
            mapping[name] = name
            continue
        words = [_SHORT_WORDS.get(w.lower(), w) for w in name.split("_")]
        base = _truncate("_".join(words), DBF_NAME_BYTES, encoding)
        candidate, number = base, 1
        while candidate.upper() in taken:  # dBASE field names are case-insensitive
            suffix = str(number)
            candidate = _truncate(base, DBF_NAME_BYTES - len(suffix), encoding) + suffix
            number += 1
        taken.add(candidate.upper())
        mapping[name] = candidate
    return mapping


def _byte_len(text: str, encoding: TextEncoding) -> int:
    return len(text.encode(encoding.codec, errors="replace"))


def _truncate(text: str, max_bytes: int, encoding: TextEncoding) -> str:
    """The longest prefix of `text` that fits `max_bytes` (never splitting a character)."""
    out = ""
    for char in text:
        if _byte_len(out + char, encoding) > max_bytes:
            break
        out += char
    return out


def _check_text(
    data: gpd.GeoDataFrame | pd.DataFrame, encoding: TextEncoding, max_bytes: int | None = None
) -> None:
    """Raise UnsupportedFormat if a name or value cannot be written in full in `encoding`."""
    for column in data.columns:
        _check_value(str(column), encoding, max_bytes, column=str(column), feature=None)
        values = data[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values):
            continue
        for fid, value in zip(data.index, values):
            if isinstance(value, str):
                _check_value(value, encoding, max_bytes, column=str(column), feature=str(fid))


def _check_value(
    value: str, encoding: TextEncoding, max_bytes: int | None, column: str, feature: str | None
) -> None:
    where_zh = f"要素 {feature} 的字段“{column}”" if feature else f"字段名“{column}”"
    where_en = f"field '{column}' of feature {feature}" if feature else f"field name '{column}'"
    try:
        raw = value.encode(encoding.codec)
    except UnicodeEncodeError as error:
        char = value[error.start:error.end]
        raise UnsupportedFormat(
            f"{where_zh}（“{value}”）含有 {encoding.key.upper()} 无法表示的字符“{char}”"
            f"（U+{ord(char[0]):04X}），请改用 encoding=utf-8。",
            f"The {where_en} ('{value}') contains '{char}' (U+{ord(char[0]):04X}), which "
            f"{encoding.key.upper()} cannot represent; use encoding=utf-8.",
            parameter="encoding", value=encoding.key, field=column, feature=feature,
            character=char,
        ) from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise UnsupportedFormat(
            f"{where_zh}长 {len(raw)} 字节，超过 Shapefile 上限 {max_bytes} 字节；"
            "请改用 GeoPackage 或 GeoJSON。",
            f"The {where_en} is {len(raw)} bytes, over the Shapefile limit of {max_bytes}; "
            "download GeoPackage or GeoJSON instead.",
            parameter="format", value="shp", field=column, feature=feature,
        )

