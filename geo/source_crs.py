"""Which CRS a planner's file is in: declared (.prj, file metadata), overridden, or inferred.

Inference from coordinate magnitudes (when a file says nothing):

- |x| ≤ 180 and |y| ≤ 90: degrees → CGCS2000 geographic (EPSG:4490), the national standard
  (it differs from WGS84 by centimetres).
- x = zone × 10⁶ + easting with zone 25…45: CGCS2000 3° Gauss-Kruger with zone prefix
  (EPSG:4513 + zone − 25; Huzhou is zone 40, EPSG:4528, x ≈ 40 500 000).
- x = zone × 10⁶ + easting with zone 13…23: 6° zones (EPSG:4491 + zone − 13), common on
  Beijing 54 / Xian 80 era sheets, so flagged.
- easting 0…1 000 000 and northing 2…6 × 10⁶ without prefix: 3° GK whose central meridian
  cannot be read from the numbers; we assume Huzhou's CM 120E (EPSG:4549) and say so.
- x 7…16 × 10⁶, y 1.5…7.5 × 10⁶: Web Mercator (EPSG:3857) over China.
- Survey convention writes X = northing, Y = easting: when only the swapped order fits a GK
  pattern the axes are swapped, and the report says so.

Inferred projected coordinates could equally be Xian 80 or Beijing 54 on the same grid (tens of
metres apart): every such inference carries that warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from pyproj import CRS
from pyproj.database import query_crs_info
from pyproj.enums import PJType

from geo.crs import resolve_crs
from geo.errors import InvalidData, UnknownCrs

GCJ02_KEY = "GCJ-02"
_OLD_DATUMS = {"xian": "Xian 1980 (西安80)", "beijing": "Beijing 1954 (北京54)"}


@dataclass
class SourceCrs:
    """The CRS coordinates arrive in, how we know it, and what the planner should check."""

    crs: CRS | None  # None only for GCJ-02, which PROJ does not know
    key: str  # "EPSG:4549", "GCJ-02" or the CRS name when it has no EPSG code
    name: str
    how: str  # "declared" | "inferred" | "override"
    reason_zh: str = ""
    reason_en: str = ""
    swap_xy: bool = False  # coordinates are (northing, easting) and must be swapped
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def is_gcj02(self) -> bool:
        return self.key == GCJ02_KEY

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "how": self.how,
                "reason": {"zh": self.reason_zh, "en": self.reason_en},
                "swapped_axes": self.swap_xy}


def _key(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else crs.name


def _flag_old_datum(source: SourceCrs) -> SourceCrs:
    text = (source.name + " " + (source.crs.datum.name if source.crs else "")).lower()
    for needle, label in _OLD_DATUMS.items():
        if needle in text:
            source.warnings.append({
                "zh": f"坐标系为{label}：PROJ 以近似参数转换到 WGS84，误差可达数十米；"
                      "如有官方转换参数，请先转换为 CGCS2000。",
                "en": f"The CRS is {label}: PROJ converts it to WGS84 with approximate "
                      "parameters (errors up to tens of metres); convert to CGCS2000 with "
                      "official parameters if you have them.",
            })
    return source


def from_override(text: str) -> SourceCrs:
    """The CRS a planner names (`?crs=`): any EPSG code PROJ knows, a WKT, or GCJ-02."""
    try:
        if resolve_crs(text).is_gcj02:
            return SourceCrs(None, GCJ02_KEY, "GCJ-02 (Amap/高德)", "override",
                             "由用户指定。", "Given by the user.")
    except UnknownCrs:
        pass
    try:
        crs = CRS.from_user_input(text.strip())
    except Exception as error:  # pyproj raises CRSError, and others for odd input
        raise UnknownCrs(f"无法识别坐标系“{text}”。", f"Unrecognised CRS '{text}'.",
                         crs=text) from error
    return _flag_old_datum(SourceCrs(crs, _key(crs), crs.name, "override",
                                     "由用户指定。", "Given by the user."))


def from_prj(text: str) -> SourceCrs:
    """The CRS a shapefile's .prj declares (ESRI WKT such as CGCS2000_3_Degree_GK_CM_120E)."""
    try:
        crs = CRS.from_wkt(text)
    except Exception as error:
        raise InvalidData(".prj 文件无法解析为坐标系。", "The .prj file is not a readable CRS.",
                          ) from error
    epsg = crs.to_epsg(min_confidence=70) or _epsg_by_esri_name(crs.name)
    if epsg:
        crs = CRS.from_epsg(epsg)
    return _flag_old_datum(SourceCrs(crs, _key(crs), crs.name, "declared",
                                     "由 .prj 文件声明。", "Declared by the .prj file."))


