"""一轴一方案: one axis's plan sheet — its nodes (tiers, categories: the industry layout), its
positioning text (from an optional plan table: 轴线编号, 定位, 产业布局), its projects with
status and investment, and its domain statistics (area, share of the county, townships and
villages inside; villages counted at their township seat, as `/axes/stats` does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import shapely

from geo import measure
from geo.errors import InvalidData, UnknownFeature
from geo.measure import HUZHOU_ZONE_EPSG
from layers.axes.model import AXIS_TYPE_ZH, RANK_ZH
from layers.model import Layer, Provenance
from layers.projects.model import PLAN_COLUMN_ALIASES, PLANS_LAYER, Thresholds, normalise_header
from layers.projects.monitor import (CURVE_RULE, as_of_rows, group_curves, warning_list)
from layers.projects.placement import AxesScenario
from layers.projects.records import snapshot_rows
from layers.settlement_nodes import TIER_ZH, Gazetteer, Problem

if TYPE_CHECKING:
    from layers.store import Store

PROJECT_FIELDS = ["project_id", "name", "type", "status", "status_zh", "lag_pct", "overdue",
                  "planned_pct", "actual_pct", "total_investment_wan", "invested_wan",
                  "planned_finish", "placement", "position_source", "nearest_node",
                  "axis_distance_km", "owner", "snapshot_date"]


def plans_layer() -> Layer:
    return Layer(PLANS_LAYER, "一轴一方案（定位与产业布局）", "Axis plans (positioning, industry layout)",
                 "None", "plan_key", Provenance(
                     source="规划人员导入的方案表 planner's plan table (POST /axes/plans)",
                     license="内部数据 internal", crs_of_origin="none (table)"),
                 "每条轴线的整体定位与产业布局文字。",
                 {"plan_key": "方案|轴线", "scenario": "发展轴方案", "axis_id": "轴线编号",
                  "positioning": "定位", "industry_layout": "产业布局", "source": "来源"})


def parse_plan_table(frame: pd.DataFrame, scenario: AxesScenario) -> pd.DataFrame:
    """轴线编号, 定位, 产业布局[, 来源] rows for axes of the scenario; 422 listing bad rows."""
    lookup = {normalise_header(a): k for k, names in PLAN_COLUMN_ALIASES.items() for a in names}
    frame = frame.rename(columns={c: lookup.get(normalise_header(c), c) for c in frame.columns})
    frame = frame.fillna("")
    problems: list[Problem] = []
    if "axis_id" not in frame.columns:
        raise _invalid([Problem("plans", 1, "axis_id", "", "缺少必需列：轴线编号。",
                                "Missing required column: axis_id (轴线编号).")])
    known = set(scenario.axes["axis_id"].astype(str))
    seen = set()
    for i, axis in enumerate(frame["axis_id"].astype(str)):
        if axis not in known:
            problems.append(Problem("plans", i + 2, "axis_id", axis,
                                    f"轴线“{axis}”不在方案“{scenario.label}”中。",
                                    f"Axis '{axis}' is not in scenario '{scenario.label}'."))
        elif axis in seen:
            problems.append(Problem("plans", i + 2, "axis_id", axis, f"轴线“{axis}”重复。",
                                    f"Axis '{axis}' is listed twice."))
        seen.add(axis)
    if problems:
        raise _invalid(problems)
    out = pd.DataFrame({c: frame[c].astype(str) if c in frame else ""
                        for c in ("axis_id", "positioning", "industry_layout", "source")})
    out.insert(0, "scenario", scenario.label)
    out.insert(0, "plan_key", scenario.label + "|" + out["axis_id"])
    return out


def _invalid(problems: list[Problem]) -> InvalidData:
    rows = ", ".join(str(p.row) for p in problems[:30])
    return InvalidData(f"方案表有 {len(problems)} 处问题（行：{rows}）。",
                       f"The plan table has {len(problems)} problem(s) (rows: {rows}).",
                       problems=[p.as_dict() for p in problems])


def plan_frame(store: Store, new: pd.DataFrame) -> gpd.GeoDataFrame:
    """Stored plan texts with `new` replacing the same scenario's axes."""
    have = {layer.id for layer in store.layers()}
    old = pd.DataFrame(store.frame(PLANS_LAYER).drop(columns="geometry", errors="ignore")) \
        if PLANS_LAYER in have else pd.DataFrame(columns=new.columns)
    old = old[~old["plan_key"].isin(new["plan_key"])]
    merged = pd.concat([old[new.columns], new], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry=gpd.GeoSeries([None] * len(merged)))


