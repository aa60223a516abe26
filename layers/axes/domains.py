"""Axis domains (轴域) and village clusters (片区组团), WGS84 in and out.

A domain is its axis buffered on the EPSG:4549 plane by its rank's width (km each side) and
clipped to the axis's counties; its area is km² on the same plane. A cluster is spider lines
from a key village to its member villages, plus the union of their own polygons if given.
"""

from __future__ import annotations

import geopandas as gpd
import shapely

from geo import measure
from geo.measure import HUZHOU_ZONE_EPSG
from layers.axes.model import Axis, AxisDomain, Cluster
from layers.axes.plane import from_plane, polygon_parts, to_plane
from layers.settlement_nodes import Node, Problem


def axis_domains(axes: list[Axis], nodes: list[Node], counties: gpd.GeoDataFrame,
                 buffer_km: dict[str, float]) -> list[AxisDomain]:
    """Buffer each axis on the EPSG:4549 plane by its rank's distance; clip to its counties."""
    county_of = {n.name: n.county_code for n in nodes}
    domains = []
    for axis in axes:
        codes = sorted({county_of[m] for m in axis.members} & set(counties.index))
        clip = shapely.union_all(counties.loc[codes].geometry.to_numpy())
        line, area = to_plane([axis.line, clip])
        buffered = shapely.buffer(line, buffer_km[axis.rank] * 1000.0, quad_segs=32)
        clipped = shapely.intersection(buffered, shapely.make_valid(area))
        geometry = polygon_parts(from_plane([clipped])[0])
        domains.append(AxisDomain(axis.axis_id, axis.rank, axis.county_code,
                                  buffer_km[axis.rank], geometry,
                                  round(shapely.area(clipped) / 1e6, 3)))
    return domains


def village_clusters(nodes: list[Node], problems: list[Problem] | None = None
                     ) -> list[Cluster]:
    """片区组团 from villages' `hub` column: spider lines from the key village to each member,
    and the union of the hub's and members' own polygons where the table gives them (`wkt`).

    Villages have no open polygons, so without `wkt` a cluster is the hub-and-spoke lines
    between placed points; unplaced members are listed, not drawn.
    """
    by_name = {n.name: n for n in nodes}
    members: dict[str, list[Node]] = {}
    for node in nodes:
        if not node.hub:
            continue
        hub = by_name.get(node.hub)
        if hub is None or hub.tier != "key_village":
            if problems is not None:
                problems.append(Problem("nodes", node.row, "hub", node.hub,
                                        f"“{node.name}”的所属重点村“{node.hub}”不是节点表中的重点村。",
                                        f"'{node.name}': hub '{node.hub}' is not a key village "
                                        "in the node table."))
            continue
        members.setdefault(hub.name, []).append(node)
    clusters = []
    for hub_name, group in sorted(members.items()):
        hub = by_name[hub_name]
        placed = [m for m in group if m.placed]
        lines = [shapely.LineString([hub.point, m.point]) for m in placed
                 if hub.placed and not m.point.equals(hub.point)]
        areas = [n.area for n in (hub, *group) if n.area is not None]
        area = polygon_parts(shapely.union_all(areas)) if areas else None
        area_km2 = round(float(measure.area_km2([area], HUZHOU_ZONE_EPSG)[0]), 3) \
            if area else None
        clusters.append(Cluster(hub_name, hub.county_code, tuple(m.name for m in group),
                                tuple(m.name for m in group if not m.placed),
                                shapely.MultiLineString(lines) if lines else None, area,
                                area_km2))
    return clusters
