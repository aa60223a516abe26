"""Tests for geo.gcj02 (WGS84 <-> GCJ-02)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon

from geo.gcj02 import (
    gcj02_to_wgs84,
    transform_geometry_gcj02_to_wgs84,
    transform_geometry_wgs84_to_gcj02,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def distance_m(lon1, lat1, lon2, lat2):
    """Geodesic distance in metres (works on scalars and arrays)."""
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


# Published WGS84 -> GCJ-02 vectors, as (wgs_lon, wgs_lat, gcj_lon, gcj_lat, tol_deg).
# tol_deg reflects the digits published and how exactly the source matches the
# reference algorithm.
PUBLISHED_FORWARD = [
    # googollee/eviltransform, python/test.py (same numbers in go/transform_test.go),
    # full double precision; our implementation reproduces them bit for bit.
    pytest.param(121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, 1e-9, id="eviltransform-shanghai"),
    pytest.param(113.912316, 22.543847, 113.9171764808363, 22.540796131694766, 1e-9, id="eviltransform-shenzhen"),
    pytest.param(116.377817, 39.911954, 116.38404722455657, 39.91334545536069, 1e-9, id="eviltransform-beijing"),
    # wandergis/coordtransform, README.md: wgs84togcj02(116.404, 39.915); also bit for bit.
    pytest.param(116.404, 39.915, 116.41024449916938, 39.91640428150164, 1e-9, id="coordtransform-beijing"),
    # hujiulong/gcoord, test/unit/crs/WGS84.spec.js ("WGS84 to GCJ02", [123, 45]); 8 decimals.
    pytest.param(123.0, 45.0, 123.00607541, 45.00197815, 1e-7, id="gcoord-123-45"),
    # Glatzel/pyxis, python/tests/test_crypto.py (point near Pinghu/Jinshan, ~80 km east
    # of Huzhou).  Their value differs from eviltransform-style output by ~8e-8 deg
    # (~7 mm) in longitude, so only a 1e-6 deg tolerance is justified here.
    pytest.param(121.0917077, 30.6107779, 121.09626935575027, 30.608604331756705, 1e-6, id="pyxis-jiaxing"),
]


@pytest.mark.parametrize(("wgs_lon", "wgs_lat", "gcj_lon", "gcj_lat", "tol_deg"), PUBLISHED_FORWARD)
def test_forward_matches_published_vectors(wgs_lon, wgs_lat, gcj_lon, gcj_lat, tol_deg):
    lon, lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert lon == pytest.approx(gcj_lon, abs=tol_deg)
    assert lat == pytest.approx(gcj_lat, abs=tol_deg)


@pytest.mark.parametrize(("wgs_lon", "wgs_lat", "gcj_lon", "gcj_lat", "tol_deg"), PUBLISHED_FORWARD)
def test_inverse_recovers_published_wgs84(wgs_lon, wgs_lat, gcj_lon, gcj_lat, tol_deg):
    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    # eviltransform's own "exact" inverse promises < 0.5 m on these same vectors.
    assert distance_m(lon, lat, wgs_lon, wgs_lat) < 0.5


def test_inverse_matches_gcoord_published_gcj_to_wgs():
    # hujiulong/gcoord, test/unit/crs/GCJ02.spec.js ("GCJ02 to WGS84"):
    # [123, 45] -> [122.99395597, 44.99804071], checked there to 5 decimals.
    # Our iterative result is ~1.3 cm from their printed value.
    lon, lat = gcj02_to_wgs84(123.0, 45.0)
    assert lon == pytest.approx(122.99395597, abs=1e-5)
    assert lat == pytest.approx(44.99804071, abs=1e-5)
    assert distance_m(lon, lat, 122.99395597, 44.99804071) < 0.5


def test_inverse_is_exact_not_one_step():
    # wandergis/coordtransform README publishes gcj02towgs84(116.404, 39.915) =
    # (116.39775550083061, 39.91359571849836), the one-step "subtract the offset"
    # approximation.  Feeding that back through the forward transform misses the
    # GCJ point by ~6 cm; the iterative inverse must hit it to well under 1 mm.
    naive = (116.39775550083061, 39.91359571849836)
    assert distance_m(*wgs84_to_gcj02(*naive), 116.404, 39.915) > 0.01

    lon, lat = gcj02_to_wgs84(116.404, 39.915)
    back_lon, back_lat = wgs84_to_gcj02(lon, lat)
    assert distance_m(back_lon, back_lat, 116.404, 39.915) < 1e-3


def _grid(lon_min, lon_max, lat_min, lat_max, n_lon, n_lat):
    lon, lat = np.meshgrid(np.linspace(lon_min, lon_max, n_lon), np.linspace(lat_min, lat_max, n_lat))
    return lon, lat


def test_round_trip_over_huzhou_grid():
    # 141 x 91 grid at 0.01 deg (~1 km) spacing over Huzhou.
    # Measured max round-trip error: 1.5e-7 m (0.15 micrometre).
    lon, lat = _grid(119.2, 120.6, 30.3, 31.2, 141, 91)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert back_lon.shape == lon.shape
    assert np.max(distance_m(lon, lat, back_lon, back_lat)) < 0.01


def test_round_trip_elsewhere_in_china():
    # Coarse grid over most of China plus a few named places.
    # Measured max round-trip error on the grid: 1.6e-6 m.
    lon, lat = _grid(73.0, 135.0, 18.0, 53.0, 63, 36)
    extra_lon = np.array([126.6, 87.6, 91.1, 110.3, 121.5, 113.3])  # Harbin, Urumqi, Lhasa, Sanya, Shanghai, Guangzhou
    extra_lat = np.array([45.8, 43.8, 29.6, 18.25, 31.2, 23.1])
    lon = np.concatenate([lon.ravel(), extra_lon])
    lat = np.concatenate([lat.ravel(), extra_lat])
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.max(distance_m(lon, lat, back_lon, back_lat)) < 0.01


def test_round_trip_near_bounding_box_edges():
    # Points just inside the box may be shifted outside it (and vice versa);
    # the inverse must still undo the forward transform.
    lon = np.array([72.0045, 137.834, 100.0, 100.0, 72.0, 137.9, 100.0, 100.0])
    lat = np.array([30.0, 30.0, 0.8294, 55.827, 30.0, 30.0, 0.82, 55.83])
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.max(distance_m(lon, lat, back_lon, back_lat)) < 0.01


def test_offset_in_huzhou_is_a_few_hundred_metres():
    lon, lat = _grid(119.2, 120.6, 30.3, 31.2, 15, 10)
    offset = distance_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    # Measured: ~467 m .. ~568 m.
    assert np.all(offset > 100.0)
    assert np.all(offset < 1000.0)
    # ... and GCJ-02 is shifted east (and, here, slightly south) of WGS84.
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    assert np.all(gcj_lon > lon)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        pytest.param(183.0, 45.0, id="gcoord-not-in-china"),  # hujiulong/gcoord WGS84.spec.js / GCJ02.spec.js
        pytest.param(-0.1276, 51.5072, id="london"),
        pytest.param(-74.006, 40.7128, id="new-york"),
        pytest.param(139.6917, 35.6895, id="tokyo"),  # east of 137.8347
        pytest.param(151.2093, -33.8688, id="sydney"),
        pytest.param(103.8198, 0.5, id="south-of-box"),
        pytest.param(100.0, 60.0, id="north-of-box"),
    ],
)
def test_outside_china_unchanged(lon, lat):
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_scalars_give_floats_and_arrays_keep_shape():
    lon, lat = wgs84_to_gcj02(120.1, 30.9)
    assert isinstance(lon, float) and isinstance(lat, float)
    lon, lat = gcj02_to_wgs84(120.1, 30.9)
    assert isinstance(lon, float) and isinstance(lat, float)

    lons = np.array([[120.1, -0.1276], [119.5, 120.5]])
    lats = np.array([[30.9, 51.5072], [30.5, 31.1]])
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = fn(lons, lats)
        assert out_lon.shape == out_lat.shape == (2, 2)
        # Elementwise equal to the scalar results (the inverse may run an extra
        # iteration for the whole array, hence not bit-identical); the outside
        # point is untouched.
        for idx in np.ndindex(lons.shape):
            assert (out_lon[idx], out_lat[idx]) == pytest.approx(fn(lons[idx], lats[idx]), abs=1e-10)
        assert (out_lon[0, 1], out_lat[0, 1]) == (-0.1276, 51.5072)


def test_nan_passes_through_without_breaking_other_points():
    lon, lat = gcj02_to_wgs84(np.array([np.nan, 120.1]), np.array([np.nan, 30.9]))
    assert np.isnan(lon[0]) and np.isnan(lat[0])
    assert distance_m(*wgs84_to_gcj02(lon[1], lat[1]), 120.1, 30.9) < 1e-3


HUZHOU_POLYGON = Polygon(
    [(120.05, 30.85), (120.15, 30.85), (120.15, 30.92), (120.05, 30.92), (120.05, 30.85)],
    holes=[[(120.08, 30.87), (120.10, 30.87), (120.10, 30.89), (120.08, 30.87)]],
)


def test_polygon_round_trip():
    gcj = transform_geometry_wgs84_to_gcj02(HUZHOU_POLYGON)
    assert isinstance(gcj, Polygon)
    assert len(gcj.interiors) == 1
    # Really moved: every vertex by a few hundred metres.
    wgs_xy = shapely.get_coordinates(HUZHOU_POLYGON)
    gcj_xy = shapely.get_coordinates(gcj)
    moved = distance_m(wgs_xy[:, 0], wgs_xy[:, 1], gcj_xy[:, 0], gcj_xy[:, 1])
    assert np.all((moved > 100.0) & (moved < 1000.0))
    # Vertex-wise identical to the point functions.
    np.testing.assert_array_equal(gcj_xy, np.column_stack(wgs84_to_gcj02(wgs_xy[:, 0], wgs_xy[:, 1])))

    back = transform_geometry_gcj02_to_wgs84(gcj)
    back_xy = shapely.get_coordinates(back)
    assert np.max(distance_m(wgs_xy[:, 0], wgs_xy[:, 1], back_xy[:, 0], back_xy[:, 1])) < 0.01
    assert back.equals_exact(HUZHOU_POLYGON, tolerance=1e-9)


def test_geometry_arrays_are_vectorised():
    geoms = np.array(
        [
            Point(120.1, 30.9),
            LineString([(119.3, 30.4), (120.5, 31.1)]),
            HUZHOU_POLYGON,
            Point(-0.1276, 51.5072),  # outside China: unchanged
            None,
        ],
        dtype=object,
    )
    gcj = transform_geometry_wgs84_to_gcj02(geoms)
    assert isinstance(gcj, np.ndarray) and gcj.shape == geoms.shape
    assert gcj[4] is None
    for original, converted in zip(geoms[:4], gcj[:4]):
        assert converted.geom_type == original.geom_type
        assert converted.equals_exact(transform_geometry_wgs84_to_gcj02(original), tolerance=0)
    assert gcj[3].equals_exact(geoms[3], tolerance=0)
    assert not gcj[0].equals_exact(geoms[0], tolerance=1e-4)

    back = transform_geometry_gcj02_to_wgs84(gcj)
    for original, restored in zip(geoms[:4], back[:4]):
        assert restored.equals_exact(original, tolerance=1e-9)


def test_geometry_z_is_preserved():
    gcj = transform_geometry_wgs84_to_gcj02(Point(120.1, 30.9, 12.5))
    assert gcj.has_z and gcj.z == 12.5
    assert (gcj.x, gcj.y) == wgs84_to_gcj02(120.1, 30.9)
    flat = transform_geometry_wgs84_to_gcj02(Point(120.1, 30.9))
    assert not flat.has_z
