"""Kill the server with SIGKILL in the middle of 50 concurrent uploads; on restart every upload
that was answered 2xx is complete and readable, and nothing else is left behind: no temp
files, no half uploads (geo/durable.py, layers/uploads.py)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import _free_port

ROOT = Path(__file__).parent.parent
UPLOADS = 50


def _parcel(i: int) -> bytes:
    """A small polygon in Anji as GeoJSON (a different one per upload)."""
    x, y = 119.60 + (i % 10) * 0.01, 30.60 + (i // 10) * 0.01
    ring = [[x, y], [x + 0.005, y], [x + 0.005, y + 0.005], [x, y + 0.005], [x, y]]
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"名称": f"地块{i}"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}, ensure_ascii=False).encode()


def _start(store: Path, uploads: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GONGFU_STORE_PATH": str(store), "GONGFU_UPLOADS_DIR": str(uploads)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT,
        start_new_session=True)  # its own process group: SIGKILL reaches the parse children
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/conformance", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_during_concurrent_uploads_loses_nothing_answered(
        store_path: Path, tmp_path: Path, seed: int) -> None:
    store = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, store)
    uploads = tmp_path / "uploads"
    process, base = _start(store, uploads)
    answered: dict[int, tuple[str, str]] = {}  # upload number -> (id, token)

    def upload(i: int) -> None:
        try:
            response = httpx.post(f"{base}/uploads", files={"file": (f"p{i}.geojson",
                                                                      _parcel(i))}, timeout=30)
        except httpx.HTTPError:
            return  # the server died before answering: the upload may or may not exist
        if response.status_code == 201:
            body = response.json()
            answered[i] = (body["id"], body["token"])

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(UPLOADS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(answered) < 3 and time.monotonic() < deadline:  # the work is under way…
        time.sleep(0.02)
    time.sleep(random.Random(seed).uniform(0.0, 0.5))  # …then a random point in it
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    for thread in threads:
        thread.join(40)
    assert 3 <= len(answered) < UPLOADS, len(answered)  # killed mid-way, some answered

    process, base = _start(store, uploads)  # the restart sweeps dead writers' temp files
    try:
        for i, (upload_id, token) in answered.items():
            auth = {"Authorization": f"Bearer {token}"}
            record = httpx.get(f"{base}/uploads/{upload_id}", headers=auth, timeout=10)
            assert record.status_code == 200, (i, record.text)
            (layer,) = record.json()["layers"]
            items = httpx.get(f"{base}/uploads/{upload_id}/layers/{layer['id']}/items",
                              headers=auth, timeout=10).json()
            assert items["features"][0]["properties"]["名称"] == f"地块{i}"
        leftovers = sorted(p.name for p in uploads.iterdir() if p.name.startswith("."))
        assert leftovers == [".token-secret"], leftovers  # no temp files, no half uploads
        complete = {p.stem for p in uploads.glob("*.gpkg")}
        assert {upload_id for upload_id, _ in answered.values()} <= complete
        assert httpx.get(f"{base}/collections", timeout=10).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
