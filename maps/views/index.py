"""The index view (/maps/index): composite and sub-index choropleths (one base layer each),
the ranking table per peer group, a radar chart per place and a year-over-year trend (ECharts
from /static), and every weight with how it was derived. Shows the census demonstration
(方法演示) unless another computed result is passed in."""

from __future__ import annotations

import math
from dataclasses import dataclass

import folium
import shapely
import pandas as pd

from layers.classification import NO_DATA_COLOUR, classify
from layers.index import service
from layers.index.composite import IndexResult
from layers.store import Store
from maps.elements import (HUZHOU_BOUNDS, Area, AtlasMap, Attribution, ChartPanel, InfoBox,
                           Legend, Note)
from maps.elements.charts import option_json, radar, trend
from maps.elements.fragment import Fragment
from maps.views import render


def _f(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


@dataclass
class IndexPanel(Fragment):
    title_zh: str
    title_en: str
    demo: bool
    notes: list[str]
    year: int
    places: int
    normalisation: str
    weight_rule: str
    weights: list[dict]
    domains: list[str]
    groups: list[tuple[str, list[dict]]]
    choices: list[tuple[str, str]]
    radar: str
    radar_choices: str
    trend: str
    missing: list[str]
    warnings: list[str]
    source: str
    json_href: str
    template = "index_panel.html"


def _series(result: IndexResult) -> list[tuple[str, str]]:
    system = result.system
    return [("composite", "综合指数 Composite")] + [
        (result.domain_column(d), f"{d}分项指数") for d in system.domains]


def panel(result: IndexResult, names: dict[str, str], root: str, year: int,
          json_href: str) -> IndexPanel:
    system = result.system
    scores = result.scores
    latest = scores[scores["year"] == year].sort_values(["peer_group", "peer_rank"])
    columns = [result.domain_column(d) for d in system.domains]
    weights = []
    for ident, row in result.weights.iterrows():
        weights.append({
            "title_zh": row["title_zh"], "title_en": row["title_en"], "domain": row["domain"],
            "direction": row["direction"], "subjective": _f(row["subjective"], 4),
            "entropy": _f(row["entropy"], 4), "critic": _f(row["critic"], 4),
            "combined": _f(row["combined"], 4), "within_domain": _f(row["within_domain"], 4),
            "derivation": row["derivation"], "href": f"{root}/indicators/{ident}/values"})
    groups = []
    for group, rows in latest.groupby("peer_group", sort=True):
        groups.append((group, [{
            "peer_rank": r["peer_rank"], "rank": r["rank"], "places": r["places"],
            "name": names.get(r["code"], r["code"]), "href": f"{root}/dashboard/{r['code']}",
            "composite": _f(r["composite"]), "subs": [_f(r[c]) for c in columns],
            "change": _f(r["change"]) if not pd.isna(r["change"]) else "—（无上一年 no "
                      "previous year）"} for _, r in rows.iterrows()]))
    # radar: each indicator's normalised x' (0–1) of a place in the chosen year
    axes = [(f"{row['title_zh']}（{row['direction']}）", 1) for _, row in
            result.weights.iterrows()]
    normal = result.normalised
    choices, radars = [], {}
    for code in latest.sort_values("rank")["code"]:
        name = names.get(code, code)
        choices.append((code, name))
        series = [(f"{name} {y}", normal.loc[(code, y)].tolist())
                  for y in result.years if (code, y) in normal.index]
        radars[code] = radar(f"{name}：各指标标准化值 x′（0–1）", axes, series)
    first = choices[0][0] if choices else ""
    years = result.years
    top = latest.sort_values("rank")["code"].tolist()[:8]
    pivot = scores.pivot(index="code", columns="year", values="composite")
    trend_option = trend("综合指数逐年趋势 Composite by year", years,
                         [(names.get(c, c), [pivot.at[c, y] if y in pivot.columns else None
                                             for y in years]) for c in top], "分")
    missing = [f"{names.get(m['code'], m['code'])} {m['year']}：缺 "
               + "、".join(result.weights.at[i, "title_zh"] for i in m["missing"])
               for m in result.missing]
    return IndexPanel(
        system.title_zh, system.title_en, system.demo, list(system.notes), year,
        len(latest), "极差标准化（所有地区×年份合并计算）pooled min–max over every (place, year)",
        result.weight_rule(), weights, system.domains, groups, choices,
        option_json(radars.get(first, {})), option_json(radars), option_json(trend_option),
        missing, result.warnings, "指标来源见各指标链接 see each indicator's values",
        json_href)


def build_index_map(store: Store, root: str = "", result: IndexResult | None = None,
                    layer: str = "counties", year: int | None = None) -> AtlasMap:
    result = result or service.demo(store, layer)
    frame = store.frame(layer)
    names = dict(zip(frame.index, frame["name"]))
    year = year if year in result.years else result.years[-1]
    scores = result.scores[result.scores["year"] == year].set_index("code")
    located = frame[frame.index.isin(scores.index)]
    bounds = tuple(located.total_bounds) if len(located) else HUZHOU_BOUNDS
    fmap = AtlasMap.framing(f"{root}/static", bounds, result.system.title_zh, basemaps=False)
    fmap.width = (60.0, "%")  # the chart panel takes the other 40 %
    # one drawing per series: polygons simplified together (borders stay shared, ~100 m)
    outline = frame[["name", "geometry"]].copy()
    outline["geometry"] = shapely.set_precision(
        shapely.coverage_simplify(outline.geometry.to_numpy(), 0.001), 1e-5)
    legend_entries = []
    for position, (column, title) in enumerate(_series(result)):
        values = scores[column].reindex(frame.index)
        present = values.dropna()
        k = min(5, present.nunique())
        colours = pd.Series(NO_DATA_COLOUR, index=frame.index)
        if k >= 3:
            classes = classify(values, "quantiles", k, ramp="YlGnBu")
            colours = pd.Series([classes.colours[c] if c >= 0 else NO_DATA_COLOUR for c in
                                 classes.classes.reindex(frame.index).fillna(-1).astype(int)],
                                index=frame.index)
            if position == 0:
                legend_entries = [Area(e.label, fill=e.colour, stroke="#777", size_px=(18, 12))
                                  for e in classes.entries]
        elif len(present):
            colours[present.index] = "#41b6c4"
        shown = outline.copy()
        shown["code"] = frame.index
        shown["value"] = [_f(v) for v in values]
        shown["rank"] = [str(int(scores.at[c, "rank"])) if c in scores.index else "—"
                         for c in frame.index]
        shown["colour"] = colours.to_numpy()
        group = folium.FeatureGroup(name=f"{title}（{year}）", overlay=False,
                                    show=position == 0)
        folium.GeoJson(
            shown, name=title,
            style_function=lambda f: {"color": "#555", "weight": 1, "fillOpacity": 0.8,
                                      "fillColor": f["properties"]["colour"],
                                      "className": "atlas-index-area"},
            tooltip=folium.GeoJsonTooltip(fields=["name", "value", "rank"],
                                          aliases=["地名 Place", title, "总排名 Rank"]),
        ).add_to(group)
        group.add_to(fmap)
    folium.LayerControl(collapsed=False, position="bottomleft").add_to(fmap)
    note = "方法演示 Demonstration of the method · " if result.system.demo else ""
    InfoBox(Legend(f"{result.system.title_zh}（{year}）", "综合指数 composite, 0–100",
                   legend_entries + [Note(f"{note}算法生成 computed by the atlas",
                                          css="atlas-note")]),
            position="topleft").add_to(fmap)
    ChartPanel(panel(result, names, root, year, f"{root}/indices/demo").html()).add_to(fmap)
    Attribution("指标 Indicators: leiii/census (MIT) 人口普查分县资料").add_to(fmap)
    return fmap.fit()


def index_page(store: Store, root: str = "", layer: str = "counties",
               year: int | None = None) -> str:
    return render(build_index_map(store, root, layer=layer, year=year))
