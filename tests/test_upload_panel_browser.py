"""我的数据 in the 一张图 workspace, driven through the page's own controls in Debian Chromium
with the network cut, against a real server: a GBK shapefile zip without .cpg/.prj → the
dry-run report (12 parcels, 30.4 km², GB18030, EPSG:4549 inferred) → 保存 → listed, drawn
from tiles fetched with the key in the header → overlay table with 安吉县 → download → the
key survives a reload, another browser sees nothing → delete → forget. The axes editor's dry
run draws the nodes of a small table and lists every problem row of a bad one. The shipped
报盘 TXT sample lands as 2 parcels / 30 000 m²; a synthetic 永久基本农田 layer published through
发布管控边界 yields the planted conflict area in the 合规性审查 table, drawn in red; the axes
template round-trips into the saved scenario `tpl` shown on /maps/axes?scenario=tpl."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import httpx
import pandas as pd
import pyogrio
import pytest
import shapely
from test_vector_read import write_gbk_shapefile


SCRIPT = "<script>window.pwned=1</script>"
KEY_STORE = "gongfu.uploads.key"
# 12 parcels of 1 600 m × 1 583.3 m = 2.5333 km² each, 30.4 km² in all, in 安吉县, written as
# CGCS2000 3° GK CM 120E (EPSG:4549) eastings/northings with no zone prefix.
WIDTH, HEIGHT = 1600.0, 30.4e6 / 12 / 1600
PARCELS = [shapely.box(462_000 + 2000 * i, 3_382_000 + 2000 * j,
                       462_000 + 2000 * i + WIDTH, 3_382_000 + 2000 * j + HEIGHT)
           for j in range(3) for i in range(4)]


def gbk_parcels_zip(folder: Path) -> bytes:
    """12 GBK polygon parcels with no .cpg, no .prj and no DBF language byte, zipped."""
    frame = gpd.GeoDataFrame({"名称": [f"地块{k + 1}" for k in range(12)], "用途": ["耕地"] * 12,
                              "备注": [SCRIPT] + [""] * 11}, geometry=PARCELS)
    write_gbk_shapefile(frame, folder, "规划地块")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, path.name)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(start_server, store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real server over a private copy of the Huzhou store, with an API key configured."""
    folder = tmp_path_factory.mktemp("upload_panel")
    path = folder / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    return start_server(path, GONGFU_API_KEYS="bureau-key",
                        GONGFU_UPLOADS_DIR=str(folder / "uploads"))


@pytest.fixture(scope="module")
def parcels_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return gbk_parcels_zip(tmp_path_factory.mktemp("parcels") / "shp")


def open_workspace(offline_page, server: str):
    page, watch = offline_page(1400, 900)
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(f"{server}/", wait_until="load")
    page.wait_for_selector("#ws-side #up-section")
    page.wait_for_selector(".ws-layer[data-layer=counties]")
    return page, watch, urls


