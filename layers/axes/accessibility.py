"""Accessibility raster: distance (km) from each cell to the nearest placed node of each tier,
on an EPSG:4549 grid (cells of `cell_m` metres, ≤ 200 m) over the counties; written as a
GeoTIFF (one band a tier, nodata -1) and summarised as county shares within a distance.
"""

from __future__ import annotations

import functools
import tempfile

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.features
import shapely
from affine import Affine

from geo.measure import HUZHOU_ZONE_EPSG
from layers.axes.plane import to_plane
from layers.settlement_nodes import TIER_ZH, Node


@dataclass
class Accessibility:
    """Distance (km) to the nearest placed node of each tier on an EPSG:4549 grid.

    `bands[tier]` is float32 with NaN outside the counties; `county_index` labels each cell
    with a county's position in `county_codes` (-1 outside).
    """

    bands: dict[str, np.ndarray]
    transform: Affine  # cell (col, row) → EPSG:4549 metres
    cell_m: float
    county_codes: list[str]
    county_index: np.ndarray

    def write_geotiff(self, path: str | Path) -> None:
        """A GeoTIFF in EPSG:4549, one band per tier (km; nodata -1)."""
        tiers = list(self.bands)
        height, width = self.county_index.shape
        with rasterio.open(path, "w", driver="GTiff", height=height, width=width,
                           count=len(tiers), dtype="float32", crs=f"EPSG:{HUZHOU_ZONE_EPSG}",
                           transform=self.transform, nodata=-1.0, compress="deflate") as dst:
            for i, tier in enumerate(tiers, start=1):
                dst.write(np.nan_to_num(self.bands[tier], nan=-1.0).astype("float32"), i)
                dst.set_band_description(i, f"distance_km_to_{tier}")
            dst.update_tags(units="km", crs_note="CGCS2000 3-degree Gauss-Kruger CM 120E",
                            tiers=",".join(tiers))

    @functools.cached_property
    def geotiff(self) -> bytes:
        """`write_geotiff`'s file as bytes, made once: the served plan (and this object) is
        kept per layer versions and cell size, so every download of it is the same file."""
        with tempfile.TemporaryDirectory(prefix="gongfu-access-") as tmp:
            path = Path(tmp) / "accessibility.tif"
            self.write_geotiff(path)
            return path.read_bytes()

    def share_within(self, tier: str, km: float) -> dict[str, float | None]:
        """Per county: % of cells (cell centres) within `km` of a node of `tier`."""
        band = self.bands[tier]
        out: dict[str, float | None] = {}
        for i, code in enumerate(self.county_codes):
            cells = band[self.county_index == i]
            out[code] = None if not len(cells) or np.isnan(cells).all() else \
                round(float((cells <= km).mean() * 100), 2)
        return out


def accessibility(nodes: list[Node], counties: gpd.GeoDataFrame, cell_m: float = 200.0
                  ) -> Accessibility:
    """Distance rasters to the nearest node of each tier over the counties (cells ≤ 200 m)."""
    plane = to_plane(counties.geometry.to_numpy())
    west, south, east, north = shapely.total_bounds(plane)
    west, south = np.floor(west / cell_m) * cell_m, np.floor(south / cell_m) * cell_m
    width = int(np.ceil((east - west) / cell_m))
    height = int(np.ceil((north - south) / cell_m))
    transform = Affine(cell_m, 0.0, west, 0.0, -cell_m, south + height * cell_m)
    index = rasterio.features.rasterize(
        [(g, i) for i, g in enumerate(plane)], out_shape=(height, width), transform=transform,
        fill=-1, dtype="int32")
    xs = west + (np.arange(width) + 0.5) * cell_m
    ys = south + height * cell_m - (np.arange(height) + 0.5) * cell_m
    gx, gy = np.meshgrid(xs, ys)
    bands = {}
    for tier in TIER_ZH:
        points = [n.point for n in nodes if n.placed and n.tier == tier]
        band = np.full((height, width), np.nan, dtype=np.float32)
        if points:
            best = np.full((height, width), np.inf)
            for x, y in shapely.get_coordinates(to_plane(points)):
                np.minimum(best, np.hypot(gx - x, gy - y), out=best)
            band = (best / 1000.0).astype(np.float32)
            band[index < 0] = np.nan
        bands[tier] = band
    return Accessibility(bands, transform, cell_m, [str(c) for c in counties.index], index)