def from_file(crs: CRS) -> SourceCrs:
    """The CRS a self-describing file (GeoPackage, GeoJSON, KML) declares."""
    epsg = crs.to_epsg(min_confidence=70)
    crs = CRS.from_epsg(epsg) if epsg else crs
    return _flag_old_datum(SourceCrs(crs, _key(crs), crs.name, "declared",
                                     "由文件声明。", "Declared by the file."))


@lru_cache(maxsize=1)
def _epsg_names() -> dict[str, int]:
    infos = query_crs_info(auth_name="EPSG", pj_types=[PJType.PROJECTED_CRS])
    return {_normal(i.name): int(i.code) for i in infos}


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower().replace("gauss-kruger", "gk")
                  .replace("gauss_kruger", "gk"))


def _epsg_by_esri_name(name: str) -> int | None:
    """EPSG code for ESRI names like 'Xian_1980_3_Degree_GK_CM_120E' that PROJ did not match."""
    return _epsg_names().get(_normal(name))


def sniff(bounds: tuple[float, float, float, float]) -> SourceCrs:
    """Infer the CRS from coordinate magnitudes (see the module docstring); raises if unsure.

    Some magnitudes fit two readings (Web Mercator x ≈ 13 × 10⁶ is also a 6° zone-13 easting
    with prefix): every reading that lands in China is a candidate, the one nearest Huzhou is
    taken, and the others are named in a warning.
    """
    xmin, ymin, xmax, ymax = bounds
    candidates = _candidates(xmin, ymin, xmax, ymax)
    for swapped in _candidates(ymin, xmin, ymax, xmax):
        if swapped.key != "EPSG:3857":
            swapped.swap_xy = True
            swapped.reason_zh += " 坐标按测量习惯为 X=北、Y=东，已交换。"
            swapped.reason_en += " Coordinates follow the survey convention X=north, Y=east; " \
                                 "swapped."
            candidates.append(swapped)
    placed = [(d, c) for c in candidates if (d := _distance_to_huzhou(c, bounds)) is not None]
    if not placed:
        raise UnknownCrs(
            "文件未声明坐标系，且无法从坐标数值推断。请用 crs 参数指定，例如 crs=EPSG:4549。",
            "The file declares no CRS and none can be inferred from its coordinates. Give one "
            "with the crs parameter, e.g. crs=EPSG:4549.",
            bounds=list(bounds),
        )
    placed.sort(key=lambda pair: pair[0])
    found = placed[0][1]
    others = ", ".join(c.key for _, c in placed[1:])
    if others:
        found.warnings.append({
            "zh": f"坐标数值也符合 {others}（落点离湖州更远），如不对请用 crs 参数指定。",
            "en": f"The numbers also fit {others} (landing farther from Huzhou); if those are "
                  "right, give crs=.",
        })
    return found


HUZHOU_LONLAT = (120.09, 30.89)
CHINA_BOX = (73.0, 17.0, 136.0, 54.0)  # lon/lat box a Chinese planning file should land in


