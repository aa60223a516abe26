"""Place search for the 一张图 workspace: names as planners type them, codes, and honest
positions (a village has none: it says so and shows its township's or county's)."""

from __future__ import annotations

import pytest
import shapely


def _search(client, q, **params):
    response = client.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_county_by_short_name_has_its_seat_and_polygon_bbox(client, store):
    body = _search(client, "安吉")
    assert body["query"] == "安吉"
    first = body["results"][0]
    assert (first["code"], first["name"], first["level"], first["level_zh"]) == (
        "330523", "安吉县", "county", "区县")
    assert [p["name"] for p in first["parents"]] == ["浙江省", "湖州市"]
    seat = store.frame("county_seats").loc[lambda f: f["code"] == "330523"].geometry.iloc[0]
    assert first["position"] == pytest.approx([seat.x, seat.y], abs=1e-6)
    assert first["has_position"] is True
    county = store.frame("counties").loc[lambda f: f["code"] == "330523"].geometry.iloc[0]
    assert first["bbox"] == pytest.approx(list(county.bounds), abs=1e-6)
    assert shapely.Point(first["position"]).within(county)
    assert first["fact_sheet"] == "/places/330523"


@pytest.mark.parametrize("q", ["安吉县", "安吉", "\uff13\uff13\uff10\uff15\uff12\uff13", "330523",
                               "３３０５２３000000", " 安吉县 "])
def test_full_width_suffixes_and_codes_find_the_same_county(client, q):
    assert _search(client, q)["results"][0]["code"] == "330523"


def test_township_suffix_tolerant_and_seat_from_geonames(client, store):
    towns = store.frame("townships")
    row = towns[towns["name"] == "织里镇"].iloc[0]
    for q in ("织里镇", "织里", "织里乡"):
        first = _search(client, q)["results"][0]
        assert first["code"] == row["code"] and first["level"] == "township"
    assert first["has_position"] is True
    assert first["position"] == pytest.approx([row.geometry.x, row.geometry.y], abs=1e-6)
    assert first["bbox"] is None  # a point: no extent invented
    assert "GeoNames" in first["position_note_en"]
    # 递铺街道 searched as 递铺镇: suffix 街道/镇 both dropped
    assert _search(client, "递铺镇")["results"][0]["name"] == "递铺街道"


def test_village_without_coordinates_says_so_and_shows_its_township(client, store):
    first = _search(client, "织里村")["results"][0]
    assert first["level"] == "village" and first["code"].startswith("330502100")
    assert first["has_position"] is False
    seat = store.frame("townships").loc[lambda f: f["code"] == "330502100"].geometry.iloc[0]
    assert first["position"] == pytest.approx([seat.x, seat.y], abs=1e-6)
    assert first["position_note_zh"].startswith("该村无公开坐标，显示所在乡镇街道（织里镇）")
    assert "no open coordinates" in first["position_note_en"]
    assert [p["code"] for p in first["parents"]][-1] == "330502100"


def test_village_whose_township_has_no_seat_falls_back_to_the_county_seat(client, store):
    first = _search(client, "余村村委会")["results"][0]  # 天荒坪镇 has no GeoNames seat
    assert first["code"] == "330523108204" and first["has_position"] is False
    assert "天荒坪镇" in first["position_note_zh"] and "安吉县" in first["position_note_zh"]
    seat = store.frame("county_seats").loc[lambda f: f["code"] == "330523"].geometry.iloc[0]
    assert first["position"] == pytest.approx([seat.x, seat.y], abs=1e-6)


def test_twelve_digit_code_and_limit(client):
    assert _search(client, "330523108204")["results"][0]["name"] == "余村村委会"
    many = _search(client, "3305", limit=3)["results"]
    assert len(many) == 3 and [r["level"] for r in many][0] == "city"


def test_no_match_is_an_empty_list_not_an_error(client):
    assert _search(client, "不存在的地名xyz")["results"] == []
    assert _search(client, "海淀区")["results"] == []  # China-wide names outside the store
    assert all(r["code"].startswith("3305") for r in _search(client, "朝阳区")["results"])


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "安吉", "limit": "0"},
                                    {"q": "安吉", "limit": "51"}, {"q": "安吉", "limit": "x"},
                                    {"q": "安" * 51}, {}])
def test_bad_search_input_is_a_bilingual_400(client, params):
    response = client.get("/search", params=params)
    assert response.status_code == 400
    message = response.json()["message"]
    assert message["zh"] and message["en"]
