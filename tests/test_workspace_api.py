"""The 一张图 workspace's server side: /workspace/config, the place-name label layer,
downloads (XLSX, EPSG:4528, county extent), offline /docs."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
import shapely
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from api.settings import Settings
from geo.gcj02 import wgs84_to_gcj02

KEY = "0123456789abcdef0123456789abcdef"
INTRANET = [{"id": "huzhou_dom", "name_zh": "湖州正射影像（内网）", "name_en": "Huzhou orthophoto",
             "url": "http://10.1.2.3/tiles/dom/{z}/{x}/{y}.png", "crs": "CGCS2000",
             "attribution": "湖州市自然资源和规划局"}]


@pytest.fixture(scope="module")
def keyed(store_path: Path) -> TestClient:
    settings = Settings(store_path=store_path, tianditu_key=KEY, basemaps=json.dumps(INTRANET))
    return TestClient(create_app(settings))


def test_config_lists_offline_first_then_online_basemaps_with_the_key(keyed):
    config = keyed.get("/workspace/config").json()
    basemaps = {b["id"]: b for b in config["basemaps"]}
    assert config["basemaps"][0]["id"] == "none" and config["basemaps"][0]["online"] is False
    for basemap in config["basemaps"]:
        assert set(basemap) == {"id", "name_zh", "name_en", "kind", "url", "subdomains", "crs",
                                "online", "attribution", "overlay_url", "max_zoom"}
        assert basemap["kind"] in ("none", "xyz", "wmts")
        assert basemap["crs"] in ("WGS84", "CGCS2000", "GCJ-02")
        if basemap["online"]:
            assert "需联网" in basemap["name_zh"] and "internet" in basemap["name_en"]
        if basemap["kind"] != "none":
            assert all(p in basemap["url"] for p in ("{z}", "{x}", "{y}"))
            assert basemap["attribution"]
    vec = basemaps["tianditu_vec"]
    assert vec["url"].startswith("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS")
    assert "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in vec["url"]
    assert vec["url"].endswith(f"&tk={KEY}") and vec["subdomains"] == [str(i) for i in range(8)]
    assert "/cva_w/" in vec["overlay_url"] and "LAYER=cva" in vec["overlay_url"]
    assert "/cia_w/" in basemaps["tianditu_img"]["overlay_url"]
    amap = basemaps["amap_vec"]
    assert amap["crs"] == "GCJ-02" and amap["subdomains"] == ["1", "2", "3", "4"]
    assert amap["url"].startswith("https://webrd0{s}.is.autonavi.com/appmaptile?")
    assert basemaps["osm"]["crs"] == "WGS84"
    own = basemaps["huzhou_dom"]
    assert own["online"] is False and own["crs"] == "CGCS2000" and own["kind"] == "xyz"


def test_config_without_key_offers_no_tianditu(client):
    config = client.get("/workspace/config").json()
    ids = [b["id"] for b in config["basemaps"]]
    assert "tianditu_vec" not in ids and "tianditu_img" not in ids
    assert "tk=" not in json.dumps(config)
    assert ids[0] == "none"


def test_config_crs_formats_encodings_and_counties(client, store):
    config = client.get("/workspace/config").json()
    crs = {c["id"]: c for c in config["crs_choices"]}
    assert list(crs) == ["EPSG:4490", "EPSG:4549", "EPSG:4528", "EPSG:4326", "EPSG:3857", "GCJ-02"]
    assert crs["EPSG:4549"]["name_zh"] == "2000国家大地坐标系 3度带 中央经线120°（不含带号）"
    assert crs["EPSG:4528"]["name_zh"] == "2000国家大地坐标系 3度带 第40带（含带号）"
    assert crs["GCJ-02"]["name_zh"] == "GCJ-02（高德/火星坐标）"
    assert [f["id"] for f in config["formats"]] == ["shp", "gpkg", "geojson", "kml", "csv", "xlsx"]
    assert {f["id"]: f["name_zh"] for f in config["formats"]}["xlsx"] == "Excel 表格"
    assert config["encodings"][0] == {"id": "gbk", "name_zh": "GBK（ArcGIS 10.x）",
                                      "name_en": "GBK (ArcGIS 10.x, CP936)"}
    counties = {c["code"]: c for c in config["counties"]}
    assert len(counties) == 5 and counties["330523"]["name"] == "安吉县"
    anji = store.frame("counties").loc[lambda f: f["code"] == "330523"].geometry.iloc[0]
    assert counties["330523"]["bbox"] == pytest.approx(list(anji.bounds), abs=1e-5)
    # every CRS offered is one the downloads and items accept
    for key in crs:
        assert client.get("/collections/counties/items", params={"crs": key, "limit": 1}
                          ).status_code == 200


@pytest.mark.parametrize("basemaps, words", [
    ("not json", "not valid JSON"),
    (json.dumps([{**INTRANET[0], "url": "http://10.1.2.3/tiles/dom.png"}]), "XYZ tile template"),
    (json.dumps([{**INTRANET[0], "crs": "EPSG:4549"}]), "crs"),
    (json.dumps([{**INTRANET[0], "id": "osm"}]), "built-in"),
    (json.dumps(INTRANET * 2), "repeats basemap ids"),
])
def test_bad_basemap_settings_stop_start_up_with_a_clear_message(basemaps, words):
    with pytest.raises(ValidationError) as raised:
        Settings(basemaps=basemaps)
    assert "GONGFU_BASEMAPS" in str(raised.value) and words in str(raised.value)


def test_bad_tianditu_key_is_refused_at_start_up():
    with pytest.raises(ValidationError, match="GONGFU_TIANDITU_KEY"):
        Settings(tianditu_key="abc&evil=1")


def test_place_name_labels_inside_counties_and_only_existing_seats(client, store):
    body = client.get("/basemaps/place-names.geojson").json()
    assert body["type"] == "FeatureCollection"
    features = body["features"]
    by_level: dict[str, list] = {}
    for feature in features:
        by_level.setdefault(feature["properties"]["level"], []).append(feature)
        assert feature["properties"]["source"] and feature["properties"]["name"]
    assert [f["properties"]["name"] for f in by_level["city"]] == ["湖州市"]
    counties = store.frame("counties").set_index("code")
    assert len(by_level["county"]) == 5
    for feature in by_level["county"]:
        polygon = counties.loc[feature["properties"]["code"]].geometry
        assert shapely.Point(feature["geometry"]["coordinates"]).within(polygon)
        assert "cnmaps" in feature["properties"]["source"]
    towns = store.frame("townships")
    with_seat = towns[towns.geometry.notna()]
    assert len(by_level["township"]) == len(with_seat) < len(towns)  # 36 of 72: none invented
    assert all("GeoNames" in f["properties"]["source"] for f in by_level["township"])


def test_place_name_labels_in_gcj02_are_shifted_by_our_algorithm(client):
    plain = client.get("/basemaps/place-names.geojson", params={"crs": "WGS84"}).json()
    shifted = client.get("/basemaps/place-names.geojson", params={"crs": "GCJ-02"}).json()
    for a, b in zip(plain["features"], shifted["features"]):
        assert a["properties"]["code"] == b["properties"]["code"]
        lon, lat = wgs84_to_gcj02(*a["geometry"]["coordinates"])
        assert b["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=2e-7)
        assert b["geometry"]["coordinates"] != a["geometry"]["coordinates"]
    response = client.get("/basemaps/place-names.geojson", params={"crs": "EPSG:4549"})
    assert response.status_code == 400 and response.json()["message"]["zh"]


# ---------------------------------------------------------------- downloads

def _ogrinfo(*args: str) -> str:
    """Debian's ogrinfo (gdal-bin), with no encoding hint: files must describe themselves."""
    result = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, timeout=120,
                            check=True, env={"PATH": "/usr/bin:/bin"})
    return result.stdout.decode("utf-8")


