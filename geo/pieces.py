"""Many polygons against a few zones, in bulk: dissolve only what overlaps, intersect only
what crosses a zone's edge.

Overlaying tens of thousands of parcels on counties the plain way — union them all, then
intersect the union with each zone — spends its time on GEOS work whose answer is known
beforehand: parcels that overlap nothing need no union (the union's area is the sum of
theirs), and a parcel strictly inside a zone needs no intersection (its area there is its own
area). Both are decided here with one STRtree query each (prepared predicates), so only the
overlapping groups are unioned and only the parcels crossing a zone edge are intersected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geo.measure import area_km2


def disjoint_pieces(geoms: np.ndarray) -> np.ndarray:
    """Polygons with pairwise disjoint interiors whose union is the union of `geoms` (WGS84):
    each group of polygons that overlap (interiors meet, directly or through others) is
    unioned into one piece; every other polygon is kept as it is. `geoms` itself comes back
    when nothing overlaps (callers may reuse what they computed for it). Missing and empty
    geometries are dropped."""
    geoms = np.asarray(geoms, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.all():
        geoms = geoms[present]
    grouped, merged = overlap_groups(geoms)
    if not grouped.any():
        return geoms
    return np.concatenate([geoms[~grouped], merged])


def overlap_groups(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of `geoms` (present, WGS84 polygons) overlap another (a mask), and the union of
    each group of overlapping ones (interiors meet, directly or through others)."""
    geoms = np.asarray(geoms, dtype=object)
    grouped = np.zeros(len(geoms), dtype=bool)
    if len(geoms) < 2:
        return grouped, np.array([], dtype=object)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    # "2********": the interiors meet in an area (touching along an edge is not an overlap)
    overlap = shapely.relate_pattern(geoms[left], geoms[right], "2********")
    left, right = left[overlap], right[overlap]
    if not len(left):
        return grouped, np.array([], dtype=object)
    group = _components(len(geoms), left, right)
    grouped[left] = grouped[right] = True
    merged = [shapely.union_all(geoms[group == g]) for g in np.unique(group[grouped])]
    return grouped, np.array(merged, dtype=object)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label of each of `n` nodes joined by the edges (left, right):
    every node takes the smallest label among its neighbours until nothing changes."""
    labels = np.arange(n)
    while True:
        before = labels.copy()
        np.minimum.at(labels, left, labels[right])
        np.minimum.at(labels, right, labels[left])
        labels = labels[labels]  # pointer jumping: follow labels to their own labels
        if np.array_equal(labels, before):
            return labels


@dataclass(frozen=True)
class PairAreas:
    """Every (geometry, zone) pair whose intersection has an area, with that area in km²."""

    geom: np.ndarray  # index into the geometries
    zone: np.ndarray  # index into the zones
    km2: np.ndarray

    def per_zone(self, zones: int) -> np.ndarray:
        """Total km² in each of `zones` zones."""
        return np.bincount(self.zone, weights=self.km2, minlength=zones)


def pair_areas(geoms: np.ndarray, zones: np.ndarray, epsg: int,
               geoms_km2: np.ndarray | None = None) -> PairAreas:
    """Area (km², on the plane `epsg`) of each WGS84 polygon in each zone it meets.

    A polygon strictly inside a zone counts its own area (`geoms_km2` when already known);
    only polygons crossing a zone's edge are intersected, in WGS84 and then measured — the
    same figures as measuring every intersection. Pairs with zero area (touching) are left
    out."""
    geoms = np.asarray(geoms, dtype=object)
    zones = np.asarray(zones, dtype=object)
    tree = shapely.STRtree(geoms)
    zone_i, geom_i = tree.query(zones, predicate="intersects")  # each zone prepared once
    inner_z, inner_g = tree.query(zones, predicate="contains_properly")
    n = max(len(geoms), 1)
    inside = np.isin(zone_i.astype(np.int64) * n + geom_i, inner_z.astype(np.int64) * n + inner_g)
    km2 = np.zeros(len(zone_i))
    if inside.any():
        own = geoms_km2 if geoms_km2 is not None else area_km2(geoms, epsg)
        km2[inside] = own[geom_i[inside]]
    cross = ~inside
    if cross.any():
        parts = shapely.intersection(geoms[geom_i[cross]], zones[zone_i[cross]])
        km2[cross] = area_km2(parts, epsg)
    kept = km2 > 0
    return PairAreas(geom_i[kept], zone_i[kept], km2[kept])
