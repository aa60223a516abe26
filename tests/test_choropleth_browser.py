"""The choropleth view in a real browser (Debian Chromium via Playwright), network cut:
filled counties, a legend with a no-data class, tooltips, fact-sheet popups and the selector."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.classification import NO_DATA_COLOUR

COUNTIES = {"吴兴区", "南浔区", "德清县", "长兴县", "安吉县"}


@pytest.fixture(scope="module")
def page(offline_page):
    """A Chromium page that may only talk to our server; yields (page, watch)."""
    return offline_page(1280, 800)


def _fills(tab) -> list[str]:
    return tab.eval_on_selector_all("path.atlas-choropleth",
                                    "ps => ps.map(p => p.getAttribute('fill'))")


def test_choropleth_fills_every_county_with_a_legend(page, live_server: str,
                                                     artifacts: Path) -> None:
    tab, watch = page
    tab.goto(f"{live_server}/maps/choropleth?layer=counties&indicator=villages_per_100km2"
             "&scheme=quantiles&k=5", wait_until="load")
    tab.wait_for_selector("path.atlas-choropleth")
    fills = _fills(tab)
    assert len(fills) >= 5
    filled = [f for f in fills if f and f.lower() != NO_DATA_COLOUR]
    assert len(filled) >= 5 and len(set(filled)) == 5  # five counties, five quantile classes
    legend = tab.locator(".atlas-infobox").inner_text()
    assert "每百平方公里村（社区）数" in legend and "无数据 No data" in legend
    assert "计算指标 Derived" in legend
    assert tab.locator(".atlas-legend-class").count() == 6  # 5 classes + no data
    tab.screenshot(path=str(artifacts / "choropleth_counties.png"))
    assert watch.problems == []


def test_tooltip_and_fact_sheet_popup(page, live_server: str) -> None:
    tab, watch = page
    tab.goto(f"{live_server}/maps/choropleth?indicator=villages&k=3", wait_until="load")
    tab.wait_for_selector("path.atlas-choropleth")
    county = tab.locator("path.atlas-choropleth").first
    point = tab.evaluate("""(path) => {
        const r = path.getBoundingClientRect();
        for (let fy = 0.3; fy < 0.95; fy += 0.05) for (let fx = 0.3; fx < 0.95; fx += 0.05) {
            const x = r.left + r.width * fx, y = r.top + r.height * fy;
            if (document.elementFromPoint(x, y) === path) return [x, y];
        }
        return null;
    }""", county.element_handle())
    assert point
    tab.mouse.move(*point)
    tooltip = tab.locator(".leaflet-tooltip")
    tooltip.wait_for(state="visible", timeout=3000)
    assert any(name in tooltip.inner_text() for name in COUNTIES)
    tab.mouse.click(*point)
    link = tab.locator(".leaflet-popup a.atlas-factsheet")
    link.wait_for(state="visible", timeout=3000)
    assert "来源 Source" in tab.locator(".leaflet-popup").inner_text()
    link.click()
    tab.wait_for_selector("table.place-facts")
    assert tab.locator("td.citation").count() >= 5
    assert watch.problems == []


def test_selector_switches_indicator(page, live_server: str) -> None:
    tab, watch = page
    tab.goto(f"{live_server}/maps/choropleth?indicator=area_km2", wait_until="load")
    before = _fills(tab)
    tab.select_option("select[name=indicator]", "townships_zhen")
    tab.wait_for_url("**indicator=townships_zhen**")
    tab.wait_for_selector("path.atlas-choropleth")
    assert "镇数" in tab.locator(".atlas-infobox").inner_text()
    assert _fills(tab) != before or len(before) == 5
    assert watch.problems == []


def test_point_layer_gets_proportional_symbols(page, live_server: str) -> None:
    tab, watch = page
    tab.goto(f"{live_server}/maps/choropleth?layer=townships&indicator=villages", wait_until="load")
    tab.wait_for_selector("path.atlas-symbol")
    radii = tab.eval_on_selector_all(
        "path.atlas-symbol:not(.atlas-nodata)",
        "ps => ps.map(p => p.getBoundingClientRect().width)")
    assert len(radii) >= 30  # township seats with a village count (36 have a point)
    assert max(radii) > 2 * min(radii)  # size follows the value
    assert "圆面积与数值成正比" in tab.locator(".atlas-infobox").inner_text()
    assert watch.problems == []


@pytest.fixture(scope="module")
def tiled_server(start_server, store_path: Path) -> str:
    """The app with a map tile threshold of 3 features, so the 5 counties come from MVT."""
    return start_server(store_path, GONGFU_MAP_TILES_THRESHOLD="3")


def test_large_layers_are_classed_from_tiles(page, tiled_server: str) -> None:
    tab, watch = page
    response = tab.goto(f"{tiled_server}/maps/choropleth?indicator=villages_per_100km2",
                        wait_until="load")
    assert "吴兴区" not in response.text()  # geometry and names come from the tiles
    # A county may span several tiles (several paths): wait for five distinct class colours.
    tab.wait_for_function(
        """(noData) => new Set([...document.querySelectorAll('path.atlas-choropleth')]
            .map(p => (p.getAttribute('fill') || '').toLowerCase())
            .filter(f => f && f !== noData)).size >= 5""",
        arg=NO_DATA_COLOUR.lower(), timeout=15000)
    fills = {f for f in _fills(tab) if f and f.lower() != NO_DATA_COLOUR}
    assert len(fills) == 5
    assert watch.problems == []
