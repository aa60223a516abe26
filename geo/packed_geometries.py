"""Geometry columns for tile cutting: held as shapely objects with an STRtree (built in
memory), or packed as WKB in one blob with offsets and bounding boxes (mapped from a file,
shared by every process, decoded only for the features a request touches).

Both answer `intersecting(box)` with the same features in the same order, so a tile cut from
either is the same tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

Box = tuple[float, float, float, float]


@dataclass
class IndexedGeometries:
    """Geometries in memory with their STRtree."""

    geometries: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def of(cls, geometries: np.ndarray) -> "IndexedGeometries":
        return cls(geometries, shapely.STRtree(geometries))

    def intersecting(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """(indices in ascending order, geometries) of the features that intersect `box`."""
        hits = np.sort(self.tree.query(shapely.box(*box), predicate="intersects"))
        return hits, self.geometries[hits]


@dataclass
class PackedGeometries:
    """Geometries as WKB: feature i is `blob[offsets[i]:offsets[i + 1]]` (empty: missing);
    `bounds` holds each feature's (minx, miny, maxx, maxy), NaN when missing or empty."""

    offsets: np.ndarray  # int64, n + 1
    blob: np.ndarray  # uint8
    bounds: np.ndarray  # float64, n × 4

    @classmethod
    def pack(cls, geometries: np.ndarray) -> "PackedGeometries":
        wkb = shapely.to_wkb(geometries)  # None stays None
        sizes = np.fromiter((0 if w is None else len(w) for w in wkb), np.int64, len(wkb))
        offsets = np.zeros(len(wkb) + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        blob = np.frombuffer(b"".join(w for w in wkb if w is not None), np.uint8)
        bounds = shapely.bounds(geometries).astype(np.float64).reshape(len(wkb), 4)
        return cls(offsets, blob, bounds)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays to store, named `{prefix}.offsets` etc."""
        return {f"{prefix}.offsets": self.offsets, f"{prefix}.blob": self.blob,
                f"{prefix}.bounds": self.bounds}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> "PackedGeometries":
        return cls(arrays[f"{prefix}.offsets"], arrays[f"{prefix}.blob"],
                   arrays[f"{prefix}.bounds"])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def take(self, indices: np.ndarray) -> np.ndarray:
        """The geometries at `indices`, decoded from WKB (None where missing)."""
        starts, ends = self.offsets[indices], self.offsets[np.asarray(indices) + 1]
        raw = np.array([self.blob[s:e].tobytes() if e > s else None
                        for s, e in zip(starts.tolist(), ends.tolist())], dtype=object)
        return shapely.from_wkb(raw) if len(raw) else np.array([], dtype=object)

    def decoded(self) -> IndexedGeometries:
        """Every geometry decoded, with its STRtree (for small levels cut often: the
        overview zooms, where one tile holds hundreds of features)."""
        return IndexedGeometries.of(self.take(np.arange(len(self))))

    def intersecting(self, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """(indices in ascending order, geometries) of the features that intersect `box`:
        bounding boxes first; the exact test only for candidates not inside the box."""
        minx, miny, maxx, maxy = box
        b = self.bounds
        near = np.flatnonzero((b[:, 0] <= maxx) & (b[:, 2] >= minx)
                              & (b[:, 1] <= maxy) & (b[:, 3] >= miny))
        geoms = self.take(near)
        nb = b[near]
        inside = (nb[:, 0] >= minx) & (nb[:, 2] <= maxx) & (nb[:, 1] >= miny) & (nb[:, 3] <= maxy)
        exact = inside.copy()
        if not inside.all():
            query = shapely.box(*box)
            shapely.prepare(query)
            exact[~inside] = shapely.intersects(query, geoms[~inside])
        return near[exact], geoms[exact]
