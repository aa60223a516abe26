"""Projects on the development axes (issue 14) over HTTP.

- `POST /projects`: a project table (CSV UTF-8/GBK or XLSX) placed against an axes scenario;
  `dry_run=true` (default) writes nothing; `dry_run=false` (API key) stores the snapshot:
  collections `project_snapshots` (history) and `projects` (latest), `project_areas`.
- `GET /projects/template.xlsx|.csv`: the import template (one 虚构示例 row).
- `GET /projects/status`: counts by status per axis, county and type, and the warning list.
- `GET /projects/curves?by=axis|county|project`, `GET /projects/{id}/curve`: monthly curves.
- `GET /axes/{axis_id}/plan` (`f=json|html`): 一轴一方案 plan sheet; `POST /axes/plans`: the
  plan table (轴线编号, 定位, 产业布局).
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import require_api_key, store_of
from api.negotiation import wants_html
from geo import geojson
from geo.errors import InvalidParameter, UnknownChoice, UnknownFeature
from layers.projects import (CURVE_RULE, PLANS_LAYER, AxesScenario, Thresholds, as_of_rows,
                             counts, group_curves, import_projects, parse_date, project_curve,
                             snapshot_rows, warning_list)
from layers.projects.plan_sheet import axis_plan, parse_plan_table, plan_frame, plans_layer
from layers.projects.template import template_csv, template_xlsx
from layers.settlement_nodes import read_table
from maps.views.plan_sheet import plan_sheet_page

router = APIRouter(tags=["projects 项目落位与监测"])

MAX_TABLE_BYTES = 20 * 1024 * 1024
ROW_FIELDS = ["project_id", "name", "type", "axis_label", "placement", "rank",
              "axis_distance_km", "nearest_node", "nearest_node_km", "county_code",
              "county_name", "position_source", "total_investment_wan", "invested_wan",
              "planned_start", "planned_finish", "planned_pct", "actual_pct", "lag_pct",
              "overdue", "status", "status_zh", "owner", "snapshot_date", "row"]


async def _read(upload: UploadFile) -> bytes:
    content = await upload.read(MAX_TABLE_BYTES + 1)
    if len(content) > MAX_TABLE_BYTES:
        raise InvalidParameter("表格超过 20 MB。", "The table is larger than 20 MB.")
    return content


def _as_of(text: str | None) -> str | None:
    if not text:
        return None
    parsed = parse_date(text)
    if parsed is None:
        raise InvalidParameter(f"日期“{text}”无效（如 2024-03-31）。",
                               f"Invalid date '{text}' (e.g. 2024-03-31).", parameter="as_of")
    return parsed.isoformat()


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


@router.post("/projects")
async def import_table(
    request: Request,
    file: UploadFile = File(..., description="Project table, CSV (UTF-8/GBK) or XLSX"),
    crs: str = Form("CRS84", description="CRS of lon/lat and WKT (a 坐标系 column overrides)"),
    scenario: str = Form("", description="Axes scenario to place against ('' = the demo)"),
    as_of: str = Form("", description="更新日期 for rows that have none (ISO date)"),
    red_lag: float = Form(20.0), yellow_lag: float = Form(10.0),
    dry_run: bool = Form(True),
) -> dict:
    """Place a project table on the axes and grade it; saves a dated snapshot when asked."""
    thresholds = Thresholds.checked(red_lag, yellow_lag)
    if not dry_run:
        require_api_key(request, "保存项目快照", "Saving a project snapshot")
    store = store_of(request)
    frame = read_table(await _read(file), file.filename or "projects.csv")
    result = import_projects(frame, store, scenario, crs, _as_of(as_of), thresholds, dry_run,
                             file.filename or "")
    rows = result.rows
    latest = as_of_rows(rows)
    body = {
        "dry_run": dry_run, "scenario": result.scenario, "snapshot_dates": result.dates,
        "rows": len(rows), "placed": int(rows.geometry.notna().sum()),
        "unplaced": int(rows.geometry.isna().sum()),
        "placement": {k: int(v) for k, v in rows["placement"].value_counts().items()},
        "thresholds": thresholds.as_dict(), "warnings": result.warnings,
        "counts": counts(latest), "warning_list": warning_list(latest),
        "projects": _features(rows),
        "labels": {"zh": "项目落位与预警为算法生成", "en": "placement and warnings are algorithmic"},
    }
    if not dry_run:
        base = str(request.base_url).rstrip("/")
        body["collections"] = [f"{base}/collections/{i}" for i in result.saved]
    return body


def _features(rows) -> dict:
    frame = rows.reset_index(drop=True)
    geoms = np.array(list(frame["geometry"]), dtype=object)
    return {"type": "FeatureCollection",
            "features": geojson.features(frame[ROW_FIELDS], geoms,
                                         ROW_FIELDS, 7)}


@router.get("/projects/template.xlsx")
def template_workbook() -> Response:
    """The import template as XLSX (Chinese headers, one 虚构示例 row)."""
    return Response(template_xlsx(), media_type="application/vnd.openxmlformats-officedocument"
                    ".spreadsheetml.sheet", headers={"Content-Disposition":
                    "attachment; filename=\"projects_template.xlsx\""})


@router.get("/projects/template.csv")
def template_table() -> Response:
    """The import template as CSV (UTF-8 with BOM)."""
    return Response(template_csv(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": "attachment; filename=\"projects_template.csv\""})


def _thresholds(red_lag: float | None, yellow_lag: float | None) -> Thresholds:
    return Thresholds.checked(red_lag, yellow_lag)


@router.get("/projects/status")
def status(request: Request, as_of: str | None = Query(None, description="ISO date"),
           scenario: str = Query("", description="Axes scenario ('' = demo)"),
           red_lag: float | None = Query(None), yellow_lag: float | None = Query(None)) -> dict:
    """Counts by status per axis, county and type, and the warning list (red first)."""
    thresholds = _thresholds(red_lag, yellow_lag)
    rows = snapshot_rows(store_of(request), thresholds, scenario)
    date = _as_of(as_of)
    latest = as_of_rows(rows, date) if len(rows) else rows
    if not len(latest):
        empty = {"red": 0, "yellow": 0, "green": 0, "total": 0}
        return {"as_of": date, "scenario": scenario or "demo", "thresholds":
                thresholds.as_dict(), "counts": {"total": empty, "by_axis": {},
                "by_county": {}, "by_type": {}}, "warnings": [],
                "snapshot_dates": []}
    return {"as_of": date or str(latest["snapshot_date"].max()), "scenario": scenario or "demo",
            "thresholds": thresholds.as_dict(), "counts": counts(latest),
            "warnings": warning_list(latest),
            "snapshot_dates": sorted(set(rows["snapshot_date"]))}


@router.get("/projects/curves")
def curves(request: Request, by: str = Query("axis", description="axis | county | project"),
           key: str | None = Query(None), scenario: str = Query("")) -> dict:
    """Monthly planned vs actual progress and completed investment across snapshots."""
    columns = {"axis": "axis_label", "county": "county_name", "project": "project_id"}
    if by not in columns:
        raise UnknownChoice("by", by, columns)
    rows = snapshot_rows(store_of(request), None, scenario)
    if not len(rows):
        return {"by": by, "rule": CURVE_RULE, "curves": {}}
    if by == "project":
        ids = [key] if key else sorted(set(rows["project_id"]))
        result = {i: project_curve(rows, i) for i in ids}
    else:
        result = group_curves(rows, columns[by])
        if key:
            result = {key: result.get(key, [])}
    return {"by": by, "rule": CURVE_RULE, "unit": {"progress": "%", "investment": "万元"},
            "curves": result}


@router.get("/projects/{project_id}/curve")
def curve(request: Request, project_id: str, scenario: str = Query("")) -> dict:
    """One project's monthly curve (for map popups)."""
    rows = snapshot_rows(store_of(request), None, scenario)
    series = project_curve(rows, project_id) if len(rows) else []
    if not series:
        raise UnknownFeature(f"没有项目“{project_id}”。", f"No project '{project_id}'.",
                             collection="projects", feature=project_id)
    latest = rows[rows["project_id"] == project_id].sort_values("snapshot_date").iloc[-1]
    return {"project_id": project_id, "name": latest["name"], "status": latest["status"],
            "rule": CURVE_RULE, "curve": series}


