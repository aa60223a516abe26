"""Raster pipeline: COG writing, import in any CRS, zonal sums known exactly, PNG tile colours,
legends that match tiles, and bad input (no CRS, not a raster, outside, oversize)."""

from __future__ import annotations

import io
from pathlib import Path

import morecantile
import numpy as np
import pytest
import rasterio
import shapely
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_origin

from geo.errors import InvalidData, InvalidParameter, UnreadableUpload
from geo.raster import (RasterCatalog, import_raster, info, legend_stops, tile_png,
                        write_cog, zonal_stats)
from layers.ecology import build_demo_raster

WMQ = morecantile.tms.get("WebMercatorQuad")
# A synthetic 10 × 10 grid of 100 m (1 ha) cells on EPSG:4549 inside Anji (clearly a fixture).
X0, Y0, RES = 430_000.0, 3_390_000.0, 100.0
TO_WGS84 = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0 * RES, Y0 - y1 * RES, X0 + x1 * RES, Y0 - y0 * RES)


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """Column c holds value c (0..9); the bottom-right 2 × 2 cells are nodata."""
    values = np.tile(np.arange(10, dtype="float32"), (10, 1))
    values[8:, 8:] = -9999
    path = tmp_path_factory.mktemp("raster") / "grid.tif"
    write_cog(path, values, from_origin(X0, Y0, RES, RES), "EPSG:4549", -9999.0)
    return path


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_write_cog_is_cloud_optimised(grid: Path) -> None:
    with rasterio.open(grid) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.crs.to_epsg() == 4549 and ds.nodata == -9999


def test_zonal_sum_over_whole_cells_is_exact(grid: Path) -> None:
    # columns 2..4 (values 2, 3, 4), rows 0..1: 6 cells of 1 ha → sum 18, mean 3
    result, = zonal_stats(np.array([_box(2, 0, 5, 2)]), grid, geoms_crs="EPSG:4549")
    assert result.covered_ha == pytest.approx(6.0)
    assert result.sum == pytest.approx(18.0)
    assert result.total == pytest.approx(18.0)  # 1 ha cells: Σ value × ha
    assert result.mean == pytest.approx(3.0)
    assert result.polygon_ha == pytest.approx(6.0)


def test_zonal_partial_cells_are_area_weighted(grid: Path) -> None:
    # half of column 1 (value 1) and all of column 2 (value 2), one row: 0.5×1 + 1×2 = 2.5
    result, = zonal_stats(np.array([_box(1.5, 3, 3, 4)]), grid, geoms_crs="EPSG:4549")
    assert result.covered_ha == pytest.approx(1.5)
    assert result.total == pytest.approx(2.5)
    assert result.mean == pytest.approx(2.5 / 1.5)


def test_zonal_skips_nodata_and_accepts_wgs84(grid: Path) -> None:
    # rows 7..9, columns 7..9: 9 cells, 4 nodata → 5 cells: 7 + 7 + 7 + 8 + 9 = 38
    polygon = shapely.transform(_box(7, 7, 10, 10), lambda c: np.column_stack(
        TO_WGS84.transform(c[:, 0], c[:, 1])))
    result, = zonal_stats(np.array([polygon]), grid)
    assert result.covered_ha == pytest.approx(5.0, rel=1e-6)
    assert result.total == pytest.approx(38.0, rel=1e-6)
    assert result.polygon_ha == pytest.approx(9.0, rel=1e-6)


def test_polygon_outside_the_raster_is_empty_not_an_error(grid: Path) -> None:
    result, = zonal_stats(np.array([_box(50, 50, 52, 52)]), grid, geoms_crs="EPSG:4549")
    assert result.covered_ha == 0 and result.total == 0 and result.mean is None


def test_zonal_refuses_points(grid: Path) -> None:
    with pytest.raises(InvalidParameter):
        zonal_stats(np.array([shapely.Point(X0, Y0)]), grid, geoms_crs="EPSG:4549")