def test_upload_report_save_overlay_download_and_delete(offline_page, server: str,
                                                        parcels_zip: bytes,
                                                        artifacts: Path) -> None:
    page, watch, urls = open_workspace(offline_page, server)
    assert "导入密钥" in page.locator(".up-empty").inner_text()
    assert not any(urlsplit(u).path.startswith("/uploads") for u in urls)  # no key, no request

    page.set_input_files("#up-file", files=[{"name": "规划地块.zip", "mimeType": "application/zip",
                                             "buffer": parcels_zip}])
    report = page.locator("#up-drawer .up-layer-report")
    report.wait_for()
    text = page.locator("#up-drawer").inner_text()
    assert "12 要素（面）" in text
    assert "30.4 平方千米" in text and "45,600 亩" in text
    assert "EPSG:4549" in text and "2000国家大地坐标系" in text and "由坐标推断" in text
    assert "GB18030" in text and "UTF-8 解码失败" in text
    assert "全部位于湖州市范围内" in text
    assert "西安80" in text  # the server's warning: the same numbers could be Xian 80
    options = page.locator("#up-drawer .up-crs option").all_inner_texts()
    assert any("西安80 3度带" in o for o in options) and any("北京54" in o for o in options)
    page.screenshot(path=str(artifacts / "upload_panel_report.png"))

    page.click("#up-drawer .up-save")
    page.wait_for_selector("#up-drawer .up-done")
    key = page.evaluate(f"() => localStorage.getItem('{KEY_STORE}')")
    assert key and key.startswith("gfu_")
    assert page.locator("#up-drawer .up-key-new code").inner_text() == key
    item = page.locator(".up-item")
    item.wait_for()
    assert item.count() == 1 and "规划地块.zip" in item.inner_text()
    upload_id = item.get_attribute("data-upload")
    assert page.locator(".up-item .up-toggle").is_checked()
    page.wait_for_function(
        f"() => document.querySelectorAll('.leaflet-up-{upload_id}-pane path').length >= 12")
    page.screenshot(path=str(artifacts / "upload_panel_saved.png"))

    page.click(".up-item .up-overlay")
    table = page.locator("#up-drawer table[data-zone=counties]")
    table.wait_for(timeout=60_000)
    assert "安吉县" in table.inner_text() and "45,600" in table.inner_text()
    assert "100%" in table.inner_text()
    assert page.locator(".ws-layer[data-layer=counties] .ws-toggle").is_checked()
    page.screenshot(path=str(artifacts / "upload_panel_overlay.png"))

    page.click(".up-item .up-download")
    page.select_option("#up-drawer select[name=format]", "geojson")
    page.select_option("#up-drawer select[name=crs]", "EPSG:4549")
    with page.expect_download() as got:
        page.click("#up-drawer .up-dl-go")
    saved = Path(got.value.path()).read_bytes()
    downloaded = gpd.read_file(io.BytesIO(saved))
    assert len(downloaded) == 12 and downloaded.crs.to_epsg() == 4549
    assert downloaded.geometry.area.sum() == pytest.approx(30.4e6, rel=1e-6)
    assert sorted(downloaded["名称"]) == sorted(f"地块{k + 1}" for k in range(12))

    # the key travelled only in headers: never in any URL the page asked for
    assert not any(key in u for u in urls)
    assert watch.problems == []
    assert page.evaluate("() => window.pwned") is None

    page.reload(wait_until="load")
    page.wait_for_selector(".up-item")
    assert page.evaluate(f"() => localStorage.getItem('{KEY_STORE}')") == key
    assert page.locator(".up-key").inner_text().count(key[-4:]) == 1

    other, other_watch, other_urls = open_workspace(offline_page, server)
    assert other.locator(".up-item").count() == 0
    assert other.evaluate(f"() => localStorage.getItem('{KEY_STORE}')") is None
    assert httpx.get(f"{server}/uploads/{upload_id}", timeout=30).status_code == 404
    assert other_watch.problems == []

    page.once("dialog", lambda d: d.accept())
    page.click(".up-item .up-delete")
    page.wait_for_selector(".up-empty")
    assert page.locator(".up-item").count() == 0
    listed = httpx.get(f"{server}/uploads", headers={"Authorization": f"Bearer {key}"},
                       timeout=30).json()["uploads"]
    assert listed == []

    page.once("dialog", lambda d: d.accept())
    page.click(".up-key-forget")
    assert page.evaluate(f"() => localStorage.getItem('{KEY_STORE}')") is None
    page.reload(wait_until="load")
    page.wait_for_selector(".up-empty")
    assert page.locator(".up-key-forget").count() == 0
    assert watch.problems == []


def test_imported_key_shows_the_owners_uploads_escaped(offline_page, server: str) -> None:
    """A key made elsewhere (here by an upload through the API) pasted with 导入密钥 lists that
    owner's data; hostile file names and attributes show as text."""
    frame = gpd.GeoDataFrame({"名称": [SCRIPT]}, geometry=[shapely.box(119.6, 30.6, 119.64, 30.63)],
                             crs=4326)
    made = httpx.post(f"{server}/uploads", files={"file": ("plots.geojson", frame.to_json().encode())},
                      timeout=60).json()
    page, watch, urls = open_workspace(offline_page, server)
    page.once("dialog", lambda d: d.accept(made["token"]))
    page.click(".up-key-import")
    page.wait_for_selector(f".up-item[data-upload='{made['id']}']")
    assert page.evaluate(f"() => localStorage.getItem('{KEY_STORE}')") == made["token"]
    page.click(".up-item .up-toggle")
    page.wait_for_function(
        f"() => document.querySelectorAll('.leaflet-up-{made['id']}-pane path').length >= 1")
    assert page.evaluate("() => window.pwned") is None
    assert not any(made["token"] in u for u in urls)
    assert watch.problems == []


