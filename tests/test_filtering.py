"""OGC API Features Part 3: queryables, CQL2 text/JSON `filter` and `sortby`, on both stores.

Every API test runs twice: over the GeoPackage store (evaluated in memory) and over the
PostGIS copy of the same build (evaluated in SQL). The store-level test checks the SQL
evaluator row for row against the in-memory one.
"""

from __future__ import annotations

import json
import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from geo.crs import resolve_crs
from layers import filtering
from layers.model import Layer, Provenance
from layers.store import GeoPackageStore


@pytest.fixture(params=["geopackage", "postgis"])
def api(request: pytest.FixtureRequest) -> TestClient:
    return request.getfixturevalue("client" if request.param == "geopackage"
                                   else "postgis_client")


def _items(api: TestClient, layer: str, **params) -> dict:
    response = api.get(f"/collections/{layer}/items", params={"limit": 2000, **params})
    assert response.status_code == 200, response.text
    return response.json()


def _ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


# --- queryables ---------------------------------------------------------------------------

def test_queryables_name_every_field_with_its_type_and_the_geometry(api: TestClient,
                                                                    store) -> None:
    response = api.get("/collections/counties/queryables")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    schema = response.json()
    assert schema["$id"].endswith("/collections/counties/queryables")
    props = schema["properties"]
    assert props["name"]["type"] == "string" and props["area_km2"]["type"] == "number"
    assert props["geometry"]["format"] == "geometry-multipolygon"
    assert set(props) == {"geometry", *store.layer("counties").fields}
    doc = api.get("/collections/counties").json()
    assert any(link["href"] == schema["$id"] and link["rel"].endswith("/queryables")
               for link in doc["links"])


def test_items_answer_links_the_queryables_in_a_link_header(api: TestClient) -> None:
    response = api.get("/collections/villages/items",
                       params={"filter": "county_code = '330523'", "limit": 5})
    header = response.headers["link"]
    assert ('/collections/villages/queryables>; '
            'rel="http://www.opengis.net/def/rel/ogc/1.0/queryables"') in header
    assert 'rel="self"; type="application/geo+json"' in header
    assert 'rel="next"' in header and "filter=county_code" in header


def test_registry_without_geometry_has_no_geometry_queryable(api: TestClient) -> None:
    props = api.get("/collections/villages/queryables").json()["properties"]
    assert "geometry" not in props and props["county_code"]["type"] == "string"


# --- CQL2 text ----------------------------------------------------------------------------

@pytest.mark.parametrize(("layer", "expression", "expected"), [
    ("villages", "county_code = '330523'", 218),               # 安吉县's villages
    ("villages", "county_name = '安吉县' OR county_name = '德清县'", 218 + 177),
    ("villages", "county_name IN ('长兴县', '南浔区')", 278 + 261),
    ("villages", "NOT county_name IN ('长兴县', '南浔区')", 1301 - 278 - 261),
    ("villages", "county_name <> '吴兴区'", 1301 - 367),
    ("villages", "county_name IS NULL", 0),
    ("villages", "county_name IS NOT NULL", 1301),
    ("counties", "name LIKE '安吉%'", 1),
    ("counties", "name LIKE '_兴_'", 2),                      # 吴兴区, 长兴县
    ("counties", "name NOT LIKE '%县'", 2),                   # the two districts
    ("counties", "area_km2 BETWEEN 900 AND 1500", 2),         # 德清县 940, 长兴县 1434
    ("counties", "area_km2 > 1000 AND (code = '330523' OR code = '330502')", 1),
    ("counties", "area_km2 >= 700.5", 5),
    ("counties", "code BETWEEN '330503' AND '330521'", 2),    # text, by code point
    ("villages", "name < '东' AND county_code = '330523'", None),
    ("counties", "S_INTERSECTS(geometry, POINT(119.68 30.64))", 1),      # 安吉 county town
    ("counties", "S_CONTAINS(geometry, POINT(119.68 30.64))", 1),
    ("counties", "S_INTERSECTS(geometry, BBOX(119.9, 30.5, 120.2, 30.9))", 4),
    ("counties", "S_DISJOINT(geometry, POINT(119.68 30.64))", 4),
    ("counties", "S_WITHIN(geometry, POLYGON((118 29, 122 29, 122 32, 118 32, 118 29)))", 5),
    ("townships", "S_WITHIN(geometry, BBOX(119.2, 30.3, 119.9, 30.9)) AND county_code = '330523'",
     None),
])
def test_cql2_text_selects_the_same_rows_on_both_stores(api: TestClient, store, layer: str,
                                                        expression: str,
                                                        expected: int | None) -> None:
    body = _items(api, layer, filter=expression)
    node = filtering.parse_filter(expression, None, resolve_crs(None), store.queryables(layer))
    in_memory = store.features(layer, where=node)
    assert body["numberMatched"] == in_memory.number_matched == len(body["features"])
    assert _ids(body) == list(in_memory.features.index)
    if expected is not None:
        assert body["numberMatched"] == expected
    else:
        assert 0 < body["numberMatched"] < len(store.frame(layer))


