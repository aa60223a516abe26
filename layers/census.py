"""Census indicators (人口普查): Zhejiang's county figures of 2010 and 2020, joined by code per
year to today's county polygons, with a report of everything that does not match.

Source: data/indicators/census/ (leiii/census, MIT; see its SOURCES.md). Each census row
becomes a fact `census_<indicator>` citing its source. Codes are joined per year:

- today's code, same area → matched;
- `recoded` in boundary_changes.csv (same area, new code: 富阳市 330183 → 富阳区 330111 …) →
  joined to the new code, and the report says so;
- `boundary_changed` (code kept, area changed: 上城/拱墅/余杭/萧山 after 2021 …) or
  `abolished` (下城, 江干, 江东, 绍兴县), no code (温州经济技术开发区), or a code unknown
  today → kept with an empty `code` (never drawn on today's polygon), the census code in
  `note`, and listed in the report.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

CENSUS_DIR = Path(__file__).resolve().parent.parent / "data" / "indicators" / "census"
CENSUS_FILE = CENSUS_DIR / "zhejiang_county_census_2010_2020.csv"
CHANGES_FILE = CENSUS_DIR / "boundary_changes.csv"
PREFIX = "census_"
SOURCE_TITLE = ("leiii/census (MIT)：第六次、第七次全国人口普查分县资料 "
                "6th and 7th census county yearbooks")
REFERENCE_DATES = {2010: "2010-11-01", 2020: "2020-11-01"}  # 普查标准时点

# indicator → (title zh, title en, unit shown, higher is better: "" when a matter of view)
INDICATORS = {
    "resident_population": ("常住人口", "Resident population", "人", ""),
    "urban_population": ("城镇人口", "Urban population", "人", ""),
    "rural_population": ("乡村人口", "Rural population", "人", ""),
    "urbanisation_rate": ("常住人口城镇化率（计算值）",
                          "Urbanisation rate (urban ÷ resident, computed)", "%", ""),
    "registered_hukou_population": ("户籍人口", "Registered (hukou) population", "人", ""),
    "family_households": ("家庭户数", "Family households", "户", ""),
    "sex_ratio": ("性别比（女=100）", "Sex ratio (males per 100 females)", "", ""),
    "share_age_0_14": ("0—14岁人口占比", "Share aged 0–14", "%", ""),
    "share_age_65plus": ("65岁及以上人口占比", "Share aged 65 and over", "%", ""),
    "avg_years_schooling": ("平均受教育年限", "Average years of schooling", "年", ""),
    "per_capita_housing_floor_area": ("家庭户人均住房建筑面积",
                                      "Housing floor area per person (family households)",
                                      "m²/人", ""),
}
# counts that add up over counties (a city's figure is their sum, labelled 计算值)
ADDITIVE = ("resident_population", "urban_population", "rural_population",
            "registered_hukou_population", "family_households")


def indicator_id(name: str) -> str:
    return PREFIX + name


@functools.lru_cache(maxsize=1)
def boundary_changes(path: Path = CHANGES_FILE) -> pd.DataFrame:
    """The curated list of census units that no longer match today's polygons."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["years"] = frame["census_years"].str.split(";").apply(lambda ys: {int(y) for y in ys})
    return frame


def _today_codes() -> set[str]:
    from layers.place_names import cnmaps_names

    counties = cnmaps_names()["counties"]
    return set(counties.loc[counties["code"].str.startswith("33"), "code"])


