"""The development-axes API over the real Huzhou build (boundaries + demo axes layers)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
import rasterio
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.axes import build_axes_layers
from layers.boundaries import Region, build_all
from layers.store import GeoPackageStore

UNPLACED = {"余村", "上杨村", "马家弄村", "大里村", "塘甸村"}


@pytest.fixture(scope="module")
def axes_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `gongfu build` writes: the boundary layers plus the demo axes layers."""
    path = tmp_path_factory.mktemp("axes") / "atlas.gpkg"
    store = GeoPackageStore(path)
    built = build_all(Region.parse("3305"))
    for layer, frame in built + build_axes_layers(built):
        store.put(layer, frame)
    return path


@pytest.fixture(scope="module")
def api(axes_store_path: Path) -> TestClient:
    return TestClient(create_app(Settings(store_path=axes_store_path)))


def _csv(rows: list[dict]) -> bytes:
    return pd.DataFrame(rows).to_csv(index=False).encode("utf-8")


def test_build_adds_axes_collections(api: TestClient) -> None:
    ids = [c["id"] for c in api.get("/collections?f=json").json()["collections"]]
    assert {"axis_nodes", "axes", "axis_domains", "axis_clusters"} <= set(ids)
    axes = api.get("/collections/axes/items?f=json&limit=100").json()["features"]
    assert len(axes) == 9  # 4 main (安吉 has no sourced central town) + 5 secondary
    assert all(f["properties"]["schematic"] and "演示" in f["properties"]["name"] for f in axes)
    ranks = sorted(f["properties"]["rank"] for f in axes)
    assert ranks.count("main") == 4 and ranks.count("secondary") == 5
    layer = api.get("/collections/axes?f=json").json()
    assert "演示" in layer["title"] and "示意" not in layer["title"]


def test_nodes_keep_unplaced_without_geometry(api: TestClient) -> None:
    nodes = api.get("/collections/axis_nodes/items?f=json&limit=100").json()["features"]
    unplaced = {f["properties"]["name"] for f in nodes if f["geometry"] is None}
    assert unplaced == UNPLACED
    by_name = {f["properties"]["name"]: f["properties"] for f in nodes}
    assert by_name["妙山村"]["position_source"] == "township_seat_standin"
    assert by_name["织里镇"]["tier"] == "central_town"
    assert by_name["余村"]["position_source"] == "unplaced"
    assert all(p["source"] for p in by_name.values())  # a source per row
    assert all(p["population"] is None for p in by_name.values())  # none sourced


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "csv"])
def test_axes_download(api: TestClient, fmt: str) -> None:
    response = api.get(f"/collections/axis_domains/download?format={fmt}&crs=EPSG:4549")
    assert response.status_code == 200, response.text
    assert len(response.content) > 1000


def test_stats_per_county_against_benchmarks(api: TestClient) -> None:
    body = api.get("/axes/stats").json()
    assert body["benchmarks"]["area_share_pct"] == 46.4
    assert body["benchmarks"]["population_share_pct"] == 73.7
    assert body["schematic"] is True
    counties = {c["county_name"]: c for c in body["counties"]}
    assert set(counties) == {"吴兴区", "南浔区", "德清县", "长兴县", "安吉县"}
    axes = api.get("/collections/axes/items?f=json&limit=100").json()["features"]
    changxing = sum(f["properties"]["length_km"] for f in axes
                    if f["properties"]["county_code"] == "330522")
    assert counties["长兴县"]["axis_length_km"] == pytest.approx(changxing, abs=1e-3)
    assert counties["长兴县"]["axes"] == {"main": 1, "secondary": 3, "branch": 0}
    assert counties["安吉县"]["domain_area_share_pct"] == 0.0
    for county in counties.values():
        assert 0 <= county["domain_area_share_pct"] < 100
        within = county["share_within_km_of_central_town_pct"]
        assert within["5"] <= within["10"] <= within["20"] <= 100
        assert county["population_share_pct"] is None
    assert {n["name"] for n in body["unplaced"]} == UNPLACED


def test_accessibility_geotiff(api: TestClient, tmp_path: Path) -> None:
    response = api.get("/axes/accessibility.tif")
    assert response.status_code == 200 and response.headers["content-type"] == "image/tiff"
    path = tmp_path / "a.tif"
    path.write_bytes(response.content)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4549 and src.res == (200.0, 200.0)
        assert src.descriptions[1] == "distance_km_to_central_town"
        band = src.read(1)
        assert band[band >= 0].max() < 80  # every cell is within 80 km of a county town
    assert api.get("/axes/stats?cell_m=5000").status_code == 400


HUZHOU_TABLE = [
    {"name": "长兴县城", "tier": "县城", "code": "330522"},
    {"name": "泗安镇", "tier": "中心镇", "code": "330522111", "category": "工业重镇"},
    {"name": "夹浦", "tier": "重点村", "code": "330522103210"},
    {"name": "规划点", "tier": "village", "lon": "119.80", "lat": "30.95", "hub": "夹浦"},
    {"name": "未落位村", "tier": "village", "code": "330523206205", "hub": "夹浦"},
]


