"""Tile grids (OGC tile matrix sets) the vector and raster tiles are cut in.

- WebMercatorQuad: the XYZ grid of every web map (EPSG:3857, level 0 = one tile).
- WorldCRS84Quad: geographic lon/lat (OGC:CRS84), level 0 = 2×1 tiles of 180°.
- CGCS2000Quad: geographic on CGCS2000 (EPSG:4490), the grid of 天地图's `_c` services
  (vec_c, img_c, cva_c; WMTS TileMatrixSet "c"): origin (-180°, 90°), level 1 = 2 columns ×
  1 row of 256 px tiles, so a tile at level z spans 180/2^(z-1) degrees; levels 1–20.

A `Grid` answers the tile math the tilesets need in its own CRS: projecting WGS84 geometries,
tile bounds, the size of one MVT unit per level (for simplification tolerances) and tile
checks. Definitions are morecantile `TileMatrixSet`s (the OGC TMS 2.0 model).

CGCS2000 and WGS84 (as realised by our sources) differ by a few centimetres — far below a pixel
even at level 20 (~0.13 m) — so WGS84 lon/lat are used as CGCS2000 lon/lat unchanged, as PROJ's
own EPSG:4326→4490 operation (a null transformation, ±1 m) does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import morecantile
import numpy as np

from geo.errors import InvalidParameter, NotFound

EXTENT = 4096  # MVT tile units per tile side (as geo/tiles.py)
TILE_PX = 256
OGC_TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/"
EARTH_DEG_M = math.pi * 6378137.0 / 180  # metres per degree at the equator (TMS 2.0, note g)
CGCS2000_LEVELS = range(1, 21)  # 天地图 publishes levels 1..20


def _cgcs2000_quad() -> morecantile.TileMatrixSet:
    """天地图's 'c' grid as an OGC TMS 2.0 definition (lat/lon axis order of EPSG:4490)."""
    matrices = []
    for z in CGCS2000_LEVELS:
        cell = 180.0 / TILE_PX / 2 ** (z - 1)  # degrees per pixel
        matrices.append({
            "id": str(z), "scaleDenominator": cell * EARTH_DEG_M / 0.00028, "cellSize": cell,
            "cornerOfOrigin": "topLeft", "pointOfOrigin": [90.0, -180.0],
            "tileWidth": TILE_PX, "tileHeight": TILE_PX,
            "matrixWidth": 2 ** z, "matrixHeight": 2 ** (z - 1)})
    return morecantile.TileMatrixSet.model_validate({
        "id": "CGCS2000Quad",
        "title": "CGCS2000 geographic quad (天地图 'c' grid, EPSG:4490)",
        "description": "国家2000经纬度切片方案，与天地图 vec_c/img_c 一致：原点 (-180°, 90°)，"
                       "第 1 级 2 列 × 1 行 256 像素瓦片。 Same tiles as 天地图's _c services.",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/4490",
        "orderedAxes": ["Lat", "Lon"],
        "boundingBox": {"lowerLeft": [-90.0, -180.0], "upperRight": [90.0, 180.0],
                        "crs": "http://www.opengis.net/def/crs/EPSG/0/4490",
                        "orderedAxes": ["Lat", "Lon"]},
        "tileMatrices": matrices,
    })


