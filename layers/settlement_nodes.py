"""The planner's settlement-node table (县城—中心镇—重点村—村): read, resolve, validate.

A row is one settlement. Its position comes from lon/lat (any supported CRS) or from an
administrative code that resolves to a known point: a 6-digit county code → the county seat,
a 9-digit township code → the township seat (GeoNames), a 12-digit village code → its
township's seat *as a stand-in* (villages have no open coordinates). A row with neither is kept
as **unplaced** (listed, never guessed). Every problem of every row is collected, so the
planner gets one answer listing them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import tables
from geo.crs import CrsChoice, resolve_crs, to_wgs84
from geo.errors import AtlasError, InvalidData

TIERS = ("county_town", "central_town", "key_village", "village")  # 县城 中心镇 重点村 村
TIER_ZH = {"county_town": "县城", "central_town": "中心镇", "key_village": "重点村",
           "village": "村"}
TIER_LEVEL = {tier: i for i, tier in enumerate(TIERS)}  # 0 = top of the hierarchy
_TIER_ALIASES = {**{zh: tier for tier, zh in TIER_ZH.items()}, "一般村": "village",
                 "county town": "county_town", "central town": "central_town",
                 "key village": "key_village"}
POSITION_SOURCES = ("surveyed", "gazetteer", "planner", "township_seat_standin")
POSITION_SOURCE_ZH = {"surveyed": "实测", "gazetteer": "地名录", "planner": "规划人员给定",
                      "township_seat_standin": "以乡镇驻地代位"}
CATEGORIES = ("农业大镇", "工业重镇", "商贸强镇", "文旅名镇")  # central-town tracks (2025)

# Column names a planner may use (English or Chinese) → our field.
COLUMN_ALIASES = {
    "name": ("name", "名称", "节点", "节点名称"),
    "tier": ("tier", "层级", "等级"),
    "code": ("code", "代码", "区划代码"),
    "county_code": ("county_code", "区县代码"),
    "township_code": ("township_code", "乡镇代码"),
    "lon": ("lon", "lng", "x", "经度"),
    "lat": ("lat", "y", "纬度"),
    "crs": ("crs", "坐标系"),
    "position_source": ("position_source", "位置来源"),
    "category": ("category", "类别", "类型"),
    "population": ("population", "人口"),
    "hub": ("hub", "cluster_hub", "所属重点村"),
    "source": ("source", "source_url", "来源"),
    "note": ("note", "备注"),
    "wkt": ("wkt", "area_wkt", "村域", "几何"),  # optional village polygon, same CRS as lon/lat
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one row of an input table (row numbers as in a spreadsheet)."""

    table: str  # "nodes" or "axes"
    row: int  # spreadsheet row: the header is row 1, the first data row is row 2
    column: str
    value: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, object]:
        return {"table": self.table, "row": self.row, "column": self.column,
                "value": self.value, "message": {"zh": self.zh, "en": self.en}}


class InvalidPlanInput(InvalidData):
    """A node or axis table with problems; `detail.problems` lists every one (HTTP 422)."""

    code = "invalid_plan_input"

    def __init__(self, problems: list[Problem]) -> None:
        rows = sorted({(p.table, p.row) for p in problems})
        where = ", ".join(f"{table} {row}" for table, row in rows[:20])
        super().__init__(
            f"输入表有 {len(problems)} 处问题（表/行：{where}），详见 detail.problems。",
            f"The input tables have {len(problems)} problem(s) (table/row: {where}); "
            "see detail.problems.",
            problems=[p.as_dict() for p in problems],
        )


@dataclass(frozen=True)
class Node:
    """One settlement of the hierarchy. `point` is WGS84; None means unplaced."""

    name: str
    tier: str  # county_town 县城 | central_town 中心镇 | key_village 重点村 | village 村
    county_code: str
    township_code: str | None
    point: shapely.Point | None
    position_source: str | None  # surveyed | gazetteer | planner | township_seat_standin
    category: str | None = None  # 农业大镇 / 工业重镇 / 商贸强镇 / 文旅名镇
    population: float | None = None  # residents, only when sourced
    hub: str | None = None  # for villages: the key village whose cluster (片区组团) they join
    code: str | None = None
    source: str = ""
    note: str = ""
    row: int = 0  # spreadsheet row of the node table (0: not from a table)
    area: shapely.Geometry | None = None  # the settlement's own polygon (村域), WGS84, if given

    @property
    def placed(self) -> bool:
        return self.point is not None


