"""`/maps/axes` in Debian Chromium (Playwright), network cut: the Huzhou hierarchy with legend."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from layers.axes import build_axes_layers
from layers.boundaries import Region, build_all
from layers.store import GeoPackageStore

UNPLACED = ("余村", "上杨村", "马家弄村", "大里村", "塘甸村")


@pytest.fixture(scope="module")
def axes_server(start_server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """uvicorn over a store built as `gongfu build` builds it (boundaries + demo axes)."""
    path = tmp_path_factory.mktemp("axes_map") / "atlas.gpkg"
    store = GeoPackageStore(path)
    built = build_all(Region.parse("3305"))
    for layer, frame in built + build_axes_layers(built):
        store.put(layer, frame)
    return start_server(path)


@pytest.fixture(scope="module")
def page(offline_page, axes_server: str):
    tab, watch = offline_page(1400, 900)
    tab.goto(f"{axes_server}/maps/axes", wait_until="load")
    tab.wait_for_selector("path.axes-node-county_town")
    tab.wait_for_timeout(500)
    return tab, watch


def test_loads_offline_without_errors(page) -> None:
    _, watch = page
    assert watch.blocked == []
    assert watch.failed == []
    assert watch.errors == []


def test_tiers_are_drawn_with_sizes_by_rank(page) -> None:
    tab, _ = page
    counts = {tier: tab.locator(f"path.axes-node-{tier}").count()
              for tier in ("county_town", "central_town", "key_village")}
    assert counts == {"county_town": 5, "central_town": 4, "key_village": 5}
    county = tab.locator("path.axes-node-county_town").first.bounding_box()
    central = tab.locator("path.axes-node-central_town").first.bounding_box()
    village = tab.locator("path.axes-node-key_village").first.bounding_box()
    assert county["width"] > central["width"] > village["width"]


def test_axes_by_rank_with_direction_and_labels(page) -> None:
    tab, _ = page
    assert tab.locator("path.axes-axis-main").count() == 4
    assert tab.locator("path.axes-axis-secondary").count() == 5
    assert tab.locator("path.leaflet-ant-path").count() >= 9  # animated direction
    labels = tab.locator("textPath").all_text_contents()
    assert len(labels) == 9 and all("演示" in text for text in labels)
    assert tab.locator("path.axes-domain").count() == 9


def test_legend_and_unplaced_sidebar(page) -> None:
    tab, _ = page
    legend = tab.locator(".atlas-infobox").inner_text()
    for word in ("县城", "中心镇", "重点村", "主轴", "次轴", "轴域", "演示", "demonstration",
                 "未落位 Unplaced (5)"):
        assert word in legend
    assert tab.locator("li.axes-unplaced").count() == 5
    listed = " ".join(tab.locator("li.axes-unplaced").all_inner_texts())
    assert all(name in listed for name in UNPLACED)


def test_layer_control(page) -> None:
    tab, _ = page
    labels = [t.strip() for t in tab.locator(".leaflet-control-layers label").all_inner_texts()]
    assert "主轴（演示） Main axes" in labels and "县城 County towns" in labels
    assert "主轴轴域（演示） Main axis domains" in labels


def test_screenshot(page, artifacts: Path) -> None:
    tab, _ = page
    path = artifacts / "axes_map.png"
    tab.screenshot(path=str(path))
    assert path.stat().st_size > 30_000


def test_scenario_picker_lists_the_demo_and_unknown_scenario_is_404(page, axes_server: str
                                                                    ) -> None:
    tab, _ = page
    options = tab.locator("#axes-scenario option").all_inner_texts()
    assert options == ["演示 demo"]
    assert "演示" in tab.locator(".leaflet-control-attribution").inner_text()
    for path in ("/maps/axes?scenario=nope", "/axes/stats?scenario=nope"):
        missing = httpx.get(f"{axes_server}{path}", timeout=60)
        assert missing.status_code == 404
        message = missing.json()["message"]
        assert "nope" in message["zh"] and "发展轴方案" in message["zh"] and "nope" in message["en"]
