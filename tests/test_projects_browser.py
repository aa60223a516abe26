"""Projects on `/maps/axes` and the plan sheet in Debian Chromium (Playwright), network cut:
status colours, filters, a popup's ECharts curve, the warnings panel; the printable sheet."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.axes import build_axes_layers
from layers.boundaries import Region, build_all
from layers.projects import empty_project_layers, import_projects
from layers.settlement_nodes import read_table
from layers.store import GeoPackageStore

FIXTURES = Path(__file__).parent / "fixtures"
RED, YELLOW, GREEN = "#d7191c", "#f0a500", "#1a9641"


@pytest.fixture(scope="module")
def projects_server(start_server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Boundaries, demo axes and the fictional March snapshot (2 red, 1 yellow, 1 green
    placed; 1 unplaced)."""
    path = tmp_path_factory.mktemp("projects_map") / "atlas.gpkg"
    store = GeoPackageStore(path)
    built = build_all(Region.parse("3305"))
    for layer, frame in built + build_axes_layers(built) + empty_project_layers():
        store.put(layer, frame)
    name = "projects_2024_03.csv"
    import_projects(read_table((FIXTURES / name).read_bytes(), name), store, dry_run=False)
    return start_server(path)


@pytest.fixture(scope="module")
def page(offline_page, projects_server: str):
    tab, watch = offline_page(1400, 900)
    tab.goto(f"{projects_server}/maps/axes", wait_until="load")
    tab.wait_for_selector("path.project-marker")
    return tab, watch


def test_markers_coloured_by_status(page) -> None:
    tab, watch = page
    fills = {s: tab.locator(f"path.project-status-{s}").evaluate_all(
        "els => els.map(e => e.getAttribute('fill'))") for s in ("red", "yellow", "green")}
    assert fills == {"red": [RED, RED], "yellow": [YELLOW], "green": [GREEN]}
    assert watch.blocked == [] and watch.errors == [] and watch.failed == []


def test_warnings_panel_and_unplaced(page) -> None:
    tab, _ = page
    items = tab.locator("li.project-warning").all_inner_texts()
    # red first (城西学校 lag 25, 妙西 lag 5 overdue), then yellow 南浔物流通道
    assert [i.split(" ")[0] for i in items] == ["虚构示例·城西学校", "虚构示例·妙西矿山生态修复",
                                                "虚构示例·南浔物流通道"]
    assert "虚构示例·德清文化中心" in tab.locator("li.projects-unplaced").inner_text()


def test_filter_by_status(page) -> None:
    tab, _ = page
    tab.select_option("select.project-filter[data-field=status]", "red")
    assert tab.locator("path.project-marker").count() == 2
    tab.select_option("select.project-filter[data-field=status]", "")
    tab.select_option("select.project-filter[data-field=county]", "南浔区")
    assert tab.locator("path.project-marker").count() == 1
    tab.select_option("select.project-filter[data-field=county]", "")
    assert tab.locator("path.project-marker").count() == 4


def test_popup_holds_the_curve(page, artifacts: Path) -> None:
    tab, watch = page
    marker = tab.locator("path.project-status-yellow").first
    marker.scroll_into_view_if_needed()
    tab.mouse.move(5, 5)  # start from outside the map: no tooltip or hover state in the way
    marker.click(force=True)
    try:
        tab.wait_for_selector(".project-popup", timeout=5_000)
    except Exception:
        # Under a loaded CI machine the first click on a marker re-added by the previous
        # test's filter was seen to be swallowed (no popup, no error); a planner clicks again.
        marker.click(force=True)
        tab.wait_for_selector(".project-popup", timeout=15_000)
    try:
        tab.wait_for_selector(".project-popup .project-curve svg", timeout=15_000)
    except Exception:  # say what the popup holds instead of a bare timeout
        html = tab.evaluate("document.querySelector('.project-popup').outerHTML")
        raise AssertionError(f"no curve drawn; popup: {html[:2000]}") from None
    assert "虚构示例·南浔物流通道" in tab.locator(".project-popup").inner_text()
    tab.screenshot(path=str(artifacts / "projects_map.png"))
    assert watch.blocked == [] and watch.errors == [] and watch.failed == []


def test_plan_sheet(offline_page, projects_server: str, artifacts: Path) -> None:
    tab, watch = offline_page(1100, 1400)
    tab.goto(f"{projects_server}/axes/330502-M1/plan?f=html", wait_until="load")
    tab.wait_for_selector("#curve svg")
    text = tab.inner_text("body")
    for word in ("一轴一方案", "吴兴区主轴", "织里镇", "轴域面积", "演示/算法生成",
                 "虚构示例·城西学校", "虚构示例·织里童装智造园"):
        assert word in text
    assert tab.locator("table.projects tr").count() == 4  # header + 3 projects
    assert tab.locator(".status-red").count() == 2
    tab.screenshot(path=str(artifacts / "plan_sheet.png"), full_page=True)
    assert watch.blocked == [] and watch.errors == [] and watch.failed == []