def test_every_spatial_function_agrees_with_shapely(api: TestClient, store) -> None:
    """S_TOUCHES, S_CROSSES, S_OVERLAPS and S_EQUALS on literals taken from the data."""
    counties = store.frame("counties")
    anji = counties.geometry["330523"]
    corner = shapely.Point(shapely.get_coordinates(anji)[0])  # a vertex: on the boundary
    seat = store.frame("county_seats").geometry.dropna().iloc[0]
    line = shapely.LineString([(119.68, 30.64), (120.1, 30.87)])
    box = shapely.box(119.9, 30.5, 120.2, 30.9)
    cases = [("counties", "s_touches", corner), ("counties", "s_crosses", line),
             ("counties", "s_overlaps", box), ("county_seats", "s_equals", seat)]
    for layer, op, literal in cases:
        frame = store.frame(layer)
        predicate = getattr(shapely, op.removeprefix("s_"))
        truth = [fid for fid, g in frame.geometry.items() if g is not None and predicate(g, literal)]
        assert truth, op
        # as CQL2 JSON: the text parser rounds the last bit of some decimals, and a vertex
        # moved by 1e-15° no longer touches its polygon
        tree = {"op": op, "args": [{"property": "geometry"}, shapely.geometry.mapping(literal)]}
        body = _items(api, layer, filter=json.dumps(tree), **{"filter-lang": "cql2-json"})
        assert _ids(body) == truth, op


def test_conformance_declares_part_3(api: TestClient) -> None:
    declared = api.get("/conformance").json()["conformsTo"]
    for name in ("ogcapi-features-3/1.0/conf/filter", "ogcapi-features-3/1.0/conf/queryables",
                 "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/cql2-json",
                 "cql2/1.0/conf/basic-spatial-functions"):
        assert f"http://www.opengis.net/spec/{name}" in declared
    assert not any(uri.endswith("/temporal-functions") for uri in declared)


def test_chinese_values_and_properties_arrive_intact(api: TestClient) -> None:
    body = _items(api, "villages", filter="county_name = '安吉县' AND name LIKE '%余村%'")
    names = [f["properties"]["name"] for f in body["features"]]
    assert names and all("余村" in n for n in names)
    assert all(f["properties"]["county_name"] == "安吉县" for f in body["features"])


def test_filter_combines_with_bbox_properties_and_paging(api: TestClient) -> None:
    params = {"filter": "county_code = '330523'", "properties": "name", "limit": 10,
              "offset": 10}
    body = api.get("/collections/villages/items", params=params).json()
    everything = _items(api, "villages", filter="county_code = '330523'")
    assert body["numberMatched"] == everything["numberMatched"] == 218
    assert _ids(body) == _ids(everything)[10:20]
    assert all(set(f["properties"]) == {"name"} for f in body["features"])
    following = next(link for link in body["links"] if link["rel"] == "next")
    assert "filter=county_code" in following["href"]
    boxed = _items(api, "townships", filter="county_code = '330523'", bbox="119.2,30.3,119.9,30.9")
    alone = _items(api, "townships", filter="county_code = '330523'")
    unfiltered = _items(api, "townships", bbox="119.2,30.3,119.9,30.9")
    assert set(_ids(boxed)) == set(_ids(alone)) & set(_ids(unfiltered))
    assert 0 < len(_ids(boxed)) < len(_ids(alone))


