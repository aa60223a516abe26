"""Development axes over HTTP: generate from a planner's node table, statistics, accessibility.

- `POST /axes/generate`: node table (CSV/XLSX) + optional axis table → nodes, axes, domains,
  clusters as GeoJSON, unplaced nodes, warnings and per-county statistics. `dry_run=true`
  (default) writes nothing; `dry_run=false` with a `scenario` and an API key stores the layers
  as collections `{scenario}_axis_nodes`, `{scenario}_axes`, … (the demo layers are untouched).
- `GET /axes/template.xlsx`: the node-table template (Chinese headers, one 虚构示例 row).
- `GET /axes/stats[?scenario=name]`: statistics of the served axis layers (the Huzhou demo, or
  a saved scenario; unknown → 404) vs the provincial benchmarks, plus the unplaced nodes.
- `GET /axes/accessibility.tif`: distance to the nearest node of each tier (GeoTIFF, EPSG:4549).
"""

from __future__ import annotations

import re

import numpy as np
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from api.caching import json_text
from api.deps import require_api_key, services_of, store_of
from geo import geojson
from geo.errors import InvalidParameter
from layers.axes import (ACCESS_THRESHOLDS_KM, BENCHMARK_SOURCE, DEFAULT_BUFFER_KM,
                         GENERATION_RULE, PROVINCIAL_AREA_SHARE_PCT,
                         PROVINCIAL_POPULATION_SHARE_PCT, Accessibility, AxisPlan, county_stats,
                         plan_axes, plan_layers)
from layers.settlement_nodes import TIER_ZH, Gazetteer, parse_nodes, read_table, template_xlsx
from maps.page_cache import rendered_page
from maps.views.axes import scenario_store

router = APIRouter(tags=["axes 发展轴"])

MAX_TABLE_BYTES = 5 * 1024 * 1024
_SCENARIO = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_RESPONSE_KEYS = {"axis_nodes": "nodes", "axes": "axes", "axis_domains": "domains",
                  "axis_clusters": "clusters", "axis_cluster_areas": "cluster_areas"}
# Served plans cached per store, cell size and layer versions (thread-safe, bounded).


def _unplaced(plan: AxisPlan) -> list[dict]:
    return [{"name": n.name, "tier": n.tier, "tier_zh": TIER_ZH[n.tier],
             "county_code": n.county_code, "township_code": n.township_code, "code": n.code,
             "source": n.source, "note": n.note} for n in plan.unplaced]


def _stats_body(plan: AxisPlan, gaz: Gazetteer, access: Accessibility) -> dict:
    return {
        "schematic": plan.generated,
        "rule": GENERATION_RULE if plan.generated else "planner-defined axes",
        "buffer_km": plan.buffer_km,
        "benchmarks": {"area_share_pct": PROVINCIAL_AREA_SHARE_PCT,
                       "population_share_pct": PROVINCIAL_POPULATION_SHARE_PCT,
                       "source": BENCHMARK_SOURCE,
                       "note": "Zhejiang-wide: axis domains cover 46.4% of county land and "
                       "73.7% of residents. No sourced population per settlement exists here, "
                       "so population_share_pct is null; village_share_by_township_seat_pct "
                       "(villages counted at their township seat) is shown instead."},
        "accessibility": {"cell_m": access.cell_m, "crs": "EPSG:4549", "units": "km",
                          "thresholds_km": list(ACCESS_THRESHOLDS_KM),
                          "rule": "share of the county's cells (by centre) within the distance "
                          "of the nearest placed central town, in any county"},
        "counties": county_stats(plan, gaz, access),
        "unplaced": _unplaced(plan),
    }


@router.get("/axes/template.xlsx")
def node_template() -> Response:
    """The node table for `POST /axes/generate` (Chinese headers, one 虚构示例 row)."""
    return Response(template_xlsx(), media_type="application/vnd.openxmlformats-officedocument"
                    ".spreadsheetml.sheet", headers={
                        "Content-Disposition": "attachment; filename=\"axes_nodes_template.xlsx\""})


@router.get("/axes/stats")
def axes_stats(request: Request,
               cell_m: float = Query(200.0, description="Raster cell size, m (50–200)"),
               scenario: str = Query("", description="a saved scenario (default: the demo)")
               ) -> dict:
    """Per-county axis length, domain shares vs 46.4%/73.7%, distance shares; unplaced nodes."""
    _check_cell(cell_m)
    store = scenario_store(store_of(request), scenario)

    def build() -> str:
        plan, gaz, access = services_of(request).axis_plans.get(store, cell_m)
        body = {"scenario": scenario or None, **_stats_body(plan, gaz, access)}
        return json_text(body)

    # computed once per layer versions (0.4–0.9 s of statistics over the grid each time)
    body = rendered_page(store_of(request), ("/axes/stats", float(cell_m), scenario), build)
    return Response(body, media_type="application/json")


