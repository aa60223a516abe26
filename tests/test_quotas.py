"""Quotas: a per-client rate limit on the expensive endpoints (429 + Retry-After) and a cap on
the uploads one owner keeps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

PARCEL = json.dumps({"type": "Feature", "properties": {"名称": "地块"}, "geometry": {
    "type": "Polygon", "coordinates": [[[119.6, 30.6], [119.61, 30.6], [119.61, 30.61],
                                        [119.6, 30.6]]]}}).encode()


def _client(store_path: Path, tmp_path: Path, monkeypatch, **env: str) -> TestClient:
    path = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    monkeypatch.setenv("GONGFU_UPLOADS_DIR", str(tmp_path / "uploads"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return TestClient(create_app(Settings(store_path=path)))


def test_expensive_endpoints_answer_429_with_retry_after(store_path, tmp_path,
                                                          monkeypatch) -> None:
    client = _client(store_path, tmp_path, monkeypatch, GONGFU_RATE_LIMIT_PER_MINUTE="3")
    codes = [client.post("/uploads", params={"dry_run": "true"},
                         files={"file": ("p.geojson", PARCEL)}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.post("/uploads", params={"dry_run": "true"},
                          files={"file": ("p.geojson", PARCEL)})
    assert int(refused.headers["retry-after"]) >= 1
    assert "请求过于频繁" in refused.json()["message"]["zh"]
    # another client (its own key) has its own bucket; cheap endpoints are never limited
    other = {"Authorization": "Bearer someone-else"}
    assert client.post("/uploads", params={"dry_run": "true"}, headers=other,
                       files={"file": ("p.geojson", PARCEL)}).status_code != 429
    assert all(client.get("/collections").status_code == 200 for _ in range(10))


def test_an_owner_keeps_at_most_the_quota_of_uploads(store_path, tmp_path, monkeypatch) -> None:
    client = _client(store_path, tmp_path, monkeypatch, GONGFU_UPLOAD_QUOTA_COUNT="2",
                     GONGFU_API_KEYS="planner-key")
    auth = {"Authorization": "Bearer planner-key"}
    ids = [client.post("/uploads", headers=auth, files={"file": ("p.geojson", PARCEL)}).json()
           for _ in range(2)]
    third = client.post("/uploads", headers=auth, files={"file": ("p.geojson", PARCEL)})
    assert third.status_code == 403 and third.json()["code"] == "quota_exceeded"
    assert client.delete(f"/uploads/{ids[0]['id']}", headers=auth).status_code == 204
    assert client.post("/uploads", headers=auth,
                       files={"file": ("p.geojson", PARCEL)}).status_code == 201
