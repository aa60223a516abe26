"""`/maps/overlay/{id}` in Debian Chromium with the network cut: the upload is drawn over the
counties, its hostile attribute text shows as text (never runs), and only the owner sees it."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import httpx
import pytest
import shapely

SCRIPT = "<script>window.pwned=1</script>"
IMG = '<img src=x onerror="window.pwned2=1">'


@pytest.fixture(scope="module")
def upload(live_server: str) -> dict:
    """A polygon in Anji and a point in Wuxing whose attributes carry markup."""
    frame = gpd.GeoDataFrame(
        {"名称": [SCRIPT, "竹林 bamboo"], IMG: ["x", "y"]},
        geometry=[shapely.box(119.60, 30.60, 119.64, 30.63), shapely.Point(120.09, 30.87)],
        crs=4326)
    files = {"file": ("plots.geojson", frame.to_json().encode())}
    response = httpx.post(f"{live_server}/uploads", files=files, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def test_overlay_map_renders_offline_and_escapes_text(offline_page, live_server: str,
                                                      upload: dict, artifacts: Path) -> None:
    page, watch = offline_page(1100, 760)
    url = f"{live_server}/maps/overlay/{upload['id']}?access_token={upload['token']}"
    response = page.goto(url, wait_until="load")
    assert response.status == 200
    page.wait_for_selector("path.atlas-upload")
    assert page.locator("path.atlas-county").count() >= 5
    assert watch.blocked == [] and watch.errors == []
    assert page.evaluate("() => [window.pwned, window.pwned2]") == [None, None]

    boxes = [p.bounding_box() for p in page.locator("path.atlas-upload").all()]
    box = max(boxes, key=lambda b: b["width"] * b["height"])  # the polygon, not the point
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(state="visible", timeout=3000)
    text = tooltip.inner_text()
    assert SCRIPT in text and IMG in text  # shown as text, literally
    assert page.evaluate("() => [window.pwned, window.pwned2]") == [None, None]
    labels = " ".join(page.locator(".leaflet-control-layers label").all_inner_texts())
    assert "上传 Upload: plots" in labels and "区县" in labels
    assert "演示/派生数据 illustrative" in labels  # the derived carbon raster, off until chosen
    legend = page.locator(".atlas-infobox").inner_text()
    assert "安吉县" in legend and "亩" in legend
    page.screenshot(path=str(artifacts / "upload_overlay.png"))


def test_overlay_map_is_private(offline_page, live_server: str, upload: dict) -> None:
    other = httpx.post(f"{live_server}/uploads",
                       files={"file": ("o.geojson", gpd.GeoDataFrame(
                           geometry=[shapely.Point(120.0, 30.8)], crs=4326).to_json().encode())},
                       timeout=30).json()
    page, _ = offline_page(1100, 760)
    for token in (other["token"], None):
        url = f"{live_server}/maps/overlay/{upload['id']}"
        if token:
            url += f"?access_token={token}"
        response = page.goto(url)
        assert response.status == 404
        assert page.locator("path.atlas-upload").count() == 0