def _extent(listing: str) -> tuple[float, ...]:
    found = re.search(r"Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)", listing)
    assert found, listing
    return tuple(float(v) for v in found.groups())


def test_gbk_shapefile_in_epsg4549_reads_in_gdal_with_chinese_names(client, tmp_path):
    response = client.get("/collections/counties/download",
                          params={"format": "shp", "crs": "EPSG:4549", "encoding": "gbk"})
    assert response.status_code == 200
    archive = tmp_path / "counties.zip"
    archive.write_bytes(response.content)
    names = zipfile.ZipFile(archive).namelist()
    cpg = next(n for n in names if n.endswith(".cpg"))
    assert zipfile.ZipFile(archive).read(cpg) == b"936"
    raw_dbf = zipfile.ZipFile(archive).read(next(n for n in names if n.endswith(".dbf")))
    assert "安吉县".encode("gbk") in raw_dbf and "安吉县".encode("utf-8") not in raw_dbf
    listing = _ogrinfo("-al", f"/vsizip/{archive}")
    assert set(re.findall(r"^\s+name \(String\) = (.+)$", listing, re.M)) == {
        "吴兴区", "南浔区", "德清县", "长兴县", "安吉县"}
    assert "CGCS2000 / 3-degree Gauss-Kruger CM 120E" in listing
    west, south, east, north = _extent(listing)
    assert 300_000 < west < east < 600_000 and 3_300_000 < south < north < 3_500_000


