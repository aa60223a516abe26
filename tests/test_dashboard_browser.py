"""The index view and the Huzhou 驾驶舱 in Debian Chromium, offline: ECharts (from our
/static/vendor) draws its canvases, nothing is fetched from another host, no script errors."""

from __future__ import annotations

import pytest


def test_index_view_page(client) -> None:
    page = client.get("/maps/index")
    assert page.status_code == 200
    text = page.text
    assert "方法演示" in text and "/static/vendor/echarts/echarts.min.js" in text
    assert "cdn" not in text.lower().replace("cdnjs", "cdn")  # no CDN link at all
    assert "综合赋权" in text and "熵权" in text and "CRITIC" in text


def test_dashboard_pages(client) -> None:
    city = client.get("/dashboard/330500")
    assert city.status_code == 200
    assert "湖州市 驾驶舱" in city.text and "3,367,579" in city.text  # census sum, 计算值
    assert "/indicators/census_resident_population/values" in city.text
    county = client.get("/dashboard/330523")
    assert county.status_code == 200 and "安吉县" in county.text and "全部 5 个区县中第" in county.text
    missing = client.get("/dashboard/330100")
    assert missing.status_code == 404 and missing.json()["message"]["en"]


@pytest.mark.parametrize("path, charts", [("/maps/index", 2), ("/dashboard/330500", 3)])
def test_charts_drawn_offline(live_server, offline_page, artifacts, path, charts) -> None:
    page, watch = offline_page(1400, 900)
    page.goto(live_server + path, wait_until="networkidle")
    page.wait_for_selector("[data-echarts][data-drawn='1'] canvas", timeout=15_000)
    drawn = page.locator("[data-echarts][data-drawn='1'] canvas")
    assert drawn.count() >= charts
    # the canvases are painted: some pixel is not transparent
    painted = page.evaluate("""() => Array.from(document.querySelectorAll(
        '[data-drawn="1"] canvas')).filter(c => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
          return false; }).length""")
    assert painted >= charts
    if path == "/maps/index":  # switch the radar to another place
        select = page.locator("select.atlas-place-select")
        options = select.locator("option").all_inner_texts()
        select.select_option(index=len(options) - 1)
        assert page.locator(".leaflet-interactive").count() >= 5
    page.screenshot(path=str(artifacts / f"dashboard{path.replace('/', '_')}.png"))
    assert watch.problems == []
