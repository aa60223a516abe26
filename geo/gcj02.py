"""GCJ-02 <-> WGS84 coordinate conversion.

Amap (高德), Tencent and most other mainland-China web maps publish their
data in GCJ-02, the "Mars coordinates" required by Chinese regulation: WGS84
longitude/latitude shifted by a deliberately obscure, non-linear offset of a
few hundred metres.  GCJ-02 is not a datum or a projection, so PROJ/pyproj
has no definition for it and cannot convert it; the offset has to be applied
(or removed) in code before Amap data can be overlaid on WGS84 data.

The forward direction (WGS84 -> GCJ-02) is the widely published obfuscation
algorithm: two trigonometric polynomials of the position relative to
(105°E, 35°N) give offsets in metres, which are turned into degrees on the
Krasovsky 1940 ellipsoid.  There is no closed-form inverse, so GCJ-02 ->
WGS84 solves ``forward(wgs) == gcj`` by fixed-point iteration; the offset
changes so slowly with position that it converges to well below a millimetre
in a handful of steps.

Points outside the rough China bounding box used by every implementation of
the algorithm are returned unchanged, as GCJ-02 is defined as WGS84 there.

All functions take longitude first (x, y) in degrees, and accept floats or
numpy arrays (broadcast together; the result has the broadcast shape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import shapely

__all__ = [
    "gcj02_to_wgs84",
    "transform_geometry_gcj02_to_wgs84",
    "transform_geometry_wgs84_to_gcj02",
    "wgs84_to_gcj02",
]

Coord = float | npt.ArrayLike
GeometryOrArray = TypeVar("GeometryOrArray", shapely.Geometry, np.ndarray)

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323

# The coarse "is this in China" box shared by all public implementations.
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271

# Inverse iteration: stop once no coordinate moves by more than this (degrees).
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Boolean mask of points inside the GCJ-02 bounding box (NaN -> False)."""
    return (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS84, in degrees, at WGS84 position (lon, lat); no box test."""
    x = lon - 105.0
    y = lat - 35.0
    # Periodic terms shared by both polynomials, and the per-axis ones.
    common = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    north = (
        (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    )
    east = (
        (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    )
    sqrt_abs_x = np.sqrt(np.abs(x))
    d_north_m = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common + north
    d_east_m = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common + east

    # Metres -> degrees with the meridian / prime-vertical radii of curvature.
    phi = np.radians(lat)
    w2 = 1.0 - _EE * np.sin(phi) ** 2
    meridian_radius = _A * (1.0 - _EE) / (w2 * np.sqrt(w2))
    normal_radius = _A / np.sqrt(w2)
    d_lat = np.degrees(d_north_m / meridian_radius)
    d_lon = np.degrees(d_east_m / (normal_radius * np.cos(phi)))
    return d_lon, d_lat


def _as_arrays(lon: Coord, lat: Coord) -> tuple[np.ndarray, np.ndarray]:
    lon_arr, lat_arr = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon_arr, lat_arr


def _restore_type(lon: np.ndarray, lat: np.ndarray) -> tuple[Coord, Coord]:
    """Plain floats for scalar input, arrays otherwise."""
    if lon.ndim == 0:
        return float(lon), float(lat)
    return lon, lat


def wgs84_to_gcj02(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """Convert WGS84 (lon, lat) degrees to GCJ-02; points outside China are unchanged."""
    lon_arr, lat_arr = _as_arrays(lon, lat)
    d_lon, d_lat = _offset(lon_arr, lat_arr)
    inside = _in_china(lon_arr, lat_arr)
    return _restore_type(
        np.where(inside, lon_arr + d_lon, lon_arr),
        np.where(inside, lat_arr + d_lat, lat_arr),
    )


def gcj02_to_wgs84(lon: Coord, lat: Coord) -> tuple[Coord, Coord]:
    """Convert GCJ-02 (lon, lat) degrees to WGS84 by iteratively inverting the forward offset.

    Solves ``wgs84_to_gcj02(w) == g`` with the fixed-point step
    ``w <- g - offset(w)`` until every coordinate changes by less than 1e-9°.
    Where the solution falls outside the China box the input is returned
    unchanged (GCJ-02 equals WGS84 there).
    """
    gcj_lon, gcj_lat = _as_arrays(lon, lat)
    wgs_lon, wgs_lat = gcj_lon.copy(), gcj_lat.copy()
    for _ in range(_MAX_ITERATIONS):
        d_lon, d_lat = _offset(wgs_lon, wgs_lat)
        next_lon, next_lat = gcj_lon - d_lon, gcj_lat - d_lat
        change = np.maximum(np.abs(next_lon - wgs_lon), np.abs(next_lat - wgs_lat))
        wgs_lon, wgs_lat = next_lon, next_lat
        if not np.any(change > _TOLERANCE_DEG):  # NaN inputs never block convergence
            break
    inside = _in_china(wgs_lon, wgs_lat)
    return _restore_type(
        np.where(inside, wgs_lon, gcj_lon),
        np.where(inside, wgs_lat, gcj_lat),
    )


def _on_xy(
    convert: Callable[[np.ndarray, np.ndarray], tuple[Coord, Coord]],
) -> Callable[[np.ndarray], np.ndarray]:
    """Adapt a (lon, lat) converter to shapely's (N, 2|3) coordinate arrays; z is kept."""

    def apply(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        out[:, 0], out[:, 1] = convert(coords[:, 0], coords[:, 1])
        return out

    return apply


def transform_geometry_wgs84_to_gcj02(geom: GeometryOrArray) -> GeometryOrArray:
    """Convert a shapely geometry (or array of geometries) from WGS84 to GCJ-02.

    Z values, where present, are carried through (``include_z=None`` needs shapely >= 2.1).
    """
    return shapely.transform(geom, _on_xy(wgs84_to_gcj02), include_z=None)


def transform_geometry_gcj02_to_wgs84(geom: GeometryOrArray) -> GeometryOrArray:
    """Convert a shapely geometry (or array of geometries) from GCJ-02 to WGS84."""
    return shapely.transform(geom, _on_xy(gcj02_to_wgs84), include_z=None)