NODES = [
    {"名称": "长兴县城", "层级": "县城", "代码": "330522"},
    {"名称": "泗安镇", "层级": "中心镇", "代码": "330522111"},
    {"名称": "夹浦", "层级": "重点村", "代码": "330522103210"},
    {"名称": "规划点", "层级": "村", "经度": "119.80", "纬度": "30.95"},
]


def test_axes_editor_dry_run_draws_nodes_and_lists_problem_rows(offline_page, server: str,
                                                                  artifacts: Path) -> None:
    page, watch, _ = open_workspace(offline_page, server)
    page.click("#up-axes-open")
    csv = pd.DataFrame(NODES).to_csv(index=False).encode("utf-8")
    page.set_input_files("#up-axes-nodes", files=[{"name": "节点.csv", "mimeType": "text/csv",
                                                   "buffer": csv}])
    page.click("#up-drawer .up-axes-run")
    page.wait_for_selector("#up-drawer .up-n-nodes")
    assert page.locator("#up-drawer .up-n-nodes").inner_text() == "4"
    assert page.locator("path.up-axis-node").count() == 4
    assert page.locator("path.up-axis-line").count() >= 1
    assert "算法生成" in page.locator("#up-drawer").inner_text()
    page.screenshot(path=str(artifacts / "upload_panel_axes.png"))

    bad = pd.DataFrame([{"名称": "长兴县城", "层级": "县城", "代码": "330522"},
                        {"名称": "某镇", "层级": "中心镇", "代码": "330599999"},
                        {"名称": "长兴县城", "层级": "重点村", "代码": "330522103210"}])
    page.set_input_files("#up-axes-nodes", files=[{"name": "坏表.csv", "mimeType": "text/csv",
                                                   "buffer": bad.to_csv(index=False).encode()}])
    page.click("#up-drawer .up-axes-run")
    page.wait_for_selector("#up-drawer .up-problems")
    rows = page.locator("#up-drawer .up-problems tbody tr").all_inner_texts()
    assert len(rows) == 2 and any("\t3\t" in r for r in rows) and any("\t4\t" in r for r in rows)
    assert page.locator("#up-drawer .up-error").inner_text()  # the server's message.zh
    # the one 422 is the table's own answer; nothing else failed
    assert [f for f in watch.failed if "/axes/generate" not in f] == []
    assert watch.blocked == []


def test_indicator_table_dry_run_shows_the_join_report(offline_page, server: str) -> None:
    page, watch, _ = open_workspace(offline_page, server)
    page.click("#up-ind-open")
    table = "区县,常住人口（万人）\n吴兴区,70.1\n安吉县,60.2\n不存在县,1\n".encode("gb18030")
    page.set_input_files("#up-ind-file", files=[{"name": "指标.csv", "mimeType": "text/csv",
                                                 "buffer": table}])
    page.click("#up-drawer .up-ind-run")
    page.wait_for_selector("#up-drawer .up-up_matched")
    assert page.locator("#up-drawer .up-up_matched").inner_text() == "2"
    assert page.locator("#up-drawer .up-up_unmatched").inner_text() == "1"
    assert "不存在县" in page.locator("#up-drawer").inner_text()
    assert page.locator("#up-drawer .up-ind-save").is_visible()
    assert watch.problems == []


BAOPAN = Path(__file__).resolve().parents[1] / "data/templates/报盘示例_虚构示例.txt"


def test_baopan_txt_through_the_panel(offline_page, server: str, artifacts: Path) -> None:
    """The shipped fictional 报盘 sample: parcel 1 is 200 m × 100 m less a 40 m × 50 m hole
    (18 000 m²), parcel 2 is 150 m × 80 m (12 000 m²): 30 000 m² = 0.03 km² = 45 亩."""
    page, watch, _ = open_workspace(offline_page, server)
    page.set_input_files("#up-file", files=[{"name": BAOPAN.name, "mimeType": "text/plain",
                                             "buffer": BAOPAN.read_bytes()}])
    page.locator("#up-drawer .up-layer-report").wait_for()
    text = page.locator("#up-drawer").inner_text()
    assert "2 要素（面）" in text
    assert "0.03 平方千米" in text and "45 亩" in text
    assert "EPSG:4528" in text
    page.screenshot(path=str(artifacts / "upload_panel_baopan.png"))
    page.click("#up-drawer .up-save")
    page.wait_for_selector("#up-drawer .up-done")
    item = page.locator(f".up-item:has-text('{BAOPAN.name}')")
    item.wait_for()
    upload_id = item.get_attribute("data-upload")
    key = page.evaluate(f"() => localStorage.getItem('{KEY_STORE}')")
    doc = httpx.get(f"{server}/uploads/{upload_id}", headers={"Authorization": f"Bearer {key}"},
                    timeout=30).json()
    layer = doc["report"]["layers"][0]
    assert layer["feature_count"] == 2
    assert layer["measures"]["area_km2"] * 1e6 == pytest.approx(30_000, rel=1e-4)
    assert watch.problems == []


