"""Answers kept per version (overlay, its map page, zonal statistics, axis statistics) are
fresh after the data under them changes, and the owner check still runs on every request."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings


@pytest.fixture(scope="module")
def client(store_path: Path, tmp_path_factory) -> TestClient:
    folder = tmp_path_factory.mktemp("versioned")
    shutil.copyfile(store_path, folder / "atlas.gpkg")
    return TestClient(create_app(Settings(store_path=folder / "atlas.gpkg",
                                          uploads_dir=folder / "up", rate_limit_per_minute=0)))


def _total_km2(body: dict) -> float:
    return body["layers"][0]["total"]["area_km2"]


def test_overlay_follows_an_edit_of_the_upload(client: TestClient) -> None:
    box = shapely.box(119.60, 30.60, 119.61, 30.61)
    collection = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "名称": "地块"}, "geometry": json.loads(shapely.to_geojson(box))}]}
    made = client.post("/uploads", files={"file": ("p.geojson", json.dumps(collection).encode())})
    upload, auth = made.json()["id"], {"Authorization": f"Bearer {made.json()['token']}"}
    first = client.get(f"/uploads/{upload}/overlay", headers=auth).json()
    assert client.get(f"/uploads/{upload}/overlay", headers=auth).json() == first  # cached
    page = client.get(f"/maps/overlay/{upload}", headers=auth)
    assert page.status_code == 200
    stranger = client.post("/uploads", files={"file": ("q.geojson",
                                                       json.dumps(collection).encode())})
    other = {"Authorization": f"Bearer {stranger.json()['token']}"}
    assert client.get(f"/uploads/{upload}/overlay", headers=other).status_code == 404
    assert client.get(f"/maps/overlay/{upload}", headers=other).status_code == 404

    items = f"/uploads/{upload}/layers/layer_1/items"
    fid = client.get(items, headers=auth).json()["features"][0]["id"]
    tag = client.get(f"{items}/{fid}", headers=auth).headers["ETag"]
    bigger = shapely.box(119.60, 30.60, 119.62, 30.62)  # four times the area
    edited = client.put(f"{items}/{fid}", headers={**auth, "If-Match": tag}, json={
        "type": "Feature", "properties": {"名称": "地块"},
        "geometry": json.loads(shapely.to_geojson(bigger))})
    assert edited.status_code in (200, 204), edited.text
    second = client.get(f"/uploads/{upload}/overlay", headers=auth).json()
    assert _total_km2(second) == pytest.approx(4 * _total_km2(first), rel=0.01)
    assert client.get(f"/maps/overlay/{upload}", headers=auth).text != page.text


def test_zonal_statistics_follow_the_raster(client: TestClient, tmp_path: Path) -> None:
    raster = client.get("/rasters").json()["rasters"][0]
    url = f"/rasters/{raster['id']}/zonal"
    first = client.get(url, params={"collection": "counties"}).json()
    again = client.get(url, params={"collection": "counties"}).json()
    assert again == first
    changed = client.get(url, params={"collection": "counties",
                                      "sequestration_t_per_mu_yr": 0.78}).json()
    assert changed != first  # parameters are part of the key
    # a rewritten raster file is a new version: the cached answer is not reused
    path = Path(client.app.state.services.rasters.path(raster["id"]))
    import rasterio

    with rasterio.open(path, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as dataset:
        dataset.write(dataset.read(1) * 2, 1)
    doubled = client.get(url, params={"collection": "counties"}).json()
    assert doubled != first


def test_kept_answers_write_non_finite_numbers_as_null(client: TestClient) -> None:
    """A near-zero factor gives infinite figures: null, as FastAPI writes them, never a 500
    (found by the seeded fuzz once zonal answers were kept as JSON text)."""
    raster = client.get("/rasters").json()["rasters"][0]["id"]
    response = client.get(f"/rasters/{raster}/zonal", params={
        "collection": "counties", "sequestration_t_per_mu_yr": 5e-304})
    assert response.status_code == 200, response.text
    assert "Infinity" not in response.text and "NaN" not in response.text
