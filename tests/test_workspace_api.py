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
