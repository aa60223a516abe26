"""KML read by our own code, so every attribute a planner typed survives.

GDAL's KML drivers fold `<ExtendedData>` names they cannot type into one column (a KMZ with
fields 乡镇 and 类型 came back as one column `______` holding only the last value) and add ten
housekeeping columns (tessellate, extrude, visibility, drawOrder, icon, begin…). Here each
Placemark becomes one row: `name`, `description`, the `folder` path it sits in (when the file
has folders), and every `<Data name>` / `<SchemaData><SimpleData name>` field under its own
name. Geometry: Point, LineString, LinearRing, Polygon with holes, MultiGeometry (nested);
coordinates are WGS84 lon,lat[,height] by the KML standard.

The XML parser is hardened (defusedxml: no DTDs, no entities, no external references) and the
document size is capped before parsing.
"""

from __future__ import annotations

import re

import geopandas as gpd
import shapely
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from xml.etree.ElementTree import Element, ParseError

from geo.errors import PayloadTooLarge, UnreadableUpload

MAX_KML_BYTES = 256 * 2**20  # a KML this large is not a planner's survey file
RESERVED = ("name", "description", "folder")
_NUMBER = re.compile(r"[\s,]+")


def _local(tag: str) -> str:
    """The tag without its namespace ({http://www.opengis.net/kml/2.2}Point → Point)."""
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _child_text(element: Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _coordinates(element: Element) -> list[tuple[float, ...]]:
    """The tuples of a <coordinates> child: "lon,lat[,h] lon,lat[,h] …"."""
    text = _child_text(element, "coordinates") or ""
    points = []
    for token in text.split():
        values = [float(v) for v in token.split(",") if v != ""]
        if len(values) < 2:
            raise ValueError(f"bad coordinate {token!r}")
        points.append(tuple(values[:3]))
    return points


def _ring(boundary: Element) -> list[tuple[float, ...]]:
    rings = [r for r in boundary.iter() if _local(r.tag) == "LinearRing"]
    return _coordinates(rings[0]) if rings else []


def _geometry(element: Element) -> shapely.Geometry | None:
    kind = _local(element.tag)
    if kind == "Point":
        (point,) = _coordinates(element)[:1] or [None]
        return shapely.Point(point) if point else None
    if kind in ("LineString", "LinearRing"):
        return shapely.LineString(_coordinates(element))
    if kind == "Polygon":
        outer = [_ring(b) for b in _children(element, "outerBoundaryIs")]
        inner = [_ring(b) for b in _children(element, "innerBoundaryIs")]
        return shapely.Polygon(outer[0], [h for h in inner if h]) if outer and outer[0] else None
    if kind == "MultiGeometry":
        parts = [g for g in (_geometry(child) for child in element) if g is not None]
        parts = [p for part in parts for p in shapely.get_parts(part)]
        kinds = {p.geom_type for p in parts}
        if kinds == {"Point"}:
            return shapely.MultiPoint(parts)
        if kinds <= {"LineString", "LinearRing"} and kinds:
            return shapely.MultiLineString(parts)
        if kinds == {"Polygon"}:
            return shapely.MultiPolygon(parts)
        return shapely.GeometryCollection(parts) if parts else None
    return None


def _placemark_geometry(placemark: Element) -> shapely.Geometry | None:
    for child in placemark:
        if _local(child.tag) in ("Point", "LineString", "LinearRing", "Polygon",
                                 "MultiGeometry"):
            return _geometry(child)
    return None


def _extended(placemark: Element) -> dict[str, str]:
    fields: dict[str, str] = {}
    for data in placemark.iter():
        tag = _local(data.tag)
        if tag == "Data" and data.get("name"):
            fields[data.get("name", "")] = _child_text(data, "value") or ""
        elif tag == "SimpleData" and data.get("name"):
            fields[data.get("name", "")] = (data.text or "").strip()
    return {(f"{key}_data" if key in RESERVED else key): value for key, value in fields.items()}


def _walk(element: Element, folders: list[str], out: list[tuple[list[str], Element]]) -> None:
    for child in element:
        tag = _local(child.tag)
        if tag == "Placemark":
            out.append((folders, child))
        elif tag == "Folder":
            _walk(child, folders + [_child_text(child, "name") or ""], out)
        elif tag in ("Document", "kml"):
            _walk(child, folders, out)


def read_kml(data: bytes, rel: str) -> gpd.GeoDataFrame:
    """Every Placemark of a KML document as one row (WGS84); raises a bilingual error for a
    file that is not KML, too large, or hostile XML (DTDs, entities)."""
    if len(data) > MAX_KML_BYTES:
        mb = MAX_KML_BYTES // 2**20
        raise PayloadTooLarge(f"“{rel}”超过 {mb} MB，无法读取。",
                              f"'{rel}' is larger than {mb} MB.", file=rel)
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise UnreadableUpload(f"“{rel}”含有不允许的 XML 结构（DTD 或实体引用）。",
                               f"'{rel}' holds XML constructs we refuse (DTD or entities).",
                               file=rel) from None
    except ParseError:
        raise UnreadableUpload(f"“{rel}”不是有效的 KML（XML 格式错误）。",
                               f"'{rel}' is not valid KML (malformed XML).", file=rel) from None
    if _local(root.tag) != "kml":
        raise UnreadableUpload(f"“{rel}”不是 KML 文件。", f"'{rel}' is not a KML file.",
                               file=rel)
    found: list[tuple[list[str], Element]] = []
    _walk(root, [], found)
    rows, geoms = [], []
    has_folders = any(folders for folders, _ in found)
    for line, (folders, placemark) in enumerate(found, start=1):
        try:
            geometry = _placemark_geometry(placemark)
        except (ValueError, shapely.errors.GEOSException):
            raise UnreadableUpload(
                f"“{rel}”第 {line} 个地标的坐标无法读取。",
                f"'{rel}': the coordinates of placemark {line} cannot be read.",
                file=rel, placemark=line) from None
        row = {"name": _child_text(placemark, "name") or "",
               "description": _child_text(placemark, "description") or ""}
        if has_folders:
            row["folder"] = "/".join(folders)
        row.update(_extended(placemark))
        rows.append(row)
        geoms.append(geometry)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = {key: [row.get(key) for row in rows] for key in columns}
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