def test_filter_applies_to_every_output_crs_and_the_html_page(api: TestClient) -> None:
    params = {"filter": "county_code = '330523' AND name LIKE '%社区%'", "sortby": "-code"}
    wgs84 = _items(api, "villages", **params)
    projected = _items(api, "villages", crs="EPSG:4549", **params)
    assert _ids(projected) == _ids(wgs84) and 0 < len(_ids(wgs84)) < 218
    page = api.get("/collections/villages/items", params={**params, "f": "html"})
    assert page.status_code == 200 and wgs84["features"][0]["properties"]["name"] in page.text


def test_filter_crs_reads_geometry_literals_in_cgcs2000(api: TestClient) -> None:
    # 安吉 county town in EPSG:4490, latitude first as the CRS defines its axes
    cgcs = _items(api, "counties", filter="S_INTERSECTS(geometry, POINT(30.64 119.68))",
                  **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4490"})
    assert _ids(cgcs) == ["330523"]
    # the same point in EPSG:4549 (northing, easting in metres)
    point = shapely.Point(119.68, 30.64)
    north_east = gpd.GeoSeries([point], crs=4326).to_crs(4549).iloc[0]
    gk = _items(api, "counties", filter=f"S_INTERSECTS(geometry, POINT({north_east.y:.1f} "
                                        f"{north_east.x:.1f}))", **{"filter-crs": "EPSG:4549"})
    assert _ids(gk) == ["330523"]


# --- CQL2 JSON ----------------------------------------------------------------------------

def test_cql2_json_gives_what_the_same_text_gives(api: TestClient) -> None:
    tree = {"op": "and", "args": [
        {"op": "like", "args": [{"property": "name"}, "%村委会"]},
        {"op": "in", "args": [{"property": "county_code"}, ["330523", "330521"]]},
    ]}
    as_json = _items(api, "villages", filter=json.dumps(tree, ensure_ascii=False),
                     **{"filter-lang": "cql2-json"})
    as_text = _items(api, "villages",
                     filter="name LIKE '%村委会' AND county_code IN ('330523', '330521')")
    assert as_json["numberMatched"] == as_text["numberMatched"] > 100
    assert _ids(as_json) == _ids(as_text)
    spatial = {"op": "s_intersects", "args": [{"property": "geometry"},
                                              {"type": "Point", "coordinates": [119.68, 30.64]}]}
    hit = _items(api, "counties", filter=json.dumps(spatial), **{"filter-lang": "cql2-json"})
    assert _ids(hit) == ["330523"]


# --- sortby -------------------------------------------------------------------------------

def test_sortby_orders_by_several_keys_both_ways(api: TestClient) -> None:
    body = _items(api, "villages", sortby="+county_code,-code",
                  filter="county_code IN ('330521', '330523')")
    rows = [(f["properties"]["county_code"], f["properties"]["code"]) for f in body["features"]]
    assert rows == sorted(rows, key=lambda r: (r[0], _desc(r[1])))
    assert rows[0][0] == "330521" and rows[-1][0] == "330523"
    by_area = _items(api, "counties", sortby="-area_km2")
    assert _ids(by_area) == ["330523", "330522", "330521", "330502", "330503"]
    paged = api.get("/collections/counties/items",
                    params={"sortby": "-area_km2", "limit": 2, "offset": 2}).json()
    assert _ids(paged) == ["330521", "330502"]


def _desc(text: str) -> tuple:
    return tuple(-ord(c) for c in text)


# --- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "words"), [
    ({"filter": "nosuch = 'a'"}, ["nosuch", "county_code"]),
    ({"filter": "county_code = 330523"}, ["county_code", "string"]),
    ({"filter": "name LIKE "}, ["character 11"]),
    ({"filter": "county_code = '330523' AND"}, ["character 27"]),
    ({"filter": "county_code = '1' ; DROP TABLE x"}, ["character 19", "; DROP"]),
    ({"filter": "casei(name) = 'x'"}, ["casei", "Supported"]),
    ({"filter": "S_INTERSECTS(geometry, POINT(1 2))"}, ["geometry", "county_code"]),
    ({"filter": "{\"op\": \"=\""}, ["line 1"]),
    ({"filter": "name = 'x'", "filter-lang": "ecql"}, ["filter-lang", "cql2-json"]),
    ({"filter": "name = 'x'", "filter-crs": "EPSG:9999"}, ["EPSG:9999"]),
    ({"sortby": "-population"}, ["population", "county_code"]),
])
def test_bad_filters_are_400_with_both_languages(api: TestClient, params: dict,
                                                 words: list[str]) -> None:
    if params.get("filter", "").startswith("{"):
        params = {**params, "filter-lang": "cql2-json"}
    response = api.get("/collections/villages/items", params=params)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message["zh"] and message["en"] and message["zh"] != message["en"]
    for word in words:
        assert word in message["en"], (word, message["en"])
    assert "-->" not in message["en"] and "expected" not in message["en"]  # no parser dump


