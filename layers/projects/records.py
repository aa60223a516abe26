"""The project layers in the store, and an import from table to saved snapshot.

- `project_snapshots`: every row of every import with its `snapshot_date` (id
  `snapshot_key` = date|project id). History accumulates; re-importing a date replaces that
  date's rows.
- `projects`: each project's latest row (what the map and `/collections/projects` show).
- `project_areas`: the latest polygon of projects given as a WKT area.

`gongfu build` writes the first two EMPTY (no project data is public). Saving writes the
snapshot layer first, then the latest and the areas, each replaced atomically by the store;
imports in one process are serialised so none is lost between read and write.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import shapely

from layers.axes.plane import polygon_parts
from layers.model import Layer, Provenance
from layers.projects.model import (AREAS_LAYER, PROJECTS_LAYER, SNAPSHOTS_LAYER, Thresholds)
from layers.projects.monitor import as_of_rows, with_status
from layers.projects.placement import AxesScenario, place
from layers.projects.table import ProjectTable, parse_projects
from layers.settlement_nodes import Gazetteer

if TYPE_CHECKING:
    from layers.store import Store

_LOCK = threading.Lock()

FIELDS = {
    "snapshot_key": "快照键 snapshot date|project id", "project_id": "项目编号 project id (项目名称 if none)",
    "name": "项目名称 project name", "type": "项目类型 产业平台/公共服务/基础设施/生态环境/其他",
    "type_en": "type (English)", "declared_axis": "所属轴线（表中给定）declared axis",
    "axis_id": "落位轴线 placed axis id", "axis_label": "落位 axis id / 轴外 / 未落位",
    "placement": "落位方式 declared/domain/outside/unplaced（算法生成 algorithmic）",
    "rank": "轴线等级 main/secondary/branch",
    "axis_distance_km": "到轴线距离 km (EPSG:4549)", "nearest_node": "最近节点 nearest axis node",
    "nearest_node_km": "到最近节点距离 km (EPSG:4549)", "county_code": "区县代码",
    "county_name": "区县", "code": "位置代码 place code given",
    "position_source": "位置来源 planner/planner_area/county_seat_standin/"
                       "township_seat_standin/unplaced",
    "total_investment_wan": "总投资（万元）", "invested_wan": "累计完成投资（万元）",
    "planned_start": "计划开工", "planned_finish": "计划竣工", "planned_pct": "计划进度（%）",
    "actual_pct": "实际进度（%）", "lag_pct": "滞后 计划−实际 (pp)",
    "overdue": "逾期 as-of past 计划竣工 and 实际进度 < 100",
    "status": "预警 red/yellow/green（算法生成, default thresholds 20/10 pp）",
    "status_zh": "预警（红/黄/绿）", "owner": "责任单位", "snapshot_date": "更新日期 snapshot date",
    "scenario": "落位所依据的发展轴方案 axes scenario", "row": "源表行号 source row",
    "note": "备注", "source_file": "来源文件 source file",
}
COLUMNS = list(FIELDS)


def _provenance(note: str = "") -> Provenance:
    return Provenance(
        source="规划人员导入的项目台账（POST /projects 或 gongfu projects load）planner's "
               "project tables; placement and statuses 算法生成 by layers/projects",
        license="内部数据，不公开 internal, not public", crs_of_origin="as imported "
        "(CRS84/EPSG:4490/4549/3857/GCJ-02); stored WGS84; distances on EPSG:4549",
        illustrative=False,
        note=note or "项目落位与红黄绿预警为算法生成；代码定位为驻地代位 (position_source)。"
                     "Placement and warnings are algorithmic; code positions are stand-ins.")


def project_layers() -> tuple[Layer, Layer, Layer]:
    fields = {c: FIELDS[c] for c in COLUMNS if c != "snapshot_key"}
    latest = Layer(PROJECTS_LAYER, "项目落位（最新）", "Projects (latest snapshot)", "Point",
                   "project_id", _provenance(),
                   "每个项目的最新一期：落位轴线、最近节点、区县、红黄绿预警。", fields,
                   time_field="snapshot_date")
    history = Layer(SNAPSHOTS_LAYER, "项目监测快照", "Project snapshots (history)", "Point",
                    "snapshot_key", _provenance(),
                    "每次导入为一期快照（更新日期 snapshot_date 可作过滤条件）。", dict(FIELDS),
                    time_field="snapshot_date")
    areas = Layer(AREAS_LAYER, "项目范围", "Project areas", "MultiPolygon", "project_id",
                  _provenance(), "以 WKT 面给出位置的项目的范围（最新一期）。",
                  {"project_id": FIELDS["project_id"], "name": FIELDS["name"],
                   "status": FIELDS["status"], "snapshot_date": FIELDS["snapshot_date"]},
                  time_field="snapshot_date")
    return latest, history, areas


def empty_frame(columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in columns},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def empty_project_layers() -> list[tuple[Layer, gpd.GeoDataFrame]]:
    """What `gongfu build` writes: the project layers with no rows."""
    latest, history, _ = project_layers()
    return [(history, empty_frame(COLUMNS)),
            (latest, empty_frame([c for c in COLUMNS if c != "snapshot_key"]))]


@dataclass
class ImportResult:
    rows: pd.DataFrame  # the imported rows, placed, with statuses (not yet merged)
    areas: dict[int, shapely.Geometry]
    warnings: list[dict]
    scenario: str
    thresholds: Thresholds
    saved: list[str] = field(default_factory=list)

    @property
    def dates(self) -> list[str]:
        return sorted(set(self.rows["snapshot_date"]))


def import_projects(frame: pd.DataFrame, store: Store, scenario: str = "",
                    crs: str | None = None, as_of: str | None = None,
                    thresholds: Thresholds | None = None, dry_run: bool = True,
                    source_file: str = "") -> ImportResult:
    """Parse, place and (unless `dry_run`) save one table as a snapshot; raises
    InvalidProjectTable (422) listing every bad row, or InvalidParameter for a scenario."""
    thresholds = thresholds or Thresholds()
    axes = AxesScenario.from_store(store, scenario)
    gazetteer = Gazetteer.from_store(store)
    table: ProjectTable = parse_projects(frame, gazetteer, crs, as_of)
    rows, warnings = place(table.rows, axes, gazetteer, table.areas)
    rows["source_file"] = source_file
    rows["snapshot_key"] = rows["snapshot_date"] + "|" + rows["project_id"]
    rows = with_status(rows, thresholds)
    result = ImportResult(rows, table.areas, table.warnings + warnings, axes.label, thresholds)
    if not dry_run:
        save(store, result)
    return result


def _frame(rows: pd.DataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    data = rows.reindex(columns=columns + ["geometry"])
    data["overdue"] = data["overdue"].astype(bool)
    return gpd.GeoDataFrame(data.drop(columns="geometry"), geometry=gpd.GeoSeries(
        list(rows["geometry"]), index=rows.index, crs=4326), crs=4326)


def save(store: Store, result: ImportResult) -> None:
    latest_layer, history_layer, areas_layer = project_layers()
    new = result.rows
    with _LOCK:
        old = read_snapshots(store)
        if len(old):
            old = old[~old["snapshot_date"].isin(result.dates)]
        merged = pd.concat([old, new[COLUMNS + ["geometry"]]], ignore_index=True) \
            if len(old) else new[COLUMNS + ["geometry"]].reset_index(drop=True)
        # statuses of every row under the default thresholds (per-request ones recompute)
        merged = with_status(merged, Thresholds())
        latest = as_of_rows(merged)
        writes = [(history_layer, _frame(merged, COLUMNS)),
                  (latest_layer, _frame(latest, [c for c in COLUMNS if c != "snapshot_key"]))]
        areas = _areas(store, result, latest)
        if areas is not None:
            writes.append((areas_layer, areas))
        # one atomic write: history, latest and areas never disagree after a crash
        store.put_many(writes)
        result.saved = [layer.id for layer, _ in writes]


def _areas(store: Store, result: ImportResult, latest: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """Polygons of the latest rows: this import's, plus earlier ones still latest."""
    have = {layer.id for layer in store.layers()}
    polys: dict[str, shapely.Geometry] = {}
    if AREAS_LAYER in have:
        old = store.frame(AREAS_LAYER)
        polys.update(zip(old["project_id"].astype(str), old.geometry))
    for i, area in result.areas.items():
        polys[str(result.rows.at[i, "project_id"])] = area
    if not polys and AREAS_LAYER not in have:
        return None
    keep = latest[latest["project_id"].isin(polys)]
    return gpd.GeoDataFrame(
        {"project_id": keep["project_id"].to_numpy(), "name": keep["name"].to_numpy(),
         "status": keep["status"].to_numpy(), "snapshot_date": keep["snapshot_date"].to_numpy()},
        geometry=gpd.GeoSeries([polygon_parts(polys[p]) for p in keep["project_id"]], crs=4326),
        crs=4326)