def test_generate_dry_run(api: TestClient) -> None:
    response = api.post("/axes/generate", files={"nodes": ("n.csv", _csv(HUZHOU_TABLE))})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True and body["schematic"] is True and "collections" not in body
    [main] = [f for f in body["axes"]["features"] if f["properties"]["rank"] == "main"]
    demo = api.get("/collections/axes/items/330522-M1?f=json").json()
    assert main["properties"]["length_km"] == pytest.approx(demo["properties"]["length_km"])
    assert [n["name"] for n in body["unplaced"]] == ["未落位村"]
    assert any(w["code"] == "unplaced" for w in body["warnings"])
    [cluster] = body["clusters"]["features"]
    assert cluster["properties"]["hub"] == "夹浦"
    assert cluster["properties"]["unplaced_members"] == "未落位村"
    assert len(body["domains"]["features"]) == len(body["axes"]["features"])
    ids = [c["id"] for c in api.get("/collections?f=json").json()["collections"]]
    assert not any(i.endswith("_axes") for i in ids)


def test_generate_with_explicit_axes_from_xlsx(api: TestClient) -> None:
    buffer = io.BytesIO()
    pd.DataFrame(HUZHOU_TABLE[:3]).to_excel(buffer, index=False)
    axes = _csv([{"轴线编号": "A1", "序号": 2, "节点": "泗安镇", "等级": "main",
                  "类型": "industry"},
                 {"轴线编号": "A1", "序号": 1, "节点": "长兴县城"}])
    response = api.post("/axes/generate", files={
        "nodes": ("n.xlsx", buffer.getvalue()), "axes": ("a.csv", axes)},
        data={"buffer_main_km": "2"})
    assert response.status_code == 200, response.text
    [axis] = response.json()["axes"]["features"]
    assert axis["properties"]["members"] == "长兴县城→泗安镇"
    assert axis["properties"]["schematic"] is False and axis["properties"]["type"] == "industry"
    assert response.json()["domains"]["features"][0]["properties"]["buffer_km"] == 2.0


def test_generate_bad_input_lists_every_problem_row(api: TestClient) -> None:
    nodes = _csv([
        {"name": "长兴县城", "tier": "county_town", "code": "330522"},
        {"name": "某镇", "tier": "central_town", "code": "330599999"},  # unknown code
        {"name": "越界镇", "tier": "central_town", "county_code": "330522",  # in 安吉县
         "lon": "119.68", "lat": "30.64"},
        {"name": "长兴县城", "tier": "key_village", "code": "330522103210"},  # duplicate
        {"name": "泗安镇", "tier": "central_town", "code": "330522111"},
    ])
    axes = _csv([{"axis_id": "A", "sequence": 1, "node": "长兴县城"},
                 {"axis_id": "A", "sequence": 2, "node": "不存在"},  # missing member
                 {"axis_id": "B", "sequence": 1, "node": "泗安镇"}])  # single node
    response = api.post("/axes/generate", files={"nodes": ("n.csv", nodes),
                                                 "axes": ("a.csv", axes)})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_plan_input" and body["message"]["zh"]
    rows = sorted((p["table"], p["row"], p["column"]) for p in body["detail"]["problems"])
    assert rows == [("axes", 3, "node"), ("axes", 4, "axis_id"), ("nodes", 3, "code"),
                    ("nodes", 4, "lon"), ("nodes", 5, "name")]
    assert all(p["message"]["zh"] and p["message"]["en"] for p in body["detail"]["problems"])


def test_generate_rejects_bad_parameters(api: TestClient) -> None:
    files = {"nodes": ("n.csv", _csv(HUZHOU_TABLE))}
    assert api.post("/axes/generate", files=files,
                    data={"buffer_main_km": "0"}).status_code == 400
    assert api.post("/axes/generate", files=files, data={"dry_run": "false"}).status_code == 401
    response = api.post("/axes/generate", files={"nodes": ("n.pdf", b"%PDF")})
    assert response.status_code == 422
    response = api.post("/axes/generate", files={"nodes": ("n.csv", _csv([{"名称": "x"}]))})
    assert response.status_code == 422 and "tier" in response.json()["message"]["en"] + str(
        response.json()["detail"])