def gpkg_bytes(folder: Path, name: str, frame: gpd.GeoDataFrame) -> bytes:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pyogrio.write_dataframe(frame, path, driver="GPKG")
    return path.read_bytes()


# Two parcels (EPSG:4549, in 安吉县) and a synthetic 永久基本农田 layer planted to overlap
# parcel A by 100 m × 50 m = 5 000 m² and parcel B by 50 m × 40 m = 2 000 m²: 7 000 m², 10.5 亩.
PLOTS = gpd.GeoDataFrame({"名称": ["地块A", "地块B"]},
                         geometry=[shapely.box(462_000, 3_382_000, 462_200, 3_382_100),
                                   shapely.box(463_000, 3_382_000, 463_100, 3_382_100)],
                         crs=4549)
FARMLAND = gpd.GeoDataFrame({"名称": ["虚构农田1", "虚构农田2"]},
                            geometry=[shapely.box(462_100, 3_381_900, 462_300, 3_382_050),
                                      shapely.box(463_000, 3_382_060, 463_050, 3_382_200)],
                            crs=4549)


def number(text: str) -> float:
    return float(text.replace(",", "").strip())


def test_publish_a_control_line_then_compliance_check(offline_page, server: str, artifacts: Path,
                                                      tmp_path: Path) -> None:
    page, watch, urls = open_workspace(offline_page, server)
    page.locator("#up-publish-open").wait_for(state="visible")
    page.click("#up-publish-open")
    page.set_input_files("#up-publish-file", files=[{
        "name": "虚构基本农田.gpkg", "mimeType": "application/geopackage+sqlite3",
        "buffer": gpkg_bytes(tmp_path, "farmland.gpkg", FARMLAND)}])
    page.select_option("#up-publish-kind", "永久基本农田")
    page.fill("#up-publish-title", "虚构永久基本农田（测试）")
    page.once("dialog", lambda d: d.accept("bureau-key"))
    page.click("#up-drawer .up-publish-go")
    page.wait_for_selector("#up-drawer .up-published")
    assert page.locator("#up-drawer .up-published").get_attribute("data-layer") == \
        "constraint_permanent_farmland"
    assert page.evaluate("() => sessionStorage.getItem('gongfu.apikey')") == "bureau-key"
    listed = httpx.get(f"{server}/constraints", timeout=30).json()["constraints"]
    assert [c["kind"] for c in listed] == ["永久基本农田"]

    page.set_input_files("#up-file", files=[{"name": "两地块.gpkg",
                                             "mimeType": "application/geopackage+sqlite3",
                                             "buffer": gpkg_bytes(tmp_path, "plots.gpkg", PLOTS)}])
    page.locator("#up-drawer .up-layer-report").wait_for()
    page.click("#up-drawer .up-save")
    page.wait_for_selector("#up-drawer .up-done")
    item = page.locator(".up-item:has-text('两地块.gpkg')")
    item.wait_for()
    item.locator(".up-compliance").wait_for(state="visible")
    item.locator(".up-compliance").click()
    total = page.locator("#up-drawer .up-compliance-table tr.up-total")
    total.wait_for(timeout=60_000)
    cells = total.locator("td").all_inner_texts()
    assert "虚构永久基本农田（测试）" in cells[0] and "2 / 2" in cells[0]
    assert number(cells[1]) == pytest.approx(7_000, rel=1e-3)
    assert number(cells[2]) == pytest.approx(10.5, rel=1e-3)
    parcels = page.locator("#up-drawer .up-compliance-table tr.up-parcel").all_inner_texts()
    by_label = {row.split("\t")[0].strip("· "): number(row.split("\t")[1]) for row in parcels}
    assert by_label == {"地块A": pytest.approx(5_000, rel=1e-3),
                        "地块B": pytest.approx(2_000, rel=1e-3)}
    page.wait_for_function("() => document.querySelectorAll('path.up-conflict').length == 2")
    colours = page.eval_on_selector_all("path.up-conflict", "ps => ps.map(p => p.getAttribute('fill'))")
    assert colours == ["#d7191c", "#d7191c"]
    page.screenshot(path=str(artifacts / "upload_panel_compliance.png"))
    with page.expect_download() as got:  # the export fetches with the key in the header
        page.locator('#up-drawer .up-export[data-format="csv"]').click()
    exported = Path(got.value.path()).read_text(encoding="utf-8-sig")
    assert "地块A" in exported and "地块B" in exported
    assert not any("bureau-key" in u for u in urls)
    assert watch.problems == []