def test_epsg4528_has_the_zone_number_in_the_easting(client, tmp_path):
    plain = client.get("/collections/county_seats/download",
                       params={"format": "geojson", "crs": "EPSG:4549"}).json()
    zoned = client.get("/collections/county_seats/download",
                       params={"format": "geojson", "crs": "EPSG:4528"}).json()
    for a, b in zip(plain["features"], zoned["features"]):
        assert b["geometry"]["coordinates"][0] == pytest.approx(
            a["geometry"]["coordinates"][0] + 40_000_000, abs=0.01)
        assert b["geometry"]["coordinates"][1] == pytest.approx(a["geometry"]["coordinates"][1],
                                                                abs=0.01)
    response = client.get("/collections/county_seats/download",
                          params={"format": "gpkg", "crs": "EPSG:4528"})
    path = tmp_path / "seats.gpkg"
    path.write_bytes(response.content)
    listing = _ogrinfo("-al", "-so", str(path))
    assert "3-degree Gauss-Kruger zone 40" in listing
    assert 40_300_000 < _extent(listing)[0] < 40_600_000


def test_county_extent_keeps_features_inside_that_county(client, store):
    counties = client.get("/collections/counties/download",
                          params={"format": "geojson", "county": "330523"}).json()
    assert [f["properties"]["code"] for f in counties["features"]] == ["330523"]  # no neighbours
    towns = client.get("/collections/townships/download",
                       params={"format": "geojson", "county": "330523"}).json()
    expected = store.frame("townships").query("county_code == '330523'")
    assert sorted(f["properties"]["code"] for f in towns["features"]) == sorted(expected["code"])
    anji = store.frame("counties").set_index("code").loc["330523"].geometry
    for feature in towns["features"]:
        if feature["geometry"]:
            assert shapely.geometry.shape(feature["geometry"]).intersects(anji)
    villages = client.get("/collections/villages/download",
                          params={"format": "csv", "county": "330523"})
    assert villages.status_code == 200
    assert villages.text.count("\n") - 1 == (store.frame("villages")["county_code"] == "330523").sum()
    bad = client.get("/collections/counties/download", params={"county": "110101"})
    assert bad.status_code == 400 and "330523" in bad.json()["message"]["en"]


