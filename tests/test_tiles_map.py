"""Maps switch from inline GeoJSON to our MVT tiles (Leaflet.VectorGrid) above a feature count,
and the tiled counties still show tooltips in a real browser (Debian Chromium, network cut)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from maps.views.home import build_map

VECTORGRID = "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"


def _unescape(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def test_layers_above_threshold_come_from_tiles(client: TestClient) -> None:
    store = client.app.state.store
    html = _unescape(build_map(store, tiles_threshold=3).get_root().render())
    # the page calls our loader (static/js/atlas.js), which builds L.vectorGrid.protobuf
    assert VECTORGRID in html and "Atlas.vectorTiles(" in html
    assert "L.vectorGrid.protobuf(" in client.get("/static/js/atlas.js").text
    assert '"/tiles/counties/{z}/{x}/{y}.mvt?properties=code,name,area_km2,area_mu"' in html
    assert "吴兴区" not in html  # the 5 counties are no longer inline
    assert "湖州市" in html  # 1 city, under the threshold: still inline GeoJSON
    assert "区县 Counties and districts" in html  # still listed in the layer control
    assert client.get(VECTORGRID).status_code == 200
    inline = _unescape(build_map(store).get_root().render())
    assert "吴兴区" in inline and VECTORGRID not in inline


@pytest.fixture(scope="module")
def tiled_server(start_server, store_path: Path) -> str:
    """The app under uvicorn with a map threshold of 3 features (so counties are tiled)."""
    return start_server(store_path, GONGFU_MAP_TILES_THRESHOLD="3")


def test_tiled_counties_show_tooltips_offline(offline_page, tiled_server: str,
                                              artifacts: Path) -> None:
    page, watch = offline_page(1100, 800)
    tiles: list[int] = []
    page.on("response", lambda r: "/tiles/counties/" in r.url and tiles.append(r.status))
    page.goto(f"{tiled_server}/maps/overview", wait_until="load")  # the divisions map
    # Tiles arrive one by one: wait until at least five county paths are drawn.
    page.wait_for_function("document.querySelectorAll('path.atlas-county').length >= 5",
                           timeout=15000)
    page.wait_for_timeout(300)
    # Hover the middle of the largest county outline drawn: its tooltip must appear.
    # measured in one evaluation: tiles may redraw their paths between two locator calls
    box = page.evaluate("""() => [...document.querySelectorAll('path.atlas-county')]
        .map(p => p.getBoundingClientRect())
        .map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}))
        .reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a))""")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector(".atlas-vt-tooltip", timeout=5000)
    text = page.locator(".leaflet-tooltip").inner_text()
    page.screenshot(path=str(artifacts / "tiled_map_tooltip.png"))
    assert tiles and all(status in (200, 204) for status in tiles)
    assert "区县 County" in text and re.search(r"(吴兴区|南浔区|德清县|长兴县|安吉县)", text)
    assert "面积 Area (km²)" in text
    assert watch.problems == []