def test_generate_saves_a_scenario(axes_store_path: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGFU_API_KEYS", "planner-key-1")
    copy = tmp_path / "copy.gpkg"
    shutil.copyfile(axes_store_path, copy)
    client = TestClient(create_app(Settings(store_path=copy)))
    files = {"nodes": ("n.csv", _csv(HUZHOU_TABLE))}
    save = {"dry_run": "false", "scenario": "cx2025"}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = client.post("/axes/generate", files=files, data=save, headers=headers)
        assert refused.status_code == 401 and refused.json()["message"]["zh"]
    key = {"Authorization": "Bearer planner-key-1"}
    unnamed = client.post("/axes/generate", files=files, data={"dry_run": "false"}, headers=key)
    assert unnamed.status_code == 400
    response = client.post("/axes/generate", files=files, data=save, headers=key)
    assert response.status_code == 200, response.text
    assert response.json()["collections"][1].endswith("/collections/cx2025_axes")
    items = client.get("/collections/cx2025_axes/items?f=json").json()["features"]
    assert len(items) == 2
    assert len(client.get("/collections/axes/items?f=json&limit=50").json()["features"]) == 9


def test_generate_cluster_from_member_polygons(api: TestClient) -> None:
    box = "POLYGON((119.79 30.94, 119.81 30.94, 119.81 30.96, 119.79 30.96, 119.79 30.94))"
    rows = HUZHOU_TABLE[:3] + [{"name": "村域村", "tier": "village", "wkt": box, "hub": "夹浦"}]
    body = api.post("/axes/generate", files={"nodes": ("n.csv", _csv(rows))}).json()
    [area] = body["cluster_areas"]["features"]
    # 0.02° × 0.02° at 30.95°N: about 1.91 km × 2.22 km
    assert 4.1 < area["properties"]["area_km2"] < 4.4
    [node] = [f for f in body["nodes"]["features"] if f["properties"]["name"] == "村域村"]
    assert node["properties"]["county_code"] == "330522"
    assert node["properties"]["position_source"] == "planner"


def test_raster_distance_shares_match_exact_vector_buffers(api: TestClient,
                                                           axes_store_path: Path) -> None:
    """The 200 m raster's 5/10/20 km shares agree with exact disc ∩ county areas (≤ 0.1 pt)."""
    import shapely

    from layers.axes import to_plane
    from layers.settlement_nodes import Gazetteer

    store = GeoPackageStore(axes_store_path)
    gaz = Gazetteer.from_store(store)
    nodes = store.frame("axis_nodes")
    towns = to_plane(nodes[nodes["tier"] == "central_town"].geometry.to_numpy())
    counties = dict(zip(gaz.counties.index, to_plane(gaz.counties.geometry.to_numpy())))
    stats = {c["county_code"]: c for c in api.get("/axes/stats").json()["counties"]}
    for km in (5, 10, 20):
        discs = shapely.union_all(shapely.buffer(towns, km * 1000, quad_segs=64))
        for code, county in counties.items():
            exact = shapely.area(shapely.intersection(county, discs)) / shapely.area(county) * 100
            raster = stats[code]["share_within_km_of_central_town_pct"][str(km)]
            assert raster == pytest.approx(exact, abs=0.1), (code, km)


def test_node_template_round_trips_into_a_saved_scenario(axes_store_path: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /axes/template.xlsx → filled in → POST /axes/generate → saved scenario; a generated
    axis of a planner's table says 算法生成 (never 示意), the demo still says 演示."""
    import io

    import openpyxl

    monkeypatch.setenv("GONGFU_API_KEYS", "planner-key-1")
    copy = tmp_path / "copy.gpkg"
    shutil.copyfile(axes_store_path, copy)
    client = TestClient(create_app(Settings(store_path=copy)))
    got = client.get("/axes/template.xlsx")
    assert got.status_code == 200 and got.headers["content-type"].startswith(
        "application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(got.content))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["名称", "层级"] and {"经度", "纬度", "区县代码"} <= set(header)
    assert sheet.max_row == 2 and "虚构示例" in " ".join(str(c.value) for c in sheet[2])
    as_is = client.post("/axes/generate", files={"nodes": ("template.xlsx", got.content)})
    assert as_is.status_code == 200, as_is.text
    (node,) = as_is.json()["nodes"]["features"]
    assert node["properties"]["name"] == "虚构示例镇（示例行）"
    assert node["properties"]["tier"] == "central_town" and node["geometry"] is not None
    # the planner adds a county town (by code → the county seat) under the example row
    sheet.append(["安吉县城", "县城", "330523"])
    filled = io.BytesIO()
    book.save(filled)
    key = {"Authorization": "Bearer planner-key-1"}
    saved = client.post("/axes/generate", files={"nodes": ("nodes.xlsx", filled.getvalue())},
                        data={"dry_run": "false", "scenario": "tpl"}, headers=key)
    assert saved.status_code == 200, saved.text
    (axis,) = client.get("/collections/tpl_axes/items?f=json").json()["features"]
    assert "算法生成" in axis["properties"]["name"] and "示意" not in axis["properties"]["name"]
    assert axis["properties"]["status"].startswith("算法生成")
    assert "算法生成" in client.get("/collections/tpl_axes?f=json").json()["title"]
    assert len(client.get("/collections/tpl_axis_nodes/items?f=json").json()["features"]) == 2
    demo = client.get("/collections/axes/items?f=json&limit=50").json()["features"]
    assert all("演示" in f["properties"]["name"] for f in demo)
