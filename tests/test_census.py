"""Census indicators: shipped with citations, joined by code per year, unmatched units
reported (never silently dropped), and mapped as 2010 → 2020 change."""

from __future__ import annotations

from layers import census, indicators

HUZHOU = {"330502", "330503", "330521", "330522", "330523"}


def test_every_census_value_is_cited_and_counted() -> None:
    table = indicators.census_table()
    assert len(table.facts) == 1360
    assert (table.facts["source"].str.contains("leiii/census")).all()
    assert (table.facts["source_date"] != "").all()
    assert set(table.catalog["origin"]) == {"source"}
    # Huzhou's five counties sum to the 7th census city total
    totals = census.city_totals(table.facts, sorted(HUZHOU)).set_index(["indicator", "year"])
    assert totals.loc[("census_resident_population", 2020), "value"] == 3_367_579


def test_join_report_lists_the_unmatched_codes() -> None:
    report = census.join_report(HUZHOU)
    y2020, y2010 = report["years"]["2020"], report["years"]["2010"]
    assert y2020["matched_to_polygons"] == 5 and y2010["matched_to_polygons"] == 5
    missing2020 = {item["census_code"]: item["reason"] for item in y2020["not_matched"]}
    # pre-2021 Hangzhou districts: 下城 and 江干 are gone, 上城/拱墅/余杭/萧山 changed area
    assert missing2020["330103"] == "abolished" and missing2020["330104"] == "abolished"
    assert missing2020["330110"] == "boundary_changed"
    assert "" in missing2020  # 温州经济技术开发区 has no code
    missing2010 = {item["census_code"] for item in y2010["not_matched"]}
    assert {"330204", "330621", "330102"} <= missing2010  # 江东区, 绍兴县, 上城区 (2010 area)
    assert y2020["polygons_without_figure"] == []


def test_recoded_units_join_under_todays_code() -> None:
    facts = indicators.census_table().facts
    fuyang = facts[(facts["code"] == "330111") & (facts["indicator"] == "census_resident_population")]
    assert sorted(fuyang["year"].tolist()) == [2010, 2020]
    row = fuyang[fuyang["year"] == 2010].iloc[0]
    assert row["match"].startswith("recoded") and "330183" in row["note"]
    # units that no longer match keep their figures, with an empty code and the census code
    xiacheng = facts[facts["place_name"] == "下城区"]
    assert (xiacheng["code"] == "").all() and xiacheng["note"].str.contains("330103").all()


def test_zhejiang_report_covers_todays_polygons() -> None:
    from layers.place_names import cnmaps_names

    counties = cnmaps_names()["counties"]
    zhejiang = set(counties.loc[counties["code"].str.startswith("33"), "code"])
    report = census.join_report(zhejiang)
    y2020 = report["years"]["2020"]
    assert y2020["outside_region"] == 0
    # 临平, 钱塘 (new in 2021) and the four districts whose area changed in 2021
    assert y2020["polygons_without_figure"] == ["330102", "330105", "330109", "330110",
                                                "330113", "330114"]
    assert len(report["years"]["2010"]["recoded_to_polygons"]) == 6


def test_census_report_endpoint(client) -> None:
    body = client.get("/indicators/census/report").json()
    assert body["years"]["2020"]["matched_to_polygons"] == 5
    assert any(i["census_code"] == "330104" for i in body["years"]["2020"]["not_matched"])


def test_change_view_delta_and_pct(client) -> None:
    pct = client.get("/indicators/census_resident_population/legend",
                     params={"change": "pct", "base_year": 2010}).json()
    assert pct["change"] == "pct" and pct["base_year"] == 2010 and pct["year"] == 2020
    assert pct["unit"] == "%" and "计算值" in pct["title"]
    items = client.get("/collections/counties/items", params={
        "indicator": "census_urbanisation_rate", "change": "delta", "f": "json"}).json()
    values = {f["properties"]["code"]: f["properties"]["value"] for f in items["features"]}
    assert abs(values["330523"] - (60.57 - 47.49)) < 1e-9  # 安吉 percentage points
    html = client.get("/maps/choropleth", params={
        "indicator": "census_resident_population", "change": "pct"})
    assert html.status_code == 200 and "变化率" in html.text
    # one year only → bilingual 400, not 500
    bad = client.get("/indicators/census_avg_years_schooling/legend", params={"change": "pct"})
    assert bad.status_code == 400 and bad.json()["message"]["zh"]
    assert client.get("/indicators/census_resident_population/legend",
                      params={"change": "ratio"}).status_code == 400


def test_build_report_counts_missing_polygons_instead_of_listing_thousands() -> None:
    """A China build has ~2,600 county polygons outside the Zhejiang census: the build's
    report gives their number and a few codes, not one 20,000-character line."""
    china_like = HUZHOU | {f"11{i:04d}" for i in range(2000)}
    lines = census.report_lines(census.join_report(china_like))
    line = next(text for text in lines if "polygons without a figure" in text)
    assert line.strip().startswith("2000 polygons without a figure")
    assert len(line) < 200 and "(+1988)" in line
