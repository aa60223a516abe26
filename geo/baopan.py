"""报盘 coordinate text files (国土 survey exchange format): parcels as polygons.

A file is a `[属性描述]` block of `key=value` lines (坐标系, 几度分带, 投影类型, 计量单位, 带号,
精度, 转换参数, …) followed by a `[地块坐标]` block of parcels. Each parcel starts with

    界址点数,地块面积,地块编号,地块名称,图形属性,图幅号,地块用途,地类编码,@

(fields may be empty; the line ends with `@`) and continues with `点号,圈号,X,Y` rows, where by
the survey convention **X is the northing and Y the easting**. A parcel may have several rings
(圈号): a ring inside another is a hole, a ring inside a hole an island, a ring outside every
other a further part — decided by containment, not by order.

CRS: the datum from 坐标系 (2000国家大地坐标系 → CGCS2000; 西安80 → Xian 1980; 北京54 → Beijing
1954, both flagged as approximate), the zone width from 几度分带 (3 or 6, default 3), the zone
from the easting's prefix (40 500 000 → zone 40) or, for a six-digit easting, from 带号.

The declared 地块面积 is compared with the area computed on the file's own plane: the standard
gives it in 公顷 (hectares), unless 计量单位 / 面积单位 name 平方米 or 亩. A difference over 1 %
becomes a warning. A malformed file is a bilingual 422 naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import geopandas as gpd
import shapely
from pyproj import CRS
from pyproj.database import query_crs_info
from pyproj.enums import PJType

from geo.errors import InvalidData
from geo.tables import decode_text

HEADER_SECTION = "[属性描述]"
PARCEL_SECTION = "[地块坐标]"
PARCEL_FIELDS = ("界址点数", "地块面积", "地块编号", "地块名称", "图形属性", "图幅号", "地块用途",
                 "地类编码")
AREA_TOLERANCE = 0.01  # declared vs computed area: differences above 1 % are reported
SQM_PER_UNIT = {"公顷": 10_000.0, "平方米": 1.0, "亩": 10_000.0 / 15.0}
_DATUMS = (  # (needles in 坐标系, PROJ name prefix, label)
    (("2000", "cgcs"), "CGCS2000", "CGCS2000（2000国家大地坐标系）"),
    (("西安", "80", "xian"), "Xian 1980", "西安80 Xian 1980"),
    (("北京", "54", "beijing"), "Beijing 1954", "北京54 Beijing 1954"),
)


@dataclass
class Baopan:
    """A parsed 报盘 file: parcels on the file's plane (x = easting, y = northing)."""

    frame: gpd.GeoDataFrame  # one row a parcel, no CRS set
    crs: CRS
    crs_label: str
    reason_zh: str
    reason_en: str
    encoding: str  # "utf-8" | "gb18030"
    header: dict[str, str]
    area_unit: str  # 公顷 | 平方米 | 亩
    warnings: list[dict[str, str]] = field(default_factory=list)


def looks_like_baopan(data: bytes) -> bool:
    """True when the text holds a `[地块坐标]` section (in UTF-8 or GBK)."""
    head = data[:1 << 20]
    return any(PARCEL_SECTION.encode(codec) in head for codec in ("utf-8", "gb18030"))


def _bad(rel: str, line: int, zh: str, en: str) -> InvalidData:
    return InvalidData(f"报盘文件“{rel}”第 {line} 行：{zh}",
                       f"报盘 file '{rel}', line {line}: {en}", file=rel, line=line)


