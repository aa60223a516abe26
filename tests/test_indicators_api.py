"""Indicators through the API and CLI: computed and seed figures, uploads with join reports,
joined items, legends and fact sheets — on a real Huzhou store (a private copy for writes)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli
from api.settings import Settings
from layers import indicators
from layers.store import GeoPackageStore

HUZHOU = {"330502": "吴兴区", "330503": "南浔区", "330521": "德清县", "330522": "长兴县",
          "330523": "安吉县"}


@pytest.fixture()
def private(store_path: Path, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, GeoPackageStore]:
    """A client holding an API key, over a private copy of the Huzhou store, for saving tests."""
    monkeypatch.setenv("GONGFU_API_KEYS", "bureau-key")
    copy = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, copy)
    store = GeoPackageStore(copy)
    client = TestClient(create_app(Settings(store_path=copy), store),
                        headers={"Authorization": "Bearer bureau-key"})
    return client, store


def _gbk_csv() -> bytes:
    text = ("2023年湖州市各区县主要指标\n单位：万元\n"
            "区县,上级,常住人口（万人）,地区生产总值,备注\n"
            "吴兴区,湖州市,\"1,234\",12.5%,a\n"
            "南浔区,湖州市,—,…,b\n"
            "德清县,湖州市,56.1,近3万,\n"
            "长兴县,湖州市,见附表,3,\n"
            "安吉县,湖州市,60,4,\n"
            "安吉,湖州市,61,5,\n"
            "鼓楼区,,1,1,\n"
            "朝阳区,吉林省长春市,7,7,\n"
            "湖州南太湖新区,湖州市,9,9,\n"
            "注：数据为初步核算。\n")
    return text.encode("gbk")


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "表3-2"
    sheet.append(["湖州市统计年鉴2024"])
    sheet.merge_cells("A1:E1")
    sheet.append(["3-2 各区县农村居民人均可支配收入"])
    sheet.append([None, None, None, None, "单位：元"])
    sheet.append(["地区", "代码", "2021年", "2022年", "2023年"])
    sheet.append(["吴兴区", 330502, 41000, 43500, 46100])
    sheet.append(["南浔区", 330503, 42000, 44600, 47300])
    sheet.append(["德清县", 330521, 43000, 45800, 48700])
    sheet.append(["长兴县", 330522, 41500, 44100, 46900])
    sheet.append(["安吉县", 330523, 40500, 43100, 45900])
    sheet.append(["资料来源：示例（测试用合成数字，非官方数据）"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_catalogue_lists_computed_and_seed_indicators(client) -> None:
    body = client.get("/indicators", params={"limit": 5000}).json()
    by_id = {i["id"]: i for i in body["indicators"]}
    assert by_id["villages_per_100km2"]["derived"] is True
    assert by_id["villages_per_100km2"]["origin"] == "computed"
    assert by_id["area_km2"]["places"] >= 5
    seed = [i for i in body["indicators"] if i["origin"] == "source"]
    assert len(seed) > 1000 and all(i["source"] for i in seed)


def test_joined_items_carry_value_class_and_citation(client, store) -> None:
    body = client.get("/collections/counties/items",
                      params={"indicator": "villages", "year": 2023, "k": 3}).json()
    counted = store.frame("villages").groupby("county_code").size()
    assert len(body["features"]) == 5
    for feature in body["features"]:
        props = feature["properties"]
        assert props["value"] == counted[feature["id"]]  # independent count of the registry
        assert props["year"] == 2023 and props["unit"] == "个"
        assert 0 <= props["class"] < 3 and props["colour"].startswith("#")
        assert "NBS" in props["source"]
    plain = client.get("/collections/counties/items").json()["features"][0]["properties"]
    assert "value" not in plain  # the plain collection is unchanged


def test_computed_area_matches_the_layer(client, store) -> None:
    body = client.get("/collections/counties/items",
                      params={"indicator": "area_km2"}).json()
    areas = store.frame("counties")["area_km2"]
    assert {f["id"]: f["properties"]["value"] for f in body["features"]} == areas.to_dict()


def test_legend_json_and_png(client) -> None:
    legend = client.get("/indicators/villages_per_100km2/legend",
                        params={"layer": "counties", "scheme": "natural_breaks", "k": 3}).json()
    assert legend["scheme"] == "natural_breaks" and legend["k"] == 3
    assert legend["derived"] is True and legend["matched"] == 5
    assert sum(c["count"] for c in legend["classes"]) == 5
    assert legend["classes"][-1]["label"].startswith("无数据")
    png = client.get("/indicators/villages_per_100km2/legend", params={"f": "png"})
    assert png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    image.verify()
    assert image.size[0] > 100


@pytest.mark.parametrize("url, status, code", [
    ("/indicators/nope", 404, "unknown_indicator"),
    ("/collections/counties/items?indicator=villages&k=12", 400, "invalid_parameter"),
    ("/collections/counties/items?indicator=villages&year=1999", 400, "invalid_parameter"),
    ("/collections/counties/items?indicator=villages&scheme=magic", 400, "invalid_parameter"),
    ("/collections/counties/items?year=2023", 400, "invalid_parameter"),
    ("/indicators/villages/legend?f=gif", 400, "invalid_parameter"),
    ("/maps/choropleth?layer=villages", 400, "layer_without_geometry"),
    ("/places/999999", 404, "unknown_place"),
])
def test_bad_requests_get_bilingual_errors(client, url, status, code) -> None:
    response = client.get(url)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and body["message"]["zh"] and body["message"]["en"]


def test_dry_run_reports_gbk_csv_join_without_saving(private) -> None:
    client, store = private
    before = indicators.version_of(store)
    response = client.post("/indicators", files={"file": ("t.csv", _gbk_csv(), "text/csv")},
                           data={"dry_run": "true"})
    assert response.status_code == 200
    report = response.json()
    assert report["encoding"] == "gb18030" and report["saved"] is False
    assert report["title"] == "2023年湖州市各区县主要指标" and report["year_of_table"] == 2023
    assert report["key_column"] == "区县" and report["parent_column"] == "上级"
    assert report["notes"] == ["注：数据为初步核算。"] and report["ignored_columns"] == ["备注"]
    summary = report["summary"]
    assert summary["rows"] == 9
    assert summary["matched"] == 7  # five counties, 安吉 again, and 朝阳区 of 长春 by parent
    assert summary["ambiguous"] == 1 and report["ambiguous"][0]["key"] == "鼓楼区"
    assert summary["unmatched"] == 1
    missing = report["unmatched"][0]
    assert missing["key"] == "湖州南太湖新区" and missing["row"] == 12
    assert summary["duplicates"] == 2  # 安吉 = 安吉县, for both indicators
    assert summary["invalid_values"] == 1 and report["invalid_values"][0]["value"] == "见附表"
    assert summary["missing_values"] == 2  # "—" and "…"
    ids = {i["id"]: i for i in report["indicators"]}
    assert ids["常住人口"]["unit"] == "万人" and ids["地区生产总值"]["unit"] == "万元"
    assert indicators.version_of(store) == before


def test_xlsx_with_title_rows_is_saved_and_mapped(private) -> None:
    client, store = private
    before = indicators.version_of(store)
    response = client.post(
        "/indicators",
        files={"file": ("yearbook.xlsx", _xlsx(),
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
        data={"dry_run": "false", "indicator": "rural_income_test", "title_zh": "农村居民收入",
              "source_date": "2024-10"})
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["saved"] and report["header_row"] == 4 and report["key_kind"] == "code"
    assert report["unit_from_title"] == "元" and report["year_of_table"] is None  # 年鉴2024
    assert report["summary"]["values"] == 15 and report["summary"]["unmatched"] == 0
    assert indicators.version_of(store) != before
    items = client.get("/collections/counties/items",
                       params={"indicator": "rural_income_test", "year": 2022}).json()
    values = {f["id"]: f["properties"]["value"] for f in items["features"]}
    assert values == {"330502": 43500, "330503": 44600, "330521": 45800, "330522": 44100,
                      "330523": 43100}
    latest = client.get("/collections/counties/items",
                        params={"indicator": "rural_income_test"}).json()
    assert {f["properties"]["year"] for f in latest["features"]} == {2023}
    sheet = client.get("/places/330523").json()
    mine = [f for f in sheet["facts"] if f["indicator"] == "rural_income_test"]
    assert {f["year"] for f in mine} == {2021, 2022, 2023}
    assert all("湖州市统计年鉴2024" in f["source"] for f in mine)
    # seed and computed figures survive the save
    assert client.get("/indicators/villages_per_100km2").status_code == 200
    assert any(f["indicator"] == "area_km2" for f in sheet["facts"])


def test_saving_a_table_needs_an_api_key(store_path: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Indicator tables are shared by everyone: a dry run is open, saving is not."""
    monkeypatch.setenv("GONGFU_API_KEYS", "bureau-key")
    copy = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, copy)
    store = GeoPackageStore(copy)
    anonymous = TestClient(create_app(Settings(store_path=copy), store))
    table = {"file": ("a.csv", "区县,人数\n安吉县,5\n".encode(), "text/csv")}
    assert anonymous.post("/indicators", files=table, data={"dry_run": "true"}).status_code == 200
    before = indicators.version_of(store)
    refused = anonymous.post("/indicators", files=table, data={"dry_run": "false"},
                             headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.json()["message"]["zh"]
    assert indicators.version_of(store) == before


def test_ambiguous_names_resolved_by_parent_column(private) -> None:
    client, _ = private
    table = "名称,所属区县,人数\n新市镇,德清县,5\n朝阳区,,3\n朝阳区,北京市,4\n"
    report = client.post("/indicators", files={"file": ("a.csv", table.encode(), "text/csv")},
                         data={"dry_run": "true"}).json()
    assert report["parent_column"] == "所属区县"
    assert report["summary"]["matched"] == 2 and report["summary"]["ambiguous"] == 1
    codes = {c["code"] for c in report["ambiguous"][0]["candidates"]}
    assert {"110105", "220104"} <= codes


def test_unmatched_names_get_suggestions(private) -> None:
    client, _ = private
    table = "村,值\n马家弄村村,5\n余村,3\n"
    report = client.post("/indicators", files={"file": ("v.csv", table.encode(), "text/csv")},
                         data={"dry_run": "true", "level": "village"}).json()
    assert report["summary"]["matched"] == 1
    suggestion = report["unmatched"][0]["suggestions"][0]
    assert suggestion["code"] == "330523206205" and suggestion["name"] == "马家弄村委会"


@pytest.mark.parametrize("files, data, status", [
    ({"file": ("e.csv", b"", "text/csv")}, {}, 422),
    ({"file": ("x.csv", "a,b\n1,2\n".encode(), "text/csv")}, {"key": "nope"}, 400),
    ({"file": ("x.csv", b"\xff\xfe\x00garbage\x81", "text/csv")}, {}, 422),
    ({"file": ("x.xlsx", b"PK\x03\x04broken", "application/zip")}, {}, 422),
    ({"file": ("x.csv", "区县,2021,2022\n安吉县,1,2\n".encode(), "text/csv")}, {}, 400),
])
def test_bad_uploads_are_4xx(private, files, data, status) -> None:
    client, _ = private
    response = client.post("/indicators", files=files, data=data)
    assert response.status_code == status, response.text
    assert response.json()["message"]["en"]


def test_seed_facts_keep_citations_and_report_unmatched(client) -> None:
    huzhou = client.get("/places/330500").json()
    ratio = [f for f in huzhou["facts"] if f["value_as_written"] == "1.61∶1"]
    assert ratio and ratio[0]["value"] == 1.61 and ratio[0]["kind"] == "ratio"
    assert ratio[0]["source"].startswith("《") and ratio[0]["source_date"]
    anji = client.get("/places/330523").json()
    pooled = [f for f in anji["facts"] if f["value_as_written"] == "84.3万"]
    assert pooled and pooled[0]["value"] == 843000 and pooled[0]["unit"] == "亩"
    village = client.get("/places/330523206205").json()  # 马家弄村
    assert any(f["value"] == 1_800_000 and f["qualifier"] == "余" for f in village["facts"])
    report = client.get("/indicators/seed/report").json()
    assert report["rows"] == 1848
    assert report["matched_levels"]["province"] > 0  # 浙江省 kept as a higher-level place
    assert sum(report["by_status"].values()) == 1848
    assert len(report["not_matched"]) == 1848 - report["by_status"]["matched"]


def test_fact_sheet_html_cites_every_row(client) -> None:
    page = client.get("/places/330523?f=html")
    assert page.status_code == 200 and "安吉县" in page.text
    assert page.text.count('class="citation"') == len(client.get("/places/330523")
                                                      .json()["facts"])
    assert "计算 derived" in page.text


def test_cli_loads_a_table(store_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cli.gpkg"
    shutil.copyfile(store_path, copy)
    table = tmp_path / "t.csv"
    table.write_bytes(_gbk_csv())
    runner = CliRunner()
    dry = runner.invoke(cli, ["indicators", "load", str(table), "--dry-run", "--store",
                              str(copy)])
    assert dry.exit_code == 0, dry.output
    assert '"ambiguous": 1' in dry.output and "dry run" in dry.output
    store = GeoPackageStore(copy)
    assert "indicators" not in {layer.id for layer in store.layers()}
    saved = runner.invoke(cli, ["indicators", "load", str(table), "--store", str(copy)])
    assert saved.exit_code == 0, saved.output
    table_after = indicators.load(GeoPackageStore(copy))
    assert "常住人口" in table_after.catalog.index
    assert "villages_per_100km2" in table_after.catalog.index


def test_township_polygons_get_computed_areas(store_path: Path, tmp_path: Path) -> None:
    """Where the store has township polygons (a planner's import; here a clearly synthetic
    fixture: 2 km squares around the seat points), townships get areas too."""
    import geopandas as gpd
    import shapely

    from geo.measure import area_km2
    from layers.model import Layer, Provenance

    copy = tmp_path / "towns.gpkg"
    shutil.copyfile(store_path, copy)
    store = GeoPackageStore(copy)
    towns = store.frame("townships")
    towns = towns[towns.geometry.notna()].copy()
    towns["geometry"] = [shapely.MultiPolygon([p.buffer(0.01, cap_style="square")])
                         for p in towns.geometry]
    layer = store.layer("townships")
    synthetic = Layer(**{**layer.__dict__, "geometry_type": "MultiPolygon",
                         "provenance": Provenance("synthetic test squares", "none", "WGS84",
                                                  illustrative=True)})
    store.put(synthetic, gpd.GeoDataFrame(towns, geometry="geometry", crs=4326))
    table = indicators.load(store)
    areas = table.values("area_km2")
    code = towns.index[0]
    assert areas.at[code, "level"] == "township"
    assert areas.at[code, "value"] == pytest.approx(area_km2(towns.geometry.to_numpy())[0],
                                                     abs=1e-3)
    assert len(areas[areas["level"] == "township"]) == len(towns)


def test_village_name_in_two_counties(private) -> None:
    """三桥村 exists in 德清县 and 南浔区: the parent column decides, else it is ambiguous."""
    client, _ = private
    table = "村名,所属区县,共富工坊数\n三桥村,德清县,2\n三桥村,南浔区,3\n三桥村,,4\n"
    report = client.post("/indicators", files={"file": ("v.csv", table.encode(), "text/csv")},
                         data={"dry_run": "true"}).json()
    assert report["key_column"] == "村名" and report["parent_column"] == "所属区县"
    assert report["summary"]["matched"] == 2 and report["summary"]["ambiguous"] == 1
    codes = {c["code"] for c in report["ambiguous"][0]["candidates"]}
    assert codes == {"330521003210", "330503002208"}


def test_long_table_with_year_unit_and_source_columns(private) -> None:
    client, store = private
    table = ("地区,指标,年份,数值,单位,来源\n"
             "330523,共富工坊,2022,12,家,测试来源甲\n"
             "330523,共富工坊,2023,15,家,测试来源乙\n"
             "德清县,共富工坊,2023,9,家,测试来源乙\n")
    response = client.post("/indicators", data={"dry_run": "false"},
                           files={"file": ("long.csv", table.encode(), "text/csv")})
    assert response.status_code == 201
    report = response.json()
    assert report["layout"] == "long" and report["summary"]["values"] == 3
    values = indicators.load(store).values("共富工坊", 2023)
    assert values["value"].to_dict() == {"330523": 15, "330521": 9}
    assert values.at["330523", "source"] == "测试来源乙" and values.at["330523", "unit"] == "家"
    assert indicators.load(store).years("共富工坊") == [2022, 2023]


def test_catalogue_is_paged_and_searchable(client) -> None:
    first = client.get("/indicators", params={"limit": 50}).json()
    assert first["numberReturned"] == 50 < first["numberMatched"]
    (nxt,) = [link["href"] for link in first["links"] if link["rel"] == "next"]
    second = client.get(nxt.replace("http://testserver", "")).json()
    assert {i["id"] for i in first["indicators"]}.isdisjoint(i["id"] for i in second["indicators"])
    found = client.get("/indicators", params={"q": "村庄", "limit": 5000}).json()["indicators"]
    assert found and all("村庄" in (i["title_zh"] + i["id"]) for i in found)
    county = client.get("/indicators", params={"level": "county", "mappable": "true",
                                               "limit": 5000}).json()["indicators"]
    assert county and all("county" in i["levels"] and i["places"] >= 2 for i in county)