def test_import_reprojects_any_crs_block_by_block(tmp_path: Path) -> None:
    """A 1,200 × 1,000 WGS84 raster (several 512 px blocks), no nodata: reprojected to 4549."""
    width, height = 1200, 1000
    west, north, step = 119.5, 30.8, 0.0002
    values = np.broadcast_to(np.arange(width, dtype="float32") // 100, (height, width)).copy()
    source = tmp_path / "wgs84.tif"
    with rasterio.open(source, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=from_origin(west, north, step, step)) as dst:
        dst.write(values, 1)
    target = tmp_path / "imported.tif"
    import_raster(source, target)
    with rasterio.open(target) as ds:
        assert ds.crs.to_epsg() == 4549
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert np.isnan(ds.nodata)  # outside the source is nodata, not 0
        to_4549 = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
        for column in (50, 650, 1150):  # values 0, 6, 11 in three different blocks
            lon, lat = west + (column + 0.5) * step, north - 500.5 * step
            sample = next(ds.sample([to_4549.transform(lon, lat)]))[0]
            assert sample == column // 100
        corner = ds.read(1, window=((0, 1), (0, 1)))[0, 0]
        assert np.isnan(corner)  # the rotated footprint leaves the corner outside the data


def test_import_refuses_raster_without_crs(tmp_path: Path) -> None:
    source = tmp_path / "nocrs.tif"
    with rasterio.open(source, "w", driver="GTiff", width=4, height=4, count=1,
                       dtype="uint8") as dst:
        dst.write(np.ones((4, 4), "uint8"), 1)
    with pytest.raises(InvalidData) as error:
        import_raster(source, tmp_path / "out.tif")
    assert "CRS" in error.value.message_en and "坐标参考系" in error.value.message_zh


def test_import_refuses_non_raster(tmp_path: Path) -> None:
    source = tmp_path / "notes.tif"
    source.write_text("这不是栅格 not a raster", encoding="utf-8")
    with pytest.raises(UnreadableUpload):
        import_raster(source, tmp_path / "out.tif")


def test_tile_colours_match_the_legend(grid: Path) -> None:
    centre = TO_WGS84.transform(X0 + 500, Y0 - 500)
    tile = WMQ.tile(*centre, 14)
    pixels = _png(tile_png(grid, 14, tile.x, tile.y, "viridis", (0, 9)))
    opaque = pixels[pixels[..., 3] == 255][:, :3]
    transparent = pixels[..., 3] == 0
    assert len(opaque) > 0 and transparent.any()  # 1 km grid in a 2.4 km tile
    colours = {tuple(c) for c in opaque}
    expected = {tuple(int(s["color"][i:i + 2], 16) for i in (1, 3, 5))
                for s in legend_stops("viridis", (0, 9), np.arange(10))}
    assert colours <= expected
    assert len(colours) == 10  # every column value appears (nodata cells are transparent)
    assert (68, 1, 84) in colours and (253, 231, 36) in colours  # viridis ends: 0 and 9


def test_tile_outside_is_transparent_and_bad_tiles_refused(grid: Path) -> None:
    pixels = _png(tile_png(grid, 10, 0, 0, "viridis", (0, 9)))
    assert pixels.shape == (256, 256, 4) and (pixels[..., 3] == 0).all()
    with pytest.raises(InvalidParameter):
        tile_png(grid, 3, 8, 0, "viridis", (0, 9))
    with pytest.raises(InvalidParameter):
        tile_png(grid, 14, 0, 0, "viridis", (5, 5))
    with pytest.raises(InvalidParameter):
        tile_png(grid, 14, 0, 0, "no-such-ramp", (0, 9))


# ---------------------------------------------------------------- the demo raster and the API


def test_demo_raster_is_uniform_and_integrates_to_the_county_total(tmp_path, store) -> None:
    catalog = RasterCatalog(tmp_path)
    meta = build_demo_raster(store, catalog)
    assert meta.illustrative and "not a bamboo map" in meta.note
    details = info(catalog.path(meta.id))
    assert details.crs == "EPSG:4549"
    assert details.value_min == pytest.approx(details.value_max)  # uniform, no invented pattern
    counties = store.frame("counties")
    anji = counties[counties["code"] == "330523"]
    result, = zonal_stats(anji.geometry.to_numpy(), catalog.path(meta.id))
    assert result.total == pytest.approx(870_000 * 0.39, rel=0.005)  # 339,300 t CO2e/yr
    nanxun = counties[counties["code"] == "330503"]
    assert zonal_stats(nanxun.geometry.to_numpy(), catalog.path(meta.id))[0].total == 0


RASTER = "bamboo_carbon_density"


def test_api_tiles_tilejson_and_legend_agree(client) -> None:
    tilejson = client.get(f"/rasters/{RASTER}/tilejson.json").json()
    assert tilejson["tilejson"] == "3.0.0" and "派生" in tilejson["name"]
    west, south, east, north = tilejson["bounds"]
    assert 119.1 < west < east < 120.0 and 30.3 < south < north < 30.95
    url = tilejson["tiles"][0]
    tile = WMQ.tile(119.6, 30.6, 13)  # well inside Anji
    response = client.get(url.replace("http://testserver", "").format(z=13, x=tile.x, y=tile.y))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    pixels = _png(response.content)
    assert (pixels[..., 3] == 255).all()
    legend = client.get(f"/rasters/{RASTER}/legend.json").json()
    density = client.get(f"/rasters/{RASTER}").json()["extra"]["value_t_co2e_per_ha_yr"]
    colour = legend_stops(legend["colormap"], tuple(legend["rescale"]), [density])[0]["color"]
    assert {"#%02x%02x%02x" % tuple(p) for p in pixels[..., :3].reshape(-1, 3)} == {colour}
    bar = _png(client.get(f"/rasters/{RASTER}/legend.png", params={"width": 100}).content)
    left, right = bar[8, 0, :3], bar[8, 99, :3]
    assert "#%02x%02x%02x" % tuple(left) == legend["stops"][0]["color"]
    assert "#%02x%02x%02x" % tuple(right) == legend["stops"][-1]["color"]


def test_png_tiles_also_under_tiles_path_beside_vector_tiles(client) -> None:
    tile = WMQ.tile(119.6, 30.6, 12)
    ours = client.get(f"/rasters/{RASTER}/tiles/12/{tile.x}/{tile.y}.png")
    short = client.get(f"/tiles/{RASTER}/12/{tile.x}/{tile.y}.png")
    assert short.status_code == 200 and short.content == ours.content
    assert client.get(f"/tiles/counties/12/{tile.x}/{tile.y}.png").status_code == 404
    mvt = client.get(f"/tiles/counties/12/{tile.x}/{tile.y}.mvt")
    assert mvt.status_code == 200 and "image/png" not in mvt.headers["content-type"]


def test_api_colormap_and_rescale_parameters(client) -> None:
    tile = WMQ.tile(119.6, 30.6, 13)
    path = f"/rasters/{RASTER}/tiles/13/{tile.x}/{tile.y}.png"
    low = _png(client.get(path, params={"colormap": "viridis", "rescale": "1.79,100"}).content)
    high = _png(client.get(path, params={"colormap": "viridis", "rescale": "0,1"}).content)
    assert tuple(low[0, 0, :3]) == (68, 1, 84)  # value at the bottom of the ramp
    assert tuple(high[0, 0, :3]) == (253, 231, 36)  # clipped to the top
    for bad in ({"rescale": "1"}, {"rescale": "a,b"}, {"rescale": "5,1"}, {"colormap": "nope"}):
        response = client.get(path, params=bad)
        assert response.status_code == 400, bad
        assert response.json()["message"]["zh"]


def test_api_posted_geojson_zonal_with_accounting(client, store) -> None:
    counties = store.frame("counties")
    anji = counties[counties["code"] == "330523"].geometry.iloc[0]
    body = {"type": "Feature", "properties": {"name": "安吉"}, "geometry": anji.__geo_interface__}
    result = client.post(f"/rasters/{RASTER}/zonal", json=body,
                         params={"trade_price_yuan_per_t": 59}).json()
    zone, = result["zones"]
    assert result["measured_in"] == "EPSG:4549" and result["illustrative"] is True
    assert zone["total"] == pytest.approx(339_300, rel=0.005)
    accounting = zone["accounting"]
    assert accounting["trade_value_yuan_yr"] == pytest.approx(zone["total"] * 59)
    assert accounting["village_share_yuan_yr"] == pytest.approx(zone["total"] * 59 * 0.8)
    assert accounting["area_mu"] == pytest.approx(870_000, rel=0.005)
    outside = {"type": "Polygon", "coordinates": [[[121, 31], [121.1, 31], [121.1, 31.1],
                                                   [121, 31]]]}
    response = client.post(f"/rasters/{RASTER}/zonal", json=outside)
    assert response.status_code == 200
    assert response.json()["zones"][0]["total"] == 0
    assert response.json()["zones"][0]["mean"] is None


def test_api_zonal_for_a_collection(client) -> None:
    body = client.get(f"/rasters/{RASTER}/zonal", params={"collection": "counties"}).json()
    totals = {z["properties"]["name"]: z["total"] for z in body["zones"]}
    assert totals["安吉县"] == pytest.approx(339_300, rel=0.005)
    assert totals["南浔区"] == 0
    response = client.get(f"/rasters/{RASTER}/zonal", params={"collection": "townships"})
    assert response.status_code == 400  # points, no polygons


@pytest.mark.parametrize("body", [{"type": "Point", "coordinates": [119.5, 30.5]},
                                  {"hello": "world"}, {"type": "FeatureCollection",
                                                       "features": []}])
def test_api_zonal_bad_geometry_is_400(client, body) -> None:
    response = client.post(f"/rasters/{RASTER}/zonal", json=body)
    assert response.status_code == 400
    assert response.json()["message"]["en"]


def test_api_unknown_raster_is_404(client) -> None:
    assert client.get("/rasters/nope/tiles/1/1/1.png").status_code == 404
    assert client.get("/rasters/..%2Fetc/legend.json").status_code in (400, 404)


def _geotiff(path: Path, crs: str | None) -> bytes:
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1, dtype="float32",
                       crs=crs, transform=from_origin(119.6, 30.7, 0.001, 0.001)) as dst:
        dst.write(np.full((20, 20), 3.0, "float32"), 1)
    return path.read_bytes()


