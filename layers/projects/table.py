"""A planner's project table (项目落位台账) → checked rows with WGS84 positions.

Read through `geo.tables` (CSV UTF-8/GBK or XLSX), Chinese or English headers. Position, in
this order: lon/lat in the row's `坐标系` (else the table's CRS: CRS84, EPSG:4490/4549/3857,
GCJ-02…); a WKT polygon (same CRS; placed by the polygon itself); a place code as a
**labelled stand-in**: 6 digits → the county seat, 9 → the township seat, 12 → its township's
seat (`position_source` says which). A row with none is kept **unplaced**, never guessed.
Every problem of every row is collected (row numbers as in the spreadsheet: header = 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import shapely

from geo.crs import resolve_crs, to_wgs84
from geo.errors import AtlasError, InvalidData
from layers.projects.model import COLUMN_ALIASES, TYPE_ALIASES, TYPE_EN, TYPES, normalise_header
from layers.settlement_nodes import Gazetteer, Problem

REQUIRED = ("name", "type", "total_investment_wan", "planned_pct", "actual_pct", "as_of")
POSITION_SOURCE_ZH = {"planner": "坐标（规划人员给定）", "planner_area": "项目范围面（规划人员给定）",
                      "county_seat_standin": "以区县驻地代位", "township_seat_standin":
                      "以乡镇驻地代位", "unplaced": "未落位"}
_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                   r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?\s*$")
_COMPACT_DATE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
MAX_ROWS = 200_000


class InvalidProjectTable(InvalidData):
    """A project table with problems; `detail.problems` lists every one (HTTP 422)."""

    code = "invalid_project_table"

    def __init__(self, problems: list[Problem]) -> None:
        rows = sorted({p.row for p in problems})
        where = ", ".join(str(r) for r in rows[:30]) + ("…" if len(rows) > 30 else "")
        super().__init__(
            f"项目表有 {len(problems)} 处问题（行：{where}），详见 detail.problems。",
            f"The project table has {len(problems)} problem(s) (rows: {where}); "
            "see detail.problems.",
            problems=[p.as_dict() for p in problems], rows=rows)


@dataclass
class ProjectTable:
    """Parsed rows (one per project and snapshot date) and the warnings about them."""

    rows: pd.DataFrame  # see `parse_projects` for the columns; geometry WGS84 or None
    areas: dict[int, shapely.Geometry] = field(default_factory=dict)  # row → WGS84 polygon
    warnings: list[dict[str, object]] = field(default_factory=list)


def parse_date(text: str) -> date | None:
    """2024-03-31, 2024/3/31, 2024.3.31, 2024年3月31日, 20240331 (a time part is ignored)."""
    m = _DATE.match(text) or _COMPACT_DATE.match(text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    lookup = {normalise_header(a): name for name, names in COLUMN_ALIASES.items() for a in names}
    return frame.rename(columns={c: lookup.get(normalise_header(c), c) for c in frame.columns})


def parse_projects(frame: pd.DataFrame, gazetteer: Gazetteer, default_crs: str | None = None,
                   as_of: str | None = None) -> ProjectTable:
    """Check every row; raise InvalidProjectTable listing every problem, else the rows.

    `as_of` (ISO date) fills rows with no 更新日期. Columns of `rows`: row, project_id, name,
    type, type_en, declared_axis, code, position_source, county_code (from a code; the
    placement fills the rest), total_investment_wan, invested_wan, planned_start,
    planned_finish, planned_pct, actual_pct, owner, snapshot_date, note, geometry.
    """
    frame = canonical(frame).fillna("")
    problems: list[Problem] = []
    if len(frame) > MAX_ROWS:
        raise InvalidData(f"项目表超过 {MAX_ROWS} 行。", f"The table has more than {MAX_ROWS} rows.")
    missing = [c for c in REQUIRED if c not in frame.columns and not (c == "as_of" and as_of)]
    if missing:
        zh = {"name": "项目名称", "type": "项目类型", "total_investment_wan": "总投资(万元)",
              "planned_pct": "计划进度(%)", "actual_pct": "实际进度(%)", "as_of": "更新日期"}
        raise InvalidProjectTable([Problem(
            "projects", 1, ",".join(missing), ",".join(map(str, frame.columns)),
            f"缺少必需列：{'、'.join(zh[c] for c in missing)}。",
            f"Missing required column(s): {', '.join(missing)}.")])
    default_choice = None
    try:
        default_choice = resolve_crs(default_crs or "CRS84")
    except AtlasError:
        raise
    out: list[dict] = []
    xy: list[tuple[int, float, float, str]] = []  # (index in out, x, y, crs text)
    wkts: list[tuple[int, str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    records = frame.to_dict("records")
    for i, raw in enumerate(records):
        row_no = i + 2
        row = {k: str(v).strip() for k, v in raw.items()}
        bad: list[Problem] = []

        def problem(column: str, zh: str, en: str, row=row, row_no=row_no, bad=bad) -> None:
            bad.append(Problem("projects", row_no, column, row.get(column, ""), zh, en))

        name = row.get("name", "")
        if not name:
            problem("name", "项目名称为空。", "The project name is empty.")
        kind = TYPE_ALIASES.get(row.get("type", ""), TYPE_ALIASES.get(row.get("type", "").lower()))
        if kind is None:
            problem("type", f"项目类型“{row.get('type', '')}”无效：应为 {'/'.join(TYPES)}。",
                    f"Invalid project type '{row.get('type', '')}': use one of "
                    f"{', '.join(TYPE_EN.values())} (or 中文 {'/'.join(TYPES)}).")
        numbers = {}
        for column, zh, high in (("total_investment_wan", "总投资(万元)", None),
                                 ("invested_wan", "累计完成投资(万元)", None),
                                 ("planned_pct", "计划进度(%)", 100.0),
                                 ("actual_pct", "实际进度(%)", 100.0)):
            numbers[column] = _number(row.get(column, ""), column, zh, high,
                                      column in REQUIRED, problem)
        dates = {}
        for column, zh in (("planned_start", "计划开工"), ("planned_finish", "计划竣工"),
                           ("as_of", "更新日期")):
            text = row.get(column, "") or (as_of or "" if column == "as_of" else "")
            if not text:
                if column == "as_of":
                    problem("as_of", "更新日期为空。", "The update date (更新日期) is empty.")
                dates[column] = ""
                continue
            parsed = parse_date(text)
            if parsed is None:
                problem(column, f"{zh}“{text}”不是日期（如 2024-03-31）。",
                        f"{column} '{text}' is not a date (e.g. 2024-03-31).")
            dates[column] = parsed.isoformat() if parsed else ""
        if dates["planned_start"] and dates["planned_finish"] \
                and dates["planned_finish"] < dates["planned_start"]:
            problem("planned_finish", "计划竣工早于计划开工。",
                    "The planned finish is before the planned start.")
        project_id = row.get("project_id", "") or name
        key = (project_id, dates["as_of"])
        if project_id and key in seen:
            problem("project_id" if row.get("project_id") else "name",
                    f"项目“{project_id}”在同一更新日期重复（首见于第 {seen[key]} 行）。",
                    f"Project '{project_id}' appears twice for one update date (first on "
                    f"row {seen[key]}).")
        elif project_id:
            seen[key] = row_no
        county, geometry, source = "", None, "unplaced"
        code = row.get("code", "")
        has_xy = bool(row.get("lon", "") or row.get("lat", ""))
        if has_xy:
            try:
                x, y = float(row.get("lon", "")), float(row.get("lat", ""))
                if not (np.isfinite(x) and np.isfinite(y)):
                    raise ValueError
                source = "planner"
            except ValueError:
                problem("lon", f"坐标无效：“{row.get('lon', '')}”, “{row.get('lat', '')}”。",
                        f"Invalid coordinates: '{row.get('lon', '')}', '{row.get('lat', '')}'.")
        elif row.get("wkt", ""):
            source = "planner_area"
        elif code:
            county, geometry, source = _code_position(code, gazetteer, problem)
        if row.get("crs", ""):
            try:
                resolve_crs(row["crs"])
            except AtlasError as error:
                problem("crs", error.message_zh, error.message_en)
        if bad:
            problems.extend(bad)
            continue
        index = len(out)
        if source == "planner":
            xy.append((index, x, y, row.get("crs", "")))
        elif source == "planner_area":
            wkts.append((index, row["wkt"], row.get("crs", "")))
        out.append({
            "row": row_no, "project_id": project_id, "name": name, "type": kind,
            "type_en": TYPE_EN[kind], "declared_axis": row.get("declared_axis", ""),
            "code": code, "position_source": source, "county_code": county,
            **numbers, **dates, "owner": row.get("owner", ""), "note": row.get("note", ""),
            "geometry": geometry})
    areas: dict[int, shapely.Geometry] = {}
    _transform_points(out, xy, default_choice, problems)
    _transform_areas(out, wkts, default_choice, problems, areas)
    _check_in_region(out, gazetteer, problems)
    if problems:
        raise InvalidProjectTable(sorted(problems, key=lambda p: (p.row, p.column)))
    rows = pd.DataFrame(out, columns=[
        "row", "project_id", "name", "type", "type_en", "declared_axis", "code",
        "position_source", "county_code", "total_investment_wan", "invested_wan",
        "planned_pct", "actual_pct", "planned_start", "planned_finish", "as_of", "owner",
        "note", "geometry"]).rename(columns={"as_of": "snapshot_date"})
    warnings = []
    over = rows[rows["invested_wan"].notna()
                & (rows["invested_wan"] > rows["total_investment_wan"])]
    for r in over.itertuples():
        warnings.append({"code": "invested_over_total", "row": r.row, "project": r.name,
                         "zh": f"“{r.name}”累计完成投资超过总投资。",
                         "en": f"'{r.name}': completed investment exceeds the total."})
    for r in rows[rows["position_source"] == "unplaced"].itertuples():
        warnings.append({"code": "unplaced", "row": r.row, "project": r.name,
                         "zh": f"“{r.name}”没有位置，列为未落位，未作推测。",
                         "en": f"'{r.name}' has no position; kept as unplaced, not guessed."})
    return ProjectTable(rows, {rows.index[i]: g for i, g in areas.items()}, warnings)


def _number(text: str, column: str, zh: str, high: float | None, required: bool, problem
            ) -> float | None:
    if not text:
        if required:
            problem(column, f"{zh}为空。", f"{column} is empty.")
        return None
    try:
        value = float(text.replace(",", "").replace("%", ""))
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value < 0 or (high is not None and value > high):
        limit = f"0–{high:g}" if high is not None else "≥ 0"
        problem(column, f"{zh}“{text}”无效：应为 {limit} 的数。",
                f"{column} '{text}' is invalid: give a number {limit}.")
        return None
    return value


def _code_position(code: str, gaz: Gazetteer, problem):
    """(county, point or None, position_source) for a 6/9/12-digit code, as a stand-in."""
    if len(code) == 6 and code in gaz.counties.index:
        seat = gaz.county_seats.get(code)
        return code, seat, "county_seat_standin" if seat is not None else "unplaced"
    if len(code) == 9 and code in gaz.townships.index:
        seat = gaz.township_seat(code)
        return (gaz.townships.at[code, "county_code"], seat,
                "township_seat_standin" if seat is not None else "unplaced")
    if len(code) == 12 and code in gaz.villages.index:
        town = gaz.villages.at[code, "township_code"]
        seat = gaz.township_seat(town) if town in gaz.townships.index else None
        return (gaz.villages.at[code, "county_code"], seat,
                "township_seat_standin" if seat is not None else "unplaced")
    problem("code", f"未知位置代码“{code}”：应为已知的 6 位区县、9 位乡镇或 12 位村代码。",
            f"Unknown place code '{code}': expected a known 6-digit county, 9-digit township "
            "or 12-digit village code.")
    return "", None, "unplaced"


def _transform_points(out, xy, default_choice, problems) -> None:
    """Lon/lat rows to WGS84, one vectorised transform per CRS."""
    by_crs: dict[str, list[tuple[int, float, float]]] = {}
    for index, x, y, crs in xy:
        by_crs.setdefault(crs, []).append((index, x, y))
    for crs, items in by_crs.items():
        choice = resolve_crs(crs) if crs else default_choice
        idx = [i for i, _, _ in items]
        pts = shapely.points([(x, y) for _, x, y in items])
        # Tables are east-first (lon, lat / easting, northing), whatever the CRS's axis order.
        moved = to_wgs84(np.asarray(pts, dtype=object), choice, False)
        lon, lat = shapely.get_x(moved), shapely.get_y(moved)
        ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        for i, good, geom in zip(idx, ok, moved):
            if good:
                out[i]["geometry"] = geom
            else:
                problems.append(Problem("projects", out[i]["row"], "lon", "",
                                        "坐标超出该坐标系的范围。",
                                        "Coordinates outside the CRS's range."))


def _transform_areas(out, wkts, default_choice, problems, areas) -> None:
    for index, text, crs in wkts:
        try:
            geom = shapely.from_wkt(text)
        except shapely.errors.ShapelyError:
            geom = None
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(Problem("projects", out[index]["row"], "wkt", text[:80],
                                    "项目范围无效：须为 WKT 面（POLYGON/MULTIPOLYGON）。",
                                    "Invalid project area: give a WKT POLYGON or MULTIPOLYGON."))
            continue
        choice = resolve_crs(crs) if crs else default_choice
        area = shapely.make_valid(to_wgs84(np.array([geom], dtype=object), choice, False)[0])
        areas[index] = area
        out[index]["geometry"] = area.representative_point()


def _check_in_region(out, gaz: Gazetteer, problems) -> None:
    """Every placed row must lie in a known county (a swapped lon/lat or a wrong CRS lands
    elsewhere); a code's county must agree with its point's."""
    placed = [i for i, r in enumerate(out) if r["geometry"] is not None]
    if not placed:
        return
    pts = np.array([out[i]["geometry"] for i in placed], dtype=object)
    tree = shapely.STRtree(gaz.counties.geometry.to_numpy())
    hit_pt, hit_county = tree.query(pts, predicate="intersects")
    found = {}
    for p, c in zip(hit_pt, hit_county):
        found.setdefault(int(p), str(gaz.counties.index[c]))
    for k, i in enumerate(placed):
        county = found.get(k)
        if county is None:
            problems.append(Problem("projects", out[i]["row"], "lon", "",
                                    "项目位置不在任何已知区县内（经纬度是否颠倒、坐标系是否正确？）。",
                                    "The project lies in no known county (lon/lat swapped or "
                                    "a wrong CRS?)."))
        else:
            out[i]["county_code"] = county