@router.get("/axes/accessibility.tif")
def accessibility_tif(request: Request, cell_m: float = Query(200.0)) -> Response:
    """Distance (km) to the nearest node of each tier: GeoTIFF in EPSG:4549, one band a tier."""
    _check_cell(cell_m)
    _, _, access = services_of(request).axis_plans.get(store_of(request), cell_m)
    return Response(access.geotiff, media_type="image/tiff", headers={
        "Content-Disposition": 'attachment; filename="axes_accessibility_epsg4549.tif"'})


def _check_cell(cell_m: float) -> None:
    if not 50 <= cell_m <= 200:
        raise InvalidParameter(f"栅格边长 {cell_m:g} 米超出范围（50–200 米）。",
                               f"Cell size {cell_m:g} m is out of range (50–200 m).")


async def _read(upload: UploadFile) -> bytes:
    content = await upload.read(MAX_TABLE_BYTES + 1)
    if len(content) > MAX_TABLE_BYTES:
        raise InvalidParameter("表格超过 5 MB。", "The table is larger than 5 MB.")
    return content


def _collection(frame, layer_id: str) -> dict:
    frame = frame.reset_index(drop=True)
    props = [c for c in frame.columns if c != frame.geometry.name]
    return {"type": "FeatureCollection", "name": layer_id,
            "features": geojson.features(frame, np.asarray(frame.geometry.to_numpy()), props, 7)}


@router.post("/axes/generate")
async def generate(
    request: Request,
    nodes: UploadFile = File(..., description="Node table, CSV (UTF-8/GBK) or XLSX"),
    axes: UploadFile | None = File(None, description="Optional axis table: axis_id, sequence, "
                                   "node[, rank, type, axis_name]"),
    crs: str = Form("CRS84", description="CRS of lon/lat columns (rows may override)"),
    buffer_main_km: float = Form(DEFAULT_BUFFER_KM["main"]),
    buffer_secondary_km: float = Form(DEFAULT_BUFFER_KM["secondary"]),
    buffer_branch_km: float = Form(DEFAULT_BUFFER_KM["branch"]),
    dry_run: bool = Form(True),
    scenario: str = Form("", description="Collection prefix when dry_run=false"),
) -> dict:
    """Axes from a node table: explicit axes if given, else generated (以点串轴, 算法生成)."""
    widths = {"main": buffer_main_km, "secondary": buffer_secondary_km,
              "branch": buffer_branch_km}
    for rank, km in widths.items():
        if not 0 < km <= 50:
            raise InvalidParameter(f"{rank} 缓冲距离 {km:g} km 超出范围（0–50 km）。",
                                   f"Buffer for {rank} axes {km:g} km is out of range (0–50).")
    if not dry_run:
        require_api_key(request, "保存方案", "Saving a scenario")
    if not dry_run and not _SCENARIO.match(scenario):
        raise InvalidParameter(
            "保存时须给出方案名 scenario（小写字母开头，仅含 a-z、0-9、_，至多 32 字符）。",
            "Saving needs a scenario name (lowercase letter first, a-z 0-9 _ only, ≤ 32).")
    store = store_of(request)
    gaz = Gazetteer.from_store(store)
    table = parse_nodes(read_table(await _read(nodes), nodes.filename or "nodes.csv"), gaz, crs)
    axis_table = None
    if axes is not None and axes.filename:
        axis_table = read_table(await _read(axes), axes.filename)
    plan = plan_axes(table, gaz, axis_table, widths)
    names = gaz.counties["name"].to_dict()
    prefix = f"{scenario}_" if not dry_run else ""
    built = plan_layers(plan, names, prefix=prefix)
    collections = {_RESPONSE_KEYS[layer.id.removeprefix(prefix)]: _collection(frame, layer.id)
                   for layer, frame in built}
    body = {
        "dry_run": dry_run,
        "schematic": plan.generated,
        "rule": GENERATION_RULE if plan.generated else "planner-defined axes",
        "buffer_km": plan.buffer_km,
        "warnings": plan.warnings,
        "unplaced": _unplaced(plan),
        **collections,
        "cluster_areas": collections.get("cluster_areas",
                                         {"type": "FeatureCollection", "features": []}),
        "stats": county_stats(plan, gaz),
    }
    if not dry_run:
        for layer, frame in built:
            store.put(layer, frame)
        base = str(request.base_url).rstrip("/")
        body["collections"] = [f"{base}/collections/{layer.id}" for layer, _ in built]
    return body