def test_api_upload_import_and_bad_uploads(client, tmp_path, monkeypatch) -> None:
    data = _geotiff(tmp_path / "mine.tif", "EPSG:4326")
    # settings are read once per app: configure the shared app's keys for this test only
    monkeypatch.setattr(client.app.state.settings, "api_keys", "raster-key")
    anonymous = client.post("/rasters", data={"id": "test-upload"},
                            files={"file": ("mine.tif", data, "image/tiff")})
    assert anonymous.status_code == 401 and anonymous.json()["message"]["zh"]
    auth = {"Authorization": "Bearer raster-key"}
    response = client.post("/rasters", data={"id": "test-upload", "unit": "t/ha", "per_ha": "true"},
                           files={"file": ("mine.tif", data, "image/tiff")}, headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["info"]["crs"] == "EPSG:4549"
    tile = WMQ.tile(119.61, 30.69, 14)
    png = client.get(f"/rasters/test-upload/tiles/14/{tile.x}/{tile.y}.png").content
    assert (_png(png)[..., 3] == 255).any()

    nocrs = _geotiff(tmp_path / "nocrs.tif", None)
    response = client.post("/rasters", data={"id": "nocrs"},
                           files={"file": ("nocrs.tif", nocrs, "image/tiff")}, headers=auth)
    assert response.status_code == 422 and "CRS" in response.json()["message"]["en"]
    response = client.post("/rasters", data={"id": "text"},
                           files={"file": ("a.tif", b"not a raster at all", "image/tiff")}, headers=auth)
    assert response.status_code == 422 and response.json()["code"] == "unreadable_upload"
    import api.routers.rasters
    monkeypatch.setattr(api.routers.rasters, "MAX_UPLOAD_BYTES", 1000)
    response = client.post("/rasters", data={"id": "big"},
                           files={"file": ("big.tif", data, "image/tiff")}, headers=auth)
    assert response.status_code == 413 and response.json()["message"]["zh"]
    assert client.get("/rasters/big/legend.json").status_code == 404


def test_zonal_totals_saved_as_indicators_for_choropleths(tmp_path, store, monkeypatch) -> None:
    """Saved totals join the indicator table (layers/indicators.py) by county code."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from layers import indicators
    from layers.store import GeoPackageStore

    own = GeoPackageStore(tmp_path / "own.gpkg")
    for layer_id in ("counties", "townships", "villages"):
        own.put(store.layer(layer_id), store.frame(layer_id).reset_index(drop=True))
    monkeypatch.setenv("GONGFU_API_KEYS", "bureau-key")
    client = TestClient(create_app(Settings(store_path=tmp_path / "own.gpkg")))
    params = {"collection": "counties", "save_as": "bamboo_carbon"}
    assert client.get(f"/rasters/{RASTER}/zonal", params=params).status_code == 401
    client.headers["Authorization"] = "Bearer bureau-key"
    body = client.get(f"/rasters/{RASTER}/zonal", params=params).json()
    assert body["saved_indicators"] == ["bamboo_carbon_total", "bamboo_carbon_mean",
                                        "bamboo_carbon_value_yuan",
                                        "bamboo_carbon_village_share_yuan"]
    table = indicators.load(own)
    totals = table.values("bamboo_carbon_total")
    assert totals.loc["330523", "value"] == pytest.approx(339_300, rel=0.005)
    assert totals.loc["330503", "value"] == 0
    assert table.indicator("bamboo_carbon_total")["derived"] == "true"
    assert "bamboo_carbon_total" in table.mappable()
    bad = client.get(f"/rasters/{RASTER}/zonal", params={"collection": "counties",
                                                          "save_as": "Bad Name!"})
    assert bad.status_code == 400
