"""WGS84 ↔ the EPSG:4549 plane (CGCS2000 3° Gauss-Kruger, CM 120°E; metres, x east), where
axes are ordered, buffered and rasterised.

Every geometry goes to Huzhou's zone, whatever its centroid: the axes of one plan must share
one plane. Areas and lengths themselves come from `geo.measure`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely

from geo.crs import from_wgs84, resolve_crs, to_wgs84
from geo.measure import HUZHOU_ZONE_EPSG
from layers.settlement_nodes import Node

_GK = resolve_crs(f"EPSG:{HUZHOU_ZONE_EPSG}")


def to_plane(geoms: Iterable[shapely.Geometry] | np.ndarray) -> np.ndarray:
    """WGS84 geometries on the EPSG:4549 plane (metres, x east)."""
    return from_wgs84(np.asarray(geoms, dtype=object), _GK, False)


def from_plane(geoms: Iterable[shapely.Geometry] | np.ndarray) -> np.ndarray:
    """EPSG:4549 geometries (metres, x east) back to WGS84 lon/lat."""
    return to_wgs84(np.asarray(geoms, dtype=object), _GK, False)


def plane_distance_m(a: Node, b: Node) -> float:
    """Straight-line distance in metres between two placed nodes on EPSG:4549."""
    pa, pb = to_plane([a.point, b.point])
    return float(shapely.distance(pa, pb))


def polygon_parts(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygonal parts of `geom` as one MultiPolygon: clipping a buffer can leave stray
    lines or points, which a polygon layer cannot hold."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    parts += [q for p in shapely.get_parts(geom) if p.geom_type == "MultiPolygon"
              for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(parts)