@functools.lru_cache(maxsize=1)
def census_frames(path: Path = CENSUS_FILE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The census as indicator facts and catalogue rows (store-independent: joined to today's
    county codes); `layers.indicators.census_table()` wraps them."""
    raw = pd.read_csv(path, dtype={"code": str}, keep_default_na=False)
    raw["year"] = raw["year"].astype(int)
    raw["value"] = pd.to_numeric(raw["value"], errors="coerce")
    today = _today_codes()
    changes = boundary_changes()
    by_code = {(row.census_code, year): row for row in changes.itertuples() for year in row.years}
    codes, match, notes = [], [], []
    for code, name, year in zip(raw["code"], raw["name"], raw["year"]):
        change = by_code.get((code, year))
        if not code:
            codes.append("")
            match.append("no_code")
            notes.append(f"普查表中“{name}”没有区划代码 no code in the census table")
        elif change is not None and change.kind == "recoded":
            codes.append(change.today_code)
            match.append(f"recoded: {code} → {change.today_code}")
            notes.append(f"普查代码 census code {code}（{name}）；{change.change_zh} "
                         f"{change.change_en}")
        elif change is not None:
            codes.append("")
            match.append(change.kind)
            notes.append(f"普查代码 census code {code}（{name}，{year}年范围）；{change.change_zh}"
                         f" {change.change_en}")
        elif code not in today:
            codes.append("")
            match.append("unknown_code")
            notes.append(f"普查代码 census code {code}（{name}）不是现行区县代码 not a county "
                         "code today")
        else:
            codes.append(code)
            match.append("matched")
            notes.append("")
    units = {k: v[2] for k, v in INDICATORS.items()}
    facts = pd.DataFrame({
        "code": codes, "place_name": raw["name"], "level": "county",
        "indicator": PREFIX + raw["indicator"], "year": raw["year"],
        "period": raw["year"].astype(str) + "年普查",
        "value": raw["value"], "value_as_written": raw["value"].map(lambda v: f"{v:g}"),
        "unit": raw["indicator"].map(units).fillna(raw["unit"]),
        "qualifier": "", "kind": "number", "source": raw["source"],
        "source_date": raw["year"].map(REFERENCE_DATES).fillna("") + "（普查标准时点）",
        "match": match, "note": notes,
    })
    catalog = pd.DataFrame([
        {"id": PREFIX + key, "title_zh": zh, "title_en": en, "unit": unit,
         "higher_is_better": hib, "origin": "source", "source": SOURCE_TITLE,
         "derived": "false"}
        for key, (zh, en, unit, hib) in INDICATORS.items()
        if PREFIX + key in set(facts["indicator"])])
    return facts, catalog


def join_report(polygon_codes: set[str], facts: pd.DataFrame | None = None) -> dict:
    """How the census rows of each year match a store's county polygons (`polygon_codes`):
    matched, joined under a new code, outside this store's region, and — listed one by one
    — every unit that does not match today's polygons, with the reason."""
    facts = census_frames()[0] if facts is None else facts
    units = facts.drop_duplicates(["place_name", "year", "match", "note"])
    years: dict[str, dict] = {}
    for year, rows in units.groupby("year"):
        status = rows["match"].str.split(":").str[0]
        coded = rows[rows["code"] != ""]
        here = coded[coded["code"].isin(polygon_codes)]
        outside = coded[~coded["code"].isin(polygon_codes)]
        unmatched = rows[rows["code"] == ""]
        years[str(int(year))] = {
            "units": len(rows),
            "matched_to_polygons": int((status[here.index] == "matched").sum()),
            "recoded_to_polygons": [
                {"code": c, "name": n, "how": m, "note": t} for c, n, m, t in
                here.loc[status[here.index] == "recoded",
                         ["code", "place_name", "match", "note"]].itertuples(index=False)],
            "outside_region": len(outside),
            "not_matched": [
                {"census_code": _census_code(t), "name": n, "reason": m, "note": t}
                for n, m, t in unmatched[["place_name", "match", "note"]]
                .itertuples(index=False)],
            "polygons_without_figure": sorted(polygon_codes - set(coded["code"])),
        }
    return {
        "source": SOURCE_TITLE, "rows": len(facts),
        "indicators": sorted(set(facts["indicator"])),
        "polygons": len(polygon_codes),
        "years": years,
        "note": "未匹配的单位保留在指标表中（code 为空、备注写明普查代码），不画到现行区划上。"
                "Units that do not match keep their figures (empty code, census code in note) "
                "and are never drawn on today's polygons. boundary_changes.csv lists the "
                "changes known to the atlas (see data/indicators/census/SOURCES.md).",
    }


def _census_code(note: str) -> str:
    marker = "census code "
    return note.split(marker, 1)[1].split("（", 1)[0].strip() if marker in note else ""


SHOWN_CODES = 12  # polygon codes listed in the build's report; the rest are counted


def report_lines(report: dict) -> list[str]:
    """The join report as a few lines of text (for `gongfu build`)."""
    lines = []
    for year, body in report["years"].items():
        lines.append(f"census {year}: {body['units']} units; {body['matched_to_polygons']} "
                     f"matched, {len(body['recoded_to_polygons'])} under a new code, "
                     f"{body['outside_region']} outside this region, "
                     f"{len(body['not_matched'])} not matching today's polygons")
        for item in body["not_matched"]:
            lines.append(f"  ✗ {item['census_code'] or '—':6s} {item['name']}: {item['reason']}")
        missing = body["polygons_without_figure"]
        if missing:
            # a China build has ~2,600 (the census covers Zhejiang): the count and a few codes
            shown = ", ".join(missing[:SHOWN_CODES])
            more = f" … (+{len(missing) - SHOWN_CODES})" if len(missing) > SHOWN_CODES else ""
            lines.append(f"  {len(missing)} polygons without a figure: {shown}{more}")
    return lines


def city_totals(facts: pd.DataFrame, county_codes: list[str]) -> pd.DataFrame:
    """Sums of the additive census counts over `county_codes` per year (and the urbanisation
    rate from those sums), only for years where every county has a figure."""
    rows = []
    for name in ADDITIVE:
        part = facts[(facts["indicator"] == PREFIX + name) & facts["code"].isin(county_codes)]
        for year, group in part.groupby("year"):
            if set(group["code"]) >= set(county_codes):
                rows.append({"indicator": PREFIX + name, "year": int(year),
                             "value": float(group["value"].sum())})
    out = pd.DataFrame(rows, columns=["indicator", "year", "value"])
    urban = out[out["indicator"] == PREFIX + "urban_population"].set_index("year")["value"]
    resident = out[out["indicator"] == PREFIX + "resident_population"].set_index("year")["value"]
    for year in urban.index.intersection(resident.index):
        out.loc[len(out)] = [PREFIX + "urbanisation_rate", int(year),
                             round(urban[year] / resident[year] * 100, 2)]
    return out