def axis_plan(store: Store, axis_id: str, scenario: str = "",
              thresholds: Thresholds | None = None) -> dict:
    """Everything the plan sheet shows for one axis (JSON-ready)."""
    thresholds = thresholds or Thresholds()
    axes = AxesScenario.from_store(store, scenario)
    match = axes.axes[axes.axes["axis_id"].astype(str) == axis_id]
    if match.empty:
        raise UnknownFeature(f"方案“{axes.label}”中没有轴线“{axis_id}”。",
                             f"Scenario '{axes.label}' has no axis '{axis_id}'.",
                             collection=axes.prefix + "axes", feature=axis_id)
    axis = match.iloc[0]
    gaz = Gazetteer.from_store(store)
    members = str(axis["members"]).split("→")
    nodes = axes.nodes.set_index(axes.nodes["name"].astype(str))
    node_rows = []
    for name in members:
        n = nodes.loc[name] if name in nodes.index else None
        node_rows.append({
            "name": name, "tier": None if n is None else n["tier"],
            "tier_zh": None if n is None else TIER_ZH.get(n["tier"], n["tier"]),
            "category": None if n is None or not n["category"] else n["category"],
            "position_source": None if n is None else n["position_source"],
            "source": None if n is None else n["source"]})
    body = {
        "scenario": axes.label,
        "axis": {"axis_id": axis_id, "name": axis["name"], "rank": axis["rank"],
                 "rank_zh": RANK_ZH.get(axis["rank"], axis["rank"]), "type": axis["type"],
                 "type_zh": AXIS_TYPE_ZH.get(axis["type"], axis["type"]),
                 "county_code": axis["county_code"],
                 "county_name": gaz.counties["name"].get(axis["county_code"], ""),
                 "length_km": float(axis["length_km"]), "schematic": bool(axis["schematic"]),
                 "members": members},
        "nodes": node_rows,
        "positioning": _positioning(store, axes.label, axis_id),
        "domain": _domain_stats(axes, axis_id, gaz),
        "thresholds": thresholds.as_dict(),
        "labels": {"zh": "演示/算法生成：轴线、轴域、项目落位与预警由程序生成",
                   "en": "demo/algorithmic: axes, domains, placement and warnings are generated"}
        if bool(axis["schematic"]) else
        {"zh": "项目落位与预警为算法生成", "en": "placement and warnings are algorithmic"},
    }
    body.update(_projects(store, axes.label, axis_id, thresholds))
    return body


def _positioning(store: Store, scenario: str, axis_id: str) -> dict:
    if PLANS_LAYER in {layer.id for layer in store.layers()}:
        plans = store.frame(PLANS_LAYER)
        hit = plans[plans["plan_key"] == f"{scenario}|{axis_id}"]
        if len(hit):
            r = hit.iloc[0]
            return {"positioning": r["positioning"] or None,
                    "industry_layout": r["industry_layout"] or None,
                    "source": r["source"] or "方案表 plan table"}
    return {"positioning": None, "industry_layout": None,
            "source": None, "note": "未导入方案表（POST /axes/plans：轴线编号, 定位, 产业布局）"
                                    " No plan table imported for this axis."}


def _domain_stats(axes: AxesScenario, axis_id: str, gaz: Gazetteer) -> dict:
    dom = axes.domains[axes.domains["axis_id"].astype(str) == axis_id]
    if dom.empty:
        return {"area_km2": None, "note": "无轴域 no domain"}
    geom = shapely.union_all(dom.geometry.to_numpy())
    code = str(dom["county_code"].iloc[0])
    county_area = float(measure.area_km2([gaz.counties.at[code, "geometry"]],
                                         HUZHOU_ZONE_EPSG)[0]) if code in gaz.counties.index \
        else None
    area = float(measure.area_km2([geom], HUZHOU_ZONE_EPSG)[0])
    towns = gaz.townships
    seated = towns[[g is not None and not getattr(g, "is_empty", True) for g in towns["geometry"]]]
    inside = seated[[geom.covers(g) for g in seated["geometry"]]]
    villages = gaz.villages[gaz.villages["township_code"].isin(inside.index)]
    return {
        "area_km2": round(area, 3), "buffer_km": float(dom["buffer_km"].iloc[0]),
        "county_area_km2": None if county_area is None else round(county_area, 3),
        "area_share_pct": None if not county_area else round(area / county_area * 100, 2),
        "townships_inside": [{"code": c, "name": n} for c, n in inside["name"].items()],
        "villages_inside_by_township_seat": len(villages),
        "method": "EPSG:4549 areas; townships by their GeoNames seat point; villages counted "
                  "at their township's seat (villages have no open positions)",
    }


def _projects(store: Store, scenario: str, axis_id: str, thresholds: Thresholds) -> dict:
    rows = snapshot_rows(store, thresholds, scenario)
    if not len(rows):
        empty = {"red": 0, "yellow": 0, "green": 0, "total": 0}
        return {"projects": [], "status_counts": empty, "investment_wan": {"total": 0,
                "invested": 0}, "warnings": [], "curve": [], "curve_rule": CURVE_RULE}
    latest = as_of_rows(rows)
    mine = latest[latest["axis_label"] == axis_id].sort_values("name")
    n = mine["status"].value_counts()
    curves = group_curves(rows, "axis_label").get(axis_id, [])
    projects = [{k: (None if isinstance(v, float) and pd.isna(v) else
                     bool(v) if k == "overdue" else v) for k, v in r.items()}
                for r in mine[PROJECT_FIELDS].to_dict("records")]
    return {
        "projects": projects,
        "status_counts": {s: int(n.get(s, 0)) for s in ("red", "yellow", "green")}
        | {"total": len(mine)},
        "investment_wan": {"total": round(float(mine["total_investment_wan"].sum()), 3),
                           "invested": round(float(mine["invested_wan"].fillna(0).sum()), 3)},
        "warnings": warning_list(mine), "curve": curves, "curve_rule": CURVE_RULE,
    }