def read_baopan(data: bytes, rel: str) -> Baopan:
    """Parse a 报盘 file (see the module docstring); InvalidData (422) names the bad line."""
    text, encoding = decode_text(data)
    header: dict[str, str] = {}
    parcels: list[dict] = []
    section = ""
    current: dict | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().replace("，", ",")
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line
            continue
        if section == HEADER_SECTION:
            key, sep, value = line.partition("=")
            if sep:
                header[key.strip()] = value.strip()
            continue
        if section != PARCEL_SECTION:
            raise _bad(rel, number, "位于 [属性描述] 或 [地块坐标] 段之外。",
                       "outside the [属性描述] and [地块坐标] sections.")
        cells = [c.strip() for c in line.split(",")]
        if cells[-1] == "@":
            current = _parcel_line(cells[:-1], rel, number)
            parcels.append(current)
        elif current is None:
            raise _bad(rel, number, "坐标行之前没有地块行（以 @ 结尾）。",
                       "a coordinate row before any parcel line (ending in @).")
        else:
            current["points"].append(_point_row(cells, rel, number))
    if not parcels:
        raise InvalidData(f"报盘文件“{rel}”中没有 [地块坐标] 地块。",
                          f"报盘 file '{rel}' has no parcels in a [地块坐标] section.", file=rel)
    crs, label, why_zh, why_en = _crs(header, parcels, rel)
    unit = _area_unit(header)
    rows, geoms, notes = [], [], []
    for parcel in parcels:
        geom = _polygon(parcel, rel)
        props = dict(parcel["fields"])
        declared = props["地块面积"]
        computed_sqm = float(geom.area)
        computed = computed_sqm / SQM_PER_UNIT[unit]
        props["面积单位"] = unit
        props["计算面积"] = round(computed, 6)
        props["面积差率"] = None
        if declared is not None and declared > 0:
            diff = (computed - declared) / declared
            props["面积差率"] = round(diff * 100, 3)  # percent
            if abs(diff) > AREA_TOLERANCE:
                name = props["地块编号"] or props["地块名称"] or f"#{len(rows) + 1}"
                notes.append({
                    "zh": f"地块 {name}（第 {parcel['line']} 行）申报面积 {declared:g} {unit}，"
                          f"按坐标计算 {computed:.4f} {unit}，相差 {diff * 100:+.2f}%（超过 1%）。",
                    "en": f"Parcel {name} (line {parcel['line']}): declared area {declared:g} "
                          f"{unit}, computed from the coordinates {computed:.4f} {unit}, "
                          f"{diff * 100:+.2f}% apart (over 1%).",
                })
        if props["界址点数"] is not None and props["界址点数"] != len(parcel["points"]):
            notes.append({
                "zh": f"地块（第 {parcel['line']} 行）声明界址点数 {props['界址点数']}，"
                      f"实有坐标行 {len(parcel['points'])}。",
                "en": f"Parcel at line {parcel['line']} declares {props['界址点数']} boundary "
                      f"points but has {len(parcel['points'])} coordinate rows.",
            })
        rows.append(props)
        geoms.append(geom)
    frame = gpd.GeoDataFrame(rows, geometry=geoms)
    result = Baopan(frame, crs, label, why_zh, why_en, encoding, header, unit)
    result.warnings.append({
        "zh": f"面积单位按“{unit}”读取（{_unit_reason(header, unit)[0]}）；面积在文件本身的投影平面上计算。",
        "en": f"Declared areas read as {unit} ({_unit_reason(header, unit)[1]}); areas computed "
              "on the file's own projection plane.",
    })
    result.warnings.extend(notes)
    return result


def _number(text: str, rel: str, line: int, what_zh: str, what_en: str,
            integer: bool = False) -> float | int | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise _bad(rel, line, f"{what_zh}“{text[:40]}”不是数字。",
                   f"{what_en} '{text[:40]}' is not a number.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _bad(rel, line, f"{what_zh}“{text[:40]}”不是数字。",
                   f"{what_en} '{text[:40]}' is not a number.")
    return int(value) if integer else value