def _distance_to_huzhou(source: SourceCrs, bounds: tuple[float, float, float, float]
                        ) -> float | None:
    """Degrees from Huzhou to where the bbox centre lands under `source`; None if a projected
    reading lands outside China (degrees are always a reading: they are unmistakable)."""
    from pyproj import Transformer

    x, y = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    if source.swap_xy:
        x, y = y, x
    # Inverse projection onto the CRS's own datum only: datum shifts are metres, irrelevant to
    # "which province does this land in", and finding one costs PROJ about a second.
    lon, lat = Transformer.from_crs(source.crs, source.crs.geodetic_crs,
                                    always_xy=True).transform(x, y)
    west, south, east, north = CHINA_BOX
    if not (west <= lon <= east and south <= lat <= north):
        return 1e3 if source.crs.is_geographic else None
    return float(((lon - HUZHOU_LONLAT[0]) ** 2 + (lat - HUZHOU_LONLAT[1]) ** 2) ** 0.5)


def _inferred(epsg: int, zh: str, en: str, projected: bool = True) -> SourceCrs:
    crs = CRS.from_epsg(epsg)
    source = SourceCrs(crs, f"EPSG:{epsg}", crs.name, "inferred", f"由坐标数值推断：{zh}",
                       f"Inferred from coordinate values: {en}")
    if projected:
        source.warnings.append({
            "zh": "无 .prj：同样的数值也可能是西安80或北京54坐标（相差数十米），"
                  "如是请用 crs 参数指定（如 EPSG:2385 西安80 3°带 CM 120E）。",
            "en": "No .prj: the same numbers could be Xian 80 or Beijing 54 coordinates (tens "
                  "of metres apart); if so, give crs= (e.g. EPSG:2385, Xian 80 3° GK CM 120E).",
        })
    return source


def _candidates(xmin: float, ymin: float, xmax: float, ymax: float) -> list[SourceCrs]:
    found: list[SourceCrs] = []
    if -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90:
        found.append(_inferred(4490, "经纬度（度）→ CGCS2000 地理坐标 EPSG:4490。",
                         "degrees → CGCS2000 geographic, EPSG:4490.", projected=False))
    northing_ok = 1.5e6 <= ymin <= ymax <= 6.5e6
    zone = int(xmin // 1e6)
    if northing_ok and zone == int(xmax // 1e6):
        if 25 <= zone <= 45:
            epsg = 4513 + zone - 25
            found.append(_inferred(epsg, f"带号 {zone} 的 3° 高斯-克吕格坐标 → EPSG:{epsg}。",
                                   f"3° Gauss-Kruger with zone prefix {zone} → EPSG:{epsg}."))
        if 13 <= zone <= 23:
            epsg = 4491 + zone - 13
            source = _inferred(epsg, f"带号 {zone} 的 6° 高斯-克吕格坐标 → EPSG:{epsg}。",
                               f"6° Gauss-Kruger with zone prefix {zone} → EPSG:{epsg}.")
            source.warnings.append({
                "zh": "6° 分带多见于北京54/西安80 时期的图件，请核对坐标系。",
                "en": "6° zones are typical of Beijing 54 / Xian 80 era maps; check the CRS.",
            })
            found.append(source)
    if northing_ok and 0 < xmin <= xmax < 1e6:
        found.append(_inferred(4549, "无带号的 3° 高斯-克吕格坐标，按湖州所在中央经线 120°E → "
                               "EPSG:4549（中央经线无法从数值判断）。",
                         "3° Gauss-Kruger without zone prefix; assumed Huzhou's central "
                         "meridian 120E → EPSG:4549 (the meridian cannot be read from the "
                         "numbers)."))
    if 7e6 <= xmin <= xmax <= 1.6e7 and 1.5e6 <= ymin <= ymax <= 7.5e6:
        found.append(_inferred(3857, "Web 墨卡托 → EPSG:3857。", "Web Mercator → EPSG:3857."))
    return found
