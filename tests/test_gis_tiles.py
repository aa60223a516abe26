"""Real clients read our OGC API Tiles: Debian's GDAL (ogrinfo's MVT driver on our vector
tiles in WebMercatorQuad and the CGCS2000 grid; gdalinfo's OGCAPI driver on raster map tiles in
both grids) and QGIS headless (vector tiles drawn with our style, labels placed; our SLD loaded
onto the OGC API Features layer).

What GDAL 3.6.2 from Debian cannot do, and so is not asserted here: its OGCAPI driver reads no
vector tiles at all (that code is behind `#ifdef OGR_ENABLE_DRIVER_GML`, which Debian's CMake
build leaves undefined for frmts/ogcapi; the branch's strings are absent from libgdal.so.32),
and with row-limited `tileMatrixSetLimits` it sizes the raster's rows for the whole matrix
(SizeY = matrixHeight × 256 while the strip spans the limited rows), so its row count and y
pixel size are wrong; the extent, CRS and x resolution it reports are checked below.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from geo.grids import GRIDS

ANJI = "330523"
QGIS_SCRIPT = Path(__file__).parent / "fixtures" / "qgis_vector_tiles.py"


def _run(*args: str, env: dict | None = None, timeout: int = 180) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("grid_id", ["CGCS2000Quad", "WebMercatorQuad"])
def test_gdal_reads_our_vector_tiles_georeferenced_in_both_grids(
        live_server: str, tmp_path: Path, grid_id: str) -> None:
    """GDAL's MVT driver decodes the level-12 tile holding 安吉县's label point: the point
    lands within half a pixel of where it belongs. The CGCS2000 grid is georeferenced from our
    TileJSON (GDAL's METADATA_FILE keys: crs, tile origin, level-0 tile size)."""
    grid = GRIDS[grid_id]
    county = shape(httpx.get(f"{live_server}/collections/counties/items/{ANJI}").json()[
        "geometry"])
    truth = shapely.point_on_surface(grid.project(np.array([county]))[0])  # in the grid's CRS
    lon, lat = (truth.x, truth.y) if grid.geographic else _to_lonlat(truth)
    tile = grid.tms.tile(lon, lat, 12)
    base = f"{live_server}/collections/counties/tiles/{grid_id}"
    path = tmp_path / "12" / str(tile.x) / f"{tile.y}.pbf"  # GDAL's z/x/y layout
    path.parent.mkdir(parents=True)
    path.write_bytes(httpx.get(f"{base}/12/{tile.y}/{tile.x}").content)
    options = ["-oo", f"METADATA_FILE={base}?f=tilejson"] if grid.geographic else []
    out = _run("ogrinfo", "-ro", "-q", *options, str(path), "counties_label")
    assert "name (String) = 安吉县" in out
    x, y = map(float, re.search(r"POINT \(([-\d.]+) ([-\d.]+)\)", out).groups())
    west, _, east, _ = grid.tile_bounds(12, tile.x, tile.y)
    half_pixel = (east - west) / 256 / 2  # in the grid's CRS units (degrees or metres)
    assert abs(x - truth.x) <= half_pixel and abs(y - truth.y) <= half_pixel


def _to_lonlat(point: shapely.Point) -> tuple[float, float]:
    import pyproj

    return pyproj.Transformer.from_crs(3857, 4326, always_xy=True).transform(point.x, point.y)


@pytest.mark.parametrize("grid_id,crs_name,options", [
    ("CGCS2000Quad", "China Geodetic Coordinate System 2000", []),
    # GDAL 3.6 takes the collection's CRS84 box as grid coordinates: give it in metres
    ("WebMercatorQuad", "WGS 84 / Pseudo-Mercator",
     ["-oo", "MINX=13272000", "-oo", "MINY=3550000", "-oo", "MAXX=13347000",
      "-oo", "MAXY=3615000"]),
])
def test_gdal_ogcapi_driver_opens_raster_tiles_in_both_grids(
        live_server: str, grid_id: str, crs_name: str, options: list[str]) -> None:
    """`gdalinfo OGCAPI:` walks collection → tilesets-map → tileset → tiling-scheme (our TMS
    document) and reports the grid's CRS and level-9 cell size over the raster's extent."""
    out = _run("gdalinfo", f"OGCAPI:{live_server}/collections/bamboo_carbon_density",
               "-oo", f"TILEMATRIXSET={grid_id}", "-oo", "TILEMATRIX=9", *options)
    assert f'"{crs_name}"' in out
    grid = GRIDS[grid_id]
    cell = grid.tms.matrix(9).cellSize
    pixel_x = float(re.search(r"Pixel Size = \(([-\d.e]+),", out)[1])
    assert pixel_x == pytest.approx(cell, rel=1e-9)
    upper_left = re.search(r"Upper Left\s+\(\s*([-\d.]+),\s*([-\d.]+)\)", out).groups()
    x, y = map(float, upper_left)
    west, _, _, north = httpx.get(
        f"{live_server}/collections/bamboo_carbon_density").json()["extent"]["spatial"]["bbox"][0]
    if grid.geographic:
        assert abs(x - west) <= cell and abs(y - north) <= cell


def _qgis_python() -> str:
    python = "/usr/bin/python3"
    check = subprocess.run([python, "-c", "import qgis.core"], capture_output=True)
    if check.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("python3-qgis is missing: `make system-deps` installs it")
        pytest.skip("python3-qgis is not installed (make system-deps)")
    return python


def test_qgis_draws_our_vector_tiles_with_our_style_and_labels(
        live_server: str, artifacts: Path) -> None:
    """QGIS (headless) converts our MapLibre style, draws the counties' vector tiles and its
    labelling engine places the five county names — taken from the `counties_label` points;
    the same map without the label layer has no text-dark pixels. QGIS also loads our SLD
    onto the OGC API Features layer with its labels on the `name` field."""
    out_png = artifacts / "qgis_vector_tiles.png"
    report = json.loads(_run(_qgis_python(), str(QGIS_SCRIPT), live_server, "counties",
                             str(out_png), env={"QT_QPA_PLATFORM": "offscreen"}, timeout=300))
    tiles = report["tiles"]
    assert tiles["valid"] and tiles["convert_ok"]
    assert tiles["labels"] == ["南浔区", "吴兴区", "安吉县", "德清县", "长兴县"]
    assert tiles["text_pixels"] > 20 and tiles["text_pixels_without_labels"] == 0
    sld = report["sld"]
    assert sld["valid"] and sld["features"] == 5 and sld["sld_ok"], sld
    assert sld["labels_enabled"] and sld["label_field"] == "name"
