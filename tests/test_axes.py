"""Development axes on a hand-computable case: two square counties laid out on the EPSG:4549
plane, nodes given in EPSG:4549 metres, so every path, length, area and share can be checked
by hand."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from layers.axes import (accessibility, county_stats, from_plane, generate_axes, plan_axes,
                         shortest_open_path)
from layers.settlement_nodes import Gazetteer, InvalidPlanInput, parse_nodes

A, B = "990001", "990002"  # two 40 km × 40 km square counties side by side
X0, Y0 = 500_000.0, 3_300_000.0  # near 120°E, 29.8°N


def _square(x0: float, y0: float, size: float) -> shapely.Polygon:
    # densified so that its WGS84 copy keeps straight edges on the plane
    return shapely.segmentize(shapely.box(x0, y0, x0 + size, y0 + size), 100.0)


def _pt(x: float, y: float) -> shapely.Point:
    return from_plane([shapely.Point(x, y)])[0]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    counties = gpd.GeoDataFrame(
        {"code": [A, B], "name": ["甲县", "乙县"]},
        geometry=list(from_plane([_square(X0, Y0, 40_000), _square(X0 + 40_000, Y0, 40_000)])),
        crs=4326)
    seats = gpd.GeoDataFrame({"code": [A, B]},
                             geometry=[_pt(X0 + 10_000, Y0 + 20_000),
                                       _pt(X0 + 60_000, Y0 + 20_000)], crs=4326)
    townships = gpd.GeoDataFrame(
        {"code": ["990001001", "990001002", "990001003"], "name": ["东镇", "西镇", "无驻地乡"],
         "county_code": [A, A, A]},
        geometry=[_pt(X0 + 30_000, Y0 + 20_000), _pt(X0 + 12_000, Y0 + 21_000), None],
        crs=4326)
    villages = pd.DataFrame({
        "code": ["990001001201", "990001001202", "990001002201", "990001003201"],
        "name": ["东一村", "东二村", "西一村", "无驻地村"],
        "township_code": ["990001001", "990001001", "990001002", "990001003"],
        "county_code": [A, A, A, A]})
    return Gazetteer.from_frames(counties, seats, townships, villages)


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).fillna("")


def _node(name: str, tier: str, x: float, y: float, **extra) -> dict:
    return {"name": name, "tier": tier, "lon": str(X0 + x), "lat": str(Y0 + y),
            "crs": "EPSG:4549", **extra}


GENERATION_NODES = [
    _node("县城", "county_town", 10_000, 20_000),
    _node("东镇", "central_town", 20_000, 20_000),  # 10 km east of the county town
    _node("西镇", "central_town", 4_000, 20_000),  # 6 km west
    _node("北镇", "central_town", 20_000, 25_000),  # 5 km north of 东镇
    _node("甲村", "key_village", 22_000, 17_000),  # nearest higher tier: 东镇, √13 km
    _node("乙村", "key_village", 5_000, 30_000),  # nearest: 西镇, √101 km
]


def test_shortest_open_path_is_exact() -> None:
    points = np.array([[0, 0], [10, 0], [-6, 0], [10, 5]], dtype=float)
    order = shortest_open_path(points)
    length = sum(np.hypot(*(points[a] - points[b])) for a, b in zip(order, order[1:]))
    assert length == pytest.approx(21.0)
    assert order in ([2, 0, 1, 3], [3, 1, 0, 2])


def test_generation_main_axis_path_and_length(gaz: Gazetteer) -> None:
    table = parse_nodes(_table(GENERATION_NODES), gaz)
    assert table.problems == []
    axes, warnings = generate_axes(table.nodes, {A: "甲县"})
    main = [a for a in axes if a.rank == "main"]
    assert len(main) == 1
    # 西镇–县城–东镇–北镇 = 6 + 10 + 5 km, read from the end nearer the county town (西镇)
    assert main[0].members == ("西镇", "县城", "东镇", "北镇")
    assert main[0].length_km == pytest.approx(21.0, abs=1e-3)
    assert main[0].schematic and "算法生成" in main[0].name
    assert warnings == []


def test_generation_secondary_axes_attach_to_nearest_higher_tier(gaz: Gazetteer) -> None:
    table = parse_nodes(_table(GENERATION_NODES), gaz)
    axes, _ = generate_axes(table.nodes)
    secondary = {a.members: a.length_km for a in axes if a.rank == "secondary"}
    assert secondary == {("东镇", "甲村"): pytest.approx(math.sqrt(13), abs=1e-3),
                         ("西镇", "乙村"): pytest.approx(math.sqrt(101), abs=1e-3)}


def test_county_with_one_town_gets_no_main_axis(gaz: Gazetteer) -> None:
    table = parse_nodes(_table([_node("县城", "county_town", 10_000, 20_000),
                                _node("甲村", "key_village", 13_000, 24_000)]), gaz)
    axes, warnings = generate_axes(table.nodes)
    assert [a.rank for a in axes] == ["secondary"]
    assert axes[0].length_km == pytest.approx(5.0, abs=1e-3)
    assert [w["code"] for w in warnings] == ["no_main_axis"]


EXPLICIT_NODES = [_node("西端", "county_town", 0, 20_000),  # on the county's west edge
                  _node("中点", "central_town", 20_000, 20_000),
                  _node("中心镇乙", "central_town", 60_000, 20_000)]  # in county B


def test_domain_area_share_hand_computed(gaz: Gazetteer) -> None:
    """A 20 km main axis from the west edge, buffered 5 km: the half beyond the edge is clipped,
    leaving a 20 × 10 km rectangle plus a half disc of radius 5 km = 239.27 km² of 1,600."""
    nodes = parse_nodes(_table(EXPLICIT_NODES[:2]), gaz)
    axes = _table([{"axis_id": "M", "sequence": "1", "node": "西端", "rank": "main"},
                   {"axis_id": "M", "sequence": "2", "node": "中点", "rank": "main"}])
    plan = plan_axes(nodes, gaz, axes, {"main": 5.0})
    expected = 200 + math.pi * 25 / 2
    assert plan.domains[0].area_km2 == pytest.approx(expected, rel=1e-3)
    stats = {row["county_code"]: row for row in county_stats(plan, gaz)}
    assert stats[A]["county_area_km2"] == pytest.approx(1600, rel=1e-4)
    assert stats[A]["domain_area_share_pct"] == pytest.approx(expected / 16, rel=1e-3)
    assert stats[A]["area_share_vs_benchmark_pt"] == pytest.approx(expected / 16 - 46.4, abs=0.02)
    assert stats[A]["axis_length_km"] == pytest.approx(20.0, abs=1e-3)
    # 西镇's seat (12, 21) km is inside, 东镇's (30, 20) is not; 无驻地乡 has no seat
    assert (stats[A]["townships_in_domains"], stats[A]["townships_with_seat"]) == (1, 2)
    assert stats[A]["township_share_pct"] == 50.0
    # villages counted at their township seat: 西一村 in, 东一村/东二村 out, 无驻地村 uncounted
    assert (stats[A]["villages_in_domains"], stats[A]["villages_with_township_seat"]) == (1, 3)
    assert stats[A]["village_share_by_township_seat_pct"] == pytest.approx(33.33)
    assert stats[B]["domain_area_share_pct"] == 0.0


def test_accessibility_raster_within_5_km_of_a_central_town(gaz: Gazetteer, tmp_path) -> None:
    nodes = parse_nodes(_table(EXPLICIT_NODES), gaz).nodes
    access = accessibility(nodes, gaz.counties, cell_m=200)
    shares = {km: access.share_within("central_town", km) for km in (5, 10, 20)}
    disc = math.pi * 25 / 1600 * 100  # a 5 km disc fully inside a 1,600 km² county: 4.91 %
    assert shares[5][A] == pytest.approx(disc, abs=0.1)
    assert shares[5][B] == pytest.approx(disc, abs=0.1)
    assert shares[20][A] > shares[10][A] > shares[5][A]
    path = tmp_path / "access.tif"
    access.write_geotiff(path)
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4549 and src.res == (200.0, 200.0)
        assert src.count == 4
        band = src.read(2)  # central_town
        row, col = src.index(X0 + 20_000 + 100, Y0 + 20_000 + 100)
        assert band[row, col] < 0.3  # the cell at 中点 is ~0 km from it
        assert src.nodata == -1


def _problems(gaz: Gazetteer, nodes: list[dict], axes: list[dict] | None = None) -> list[dict]:
    table = parse_nodes(_table(nodes), gaz)
    with pytest.raises(InvalidPlanInput) as caught:
        plan_axes(table, gaz, _table(axes) if axes is not None else None)
    assert caught.value.message_zh and caught.value.message_en
    return caught.value.detail["problems"]


def test_unknown_code_is_a_problem_row(gaz: Gazetteer) -> None:
    problems = _problems(gaz, [{"name": "某镇", "tier": "central_town", "code": "990001999"}])
    assert [(p["row"], p["column"], p["value"]) for p in problems] == [(2, "code", "990001999")]


def test_node_outside_its_county(gaz: Gazetteer) -> None:
    problems = _problems(gaz, [_node("越界镇", "central_town", 50_000, 20_000, county_code=A)])
    assert [(p["row"], p["column"]) for p in problems] == [(2, "lon")]
    assert "990002" in problems[0]["message"]["en"]


def test_duplicate_names(gaz: Gazetteer) -> None:
    problems = _problems(gaz, [_node("同名", "central_town", 1_000, 1_000),
                               _node("同名", "key_village", 2_000, 2_000)])
    assert [(p["row"], p["column"]) for p in problems] == [(3, "name")]
    assert "row 2" in problems[0]["message"]["en"]


def test_axis_with_missing_member(gaz: Gazetteer) -> None:
    problems = _problems(gaz, EXPLICIT_NODES,
                         [{"axis_id": "M", "sequence": "1", "node": "西端"},
                          {"axis_id": "M", "sequence": "2", "node": "不存在"}])
    assert [(p["table"], p["row"], p["value"]) for p in problems] == [("axes", 3, "不存在")]


def test_single_node_axis(gaz: Gazetteer) -> None:
    problems = _problems(gaz, EXPLICIT_NODES, [{"axis_id": "S", "sequence": "1", "node": "西端"}])
    assert [(p["table"], p["row"], p["column"]) for p in problems] == [("axes", 2, "axis_id")]


def test_every_problem_row_is_listed_at_once(gaz: Gazetteer) -> None:
    nodes = [_node("西端", "county_town", 0, 20_000),
             {"name": "某镇", "tier": "central_town", "code": "123456789"},
             _node("越界镇", "central_town", 50_000, 20_000, county_code=A),
             _node("西端", "key_village", 1_000, 1_000),
             _node("好镇", "central_town", 5_000, 5_000)]
    axes = [{"axis_id": "M", "sequence": "1", "node": "西端"},
            {"axis_id": "M", "sequence": "2", "node": "缺失"},
            {"axis_id": "S", "sequence": "1", "node": "好镇"}]
    problems = _problems(gaz, nodes, axes)
    assert sorted((p["table"], p["row"]) for p in problems) == [
        ("axes", 3), ("axes", 4), ("nodes", 3), ("nodes", 4), ("nodes", 5)]


def test_village_code_resolves_to_township_seat_standin(gaz: Gazetteer) -> None:
    table = parse_nodes(_table([{"name": "东一村", "tier": "key_village", "code": "990001001201"},
                                {"name": "无驻地村", "tier": "key_village",
                                 "code": "990001003201"},
                                {"name": "甲县县城", "tier": "县城", "code": A}]), gaz)
    assert table.problems == []
    east, nowhere, seat = table.nodes
    assert east.position_source == "township_seat_standin"
    assert east.point.equals_exact(gaz.township_seat("990001001"), 1e-12)
    assert east.township_code == "990001001" and east.county_code == A
    assert not nowhere.placed and nowhere.position_source is None
    assert [w["node"] for w in table.warnings] == ["无驻地村"]
    assert seat.tier == "county_town" and seat.position_source == "gazetteer"


def test_clusters_are_spider_lines_to_the_hub(gaz: Gazetteer) -> None:
    nodes = [_node("中心村", "key_village", 10_000, 10_000),
             _node("成员一", "village", 13_000, 14_000, hub="中心村"),
             {"name": "成员二", "tier": "village", "county_code": A, "hub": "中心村"}]
    plan = plan_axes(parse_nodes(_table(nodes), gaz), gaz)
    [cluster] = plan.clusters
    assert cluster.members == ("成员一", "成员二") and cluster.unplaced_members == ("成员二",)
    assert len(shapely.get_parts(cluster.geometry)) == 1
    problems = _problems(gaz, [_node("村甲", "village", 1_000, 1_000, hub="没有这个村")])
    assert [(p["row"], p["column"]) for p in problems] == [(2, "hub")]


def _square_wkt(x: float, y: float, size: float = 1_000) -> str:
    return shapely.box(X0 + x, Y0 + y, X0 + x + size, Y0 + y + size).wkt


def test_cluster_geometry_from_member_areas(gaz: Gazetteer) -> None:
    """Hub and two members with 1 km² squares, two of them adjacent: union = 3 km², 2 parts."""
    nodes = [{"name": "中心村", "tier": "key_village", "crs": "EPSG:4549",
              "wkt": _square_wkt(10_000, 10_000)},
             {"name": "东邻", "tier": "village", "crs": "EPSG:4549", "hub": "中心村",
              "wkt": _square_wkt(11_000, 10_000)},
             {"name": "远村", "tier": "village", "crs": "EPSG:4549", "hub": "中心村",
              "wkt": _square_wkt(15_000, 15_000)}]
    table = parse_nodes(_table(nodes), gaz)
    assert table.problems == []
    assert all(n.placed and n.position_source == "planner" and n.county_code == A
               for n in table.nodes)
    [cluster] = plan_axes(table, gaz).clusters
    assert cluster.area_km2 == pytest.approx(3.0, rel=1e-3)
    assert len(shapely.get_parts(cluster.area)) == 2
    assert len(shapely.get_parts(cluster.geometry)) == 2  # spider lines to both members


def test_bad_area_wkt_is_a_problem_row(gaz: Gazetteer) -> None:
    problems = _problems(gaz, [
        {"name": "甲", "tier": "village", "county_code": A, "wkt": "POLYGON((1 2, 3"},
        {"name": "乙", "tier": "village", "crs": "EPSG:4549", "county_code": A,
         "wkt": _square_wkt(39_500, 10_000)}])  # half of it in county B
    assert [(p["row"], p["column"]) for p in problems] == [(2, "wkt"), (3, "wkt")]