def _parcel_line(cells: list[str], rel: str, line: int) -> dict:
    if len(cells) > len(PARCEL_FIELDS):
        raise _bad(rel, line, f"地块行有 {len(cells)} 个字段，最多 {len(PARCEL_FIELDS)} 个"
                   f"（{','.join(PARCEL_FIELDS)},@）。",
                   f"the parcel line has {len(cells)} fields, at most {len(PARCEL_FIELDS)} "
                   "(界址点数,地块面积,地块编号,地块名称,图形属性,图幅号,地块用途,地类编码,@).")
    cells = cells + [""] * (len(PARCEL_FIELDS) - len(cells))
    fields: dict[str, object] = dict(zip(PARCEL_FIELDS, cells))
    fields["界址点数"] = _number(cells[0], rel, line, "界址点数", "the point count (界址点数)",
                             integer=True)
    fields["地块面积"] = _number(cells[1], rel, line, "地块面积", "the area (地块面积)")
    return {"line": line, "fields": fields, "points": []}


def _point_row(cells: list[str], rel: str, line: int) -> tuple[str, int, float, float]:
    if len(cells) != 4:
        raise _bad(rel, line, f"坐标行应为“点号,圈号,X,Y”4 个字段，实有 {len(cells)} 个。",
                   f"a coordinate row must have 4 fields (点号,圈号,X,Y), not {len(cells)}.")
    ring = _number(cells[1], rel, line, "圈号", "the ring number (圈号)", integer=True)
    x = _number(cells[2], rel, line, "X 坐标", "X")
    y = _number(cells[3], rel, line, "Y 坐标", "Y")
    if ring is None or x is None or y is None:
        raise _bad(rel, line, "圈号、X、Y 不能为空。", "圈号 (ring), X and Y must not be empty.")
    return cells[0], int(ring), float(x), float(y)


def _rings(parcel: dict, rel: str) -> list[shapely.LinearRing]:
    """The parcel's rings in file order; consecutive rows with one 圈号 form one ring."""
    groups: list[tuple[int, int, list[tuple[float, float]]]] = []
    for offset, (_, ring, x, y) in enumerate(parcel["points"], start=1):
        if not groups or groups[-1][0] != ring:
            groups.append((ring, parcel["line"] + offset, []))
        groups[-1][2].append((y, x))  # X is the northing, Y the easting
    if not groups:
        raise _bad(rel, parcel["line"], "地块没有坐标行。", "the parcel has no coordinate rows.")
    out = []
    for ring, first_line, points in groups:
        if len(points) > 1 and points[0] == points[-1]:
            points = points[:-1]
        if len(set(points)) < 3:
            raise _bad(rel, first_line, f"第 {ring} 圈不足 3 个不同的界址点。",
                       f"ring {ring} has fewer than 3 distinct points.")
        out.append(shapely.LinearRing(points))
    return out


def _polygon(parcel: dict, rel: str) -> shapely.Geometry:
    """Rings → (Multi)Polygon by containment depth: even depth an outer ring (the parcel, or an
    island inside a hole), odd depth a hole of the smallest ring containing it."""
    rings = _rings(parcel, rel)
    shells = [shapely.Polygon(r) for r in rings]
    shells = [s if s.is_valid else shapely.make_valid(s) for s in shells]
    n = len(rings)
    contains = [[i != j and shells[i].area > shells[j].area
                 and shells[i].contains(shells[j].representative_point())
                 for j in range(n)] for i in range(n)]
    depth = [sum(contains[i][j] for i in range(n)) for j in range(n)]
    parts = []
    for i in range(n):
        if depth[i] % 2:
            continue
        holes = [rings[j] for j in range(n) if depth[j] == depth[i] + 1 and contains[i][j]]
        polygon = shapely.Polygon(rings[i], holes)
        if not polygon.is_valid:
            polygon = shapely.make_valid(polygon)
        parts.extend(p for p in shapely.get_parts(polygon) if p.geom_type == "Polygon")
    if not parts:
        raise _bad(rel, parcel["line"], "地块的界址点不构成有效的面。",
                   "the parcel's points do not form a valid polygon.")
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _area_unit(header: dict[str, str]) -> str:
    text = header.get("面积单位", "") + " " + header.get("计量单位", "")
    for unit in ("平方米", "公顷", "亩"):
        if unit in text:
            return unit
    return "公顷"