HOSTILE = ["=1+1", "+SUM(2,3)", "-2+3", "@SUM(4)", "=HYPERLINK(\"http://example.invalid\",\"x\")",
           "安吉县"]


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory) -> TestClient:
    import geopandas as gpd

    from layers.model import Layer, Provenance
    from layers.store import GeoPackageStore

    store = GeoPackageStore(tmp_path_factory.mktemp("hostile") / "atlas.gpkg")
    frame = gpd.GeoDataFrame(
        {"code": [f"p{i}" for i in range(len(HOSTILE))], "name": HOSTILE,
         "value": [1.5, -2.0, 3.0, 0.0, 5.0, 6.0]},
        geometry=[shapely.Point(119.6 + i / 100, 30.6) for i in range(len(HOSTILE))], crs=4326,
    ).set_index("code", drop=False)
    layer = Layer(id="hostile", title_zh="测试点（合成）", title_en="Synthetic test points",
                  geometry_type="Point", id_field="code",
                  provenance=Provenance(source="test fixture", license="CC0",
                                        crs_of_origin="EPSG:4326", illustrative=True),
                  fields={"code": "code", "name": "name", "value": "value"})
    store.put(layer, frame)
    return TestClient(create_app(Settings(store_path=store.path), store=store))


def test_xlsx_writes_formula_like_text_as_text(hostile_client, tmp_path):
    response = hostile_client.get("/collections/hostile/download",
                                  params={"format": "xlsx", "crs": "EPSG:4490"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    sheet_xml = zipfile.ZipFile(io.BytesIO(response.content)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml  # no formula anywhere
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == ("code", "name", "value", "lon", "lat", "WKT")
    assert [row[1] for row in rows[1:]] == HOSTILE
    assert [row[2] for row in rows[1:]] == [1.5, -2.0, 3.0, 0.0, 5.0, 6.0]  # numbers stay numbers
    assert rows[1][3:5] == (pytest.approx(119.6), pytest.approx(30.6))
    assert rows[1][5] == "POINT (119.6 30.6)"
    for row in book.worksheets[0].iter_rows(min_row=2):
        assert row[1].data_type == "s"
    about = [c.value for c in book.worksheets[1]["A"]]
    assert any("test fixture" in line for line in about)
    assert any("演示/派生数据" in line for line in about)
    # GDAL's XLSX driver (which evaluates formulas) reads the text back unchanged
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(response.content)
    listing = _ogrinfo("-al", str(path), "hostile")
    found = re.findall(r"^\s+name \(String\) = (.+)$", listing, re.M)
    assert found == HOSTILE


def test_xlsx_of_polygons_has_a_point_inside_and_wkt_or_a_clear_note(client):
    response = client.get("/collections/counties/download",
                          params={"format": "xlsx", "crs": "EPSG:4549", "county": "330523"})
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    header, row = list(book.worksheets[0].iter_rows(values_only=True))
    record = dict(zip(header, row))
    assert record["name"] == "安吉县" and 300_000 < record["x"] < 600_000
    wkt = record["WKT"]
    assert wkt.startswith("MULTIPOLYGON") or "Excel" in wkt
    assert len(wkt) <= 32_767


# ---------------------------------------------------------------- offline API docs

def test_docs_are_served_offline_under_the_root_path(store_path):
    app = create_app(Settings(store_path=store_path))
    proxied = TestClient(app, root_path="/atlas")
    html = proxied.get("/docs").text
    assert "SwaggerUIBundle" in html
    assert not re.findall(r"https?://", html), re.findall(r"https?://[^\s'\"]+", html)
    assert '"validatorUrl": null' in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert len(assets) == 4
    plain = TestClient(app)
    for asset in assets:
        assert asset.startswith("/atlas/"), asset
        response = plain.get(asset.removeprefix("/atlas"))
        assert response.status_code == 200 and len(response.content) > 100, asset
    assert plain.get("/redoc").status_code == 404
