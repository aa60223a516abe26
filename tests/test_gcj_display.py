"""GCJ-02 display for the 高德 basemap, computed with our own geo/gcj02.py: items, vector
tiles (with the warm-tile fast path keyed on the CRS) and raster tiles."""

from __future__ import annotations

import io
import math

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import Transformer

from api.app import create_app
from api.settings import Settings
from api.tile_cache import CachedTiles
from geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from geo.raster import gcj02_sample_points

TMS = morecantile.tms.get("WebMercatorQuad")
TO_MERC = Transformer.from_crs(4326, 3857, always_xy=True)
PX = 4096 / 256  # MVT units per pixel of a 256-px tile


def test_items_in_gcj02_are_lon_lat_shifted_by_our_algorithm(client, store):
    body = client.get("/collections/county_seats/items",
                      params={"crs": "GCJ-02", "limit": 10}).json()
    stored = store.frame("county_seats").set_index("code")
    assert len(body["features"]) == 5
    for feature in body["features"]:
        lon, lat = feature["geometry"]["coordinates"]  # lon first: what Leaflet's GeoJSON wants
        seat = stored.loc[feature["properties"]["code"]].geometry
        assert (lon, lat) == pytest.approx(wgs84_to_gcj02(seat.x, seat.y), abs=1e-7)
        assert 119 < lon < 121 and 30 < lat < 32


def _anji_vertex(store) -> tuple[float, float]:
    """A vertex of Anji's outline, in WGS84 (the first of its largest ring)."""
    anji = store.frame("counties").set_index("code").loc["330523"].geometry
    largest = max(shapely.get_parts(anji), key=lambda p: p.area)
    return tuple(largest.exterior.coords[0])


def _tile_units(lon: float, lat: float, tile: morecantile.Tile) -> tuple[float, float]:
    """Position in MVT units (y up, as mapbox_vector_tile decodes) within `tile`."""
    b = TMS.xy_bounds(tile)
    mx, my = TO_MERC.transform(lon, lat)
    return (mx - b.left) / (b.right - b.left) * 4096, (my - b.bottom) / (b.top - b.bottom) * 4096