def _unit_reason(header: dict[str, str], unit: str) -> tuple[str, str]:
    text = header.get("面积单位", "") + " " + header.get("计量单位", "")
    if unit in text:
        return "文件头声明", "declared in the header"
    return "报盘标准约定地块面积以公顷计", "the 报盘 standard gives 地块面积 in hectares"


@lru_cache(maxsize=1)
def _gk_names() -> dict[str, int]:
    infos = query_crs_info(auth_name="EPSG", pj_types=[PJType.PROJECTED_CRS])
    return {i.name: int(i.code) for i in infos if "Gauss-Kruger" in i.name}


def _crs(header: dict[str, str], parcels: list[dict], rel: str
         ) -> tuple[CRS, str, str, str]:
    """(CRS, datum label, reason zh, reason en) from the header and the eastings (Xian 80 and
    Beijing 54 are flagged by the caller, as for every declared CRS: geo.source_crs)."""
    system = header.get("坐标系", "")
    lowered = system.lower()
    datum = next((d for d in _DATUMS if any(n in lowered for n in d[0])), None)
    if datum is None:
        if system:
            raise InvalidData(
                f"报盘文件“{rel}”：无法识别坐标系“{system[:40]}”（支持 2000国家大地坐标系、"
                "西安80、北京54）；可用 crs 参数指定。",
                f"报盘 file '{rel}': unknown 坐标系 '{system[:40]}' (supported: CGCS2000, "
                "Xian 80, Beijing 54); give crs= to override.", file=rel)
        datum = _DATUMS[0]
    _, prefix, label = datum
    width_text = header.get("几度分带", "3").strip() or "3"
    width = 6 if width_text.startswith("6") else 3
    eastings = [p[3] for parcel in parcels for p in parcel["points"]]
    zones = {int(e // 1_000_000) for e in eastings}
    degree = "3-degree " if width == 3 else ""
    assumed_zh = assumed_en = ""
    if zones and min(zones) > 0:
        if len(zones) > 1:
            raise InvalidData(f"报盘文件“{rel}”：Y 坐标的带号不一致（{sorted(zones)}）。",
                              f"报盘 file '{rel}': the eastings carry different zone numbers "
                              f"({sorted(zones)}).", file=rel)
        zone = zones.pop()
        name = f"{prefix} / {degree}Gauss-Kruger zone {zone}"
        how_zh, how_en = f"Y 坐标前缀带号 {zone}", f"zone {zone} read from the easting prefix"
    else:
        zone_text = re.sub(r"\D", "", header.get("带号", ""))
        if zone_text:
            zone = int(zone_text)
            how_zh, how_en = f"文件头带号 {zone}", f"zone {zone} from the header (带号)"
        else:
            zone = 40 if width == 3 else 20  # Huzhou: 3° zone 40 / 6° zone 20 (CM 117E)
            assumed_zh = "（文件未给带号，按湖州所在带假定）"
            assumed_en = " (no 带号 in the file: Huzhou's zone assumed)"
            how_zh, how_en = f"带号 {zone}", f"zone {zone}"
        meridian = zone * 3 if width == 3 else zone * 6 - 3
        name = f"{prefix} / {degree}Gauss-Kruger CM {meridian}E"
    epsg = _gk_names().get(name)
    if epsg is None:
        raise InvalidData(
            f"报盘文件“{rel}”：{width}° 带 {zone} 不是有效的高斯-克吕格分带；可用 crs 参数指定。",
            f"报盘 file '{rel}': {width}° zone {zone} is not a valid Gauss-Kruger zone; give "
            "crs= to override.", file=rel)
    crs = CRS.from_epsg(epsg)
    return (crs, label,
            f"由报盘文件头声明：{label}，{width}° 分带，{how_zh} → EPSG:{epsg}{assumed_zh}。",
            f"Declared by the 报盘 header: {label}, {width}° zones, {how_en} → "
            f"EPSG:{epsg}{assumed_en}.")
