"""Raster (GeoTIFF) imports are read like vector uploads: in a limited child process
(geo/sandbox.py) with GDAL allowed to open GeoTIFF only. A file that would make GDAL read
server files, run for ever or exhaust memory is a clean bilingual 422; nothing is published
and the server goes on answering."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from api.app import create_app
from api.settings import Settings
from geo.errors import UnreadableUpload
from geo.raster import import_raster

KEY = "raster-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
# A VRT saved as .tif: its "pixels" would be the bytes of /etc/passwd.
VRT_AS_TIFF = ('<VRTDataset rasterXSize="64" rasterYSize="16"><SRS>EPSG:4326</SRS>'
               '<GeoTransform>119.5, 0.01, 0, 30.8, 0, -0.01</GeoTransform>'
               '<VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
               '<SourceFilename relativeToVRT="0">/etc/passwd</SourceFilename>'
               '<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>')


def _client(store_path: Path, tmp_path: Path, monkeypatch, **env: str) -> TestClient:
    path = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    for key, value in {"GONGFU_API_KEYS": KEY, "GONGFU_RASTER_DIR": str(tmp_path / "rasters"),
                       "GONGFU_RATE_LIMIT_PER_MINUTE": "0", **env}.items():
        monkeypatch.setenv(key, value)
    return TestClient(create_app(Settings(store_path=path)))


def _geotiff(path: Path, width: int = 300, height: int = 200, sparse: bool = False) -> bytes:
    """A WGS84 float32 GeoTIFF over Huzhou; `sparse`: header and index only, no pixels."""
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs="EPSG:4326", tiled=True,
                       transform=from_origin(119.5, 30.8, 0.001, 0.001),
                       **({"SPARSE_OK": "TRUE"} if sparse else {})) as dst:
        if not sparse:
            dst.write(np.arange(width * height, dtype="float32").reshape(height, width), 1)
    return path.read_bytes()


def _post(client: TestClient, name: str, data: bytes, raster_id: str):
    return client.post("/rasters", headers=AUTH, data={"id": raster_id},
                       files={"file": (name, data, "image/tiff")})


def test_a_geotiff_is_imported_through_the_sandbox(store_path, tmp_path, monkeypatch) -> None:
    client = _client(store_path, tmp_path, monkeypatch)
    response = _post(client, "坡度.tif", _geotiff(tmp_path / "ok.tif"), "slope")
    assert response.status_code == 201, response.text
    assert response.json()["info"]["crs"] == "EPSG:4549"
    assert (tmp_path / "rasters" / "slope.tif").exists()
    assert [p.name for p in (tmp_path / "rasters").iterdir() if p.name.startswith("tmp")] == []


def test_a_vrt_saved_as_tif_is_refused_and_reads_nothing(store_path, tmp_path,
                                                         monkeypatch) -> None:
    client = _client(store_path, tmp_path, monkeypatch)
    response = _post(client, "dem.tif", VRT_AS_TIFF.encode(), "dem")
    assert response.status_code == 422
    body = response.json()
    assert body["message"]["zh"] and body["message"]["en"]
    assert "/etc/passwd" not in response.text and "root" not in response.text
    assert client.get("/rasters/dem").status_code == 404
    # the reader itself refuses it in any process, not only in the sandbox
    (tmp_path / "dem.tif").write_text(VRT_AS_TIFF, encoding="utf-8")
    with pytest.raises(UnreadableUpload):
        import_raster(tmp_path / "dem.tif", tmp_path / "out.tif")


def test_a_raster_that_would_run_for_ever_is_stopped(store_path, tmp_path, monkeypatch) -> None:
    """200,000 × 200,000 cells declared in a few KB: warping it would take hours."""
    client = _client(store_path, tmp_path, monkeypatch, GONGFU_UPLOAD_PARSE_SECONDS="3")
    huge = _geotiff(tmp_path / "huge.tif", 200_000, 200_000, sparse=True)
    assert len(huge) < 20 * 2**20
    response = _post(client, "huge.tif", huge, "huge")
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("parse_timeout", "parse_out_of_memory")
    assert "huge.tif" in response.json()["message"]["zh"]
    assert client.get("/rasters/huge").status_code == 404
    assert client.get("/rasters").status_code == 200  # still answering
    left = [p.name for p in (tmp_path / "rasters").iterdir() if not p.name.startswith("bamboo")]
    assert left == []  # no half-written COG, no temp folder


def test_a_memory_blow_up_in_the_reader_is_a_422(store_path, tmp_path, monkeypatch) -> None:
    """One 20,000 × 20,000 float32 block (1.6 GB) against a 128 MB cap."""
    client = _client(store_path, tmp_path, monkeypatch, GONGFU_UPLOAD_PARSE_MEMORY_MB="128")
    path = tmp_path / "block.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20_000, height=20_000, count=1,
                       dtype="float32", crs="EPSG:4326", tiled=False, blockysize=20_000,
                       SPARSE_OK="TRUE", transform=from_origin(119.5, 30.8, 1e-5, 1e-5)):
        pass
    response = _post(client, "block.tif", path.read_bytes(), "block")
    assert response.status_code == 422, response.text
    assert response.json()["message"]["en"]
    assert client.get("/rasters/block").status_code == 404