@pytest.mark.parametrize("expression", [
    "(" * 3000 + "code = '1'" + ")" * 3000,    # crashed the worker process in the parser
    "NOT " * 5000 + "code = '1'",
    " OR ".join(["code = '1'"] * 2000),
    json.dumps(json.loads('{"op": "not", "args": [' * 80 + '{"op": "isNull", "args": '
                          '[{"property": "code"}]}' + ']}' * 80)),
])
def test_oversized_filters_are_refused_before_parsing(api: TestClient, expression: str) -> None:
    lang = "cql2-json" if expression.startswith("{") else "cql2-text"
    response = api.get("/collections/villages/items",
                       params={"filter": expression, "filter-lang": lang})
    assert response.status_code == 400
    assert "too long or too deeply nested" in response.json()["message"]["en"]
    assert api.get("/collections/villages/items", params={"limit": 1}).status_code == 200


def test_metres_without_filter_crs_are_refused(api: TestClient) -> None:
    """Gauss-Krüger metres pasted without naming their CRS: 400, pointing at filter-crs."""
    response = api.get("/collections/counties/items", params={
        "filter": "S_INTERSECTS(geometry, POINT(40536000 3390000))"})
    assert response.status_code == 400
    assert "filter-crs" in response.json()["message"]["en"]
    assert "filter-crs" in response.json()["message"]["zh"]


def test_quoted_sql_in_a_value_is_only_a_value(api: TestClient) -> None:
    body = _items(api, "villages", filter="name = 'x''; DROP TABLE villages; --'")
    assert body["numberMatched"] == 0
    assert _items(api, "villages")["numberMatched"] == 1301  # the table is still there


# --- temporal, on a small dated layer in both stores -------------------------------------

DATED = Layer(id="dated_checks", title_zh="测试日期", title_en="Dated test rows",
              geometry_type="Point", id_field="id",
              provenance=Provenance("test fixture", "CC0", "EPSG:4326", illustrative=True,
                                    note="演示 test rows"),
              fields={"id": "编号 id", "checked_on": "检查日期 date checked",
                      "checked_at": "检查时间 time checked", "score": "得分 score", "passed": "通过 passed"})


def _dated_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "id": ["a", "b", "c", "d"],
        "checked_on": ["2024-03-31", "2024-06-30", None, "2025-01-01"],
        "checked_at": ["2024-03-31T08:00:00+08:00", "2024-06-30T12:00:00Z", None,
                       "2025-01-01T00:00:00Z"],
        "score": [3, 1, 2, None],
        "passed": [True, False, True, False],
    }, geometry=[shapely.Point(119.9, 30.8), shapely.Point(120.0, 30.9), None,
                 shapely.Point(119.7, 30.6)], crs=4326)


@pytest.fixture(scope="module")
def dated_clients(tmp_path_factory, postgis) -> dict[str, TestClient]:
    from layers.postgis_store import PostGISStore

    path = tmp_path_factory.mktemp("dated") / "dated.gpkg"
    GeoPackageStore(path).put(DATED, _dated_frame())
    url = postgis.database("dated_checks")
    target = PostGISStore(url, pool_size=1)
    target.put(DATED, _dated_frame())
    target.close()
    return {"geopackage": TestClient(create_app(Settings(store_path=path))),
            "postgis": TestClient(create_app(Settings(store_path=path, database_url=url)))}