def _vertices(data: bytes) -> np.ndarray:
    coords = []
    for feature in mapbox_vector_tile.decode(data)["counties"]["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        coords.append(shapely.get_coordinates(geom))
    return np.vstack(coords)


def test_mvt_in_gcj02_puts_a_county_vertex_at_its_gcj02_position_within_a_pixel(client, store):
    lon, lat = _anji_vertex(store)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    tile = TMS.tile(g_lon, g_lat, 14)
    url = f"/tiles/counties/14/{tile.x}/{tile.y}.mvt"
    gcj = client.get(url, params={"crs": "GCJ-02", "properties": "code"})
    wgs = client.get(url, params={"properties": "code"})
    assert gcj.status_code == 200 and wgs.status_code == 200
    expected = np.array(_tile_units(g_lon, g_lat, tile))
    gcj_error = np.min(np.hypot(*(_vertices(gcj.content) - expected).T)) / PX
    assert gcj_error < 1.0, f"{gcj_error:.2f} px"
    # the plain tile has the vertex at its WGS84 place, tens of pixels away (a real shift)
    wgs_miss = np.min(np.hypot(*(_vertices(wgs.content) - expected).T)) / PX
    assert wgs_miss > 20, f"{wgs_miss:.2f} px"


def test_gcj02_tiles_have_their_own_key_in_the_warm_tile_fast_path(store_path):
    app = create_app(Settings(store_path=store_path))
    fast = TestClient(CachedTiles(app, atlas=app))
    url = "/tiles/counties/9/426/209.mvt"
    plain = fast.get(url)
    shifted = fast.get(url, params={"crs": "GCJ-02"})
    assert plain.status_code == shifted.status_code == 200
    assert plain.content != shifted.content and plain.headers["etag"] != shifted.headers["etag"]
    # second round: cache hits answered before FastAPI, each still its own tile
    assert fast.get(url).content == plain.content
    again = fast.get(url, params={"crs": "GCJ-02"})
    assert again.content == shifted.content and again.headers["etag"] == shifted.headers["etag"]
    # an If-None-Match of the WGS84 tile does not validate the GCJ-02 one
    assert fast.get(url, params={"crs": "GCJ-02"},
                    headers={"If-None-Match": plain.headers["etag"]}).status_code == 200
    tilejson = fast.get("/tiles/counties/tilejson.json", params={"crs": "GCJ-02"}).json()
    assert tilejson["tiles"][0].endswith("?crs=GCJ-02")


@pytest.mark.parametrize("crs", ["EPSG:4549", "bogus"])
def test_bad_tile_crs_is_a_bilingual_400(client, crs):
    for url in ("/tiles/counties/9/426/209.mvt",
                "/rasters/bamboo_carbon_density/tiles/9/426/209.png"):
        response = client.get(url, params={"crs": crs})
        assert response.status_code == 400
        assert "GCJ-02" in response.json()["message"]["en"]


def test_gcj02_sample_points_invert_the_shift_per_pixel():
    tile = TMS.tile(119.68, 30.64, 14)
    mx, my = gcj02_sample_points(14, tile.x, tile.y)
    b = TMS.xy_bounds(tile)
    step = (b.right - b.left) / 256
    to_ll = Transformer.from_crs(3857, 4326, always_xy=True)
    for row, col in ((0, 0), (128, 200), (255, 255)):
        wlon, wlat = to_ll.transform(mx[row, col], my[row, col])
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        px, py = TO_MERC.transform(glon, glat)
        assert px == pytest.approx(b.left + (col + 0.5) * step, abs=step * 1e-3)
        assert py == pytest.approx(b.top - (row + 0.5) * step, abs=step * 1e-3)


def _alpha(response) -> np.ndarray:
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))[..., 3] > 0


def test_raster_tile_in_gcj02_matches_the_shifted_data_within_a_pixel(client, store):
    """The demo raster fills Anji: on a GCJ-02 tile across its border, the drawn area must be
    the data at each pixel's WGS84 position (a pixel may differ only on the border itself)."""
    import rasterio

    lon, lat = _anji_vertex(store)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    tile = TMS.tile(g_lon, g_lat, 14)
    url = f"/rasters/bamboo_carbon_density/tiles/14/{tile.x}/{tile.y}.png"
    drawn = _alpha(client.get(url, params={"crs": "GCJ-02"}))
    plain = _alpha(client.get(url))
    path = client.app.state.services.rasters.path("bamboo_carbon_density")
    mx, my = gcj02_sample_points(14, tile.x, tile.y)
    with rasterio.open(path) as src:
        to_work = Transformer.from_crs(3857, src.crs.to_wkt(), always_xy=True)
        ex, ny = to_work.transform(mx, my)
        rows, cols = rasterio.transform.rowcol(src.transform, ex.ravel(), ny.ravel())
        band = src.read(1, masked=True)
        rows, cols = np.asarray(rows), np.asarray(cols)
        inside = (rows >= 0) & (rows < src.height) & (cols >= 0) & (cols < src.width)
        expected = np.zeros(rows.shape, bool)
        expected[inside] = ~np.ma.getmaskarray(band)[rows[inside], cols[inside]]
    expected = expected.reshape(256, 256)
    assert 0.02 < expected.mean() < 0.98  # the tile really crosses the border
    differ = drawn != expected
    # a differing pixel must touch a pixel of the other kind in `expected` (border pixels)
    padded = np.pad(expected, 1, mode="edge")
    border = np.zeros_like(expected)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            border |= padded[1 + dr:257 + dr, 1 + dc:257 + dc] != expected
    assert not (differ & ~border).any()
    assert differ.mean() < 0.02
    assert (plain != expected).mean() > 5 * max(differ.mean(), 0.002)  # unshifted is far off
