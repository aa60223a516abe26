"""An axis plan's parts as GeoDataFrames (WGS84), one row per node, axis, domain or cluster:
the columns the store layers and the API's GeoJSON carry (lengths km and areas km² measured
on EPSG:4549).
"""

from __future__ import annotations

import geopandas as gpd

from layers.axes.model import AXIS_TYPE_ZH, RANK_ZH, Axis, AxisDomain, Cluster
from layers.settlement_nodes import TIER_ZH, Node


def node_frame(nodes: list[Node], county_names: dict[str, str]) -> gpd.GeoDataFrame:
    """Nodes, placed or not (unplaced: no geometry), with tier and county names in Chinese."""
    return gpd.GeoDataFrame({
        "name": [n.name for n in nodes],
        "tier": [n.tier for n in nodes],
        "tier_zh": [TIER_ZH[n.tier] for n in nodes],
        "county_code": [n.county_code for n in nodes],
        "county_name": [county_names.get(n.county_code, "") for n in nodes],
        "township_code": [n.township_code or "" for n in nodes],
        "code": [n.code or "" for n in nodes],
        "placed": [n.placed for n in nodes],
        "position_source": [n.position_source or "unplaced" for n in nodes],
        "category": [n.category or "" for n in nodes],
        "population": [n.population for n in nodes],
        "hub": [n.hub or "" for n in nodes],
        "source": [n.source for n in nodes],
        "note": [n.note for n in nodes],
    }, geometry=gpd.GeoSeries([n.point for n in nodes], crs=4326))


def axis_frame(axes: list[Axis]) -> gpd.GeoDataFrame:
    """Axes as lines; `members` joined with →, `length_km` on EPSG:4549."""
    return gpd.GeoDataFrame({
        "axis_id": [a.axis_id for a in axes], "name": [a.name for a in axes],
        "rank": [a.rank for a in axes], "rank_zh": [RANK_ZH[a.rank] for a in axes],
        "type": [a.type for a in axes], "type_zh": [AXIS_TYPE_ZH[a.type] for a in axes],
        "county_code": [a.county_code for a in axes],
        "members": ["→".join(a.members) for a in axes],
        "length_km": [a.length_km for a in axes],
        "schematic": [a.schematic for a in axes],
        "status": ["示意 schematic" if a.schematic else "规划 planner-defined" for a in axes],
        "rule": [a.rule for a in axes],
    }, geometry=gpd.GeoSeries([a.line for a in axes], crs=4326))


def domain_frame(domains: list[AxisDomain], axes: list[Axis]) -> gpd.GeoDataFrame:
    """Axis domains as polygons; `area_km2` on EPSG:4549, `schematic` from their axis."""
    schematic = {a.axis_id: a.schematic for a in axes}
    return gpd.GeoDataFrame({
        "axis_id": [d.axis_id for d in domains], "rank": [d.rank for d in domains],
        "county_code": [d.county_code for d in domains],
        "buffer_km": [d.buffer_km for d in domains], "area_km2": [d.area_km2 for d in domains],
        "schematic": [schematic[d.axis_id] for d in domains],
    }, geometry=gpd.GeoSeries([d.geometry for d in domains], crs=4326))


def cluster_area_frame(clusters: list[Cluster]) -> gpd.GeoDataFrame:
    """Clusters whose table gave polygons: the union of the hub's and members' areas."""
    with_area = [c for c in clusters if c.area is not None]
    return gpd.GeoDataFrame({
        "hub": [c.hub for c in with_area], "county_code": [c.county_code for c in with_area],
        "members": ["、".join(c.members) for c in with_area],
        "area_km2": [c.area_km2 for c in with_area],
        "geometry_kind": ["member_areas" for _ in with_area],
    }, geometry=gpd.GeoSeries([c.area for c in with_area], crs=4326))


def cluster_frame(clusters: list[Cluster]) -> gpd.GeoDataFrame:
    """Clusters as spider lines from the hub to each placed member."""
    return gpd.GeoDataFrame({
        "hub": [c.hub for c in clusters], "county_code": [c.county_code for c in clusters],
        "members": ["、".join(c.members) for c in clusters],
        "unplaced_members": ["、".join(c.unplaced_members) for c in clusters],
        "geometry_kind": ["spider_lines" for _ in clusters],
    }, geometry=gpd.GeoSeries([c.geometry for c in clusters], crs=4326))