@router.get("/axes/{axis_id}/plan")
def plan_sheet(request: Request, axis_id: str, scenario: str = Query(""),
               f: str | None = Query(None, description="json | html"),
               red_lag: float | None = Query(None),
               yellow_lag: float | None = Query(None)) -> Response:
    """一轴一方案: the axis's nodes, positioning, projects with status, domain statistics."""
    if f not in (None, "json", "html"):
        raise UnknownChoice("f", f, ("json", "html"))
    body = axis_plan(store_of(request), axis_id, scenario, _thresholds(red_lag, yellow_lag))
    if f == "html" or (f is None and wants_html(request)):
        return HTMLResponse(plan_sheet_page(body, _root(request)))
    return JSONResponse(body)


@router.post("/axes/plans")
async def import_plans(request: Request, file: UploadFile = File(...),
                       scenario: str = Form(""), dry_run: bool = Form(True)) -> dict:
    """The plan table (轴线编号, 定位, 产业布局[, 来源]) for a scenario's axes."""
    if not dry_run:
        require_api_key(request, "保存方案表", "Saving a plan table")
    store = store_of(request)
    axes = AxesScenario.from_store(store, scenario)
    rows = parse_plan_table(read_table(await _read(file), file.filename or "plans.csv"), axes)
    if not dry_run:
        store.put(plans_layer(), plan_frame(store, rows))
    return {"dry_run": dry_run, "scenario": axes.label, "rows": len(rows),
            "plans": rows.drop(columns="plan_key").to_dict("records"),
            **({} if dry_run else {"collection": PLANS_LAYER})}
