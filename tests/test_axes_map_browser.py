"""`/maps/axes` in Debian Chromium (Playwright), network cut: the Huzhou hierarchy with legend."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright import sync_api

from layers.axes import build_axes_layers
from layers.boundaries import Region, build_all
from layers.store import GeoPackageStore

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
UNPLACED = ("余村", "上杨村", "马家弄村", "大里村", "塘甸村")


@pytest.fixture(scope="module")
def axes_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """uvicorn over a store built as `gongfu build` builds it (boundaries + demo axes)."""
    path = tmp_path_factory.mktemp("axes_map") / "atlas.gpkg"
    store = GeoPackageStore(path)
    built = build_all(Region.parse("3305"))
    for layer, frame in built + build_axes_layers(built):
        store.put(layer, frame)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "GONGFU_STORE_PATH": str(path)}, cwd=Path(__file__).parent.parent)
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


@pytest.fixture(scope="module")
def page(axes_server: str):
    problems: dict[str, list[str]] = {"blocked": [], "errors": [], "failed": []}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        tab = context.new_page()

        def route(r) -> None:
            if urlsplit(r.request.url).hostname == "127.0.0.1":
                r.continue_()
            else:
                problems["blocked"].append(r.request.url)
                r.abort()

        tab.route("**/*", route)
        tab.on("console", lambda m: m.type == "error" and problems["errors"].append(m.text))
        tab.on("pageerror", lambda e: problems["errors"].append(str(e)))
        tab.on("response", lambda r: r.status >= 400 and problems["failed"].append(r.url))
        tab.goto(f"{axes_server}/maps/axes", wait_until="load")
        tab.wait_for_selector("path.axes-node-county_town")
        tab.wait_for_timeout(500)
        yield tab, problems
        browser.close()


def test_loads_offline_without_errors(page) -> None:
    _, problems = page
    assert problems["blocked"] == []
    assert problems["failed"] == []
    assert problems["errors"] == []


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
    assert len(labels) == 9 and all("示意" in text for text in labels)
    assert tab.locator("path.axes-domain").count() == 9


def test_legend_and_unplaced_sidebar(page) -> None:
    tab, _ = page
    legend = tab.locator(".atlas-infobox").inner_text()
    for word in ("县城", "中心镇", "重点村", "主轴", "次轴", "轴域", "示意", "schematic",
                 "未落位 Unplaced (5)"):
        assert word in legend
    assert tab.locator("li.axes-unplaced").count() == 5
    listed = " ".join(tab.locator("li.axes-unplaced").all_inner_texts())
    assert all(name in listed for name in UNPLACED)


def test_layer_control(page) -> None:
    tab, _ = page
    labels = [t.strip() for t in tab.locator(".leaflet-control-layers label").all_inner_texts()]
    assert "主轴（示意） Main axes" in labels and "县城 County towns" in labels
    assert "主轴轴域（示意） Main axis domains" in labels


def test_screenshot(page, artifacts: Path) -> None:
    tab, _ = page
    path = artifacts / "axes_map.png"
    tab.screenshot(path=str(path))
    assert path.stat().st_size > 30_000
