"""Projects on the axes (issue 14): two snapshots of a fictional table (every name 虚构示例)
placed on the Huzhou demo axes, graded and aggregated; expected values computed by hand.

The fixture (tests/fixtures/projects_2024_03.csv, projects_2024_04.csv):

| id | type | position | expected placement |
|---|---|---|---|
| XM-001 | 产业平台 | lon/lat on the 吴兴 main axis line (吴兴区驻地 → 织里镇) | 330502-M1 domain, 0 km; nearest node 织里镇 |
| XM-002 | 公共服务 | GCJ-02 lon/lat ≈ 1 km W of 吴兴区驻地, inside the main (5 km) AND the secondary (3 km) domains | 330502-M1: main beats secondary |
| XM-003 | 生态环境 | 9-digit code 330502102 (妙西镇 seat, stand-in; inside only the secondary domain), 所属轴线 330502-M1 | declared axis wins → 330502-M1 |
| XM-004 | 基础设施 | WKT polygon in EPSG:4549 in 南浔 south-east, > 2 km from every domain | 轴外 (outside) |
| XM-005 | 公共服务 | 9-digit code 330521002 (舞阳街道: no open seat point), 所属轴线 "不存在的轴" | 未落位, county 德清县 from the code, warning |
| XM-006 | 产业平台 | 6-digit code 330522 (长兴县城 seat, stand-in) — April only; in 长兴 main + two secondary domains | 330522-M1 (main) |
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.axes import build_axes_layers
from layers.boundaries import Region, build_all
from layers.projects import AxesScenario, Thresholds, empty_project_layers, place
from layers.settlement_nodes import Gazetteer
from layers.store import GeoPackageStore

FIXTURES = Path(__file__).parent / "fixtures"
KEY = {"Authorization": "Bearer test-key"}


@pytest.fixture(scope="module")
def projects_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `gongfu build` writes: boundaries, demo axes and the EMPTY project layers."""
    path = tmp_path_factory.mktemp("projects") / "atlas.gpkg"
    store = GeoPackageStore(path)
    built = build_all(Region.parse("3305"))
    for layer, frame in built + build_axes_layers(built) + empty_project_layers():
        store.put(layer, frame)
    return path


@pytest.fixture(scope="module")
def api(projects_store_path: Path) -> TestClient:
    return TestClient(create_app(Settings(store_path=projects_store_path, api_keys="test-key")))


def _post(api: TestClient, name: str, content: bytes | None = None, **data) -> dict:
    content = content if content is not None else (FIXTURES / name).read_bytes()
    return api.post("/projects", files={"file": (name, content)}, data=data,
                    headers=KEY)


def test_shipped_layers_start_empty(api: TestClient) -> None:
    for layer in ("projects", "project_snapshots"):
        body = api.get(f"/collections/{layer}/items?f=json").json()
        assert body["numberMatched"] == 0 and body["features"] == []
    assert api.get("/collections/projects?f=json").status_code == 200
    assert api.get("/projects/status").json()["counts"]["total"]["total"] == 0