@dataclass
class Gazetteer:
    """Known places the table's codes resolve to (WGS84): counties, seats, townships, villages."""

    counties: gpd.GeoDataFrame  # index: 6-digit code; columns name, geometry (polygons)
    county_seats: dict[str, shapely.Point]
    townships: pd.DataFrame  # index: 9-digit code; columns name, county_code, geometry|None
    villages: pd.DataFrame  # index: 12-digit code; columns name, township_code, county_code

    @classmethod
    def from_frames(cls, counties: gpd.GeoDataFrame, county_seats: gpd.GeoDataFrame,
                    townships: gpd.GeoDataFrame | None = None,
                    villages: pd.DataFrame | None = None) -> "Gazetteer":
        """From the boundary layers' frames (columns as layers.boundaries builds them)."""
        counties = counties.set_index(counties["code"].astype(str))[["name", "geometry"]]
        seats = {str(c): g for c, g in zip(county_seats["code"], county_seats.geometry)
                 if g is not None and not g.is_empty}
        empty = pd.DataFrame(columns=["name", "county_code", "geometry"])
        towns = empty if townships is None else pd.DataFrame(
            {"name": townships["name"].to_numpy(),
             "county_code": townships["county_code"].astype(str).to_numpy(),
             "geometry": townships.geometry.to_numpy()},
            index=townships["code"].astype(str).to_numpy())
        vills = pd.DataFrame(columns=["name", "township_code", "county_code"]) \
            if villages is None else pd.DataFrame(
                {"name": villages["name"].to_numpy(),
                 "township_code": villages["township_code"].astype(str).to_numpy(),
                 "county_code": villages["county_code"].astype(str).to_numpy()},
                index=villages["code"].astype(str).to_numpy())
        return cls(counties, seats, towns, vills)

    @classmethod
    def from_store(cls, store) -> "Gazetteer":
        have = {layer.id for layer in store.layers()}
        return cls.from_frames(
            store.frame("counties").reset_index(drop=True),
            store.frame("county_seats").reset_index(drop=True),
            store.frame("townships").reset_index(drop=True) if "townships" in have else None,
            store.frame("villages").reset_index(drop=True) if "villages" in have else None)

    def township_seat(self, code: str) -> shapely.Point | None:
        geom = self.townships.at[code, "geometry"]
        return None if geom is None or (hasattr(geom, "is_empty") and geom.is_empty) else geom

    def county_containing(self, point: shapely.Point) -> str | None:
        hits = self.counties.index[self.counties.geometry.covers(point).to_numpy()]
        return str(hits[0]) if len(hits) else None


@dataclass
class NodeTable:
    """The parsed table: nodes (placed and unplaced), problems (→ 4xx) and warnings."""

    nodes: list[Node] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def unplaced(self) -> list[Node]:
        return [n for n in self.nodes if not n.placed]


def read_table(content: bytes, filename: str) -> pd.DataFrame:
    """A node or axis table (CSV in UTF-8 or GBK/GB18030, or XLSX) as a frame of strings,
    the first non-blank row its header. Comma-separated only, as node tables always were: a
    sniffer could take a separator from inside a quoted WKT polygon or a note."""
    return tables.header_frame(tables.read_table(content, filename or "", delimiters=","))


