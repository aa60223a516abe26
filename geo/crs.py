"""The coordinate reference systems the atlas serves, and transforms between them.

Everything is stored in WGS84 longitude/latitude. Output CRSs are the ones Chinese planners
meet: CGCS2000 geographic (EPSG:4490), CGCS2000 3° Gauss-Kruger CM 120E (EPSG:4549, Huzhou's
zone), Web Mercator (EPSG:3857) and GCJ-02 (Amap), which PROJ does not know (see `geo.gcj02`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.errors import InvalidParameter, UnknownCrs
from geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
GCJ02_URI = "urn:gongfu:def:crs:GCJ-02"


@dataclass(frozen=True)
class CrsChoice:
    """One CRS a client may ask for."""

    key: str  # short name, e.g. "EPSG:4549"
    uri: str
    title: str
    epsg: int | None  # None for CRS84 (lon/lat) and GCJ-02

    @property
    def is_gcj02(self) -> bool:
        return self.uri == GCJ02_URI

    @property
    def is_geographic(self) -> bool:
        return self.epsg in (None, 4326, 4490)

    def pyproj(self) -> CRS:
        """The PROJ CRS (GCJ-02 is reported as WGS84, its datum's nearest PROJ relative)."""
        return CRS.from_epsg(self.epsg) if self.epsg else CRS.from_user_input("OGC:CRS84")


CRS84 = CrsChoice("CRS84", CRS84_URI, "WGS 84 longitude/latitude (CRS84)", None)
SUPPORTED: tuple[CrsChoice, ...] = (
    CRS84,
    CrsChoice("EPSG:4326", EPSG_URI.format(code=4326), "WGS 84 (latitude, longitude)", 4326),
    CrsChoice("EPSG:4490", EPSG_URI.format(code=4490), "CGCS2000 (latitude, longitude)", 4490),
    CrsChoice(
        "EPSG:4549",
        EPSG_URI.format(code=4549),
        "CGCS2000 / 3-degree Gauss-Kruger CM 120E (northing, easting)",
        4549,
    ),
    # Same zone with the zone number (40) before the easting, as many survey sheets and
    # 不动产/国土调查 files give it: x ≈ 40 500 000 m.
    CrsChoice(
        "EPSG:4528",
        EPSG_URI.format(code=4528),
        "CGCS2000 / 3-degree Gauss-Kruger zone 40 (northing, easting with zone number)",
        4528,
    ),
    CrsChoice("EPSG:3857", EPSG_URI.format(code=3857), "WGS 84 / Pseudo-Mercator", 3857),
    CrsChoice("GCJ-02", GCJ02_URI, "GCJ-02 (Amap/高德 longitude, latitude)", None),
)
# What planners call each CRS (Chinese first), for pickers and print legends.
CRS_NAMES: dict[str, tuple[str, str]] = {
    "EPSG:4490": ("2000国家大地坐标系 经纬度", "CGCS2000 geographic"),
    "EPSG:4549": ("2000国家大地坐标系 3度带 中央经线120°（不含带号）",
                  "CGCS2000 3-degree Gauss-Kruger CM 120E (no zone number)"),
    "EPSG:4528": ("2000国家大地坐标系 3度带 第40带（含带号）",
                  "CGCS2000 3-degree Gauss-Kruger zone 40 (zone number in the easting)"),
    "EPSG:4326": ("WGS84 经纬度", "WGS84 geographic"),
    "EPSG:3857": ("Web墨卡托", "Web Mercator (display only, not for measuring)"),
    "GCJ-02": ("GCJ-02（高德/火星坐标）", "GCJ-02 (Amap offset coordinates)"),
}

_ALIASES = {
    "CRS84": CRS84, "OGC:CRS84": CRS84, "WGS84": CRS84,
    "GCJ02": SUPPORTED[-1], "GCJ-02": SUPPORTED[-1], "AMAP": SUPPORTED[-1],
}


def resolve_crs(text: str | None) -> CrsChoice:
    """Find a supported CRS by URI, `EPSG:n`, bare EPSG number or alias; None means CRS84."""
    if text is None or not text.strip():
        return CRS84
    wanted = text.strip()
    for choice in SUPPORTED:
        if wanted in (choice.uri, choice.key):
            return choice
    upper = wanted.upper()
    if upper in _ALIASES:
        return _ALIASES[upper]
    digits = upper.removeprefix("EPSG:").rsplit("/", 1)[-1]
    for choice in SUPPORTED:
        if choice.epsg is not None and digits == str(choice.epsg):
            return choice
    offered = ", ".join(c.key for c in SUPPORTED)
    raise UnknownCrs(
        f"不支持的坐标系“{text}”。可选：{offered}",
        f"Unsupported CRS '{text}'. Choose one of: {offered}",
        crs=text,
    )


@lru_cache(maxsize=32)
def _transformer(epsg: int, authority_order: bool, inverse: bool) -> Transformer:
    source, target = CRS.from_user_input("OGC:CRS84"), CRS.from_epsg(epsg)
    if inverse:
        source, target = target, source
    return Transformer.from_crs(source, target, always_xy=not authority_order)


def from_wgs84(geoms: np.ndarray, choice: CrsChoice, authority_order: bool) -> np.ndarray:
    """Transform WGS84 lon/lat geometries into `choice`.

    `authority_order=True` follows the CRS's own axis order (lat/lon for EPSG:4326 and 4490,
    northing/easting for EPSG:4549), as OGC API Part 2 requires; files use x=east order.
    """
    return _transform(geoms, choice, authority_order, inverse=False)


def to_wgs84(geoms: np.ndarray, choice: CrsChoice, authority_order: bool) -> np.ndarray:
    """Transform geometries given in `choice` back into WGS84 lon/lat."""
    return _transform(geoms, choice, authority_order, inverse=True)


def _transform(geoms: np.ndarray, choice: CrsChoice, authority_order: bool,
               inverse: bool) -> np.ndarray:
    if choice.is_gcj02:
        return shapely.transform(geoms, _stacked(gcj02_to_wgs84 if inverse else wgs84_to_gcj02))
    if choice.epsg is None:
        return geoms
    transformer = _transformer(choice.epsg, authority_order, inverse)
    return shapely.transform(geoms, _stacked(transformer.transform))


def bbox_to_wgs84(
    bbox: tuple[float, float, float, float], choice: CrsChoice
) -> tuple[float, float, float, float]:
    """A bbox given in `choice` (authority axis order) as a WGS84 lon/lat bbox: the bounds of
    21 points along each edge, transformed (edges curve in another CRS). A point or line bbox
    works too; one with coordinates no CRS of ours reaches (beyond 1e8) is refused."""
    if not all(abs(v) <= 1e8 for v in bbox):
        raise InvalidParameter(
            "bbox 超出该坐标系的有效范围。", "The bbox lies outside the range of its CRS.",
            parameter="bbox")
    minx, miny, maxx, maxy = bbox
    xs, ys = np.linspace(minx, maxx, 21), np.linspace(miny, maxy, 21)
    edges = np.concatenate([np.column_stack([xs, np.full(21, miny)]),
                            np.column_stack([xs, np.full(21, maxy)]),
                            np.column_stack([np.full(21, minx), ys]),
                            np.column_stack([np.full(21, maxx), ys])])
    with np.errstate(all="ignore"):  # far outside a CRS's area the transform gives NaN/inf
        points = to_wgs84(np.array([shapely.multipoints(edges)]), choice, True)[0]
    lon_min, lat_min, lon_max, lat_max = shapely.bounds(points)
    if not np.isfinite([lon_min, lat_min, lon_max, lat_max]).all():
        raise InvalidParameter(
            "bbox 超出该坐标系的有效范围。", "The bbox lies outside the range of its CRS.",
            parameter="bbox")
    return float(lon_min), float(lat_min), float(lon_max), float(lat_max)


def _stacked(fn):
    """Adapt a (x, y) -> (x, y) function to shapely.transform's (N, 2) array calling style."""

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])

    return apply