def test_dry_run_places_first_snapshot(api: TestClient) -> None:
    r = _post(api, "projects_2024_03.csv")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] and body["snapshot_dates"] == ["2024-03-31"]
    by_id = {f["properties"]["project_id"]: f["properties"] for f in body["projects"]["features"]}
    assert {k: v["axis_label"] for k, v in by_id.items()} == {
        "XM-001": "330502-M1", "XM-002": "330502-M1", "XM-003": "330502-M1", "XM-004": "轴外",
        "XM-005": "未落位"}
    assert {k: v["placement"] for k, v in by_id.items()} == {
        "XM-001": "domain", "XM-002": "domain", "XM-003": "declared", "XM-004": "outside",
        "XM-005": "unplaced"}
    assert by_id["XM-001"]["axis_distance_km"] < 0.01  # put on the line itself
    assert by_id["XM-001"]["nearest_node"] == "织里镇"
    assert by_id["XM-002"]["nearest_node"] == "吴兴区（区政府驻地）"
    assert by_id["XM-003"]["nearest_node"] == "妙山村"  # 妙山村 stands at 妙西镇's seat
    assert by_id["XM-003"]["position_source"] == "township_seat_standin"
    assert by_id["XM-004"]["position_source"] == "planner_area"
    assert by_id["XM-004"]["county_name"] == "南浔区"
    assert by_id["XM-005"]["county_name"] == "德清县"
    unplaced = [f for f in body["projects"]["features"] if f["geometry"] is None]
    assert [f["properties"]["project_id"] for f in unplaced] == ["XM-005"]
    assert {w["code"] for w in body["warnings"]} == {"unplaced", "unknown_axis"}
    # statuses, 2024-03-31: XM-001 lag 40−35 = 5 → green; XM-002 30−5 = 25 ≥ 20 → red;
    # XM-003 lag 5 but 计划竣工 2024-03-15 < as-of and 55 < 100 → red (overdue);
    # XM-004 20−8 = 12 → yellow; XM-005 10−10 = 0 → green
    assert {k: v["status"] for k, v in by_id.items()} == {
        "XM-001": "green", "XM-002": "red", "XM-003": "red", "XM-004": "yellow",
        "XM-005": "green"}
    assert by_id["XM-003"]["overdue"] is True
    # warnings: red first (XM-002 lag 25 before XM-003 lag 5), then yellow XM-004
    assert [w["project_id"] for w in body["warning_list"]] == ["XM-002", "XM-003", "XM-004"]
    assert api.get("/collections/projects/items?f=json").json()["numberMatched"] == 0


def test_saving_needs_an_api_key(api: TestClient) -> None:
    r = api.post("/projects", files={"file": ("p.csv", (FIXTURES / "projects_2024_03.csv")
                                              .read_bytes())}, data={"dry_run": "false"})
    assert r.status_code == 401 and r.json()["message"]["zh"]


