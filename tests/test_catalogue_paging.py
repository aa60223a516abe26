"""The catalogue lists (/rasters, /uploads, /constraints, /pmtiles) are paged (`limit`/
`offset` with a `next` link that walks the whole list) and searchable (`q=`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from api.app import create_app
from api.settings import Settings

KEY = "paging-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _parcel(name: str, west: float) -> bytes:
    return json.dumps({"type": "Feature", "properties": {"名称": name}, "geometry": {
        "type": "Polygon", "coordinates": [[[west, 30.6], [west + 0.01, 30.6],
                                            [west + 0.01, 30.61], [west, 30.6]]]}}).encode()


def _client(store_path: Path, tmp_path: Path, monkeypatch) -> TestClient:
    path = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    for key, value in {"GONGFU_API_KEYS": KEY, "GONGFU_UPLOADS_DIR": str(tmp_path / "up"),
                       "GONGFU_RASTER_DIR": str(tmp_path / "rasters"),
                       "GONGFU_RATE_LIMIT_PER_MINUTE": "0"}.items():
        monkeypatch.setenv(key, value)
    return TestClient(create_app(Settings(store_path=path)))


def _walk(client: TestClient, url: str, name: str, **params) -> list[dict]:
    """Every entry, following `next` links page by page."""
    seen, response = [], client.get(url, params=params, headers=AUTH)
    while True:
        body = response.json()
        assert response.status_code == 200 and body["numberReturned"] == len(body[name])
        seen += body[name]
        nexts = [link["href"] for link in body["links"] if link["rel"] == "next"]
        if not nexts:
            return seen
        response = client.get(nexts[0], headers=AUTH)


def test_uploads_are_paged_and_searchable(store_path, tmp_path, monkeypatch) -> None:
    client = _client(store_path, tmp_path, monkeypatch)
    names = ["东林地块.geojson", "西苕溪地块.geojson", "东衡村.geojson", "织里.geojson",
             "东片区.geojson"]
    ids = [client.post("/uploads", headers=AUTH, files={"file": (n, _parcel(n, 119.6 + i / 50))}
                       ).json()["id"] for i, n in enumerate(names)]
    first = client.get("/uploads", params={"limit": 2}, headers=AUTH).json()
    assert first["numberMatched"] == 5 and first["numberReturned"] == 2
    walked = _walk(client, "/uploads", "uploads", limit=2)
    assert sorted(u["id"] for u in walked) == sorted(ids)  # each once
    created = [u["created"] for u in walked]
    assert created == sorted(created)  # oldest first (to the second)
    found = client.get("/uploads", params={"q": "东"}, headers=AUTH).json()
    assert sorted(u["filename"] for u in found["uploads"]) == sorted(
        n for n in names if "东" in n)
    # another owner's uploads are never listed nor counted
    other = client.post("/uploads", files={"file": ("东.geojson", _parcel("x", 119.9))}).json()
    theirs = client.get("/uploads", headers={"Authorization": f"Bearer {other['token']}"})
    assert theirs.json()["numberMatched"] == 1
    assert client.get("/uploads", params={"q": "东"}, headers=AUTH).json()["numberMatched"] == 3
    # a deleted upload leaves the list at once (the records are cached per file version)
    assert client.delete(f"/uploads/{ids[0]}", headers=AUTH).status_code == 204
    left = [u["id"] for u in _walk(client, "/uploads", "uploads", limit=3)]
    assert sorted(left) == sorted(ids[1:])
    assert client.get("/uploads", params={"limit": 0}, headers=AUTH).status_code == 400


def test_rasters_are_paged_and_searchable(store_path, tmp_path, monkeypatch) -> None:
    client = _client(store_path, tmp_path, monkeypatch)
    source = tmp_path / "src.tif"
    with rasterio.open(source, "w", driver="GTiff", width=20, height=20, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=from_origin(119.6, 30.8, 0.001, 0.001)) as dst:
        dst.write(np.ones((20, 20), "float32"), 1)
    for raster_id, title in (("slope", "坡度"), ("dem", "高程"), ("ndvi", "植被指数")):
        response = client.post("/rasters", headers=AUTH, files={"file": (
            "x.tif", source.read_bytes())}, data={"id": raster_id, "title_zh": title})
        assert response.status_code == 201, response.text
    everything = _walk(client, "/rasters", "rasters", limit=1)
    assert len(everything) == 4 and len({r["id"] for r in everything}) == 4  # + the demo
    hit = client.get("/rasters", params={"q": "高程"}).json()
    assert [r["id"] for r in hit["rasters"]] == ["dem"] and hit["numberMatched"] == 1
    assert client.get("/rasters", params={"q": "SLOPE"}).json()["numberMatched"] == 1


def test_constraints_and_pmtiles_are_paged(store_path, tmp_path, monkeypatch) -> None:
    client = _client(store_path, tmp_path, monkeypatch)
    for i, kind in enumerate(["生态保护红线", "永久基本农田", "城镇开发边界"]):
        response = client.post("/constraints", headers=AUTH, params={
            "kind": kind, "dry_run": "false"}, files={"file": ("c.geojson", _parcel(kind, 119.6 + i / 50))})
        assert response.status_code in (200, 201), response.text
    assert len(_walk(client, "/constraints", "constraints", limit=2)) == 3
    farmland = client.get("/constraints", params={"q": "农田"}).json()
    assert farmland["numberMatched"] == 1
    assert farmland["constraints"][0]["kind"] == "永久基本农田"
    assert client.get("/pmtiles", params={"q": "none"}).json()["numberMatched"] == 0