@dataclass(frozen=True)
class Grid:
    """One tile matrix set and the tile math in its CRS (x east, y north, in CRS units)."""

    id: str
    tms: morecantile.TileMatrixSet
    epsg: int  # 3857, 4326 (CRS84 axis order) or 4490
    uri: str  # the tileMatrixSetURI clients match on

    @property
    def geographic(self) -> bool:
        return self.epsg != 3857

    @cached_property
    def levels(self) -> tuple[int, ...]:
        """The tile matrix ids, as integers (0.. or 1.. for CGCS2000Quad)."""
        return tuple(int(m.id) for m in self.tms.tileMatrices)

    def check_tile(self, z: int, col: int, row: int) -> None:
        """Raise InvalidParameter (400) unless level z, column col, row row exist."""
        if z not in self.levels:
            raise InvalidParameter(
                f"切片级别 {z} 不在 {self.id} 的范围 {self.levels[0]}–{self.levels[-1]} 内。",
                f"Tile matrix {z} is outside {self.levels[0]}–{self.levels[-1]} of {self.id}.",
                tileMatrix=z)
        matrix = self.tms.matrix(z)
        if not (0 <= col < matrix.matrixWidth and 0 <= row < matrix.matrixHeight):
            raise InvalidParameter(
                f"瓦片行列号 row={row}, col={col} 超出 {self.id} 第 {z} 级的范围"
                f"（行 0–{matrix.matrixHeight - 1}，列 0–{matrix.matrixWidth - 1}）。",
                f"Tile row={row}, col={col} is outside level {z} of {self.id} (rows "
                f"0–{matrix.matrixHeight - 1}, columns 0–{matrix.matrixWidth - 1}).",
                tileMatrix=z, tileRow=row, tileCol=col)

    def tile_bounds(self, z: int, col: int, row: int) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of a tile in the grid's CRS, x east (lon) and y north."""
        b = self.tms.xy_bounds(morecantile.Tile(col, row, z))
        return b.left, b.bottom, b.right, b.top

    def unit(self, z: int) -> float:
        """Size of one MVT tile unit (of 4096) at level z, in CRS units (metres or degrees)."""
        first = self.levels[0]
        matrix = self.tms.matrix(max(z, first))  # below the first level: twice as coarse each
        return matrix.cellSize * matrix.tileWidth / EXTENT * 2.0 ** max(first - z, 0)

    def tolerance(self, units: float) -> Callable[[int], float]:
        """Simplification tolerance per level: `units` tile units in CRS units."""
        return lambda z: self.unit(z) * units

    def project(self, geometries: np.ndarray) -> np.ndarray:
        """WGS84 lon/lat geometries into this grid's CRS (x east, y north)."""
        if self.epsg == 3857:
            from geo.tiles import to_mercator

            return to_mercator(geometries)
        return geometries  # lon/lat already; CGCS2000 ≈ WGS84 (see module docstring)

    def tiles_covering(self, bounds: tuple[float, float, float, float], z: int
                       ) -> Iterator[morecantile.Tile]:
        """Tiles of level z that intersect a WGS84 (west, south, east, north) box."""
        west, south, east, north = bounds
        if self.epsg == 3857:
            from geo.tiles import MERCATOR_LAT

            south, north = max(south, -MERCATOR_LAT), min(north, MERCATOR_LAT)
        yield from self.tms.tiles(west, south, east, north, [z])

    def limits(self, bounds: tuple[float, float, float, float], levels: range) -> list[dict]:
        """OGC `tileMatrixSetLimits` of the levels over a WGS84 box (rows and columns with data)."""
        west, south, east, north = bounds
        found = []
        for z in levels:
            if z not in self.levels:
                continue
            ul = self.tms.tile(west, north, z)
            lr = self.tms.tile(east, south, z)
            found.append({"tileMatrix": str(z), "minTileRow": ul.y, "maxTileRow": lr.y,
                          "minTileCol": ul.x, "maxTileCol": lr.x})
        return found

    def document(self) -> dict:
        """The OGC TMS 2.0 JSON definition. Each matrix also carries `topLeftCorner` (the
        draft-2.0 name of `pointOfOrigin`) and the set `supportedCRS`/`identifier`, which
        GDAL ≤ 3.6's OGCAPI driver reads instead of the final names."""
        doc = self.tms.model_dump(mode="json", exclude_none=True)
        doc["crs"] = doc["crs"] if isinstance(doc["crs"], str) else self.crs_uri
        doc["uri"] = self.uri
        doc["identifier"], doc["supportedCRS"] = self.id, doc["crs"]
        if "boundingBox" not in doc:  # GDAL 3.6 recognises a TMS document by it
            b = self.tms.xy_bbox  # x, y order: these grids (3857, CRS84) are east/north
            lower, upper = [b.left, b.bottom], [b.right, b.top]
            doc["boundingBox"] = {"lowerLeft": lower, "upperRight": upper, "crs": doc["crs"],
                                  "lowerCorner": lower, "upperCorner": upper}
        for matrix in doc["tileMatrices"]:
            matrix["topLeftCorner"] = matrix["pointOfOrigin"]
            matrix["identifier"] = matrix["id"]
        return doc

    @property
    def crs_uri(self) -> str:
        if self.epsg == 4326:
            return "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        return f"http://www.opengis.net/def/crs/EPSG/0/{self.epsg}"


WEB_MERCATOR = Grid("WebMercatorQuad", morecantile.tms.get("WebMercatorQuad"), 3857,
                    OGC_TMS_URI + "WebMercatorQuad")
GRIDS: dict[str, Grid] = {g.id: g for g in (
    WEB_MERCATOR,
    Grid("WorldCRS84Quad", morecantile.tms.get("WorldCRS84Quad"), 4326,
         OGC_TMS_URI + "WorldCRS84Quad"),
    Grid("CGCS2000Quad", _cgcs2000_quad(), 4490, "urn:gongfu:tilematrixset:CGCS2000Quad"),
)}


def grid(grid_id: str) -> Grid:
    """The grid of a tileMatrixSetId; 404 with the known ids otherwise."""
    found = GRIDS.get(grid_id)
    if found is None:
        raise NotFound(f"没有切片方案“{grid_id}”。可选：{', '.join(GRIDS)}",
                       f"No tile matrix set '{grid_id}'. Known: {', '.join(GRIDS)}",
                       tileMatrixSet=grid_id)
    return found
