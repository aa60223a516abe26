"""The vectorised overlay (geo/pieces.py, layers/overlay.py) gives the figures of the plain
computation — union every parcel, intersect the union (and each parcel) with every zone —
on a small synthetic set (算法生成) that has every awkward case: parcels across county and
the city edge, overlapping parcels, a parcel inside another, parcels sharing an edge,
and a parcel without geometry."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.measure import HUZHOU_ZONE_EPSG, area_km2
from geo.pieces import disjoint_pieces, pair_areas
from layers.model import Layer, Provenance
from layers.overlay import overlay

GENERATED = Provenance(source="算法生成 test fixture", license="none", crs_of_origin="EPSG:4326",
                       illustrative=True)
LAYER = Layer("layer_1", "算法生成地块", "Generated parcels", "Polygon", "gf_id", GENERATED)


def synthetic_parcels(store) -> gpd.GeoDataFrame:
    """~400 squares on a grid over the Anji–Deqing–Wuxing area, some overlapping."""
    counties = store.frame("counties")
    west, south, east, north = shapely.union_all(counties.geometry.to_numpy()).bounds
    rng = np.random.default_rng(3)
    xs = rng.uniform(west, east, 360)
    ys = rng.uniform(south, north, 360)
    size = 0.004
    geoms = list(shapely.box(xs, ys, xs + size, ys + size))
    geoms += [shapely.box(x + size / 2, y + size / 3, x + 1.5 * size, y + size)  # overlaps
              for x, y in zip(xs[:30], ys[:30])]
    geoms += [shapely.box(x + size / 4, y + size / 4, x + size / 2, y + size / 2)  # inside
              for x, y in zip(xs[30:40], ys[30:40])]
    geoms += [shapely.box(x + size, y, x + 2 * size, y + size)  # shares an edge
              for x, y in zip(xs[40:50], ys[40:50])]
    geoms.append(None)
    return gpd.GeoDataFrame({"gf_id": [f"p{i}" for i in range(len(geoms))]},
                            geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def reference(frame: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> tuple[float, dict, dict]:
    """Plain computation: total of the union, the union in each zone, each parcel in each."""
    geoms = frame.geometry.dropna().to_numpy()
    union = shapely.union_all(geoms)
    total = float(area_km2(np.array([union]), HUZHOU_ZONE_EPSG)[0])
    per_zone, per_pair = {}, {}
    for code, zone in zones.geometry.items():
        a = float(area_km2(np.array([shapely.intersection(union, zone)]), HUZHOU_ZONE_EPSG)[0])
        if a > 0:
            per_zone[str(code)] = a
        for fid, parcel in frame.geometry.dropna().items():
            b = float(area_km2(np.array([shapely.intersection(parcel, zone)]),
                               HUZHOU_ZONE_EPSG)[0])
            if b > 0:
                per_pair[(frame.loc[fid, "gf_id"], str(code))] = b
    return total, per_zone, per_pair


def test_overlay_matches_the_plain_computation(store) -> None:
    frame = synthetic_parcels(store)
    result = overlay(store, [(LAYER, frame)], by_feature=10_000,
                     zone_ids=["counties", "cities"])
    (entry,) = result["layers"]
    for zone_id in ("counties", "cities"):
        total, per_zone, per_pair = reference(frame, store.frame(zone_id))
        assert entry["total"]["area_km2"] == pytest.approx(total, abs=2e-6)
        got = {r["code"]: r["area_km2"] for r in entry["zones"][zone_id]}
        assert got.keys() == per_zone.keys()
        for code, km2 in per_zone.items():
            assert got[code] == pytest.approx(km2, abs=2e-6)
        rows = entry["features"][zone_id]["rows"]
        pairs = {(r["feature"], r["code"]): r["area_km2"] for r in rows}
        assert pairs.keys() == per_pair.keys()
        for key, km2 in per_pair.items():
            assert pairs[key] == pytest.approx(km2, abs=2e-6)
        assert len(per_pair) > 50  # the set really crosses zones
    # parcels straddle county edges: some parcel appears in two counties
    features = [r["feature"] for r in entry["features"]["counties"]["rows"]]
    assert len(features) > len(set(features))


def test_disjoint_pieces_dissolve_only_what_overlaps() -> None:
    a, b = shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)  # overlap
    c = shapely.box(3, 0, 4, 1)  # touches b at a corner only: kept as it is
    d = shapely.box(10, 10, 11, 11)
    e = shapely.box(10.2, 10.2, 10.5, 10.5)  # inside d
    geoms = np.array([a, b, c, d, e, None], dtype=object)
    pieces = disjoint_pieces(geoms)
    assert len(pieces) == 3
    assert shapely.area(pieces).sum() == pytest.approx(shapely.union_all(geoms).area)
    assert any(shapely.equals(p, c) for p in pieces)
    lone = np.array([a, c, d], dtype=object)
    assert disjoint_pieces(lone) is lone  # nothing overlaps: the caller's array comes back


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Geometry:
    """A box in hundredths of a degree from (119.9 E, 30.8 N), inside Huzhou."""
    return shapely.box(119.9 + x0 / 100, 30.8 + y0 / 100, 119.9 + x1 / 100, 30.8 + y1 / 100)


def test_pair_areas_leave_out_touching_pairs() -> None:
    zones = np.array([_box(0, 0, 1, 1), _box(1, 0, 2, 1)], dtype=object)
    geoms = np.array([_box(0.1, 0.1, 0.2, 0.2),   # strictly inside zone 0
                      _box(0.9, 0.1, 1.1, 0.2),   # across the shared edge
                      _box(1.5, 0.5, 2.0, 1.0)],  # inside zone 1, touching its edge
                     dtype=object)
    pairs = pair_areas(geoms, zones, HUZHOU_ZONE_EPSG)
    got = sorted(zip(pairs.geom.tolist(), pairs.zone.tolist()))
    assert got == [(0, 0), (1, 0), (1, 1), (2, 1)]
    assert pairs.per_zone(2).sum() == pytest.approx(area_km2(geoms, HUZHOU_ZONE_EPSG).sum())


def test_raster_totals_match_the_union(store, tmp_path) -> None:
    """Zonal totals over the pieces (one multipolygon, parts touching) equal the union's."""
    from geo.raster import RasterCatalog, zonal_stats
    from layers.ecology import build_demo_raster
    from layers.overlay import RasterSource

    catalog = RasterCatalog(tmp_path)
    meta = build_demo_raster(store, catalog)
    frame = synthetic_parcels(store)
    result = overlay(store, [(LAYER, frame)], [RasterSource(meta, catalog.path(meta.id))],
                     zone_ids=["counties"])
    (raster,) = result["layers"][0]["rasters"]
    (union,) = zonal_stats(np.array([shapely.union_all(frame.geometry.dropna().to_numpy())]),
                           catalog.path(meta.id))
    assert union.covered_ha > 10  # the set really meets the raster
    assert raster["covered_ha"] == pytest.approx(union.covered_ha, rel=1e-6)
    assert raster["total"] == pytest.approx(union.total, rel=1e-6)
    assert raster["mean"] == pytest.approx(union.mean, rel=1e-6)