@pytest.mark.parametrize(("expression", "expected"), [
    ("T_AFTER(checked_on, DATE('2024-03-31'))", ["b", "d"]),
    ("T_BEFORE(checked_on, DATE('2024-06-30'))", ["a"]),
    ("T_INTERSECTS(checked_on, INTERVAL('2024-01-01', '2024-12-31'))", ["a", "b"]),
    ("T_INTERSECTS(checked_on, INTERVAL('2024-06-30', '..'))", ["b", "d"]),
    ("T_DISJOINT(checked_on, INTERVAL('2024-01-01', '2024-12-31'))", ["d"]),
    ("T_EQUALS(checked_on, DATE('2024-06-30'))", ["b"]),
    ("checked_on >= DATE('2024-06-30')", ["b", "d"]),
    ("checked_on LIKE '2024%'", ["a", "b"]),
    ("checked_on IN ('2024-06-30', '2025-01-01')", ["b", "d"]),
    ("checked_on BETWEEN '2024-04-01' AND '2024-12-31'", ["b"]),
    ("T_BEFORE(checked_at, TIMESTAMP('2024-03-31T00:30:00Z'))", ["a"]),   # 08:00+08 = 00:00Z
    ("T_AFTER(checked_at, TIMESTAMP('2024-06-30T11:59:59Z'))", ["b", "d"]),
    ("score IS NULL OR score < 2", ["b", "d"]),
    ("NOT score > 1", ["b"]),                                          # NULL stays unknown
    ("geometry IS NULL", ["c"]),
    ("passed = true AND S_INTERSECTS(geometry, BBOX(119.8, 30.7, 120.1, 31))", ["a"]),
])
@pytest.mark.parametrize("backend", ["geopackage", "postgis"])
def test_temporal_filters_on_date_fields(dated_clients: dict, backend: str, expression: str,
                                         expected: list[str]) -> None:
    body = _items(dated_clients[backend], "dated_checks", filter=expression)
    assert _ids(body) == expected


@pytest.mark.parametrize("backend", ["geopackage", "postgis"])
def test_dated_queryables_and_sort_with_missing_values_last(dated_clients: dict,
                                                            backend: str) -> None:
    api = dated_clients[backend]
    props = api.get("/collections/dated_checks/queryables").json()["properties"]
    assert props["checked_on"]["format"] == "date"
    assert props["checked_at"]["format"] == "date-time"
    assert props["score"]["type"] in ("integer", "number")
    assert _ids(_items(api, "dated_checks", sortby="-score")) == ["a", "c", "b", "d"]
    assert _ids(_items(api, "dated_checks", sortby="checked_on")) == ["a", "b", "d", "c"]
    response = api.get("/collections/dated_checks/items",
                       params={"filter": "T_AFTER(score, DATE('2024-01-01'))"})
    assert response.status_code == 400 and "score" in response.json()["message"]["en"]


def test_sql_carries_values_only_as_bound_parameters(store) -> None:
    """Every literal of the filter travels as a parameter; the SQL text holds none of them."""
    from layers import postgis_filter

    text = ("name LIKE '安吉%' AND county_code IN ('330523', 'x'')--') AND "
            "area_km2 BETWEEN 123.5 AND 4567 AND S_INTERSECTS(geometry, POINT(119.68 30.64))")
    node = filtering.parse_filter(text, None, resolve_crs(None), store.queryables("counties"))
    clause, params = postgis_filter.where(node)
    rendered = clause.as_string(None)
    for value in ("安吉", "330523", "x'", "123.5", "4567", "119.68"):
        assert value not in rendered
    assert rendered.count("%s") == len(params) == 6
    assert params[:5] == ["安吉%", "330523", "x')--", 123.5, 4567.0]
    assert '"name"' in rendered and '"county_code"' in rendered  # names as identifiers


def test_postgis_evaluates_the_filter_in_sql(postgis_url: str, store) -> None:
    """The SQL path answers (not the in-memory fallback) and selects the same rows."""
    from layers.postgis_store import PostGISStore

    pg = PostGISStore(postgis_url, pool_size=1)
    try:
        found = pg.queryables("villages")
        node = filtering.parse_filter("county_name = '长兴县' AND name LIKE '%村委会'", None,
                                      resolve_crs(None), found)
        keys = filtering.parse_sortby("-code", found)
        page = pg.features_geojson("villages", None, {}, 2000, 0, ["name"], where=node,
                                   sortby=keys)
        assert page is not None
        memory = store.features("villages", where=node, sortby=keys)
        assert page.number_matched == memory.number_matched > 100
        features = json.loads(b"[" + b"".join(page.features) + b"]")  # streamed chunks
        assert [f["id"] for f in features] == list(memory.features.index)
    finally:
        pg.close()