def canonical_columns(frame: pd.DataFrame, aliases: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Rename known aliases (case-insensitive) to our field names; unknown columns are kept."""
    lookup = {alias.lower(): name for name, names in aliases.items() for alias in names}
    renamed = {c: lookup.get(c.lower(), c) for c in frame.columns}
    return frame.rename(columns=renamed)


def parse_nodes(frame: pd.DataFrame, gazetteer: Gazetteer, default_crs: str | None = None
                ) -> NodeTable:
    """Resolve and validate every row; problems are collected, never raised one by one."""
    frame = canonical_columns(frame, COLUMN_ALIASES).fillna("")
    result = NodeTable()
    if "name" not in frame.columns or "tier" not in frame.columns:
        missing = [c for c in ("name", "tier") if c not in frame.columns]
        result.problems.append(Problem(
            "nodes", 1, ",".join(missing), ",".join(frame.columns),
            f"缺少必需列：{', '.join(missing)}（可用中文列名 名称、层级）。",
            f"Missing required column(s): {', '.join(missing)} (Chinese names 名称, 层级 work)."))
        return result
    seen: dict[str, int] = {}
    for i, raw in enumerate(frame.to_dict("records")):
        row = {k: str(v).strip() for k, v in raw.items()}
        node = _parse_row(i + 2, row, gazetteer, default_crs, seen, result)
        if node is not None:
            result.nodes.append(node)
    for node in result.unplaced:
        result.warnings.append({
            "code": "unplaced", "node": node.name,
            "zh": f"“{node.name}”没有可溯源的位置，列为未落位，未作推测。",
            "en": f"'{node.name}' has no sourced position; listed as unplaced, not guessed."})
    return result


def _parse_row(row_no: int, row: dict[str, str], gaz: Gazetteer, default_crs: str | None,
               seen: dict[str, int], out: NodeTable) -> Node | None:
    problems: list[Problem] = []

    def problem(column: str, zh: str, en: str) -> None:
        problems.append(Problem("nodes", row_no, column, row.get(column, ""), zh, en))

    name = row.get("name", "")
    if not name:
        problem("name", "名称为空。", "The name is empty.")
    elif name in seen:
        problem("name", f"名称“{name}”重复（首见于第 {seen[name]} 行）。",
                f"Duplicate name '{name}' (first on row {seen[name]}).")
    else:
        seen[name] = row_no
    tier = _TIER_ALIASES.get(row.get("tier", ""), row.get("tier", "").lower())
    if tier not in TIERS:
        problem("tier", f"层级“{row.get('tier', '')}”无效：应为 县城/中心镇/重点村/村。",
                f"Invalid tier '{row.get('tier', '')}': use county_town, central_town, "
                "key_village or village.")

    county, township, point, source = _resolve_code(row, gaz, tier, problem)
    given_county = row.get("county_code", "")
    if given_county:
        if given_county not in gaz.counties.index:
            problem("county_code", f"未知区县代码“{given_county}”。",
                    f"Unknown county code '{given_county}'.")
        elif county and county != given_county:
            problem("county_code", f"区县代码“{given_county}”与代码所属区县“{county}”不符。",
                    f"County code '{given_county}' disagrees with the code's county '{county}'.")
        county = county or given_county
    given_township = row.get("township_code", "")
    if given_township:
        if given_township not in gaz.townships.index:
            problem("township_code", f"未知乡镇代码“{given_township}”。",
                    f"Unknown township code '{given_township}'.")
        else:
            township = township or given_township
            town_county = gaz.townships.at[given_township, "county_code"]
            if county and town_county != county:
                problem("township_code", f"乡镇“{given_township}”不属于区县“{county}”。",
                        f"Township '{given_township}' is not in county '{county}'.")
            county = county or town_county

    area = _area(row, default_crs, problem) if row.get("wkt", "") else None
    from_area = False
    if row.get("lon", "") or row.get("lat", ""):
        point = _coordinates(row, default_crs, problem)
        source = row.get("position_source", "") or "planner"
    elif area is not None:
        point = area.representative_point()  # a point inside the planner's own polygon
        from_area = True
        source = row.get("position_source", "") or "planner"
    elif row.get("position_source", "") and point is not None:
        source = row["position_source"]
    if source and source not in POSITION_SOURCES:
        problem("position_source", f"位置来源“{source}”无效：应为 {'/'.join(POSITION_SOURCES)}。",
                f"Invalid position_source '{source}': use one of {', '.join(POSITION_SOURCES)}.")

    if point is not None:
        if county and county in gaz.counties.index:
            polygon = gaz.counties.at[county, "geometry"]
            if not polygon.covers(point):
                inside = gaz.county_containing(point)
                problem("wkt" if from_area else "lon",
                        f"节点位于其区县“{county}”之外（落在 {inside or '研究区外'}）。",
                        f"Node lies outside its county '{county}' (it falls in "
                        f"{inside or 'no known county'}).")
        elif not county:
            county = gaz.county_containing(point) or ""
            if not county:
                problem("lon", "节点不在任何已知区县内。", "The node lies in no known county.")
    if (area is not None and county in gaz.counties.index
            and not any(p.column == "wkt" for p in problems)):
        polygon = gaz.counties.at[county, "geometry"]
        # 1% slack: village and county outlines come from different surveys
        if shapely.area(shapely.intersection(area, polygon)) < 0.99 * shapely.area(area):
            problem("wkt", f"村域超出其区县“{county}”。",
                    f"The area extends outside its county '{county}'.")
    if not county and not problems:
        problem("county_code", "缺少区县：请给出代码、区县代码或坐标。",
                "No county: give a code, a county_code or coordinates.")

    category = row.get("category", "") or None
    if category and category not in CATEGORIES:
        problem("category", f"类别“{category}”无效：应为 {'/'.join(CATEGORIES)}。",
                f"Invalid category '{category}': use one of {', '.join(CATEGORIES)}.")
    population = _number(row.get("population", ""), "population", problem)
    hub = row.get("hub", "") or None
    out.problems.extend(problems)
    if problems:
        return None
    return Node(name=name, tier=tier, county_code=county, township_code=township or None,
                point=point, position_source=source if point is not None else None,
                category=category, population=population, hub=hub,
                code=row.get("code", "") or None, source=row.get("source", ""),
                note=row.get("note", ""), row=row_no, area=area)


def _resolve_code(row, gaz: Gazetteer, tier: str, problem):
    """(county, township, point, position_source) from the row's administrative code."""
    code = row.get("code", "")
    if not code:
        return "", "", None, None
    if len(code) == 6 and code in gaz.counties.index:
        return code, "", gaz.county_seats.get(code), "gazetteer"
    if len(code) == 9 and code in gaz.townships.index:
        seat = gaz.township_seat(code)
        # A town's own seat is its gazetteer point; for a village it only stands in.
        source = "gazetteer" if tier in ("county_town", "central_town") else "township_seat_standin"
        return gaz.townships.at[code, "county_code"], code, seat, source if seat else None
    if len(code) == 12 and code in gaz.villages.index:
        township = gaz.villages.at[code, "township_code"]
        seat = gaz.township_seat(township) if township in gaz.townships.index else None
        return (gaz.villages.at[code, "county_code"], township, seat,
                "township_seat_standin" if seat else None)
    problem("code", f"未知代码“{code}”：应为已知的 6 位区县、9 位乡镇或 12 位村代码。",
            f"Unknown code '{code}': expected a known 6-digit county, 9-digit township or "
            "12-digit village code.")
    return "", "", None, None


def _row_crs(row, default_crs: str | None, problem) -> CrsChoice | None:
    """The CRS named in the row's `crs` column (else the table's); a problem if unknown."""
    try:
        return resolve_crs(row.get("crs", "") or default_crs)
    except AtlasError as error:
        problem("crs", error.message_zh, error.message_en)
        return None


def _coordinates(row, default_crs: str | None, problem) -> shapely.Point | None:
    try:
        x, y = float(row.get("lon", "")), float(row.get("lat", ""))
    except ValueError:
        problem("lon", f"坐标无效：“{row.get('lon', '')}”, “{row.get('lat', '')}”。",
                f"Invalid coordinates: '{row.get('lon', '')}', '{row.get('lat', '')}'.")
        return None
    choice = _row_crs(row, default_crs, problem)
    if choice is None:
        return None
    # Tables are east-first (lon, lat / easting, northing), whatever the CRS's axis order.
    point = to_wgs84(np.array([shapely.Point(x, y)]), choice, False)[0]
    if not (np.isfinite(point.x) and np.isfinite(point.y)
            and -180 <= point.x <= 180 and -90 <= point.y <= 90):
        problem("lon", "坐标超出该坐标系的范围。", "Coordinates outside the CRS's range.")
        return None
    return point


def _area(row, default_crs: str | None, problem) -> shapely.Geometry | None:
    """The row's polygon from WKT, in the row's CRS, as WGS84."""
    try:
        geom = shapely.from_wkt(row["wkt"])
    except shapely.errors.ShapelyError:
        geom = None
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        problem("wkt", "村域几何无效：须为 WKT 面（POLYGON/MULTIPOLYGON）。",
                "Invalid area: give a WKT POLYGON or MULTIPOLYGON.")
        return None
    choice = _row_crs(row, default_crs, problem)
    if choice is None:
        return None
    return shapely.make_valid(to_wgs84(np.array([geom]), choice, False)[0])


def _number(text: str, column: str, problem) -> float | None:
    if not text:
        return None
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        value = -1.0
    if value < 0 or not np.isfinite(value):
        problem(column, f"“{text}”不是非负数。", f"'{text}' is not a non-negative number.")
        return None
    return value


# --- The node-table template (axes editor): Chinese headers as parsed above, one 示例 row ------

TEMPLATE_HEADERS = ("名称", "层级", "代码", "区县代码", "乡镇代码", "经度", "纬度", "坐标系",
                    "位置来源", "类别", "人口", "所属重点村", "来源", "备注")
TEMPLATE_EXAMPLE = ("虚构示例镇（示例行）", "中心镇", "", "330523", "", "119.60", "30.60", "CRS84",
                    "planner", "文旅名镇", "", "", "虚构示例 fictional example",
                    "示例行（虚构示例），使用前请删除。层级：县城/中心镇/重点村/村；位置填经纬度"
                    "（坐标系 CRS84/EPSG:4490/EPSG:4549/GCJ-02）或 6/9/12 位区划代码（以驻地代位）；"
                    "无位置的行列为未落位，不作推测。")


def template_xlsx() -> bytes:
    """The node table as XLSX: the headers `parse_nodes` reads and one fictional 示例 row."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "节点表"
    sheet.append(list(TEMPLATE_HEADERS))
    sheet.append(list(TEMPLATE_EXAMPLE))
    for column, header in zip("ABCDEFGHIJKLMN", TEMPLATE_HEADERS):
        sheet.column_dimensions[column].width = max(10, len(header) * 3)
        sheet[f"{column}2"].data_type = "s"  # codes stay text ("330523", not a number)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
