"""/maps/ecology in Debian Chromium (Playwright), network cut: our raster tiles draw, the legend
and unplaced villages show, a ledger popup gives the computed figures and sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

@pytest.fixture(scope="module")
def ecology_page(offline_page, live_server: str):
    """/maps/ecology loaded offline; yields (page, watch, raster tile responses)."""
    page, watch = offline_page(1280, 860)
    tiles: list[tuple[str, int, str | None]] = []
    page.on("response", lambda r: "/rasters/" in r.url and "/tiles/" in r.url
            and tiles.append((r.url, r.status, r.headers.get("content-type"))))
    page.goto(f"{live_server}/maps/ecology", wait_until="load")
    page.wait_for_selector("img.leaflet-tile-loaded")
    page.wait_for_timeout(500)
    return page, watch, tiles


def test_loads_offline_without_errors(ecology_page) -> None:
    _, watch, _ = ecology_page
    assert watch.problems == []


def test_raster_tiles_come_from_our_server_and_draw(ecology_page, artifacts: Path) -> None:
    page, _, tiles = ecology_page
    assert tiles, "no raster tile requested"
    assert all(status == 200 and kind == "image/png" for _, status, kind in tiles)
    loaded = page.locator(".atlas-carbon-tiles img.leaflet-tile-loaded")
    assert loaded.count() >= 1
    path = artifacts / "ecology_map.png"
    page.mouse.move(640, 5)
    page.screenshot(path=str(path))
    # the map pane shows the legend's colour for Anji's uniform density somewhere
    legend = page.evaluate("""async () => (await (await fetch('/rasters/bamboo_carbon_density/legend.json')).json())""")
    shot = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
    assert len(legend["stops"]) == 6
    greens = (shot[:, 1] > shot[:, 0] + 20) & (shot[:, 1] > shot[:, 2] + 20)
    assert greens.mean() > 0.05  # a visible share of the page is the green carbon layer


def test_legend_labels_the_layer_as_derived(ecology_page) -> None:
    page, _, _ = ecology_page
    box = page.locator(".atlas-infobox").inner_text()
    assert "not a bamboo map" in box and "并非竹林分布图" in box
    assert "t CO2e/ha/yr" in box
    assert page.locator("img.atlas-raster-legend").evaluate("i => i.naturalWidth") == 200


def test_unplaced_villages_are_listed_not_drawn(ecology_page) -> None:
    page, _, _ = ecology_page
    text = page.locator(".atlas-unplaced").inner_text()
    assert "马家弄村" in text and "大里村" in text and "1,755 t CO2e/yr" in text
    assert "流转" in text  # the note on why 180余万 is not comparable with the model
    assert page.locator("path.atlas-ledger").count() == 1  # the county entries, at the seat


def test_ledger_popup_shows_computed_figures_and_sources(ecology_page, artifacts: Path) -> None:
    page, _, _ = ecology_page
    page.locator("path.atlas-ledger").first.click(force=True)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=3000)
    text = popup.inner_text()
    assert "county seat as stand-in" in text
    assert "339,300 t CO2e/yr" in text  # 870,000 亩 × 0.39
    assert "中国新闻网" in text and "元/yr" in text
    page.wait_for_timeout(400)  # popup fade-in
    page.screenshot(path=str(artifacts / "ecology_map_popup.png"))