def test_two_snapshots_history_counts_warnings_curves(api: TestClient) -> None:
    assert _post(api, "projects_2024_03.csv", dry_run="false").status_code == 200
    # the April snapshot as GBK, as Excel on Chinese Windows writes it
    gbk = (FIXTURES / "projects_2024_04.csv").read_text("utf-8").encode("gbk")
    r = _post(api, "projects_2024_04.csv", gbk, dry_run="false")
    assert r.status_code == 200, r.text
    assert {c.rsplit("/", 1)[-1] for c in r.json()["collections"]} >= {
        "projects", "project_snapshots"}
    # history: 5 + 6 rows; latest: 6 projects
    assert api.get("/collections/project_snapshots/items?f=json").json()["numberMatched"] == 11
    march = api.get("/collections/project_snapshots/items?f=json&snapshot_date=2024-03-31")
    assert march.json()["numberMatched"] == 5
    latest = api.get("/collections/projects/items?f=json&limit=100").json()
    assert latest["numberMatched"] == 6
    assert {f["properties"]["snapshot_date"] for f in latest["features"]} == {"2024-04-30"}

    status = api.get("/projects/status").json()
    # 2024-04-30: XM-001 50−38 = 12 yellow; XM-002 40−25 = 15 yellow; XM-003 100/100 green
    # (finished, so not overdue); XM-004 30−20 = 10 yellow (≥ 10); XM-005 20−0 = 20 red (≥ 20);
    # XM-006 10−10 = 0 green
    assert status["counts"]["total"] == {"red": 1, "yellow": 3, "green": 2, "total": 6}
    assert status["counts"]["by_axis"] == {
        "330502-M1": {"red": 0, "yellow": 2, "green": 1, "total": 3},
        "330522-M1": {"red": 0, "yellow": 0, "green": 1, "total": 1},
        "轴外": {"red": 0, "yellow": 1, "green": 0, "total": 1},
        "未落位": {"red": 1, "yellow": 0, "green": 0, "total": 1}}
    assert status["counts"]["by_county"]["吴兴区"] == {"red": 0, "yellow": 2, "green": 1,
                                                      "total": 3}
    assert status["counts"]["by_type"]["公共服务"] == {"red": 1, "yellow": 1, "green": 0,
                                                     "total": 2}
    # red first, then yellow by lag: XM-005 (20), XM-002 (15), XM-001 (12), XM-004 (10)
    assert [w["project_id"] for w in status["warnings"]] == [
        "XM-005", "XM-002", "XM-001", "XM-004"]
    # as of March the first snapshot's picture comes back
    march = api.get("/projects/status?as_of=2024-03-31").json()
    assert [w["project_id"] for w in march["warnings"]] == ["XM-002", "XM-003", "XM-004"]
    # thresholds per request: yellow at 12 pp drops XM-004 (lag 10) from the list
    strict = api.get("/projects/status?red_lag=15&yellow_lag=12").json()
    assert [(w["project_id"], w["status"]) for w in strict["warnings"]] == [
        ("XM-005", "red"), ("XM-002", "red"), ("XM-001", "yellow")]

    curves = api.get("/projects/curves?by=axis").json()["curves"]
    # 330502-M1 holds XM-001 (总投资 10000), XM-002 (5000), XM-003 (2000): weights sum 17000.
    # March: planned (40·10000 + 30·5000 + 60·2000)/17000 = 670000/17000 = 39.412;
    #        actual  (35·10000 +  5·5000 + 55·2000)/17000 = 485000/17000 = 28.529;
    #        invested 3500 + 500 + 1200 = 5200 万元.
    # April: planned (50·10000 + 40·5000 + 100·2000)/17000 = 900000/17000 = 52.941;
    #        actual  (38·10000 + 25·5000 + 100·2000)/17000 = 705000/17000 = 41.471;
    #        invested 4000 + 1500 + 2000 = 7500 万元.
    m1 = curves["330502-M1"]
    assert [(c["month"], c["planned_pct"], c["actual_pct"], c["invested_wan"]) for c in m1] == [
        ("2024-03", 39.412, 28.529, 5200.0), ("2024-04", 52.941, 41.471, 7500.0)]
    assert curves["330522-M1"] == [{"month": "2024-04", "projects": 1, "planned_pct": 10.0,
                                    "actual_pct": 10.0, "invested_wan": 2000.0,
                                    "total_investment_wan": 20000.0}]
    county = api.get("/projects/curves?by=county&key=南浔区").json()["curves"]["南浔区"]
    assert [(c["planned_pct"], c["actual_pct"], c["invested_wan"]) for c in county] == [
        (20.0, 8.0, 1000.0), (30.0, 20.0, 1800.0)]
    one = api.get("/projects/XM-001/curve").json()["curve"]
    assert [(c["month"], c["planned_pct"], c["actual_pct"], c["invested_wan"]) for c in one] == [
        ("2024-03", 40.0, 35.0, 3500.0), ("2024-04", 50.0, 38.0, 4000.0)]

    # re-importing a date replaces that date's rows (history does not double)
    assert _post(api, "projects_2024_04.csv", dry_run="false").status_code == 200
    assert api.get("/collections/project_snapshots/items?f=json").json()["numberMatched"] == 11


def test_bad_rows_listed_with_line_numbers(api: TestClient) -> None:
    r = _post(api, "projects_bad.csv")
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_project_table"
    assert body["message"]["zh"] and body["message"]["en"]
    found = {(p["row"], p["column"]) for p in body["detail"]["problems"]}
    assert found == {(3, "type"), (4, "planned_pct"), (5, "planned_start"), (6, "lon"),
                     (7, "name"), (8, "name"), (9, "planned_finish"), (10, "as_of"),
                     (10, "total_investment_wan")}
    assert all(p["message"]["zh"] and p["message"]["en"] for p in body["detail"]["problems"])
    assert "/" not in body["message"]["en"].split("see")[0].replace("rows:", "")


