"""Maps switch from inline GeoJSON to our MVT tiles (Leaflet.VectorGrid) above a feature count,
and the tiled counties still show tooltips in a real browser (Debian Chromium, network cut)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright import sync_api

from api.maps import build_map

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VECTORGRID = "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"


def _unescape(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def test_layers_above_threshold_come_from_tiles(client: TestClient) -> None:
    store = client.app.state.store
    html = _unescape(build_map(store, tiles_threshold=3).get_root().render())
    assert VECTORGRID in html and "L.vectorGrid.protobuf(" in html
    assert '"/tiles/counties/{z}/{x}/{y}.mvt?properties=code,name,area_km2,area_mu"' in html
    assert "吴兴区" not in html  # the 5 counties are no longer inline
    assert "湖州市" in html  # 1 city, under the threshold: still inline GeoJSON
    assert "区县 Counties and districts" in html  # still listed in the layer control
    assert client.get(VECTORGRID).status_code == 200
    inline = _unescape(build_map(store).get_root().render())
    assert "吴兴区" in inline and VECTORGRID not in inline


@pytest.fixture(scope="module")
def tiled_server(store_path: Path) -> str:
    """The app under uvicorn with a map threshold of 3 features (so counties are tiled)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GONGFU_STORE_PATH": str(store_path), "GONGFU_MAP_TILES_THRESHOLD": "3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, cwd=Path(__file__).parent.parent)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/conformance", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("server did not start")
    yield base
    process.terminate()
    process.wait(timeout=10)


def test_tiled_counties_show_tooltips_offline(tiled_server: str, artifacts: Path) -> None:
    blocked, failed, errors = [], [], []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()

        def route(r) -> None:
            if urlsplit(r.request.url).hostname == "127.0.0.1":
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} {r.status}"))
        tiles = []
        page.on("response", lambda r: "/tiles/counties/" in r.url and tiles.append(r.status))
        page.goto(f"{tiled_server}/", wait_until="load")
        page.wait_for_selector("path.atlas-county", state="attached")
        page.wait_for_timeout(500)
        assert page.locator("path.atlas-county").count() >= 5
        # Hover the middle of the largest county outline drawn: its tooltip must appear.
        box = max((p.bounding_box() for p in page.locator("path.atlas-county").all()),
                  key=lambda b: b["width"] * b["height"] if b else 0)
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector(".atlas-vt-tooltip", timeout=5000)
        text = page.locator(".leaflet-tooltip").inner_text()
        page.screenshot(path=str(artifacts / "tiled_map_tooltip.png"))
        browser.close()
    assert tiles and all(status in (200, 204) for status in tiles)
    assert "区县 County" in text and re.search(r"(吴兴区|南浔区|德清县|长兴县|安吉县)", text)
    assert "面积 Area (km²)" in text
    assert blocked == [] and failed == [] and errors == []