def read_snapshots(store: Store) -> pd.DataFrame:
    """Every stored snapshot row (empty frame with the columns if none)."""
    if SNAPSHOTS_LAYER not in {layer.id for layer in store.layers()}:
        return empty_frame(COLUMNS)
    frame = store.frame(SNAPSHOTS_LAYER).reset_index(drop=True)
    for column in ("total_investment_wan", "invested_wan", "planned_pct", "actual_pct",
                   "axis_distance_km", "nearest_node_km", "lag_pct"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("planned_finish", "planned_start", "axis_id", "declared_axis", "code",
                   "owner", "note", "county_code", "county_name"):
        if column in frame:
            frame[column] = frame[column].fillna("").astype(str)
    if "overdue" in frame:
        frame["overdue"] = frame["overdue"].fillna(False).astype(bool)
    frame["geometry"] = [None if g is None or g.is_empty else g for g in frame.geometry]
    return frame


def snapshot_rows(store: Store, thresholds: Thresholds | None = None,
                  scenario: str | None = None) -> pd.DataFrame:
    """Stored snapshot rows with statuses under `thresholds` (and only `scenario`'s rows)."""
    rows = read_snapshots(store)
    if scenario is not None and len(rows):
        rows = rows[rows["scenario"] == (scenario or "demo")]
    return with_status(rows, thresholds or Thresholds()) if len(rows) else rows
