"""Tile math for vector tiles: the WebMercatorQuad grid (morecantile), tile bounds, tolerances
and coverage-safe (topology-preserving) simplification per zoom.

Geometries handled here are in Web Mercator metres (EPSG:3857): tiles are cut in that CRS, and
it is only used for display, never for measuring (areas stay in EPSG:4549, geo/measure.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import morecantile
import numpy as np
import shapely

from geo.errors import InvalidParameter

TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096  # MVT tile units per tile side
DEFAULT_BUFFER = 64  # tile units drawn beyond each edge so strokes do not end at tile seams
MAX_BUFFER = 1024
MAX_ZOOM = 24
# Above this zoom the stored geometry is served unsimplified (a tile unit is < 2.4 m;
# the China county pyramid costs ~17 s once per layer version, so finer levels are not worth it).
MAX_SIMPLIFY_ZOOM = 12
# Tolerance in tile units: 8 units = half a pixel of a 256-px tile, so simplification is not seen.
TOLERANCE_UNITS = 8.0
MERCATOR_LAT = 85.0511287798066  # latitudes past this have no Web Mercator tile
WORLD_M = 2 * math.pi * 6378137.0  # width of the Web Mercator world, metres


def check_tile(z: int, x: int, y: int) -> None:
    """Raise InvalidParameter (400) unless z/x/y is a tile of WebMercatorQuad."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidParameter(
            f"缩放级别 z={z} 超出范围 0–{MAX_ZOOM}。",
            f"Zoom z={z} is outside 0–{MAX_ZOOM}.", z=z)
    last = 2**z - 1
    if not (0 <= x <= last and 0 <= y <= last):
        raise InvalidParameter(
            f"瓦片坐标 x={x}, y={y} 超出缩放级别 {z} 的范围 0–{last}。",
            f"Tile x={x}, y={y} is outside 0–{last} at zoom {z}.", z=z, x=x, y=y)


def check_buffer(buffer: int) -> None:
    if not 0 <= buffer <= MAX_BUFFER:
        raise InvalidParameter(
            f"缓冲区 buffer={buffer} 须在 0–{MAX_BUFFER} 个瓦片单位之间。",
            f"buffer={buffer} must be within 0–{MAX_BUFFER} tile units.", buffer=buffer)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of a tile in Web Mercator metres."""
    b = TMS.xy_bounds(morecantile.Tile(x, y, z))
    return b.left, b.bottom, b.right, b.top


def unit_m(z: int) -> float:
    """Size of one MVT tile unit (of 4096) at zoom z, in Web Mercator metres."""
    return WORLD_M / 2**z / EXTENT


def tolerance_m(z: int) -> float:
    """Simplification tolerance at zoom z, in Web Mercator metres."""
    return unit_m(z) * TOLERANCE_UNITS


def to_mercator(geometries: np.ndarray) -> np.ndarray:
    """WGS84 lon/lat geometries to Web Mercator, cut at ±85.05° where Mercator ends."""
    import pyproj

    inside = shapely.clip_by_rect(geometries, -180.0, -MERCATOR_LAT, 180.0, MERCATOR_LAT)
    points = shapely.get_type_id(geometries) == shapely.GeometryType.POINT
    inside = np.where(points, geometries, inside)  # clip_by_rect turns points into collections
    project = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform
    return shapely.transform(inside, lambda xy: np.column_stack(project(xy[:, 0], xy[:, 1])))


def simplify_levels(geometries: np.ndarray, kind: str, max_zoom: int = MAX_SIMPLIFY_ZOOM,
                    tolerance: Callable[[int], float] = tolerance_m) -> dict[int, np.ndarray]:
    """Simplified geometries for every zoom 0..max_zoom (in and out in the CRS `tolerance`
    measures: Web Mercator metres by default, degrees for geographic grids, geo/grids.py).

    Polygons are one coverage (`shapely.coverage_simplify`): an edge shared by two polygons is
    simplified once, so neighbours keep sharing their border and no gaps or overlaps appear.
    Each zoom is simplified from the next finer one, which keeps the coverage and makes the
    whole pyramid cost about one pass over the source. Polygons that overlap (no coverage),
    and lines, use topology-preserving Douglas–Peucker per geometry; points are kept.
    """
    levels: dict[int, np.ndarray] = {}
    current = geometries
    present = ~(shapely.is_missing(current) | shapely.is_empty(current))
    if kind == "polygon" and not _is_coverage(current[present]):
        kind = "line"  # overlapping polygons (e.g. buffers) are no coverage: simplify each alone
    for z in range(max_zoom, -1, -1):
        if kind == "polygon":
            present = ~(shapely.is_missing(current) | shapely.is_empty(current))
            simplified = current.copy()
            simplified[present] = shapely.coverage_simplify(current[present], tolerance(z))
            current = simplified
        elif kind == "line":
            current = shapely.simplify(current, tolerance(z), preserve_topology=True)
        levels[z] = current
    return levels


def _is_coverage(polygons: np.ndarray) -> bool:
    """Whether the polygons tile without overlaps (gaps allowed), as coverage_simplify needs."""
    try:
        return bool(shapely.coverage_is_valid(polygons))
    except shapely.errors.GEOSException:  # invalid polygons (e.g. self-intersecting uploads)
        return False


def geometry_kind(geometry_type: str) -> str:
    """'polygon', 'line' or 'point' for a layer's geometry type name."""
    name = geometry_type.removeprefix("Multi").lower()
    return {"polygon": "polygon", "linestring": "line", "point": "point"}.get(name, "mixed")


def to_tile_coordinates(geometries: np.ndarray, bounds: tuple[float, float, float, float],
                        extent: int = EXTENT) -> np.ndarray:
    """Mercator geometries to integer tile units (origin top-left, y down), oriented.

    Each vertex is rounded on its own, so a vertex shared by two polygons lands on the same
    grid point in both and shared borders stay shared in the tile. (GEOS `set_precision` would
    also repair rare rounding artefacts but costs ~30× more; renderers tolerate them.)
    Polygons are oriented exterior-clockwise on screen, as the MVT spec asks.
    """
    minx, miny, maxx, maxy = bounds
    sx, sy = extent / (maxx - minx), extent / (maxy - miny)

    def scale(xy: np.ndarray) -> np.ndarray:
        return np.rint(np.column_stack(((xy[:, 0] - minx) * sx, (maxy - xy[:, 1]) * sy)))

    # In y-down tile space a screen-clockwise ring has positive (counter-clockwise) shoelace area.
    return shapely.orient_polygons(shapely.transform(geometries, scale), exterior_cw=False)


def tiles_covering(bounds: tuple[float, float, float, float],
                   zooms: Iterable[int]) -> Iterator[morecantile.Tile]:
    """Tiles of the given zooms that intersect a WGS84 (west, south, east, north) box."""
    west, south, east, north = bounds
    south, north = max(south, -MERCATOR_LAT), min(north, MERCATOR_LAT)
    yield from TMS.tiles(west, south, east, north, list(zooms))