def test_axes_template_round_trip_into_a_saved_scenario(offline_page, server: str,
                                                        artifacts: Path) -> None:
    """Template link → filled in (example row replaced by four nodes) → 试算 → saved as `tpl`
    with the API key → /maps/axes?scenario=tpl draws its nodes, 算法生成, with the picker."""
    import openpyxl

    page, watch, urls = open_workspace(offline_page, server)
    page.click("#up-axes-open")
    link = page.locator("#up-drawer a.up-template")
    link.wait_for(state="visible")
    assert urlsplit(link.get_attribute("href")).path == "/axes/template.xlsx"
    with page.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == "axes_nodes_template.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(got.value.path()).read_bytes()))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers[:3] == ["名称", "层级", "代码"]
    sheet.delete_rows(2)  # the 虚构示例 row
    for node in NODES:
        sheet.append([node.get(h) for h in headers])
    filled = io.BytesIO()
    book.save(filled)
    page.set_input_files("#up-axes-nodes", files=[{
        "name": "节点表.xlsx", "buffer": filled.getvalue(),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.click("#up-drawer .up-axes-run")
    page.wait_for_selector("#up-drawer .up-n-nodes")
    assert page.locator("#up-drawer .up-n-nodes").inner_text() == "4"
    page.fill("#up-drawer .up-scenario", "tpl")
    page.once("dialog", lambda d: d.accept("bureau-key"))
    page.click("#up-drawer .up-axes-save")
    page.wait_for_function("() => document.querySelector('#up-drawer .up-axes-result h4')"
                           " && document.querySelector('#up-drawer .up-axes-result h4')"
                           ".textContent.includes('方案已保存')")
    assert not any("bureau-key" in u for u in urls)

    page.goto(f"{server}/maps/axes?scenario=tpl", wait_until="load")
    page.wait_for_selector("path.axes-node-county_town")
    counts = {tier: page.locator(f"path.axes-node-{tier}").count()
              for tier in ("county_town", "central_town", "key_village", "village")}
    assert counts == {"county_town": 1, "central_town": 1, "key_village": 1, "village": 1}
    labels = page.locator("textPath").all_text_contents()
    assert labels and all("算法生成" in text and "演示" not in text for text in labels)
    legend = page.locator(".atlas-infobox").inner_text()
    assert "算法生成" in legend and "generated by rule" in legend
    options = page.locator("#axes-scenario option").all_inner_texts()
    assert options[0].startswith("演示") and any(o.startswith("tpl") for o in options)
    assert page.locator("#axes-scenario").input_value().endswith("/maps/axes?scenario=tpl")
    page.screenshot(path=str(artifacts / "axes_map_scenario_tpl.png"))
    page.select_option("#axes-scenario", index=0)
    page.wait_for_url(f"{server}/maps/axes")  # the demo (this store has no demo axes layers)
    assert page.locator("#axes-scenario").input_value().endswith("/maps/axes")
    assert page.locator("path.axes-node-county_town").count() == 0

    stats = httpx.get(f"{server}/axes/stats?scenario=tpl", timeout=120)
    assert stats.status_code == 200 and stats.json()["scenario"] == "tpl"
    missing = httpx.get(f"{server}/maps/axes?scenario=nope", timeout=30)
    assert missing.status_code == 404 and "nope" in missing.json()["message"]["zh"]
    assert httpx.get(f"{server}/axes/stats?scenario=nope", timeout=30).status_code == 404
    assert watch.problems == []