def test_bad_parameters_are_4xx(api: TestClient) -> None:
    csv = (FIXTURES / "projects_2024_03.csv").read_bytes()
    assert _post(api, "p.csv", csv, scenario="nosuch").status_code == 400
    assert _post(api, "p.csv", csv, red_lag="5", yellow_lag="10").status_code == 400
    assert api.get("/projects/status?red_lag=500").status_code == 400
    assert api.get("/projects/curves?by=galaxy").status_code == 400
    assert api.get("/projects/nosuch/curve").status_code == 404
    assert _post(api, "p.xls", b"\xd0\xcf\x11\xe0 junk").status_code == 422
    assert api.get("/axes/nosuch/plan?f=json").status_code == 404


def test_english_headers_xlsx(api: TestClient) -> None:
    frame = pd.DataFrame([{"name": "虚构示例·xlsx", "type": "infrastructure", "lon": 120.2378,
                           "lat": 30.87, "total_investment": 100, "planned_progress": 10,
                           "actual_progress": 10, "update_date": "2024-05-31"}])
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    body = _post(api, "p.xlsx", buffer.getvalue()).json()
    props = body["projects"]["features"][0]["properties"]
    assert props["type"] == "基础设施" and props["axis_label"] == "330502-M1"


def test_templates(api: TestClient) -> None:
    from layers.settlement_nodes import read_table

    for suffix in ("csv", "xlsx"):
        r = api.get(f"/projects/template.{suffix}")
        assert r.status_code == 200
        frame = read_table(r.content, f"t.{suffix}")
        assert "项目名称" in frame.columns and len(frame) == 1
        assert "虚构示例" in frame["项目名称"].iloc[0]


def test_tie_goes_to_the_nearer_axis(projects_store_path: Path) -> None:
    """Two secondary axes whose domains overlap: a project in both goes to the nearer line."""
    import geopandas as gpd

    store = GeoPackageStore(projects_store_path)
    lines = [shapely.LineString([(120.10, 30.80), (120.20, 30.80)]),
             shapely.LineString([(120.10, 30.82), (120.20, 30.82)])]  # ≈ 2.2 km apart
    axes = gpd.GeoDataFrame({"axis_id": ["A", "B"], "name": ["A", "B"],
                             "rank": ["secondary", "secondary"]}, geometry=lines, crs=4326)
    domains = gpd.GeoDataFrame({"axis_id": ["A", "B"], "rank": ["secondary", "secondary"]},
                               geometry=[g.buffer(0.03) for g in lines], crs=4326)
    nodes = gpd.GeoDataFrame({"name": ["n"]}, geometry=[shapely.Point(120.1, 30.8)], crs=4326)
    rows = pd.DataFrame({"row": [2, 3], "name": ["p", "q"], "declared_axis": ["", ""],
                         "county_code": ["330502", "330502"],
                         "geometry": [shapely.Point(120.15, 30.805),   # 0.55 km from A
                                      shapely.Point(120.15, 30.816)]})  # 0.44 km from B
    placed, _ = place(rows, AxesScenario("t", axes, domains, nodes),
                      Gazetteer.from_store(store))
    assert list(placed["axis_id"]) == ["A", "B"]


def test_thresholds_checked() -> None:
    assert Thresholds.checked(30, 5) == Thresholds(30, 5)
    with pytest.raises(Exception):
        Thresholds.checked(0, 5)


def test_cli_load(projects_store_path: Path, tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from cli.main import app

    copy = tmp_path / "atlas.gpkg"
    shutil.copyfile(projects_store_path, copy)
    runner = CliRunner()
    dry = runner.invoke(app, ["projects", "load", str(FIXTURES / "projects_2024_03.csv"),
                              "--store", str(copy), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "红 red 2" in dry.output
    bad = runner.invoke(app, ["projects", "load", str(FIXTURES / "projects_bad.csv"),
                              "--store", str(copy)])
    assert bad.exit_code == 2 and "detail.problems" in bad.output
    done = runner.invoke(app, ["projects", "load", str(FIXTURES / "projects_2024_04.csv"),
                               "--store", str(copy)])
    assert done.exit_code == 0, done.output
    assert len(GeoPackageStore(copy).frame("projects")) == 6
