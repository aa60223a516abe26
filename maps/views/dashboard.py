"""The 驾驶舱 (dashboard) of a city or county, /dashboard/{code}: headline figures (latest value,
change, trend chart) from every cited indicator series, the index rank (census
demonstration), development-axis statistics, ecology-ledger totals, and project status
counts once a `projects` layer exists. Chinese first; every figure links to its source."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from geo.errors import NotFound
from layers import census, indicators
from layers.index import service
from layers.place_names import PlaceRegistry
from layers.store import Store
from maps.elements.charts import option_json, trend
from maps.elements.fragment import Fragment
from maps.views.choropleth import display

ORIGIN_ORDER = {"source": 0, "computed": 2, "upload": 1}


class UnknownDashboardPlace(NotFound):
    code = "unknown_place"


@dataclass
class Dashboard(Fragment):
    code: str
    name: str
    static: str
    links: list[tuple[str, str, str]]
    cards: list[dict]
    rank: dict | None = None
    rank_rows: list[dict] = field(default_factory=list)
    index_href: str = ""
    axes: list[dict] = field(default_factory=list)
    axes_href: str = ""
    ledger: dict | None = None
    projects: list[tuple[str, int]] = field(default_factory=list)
    template = "dashboard.html"


def _card(ident: str, rows: pd.DataFrame, meta: dict, href: str, computed: bool) -> dict:
    dated = rows[rows["year"].notna()].sort_values("year").drop_duplicates("year", keep="last")
    latest = dated.iloc[-1] if len(dated) else rows.iloc[-1]
    unit = latest.get("unit", "") or meta.get("unit", "")
    card = {"id": ident, "title_zh": meta.get("title_zh", ident),
            "title_en": meta.get("title_en", ""), "computed": computed,
            "display": display(latest["value"], latest.get("qualifier", "") or "", unit),
            "year": f"{int(latest['year'])}年" if pd.notna(latest["year"]) else "年份未注明",
            "source": latest.get("source", "") or meta.get("source", ""), "href": href,
            "change": "", "base_year": "", "chart": ""}
    if len(dated) >= 2:
        before = dated.iloc[-2]
        delta = latest["value"] - before["value"]
        pct = f"，{delta / before['value'] * 100:+.1f}%" if before["value"] else ""
        delta_unit = "个百分点" if unit == "%" else unit
        shown = f"{delta:+,.0f}" if abs(delta) >= 100 else f"{delta:+.2f}"
        card.update(base_year=int(before["year"]), change=f"{shown} {delta_unit}{pct}".strip())
        card["chart"] = option_json(trend("", [int(y) for y in dated["year"]],
                                          [(card["title_zh"], dated["value"].tolist())], unit))
    return card


def dashboard(store: Store, code: str, root: str = "", axis_stats: list[dict] | None = None
              ) -> Dashboard:
    registry = PlaceRegistry.from_store(store)
    place = registry.by_code(code)
    counties = store.frame("counties") if "counties" in {x.id for x in store.layers()} \
        else pd.DataFrame(columns=["name"])
    if place is None or place.level not in ("city", "county") or (
            place.level == "county" and place.code not in counties.index) or (
            place.level == "city" and not counties.index.str.startswith(place.code[:4]).any()):
        raise UnknownDashboardPlace(
            f"没有“{code}”的驾驶舱：仅限本库的地级市和区县。",
            f"No dashboard for '{code}': only the store's cities and counties have one.",
            place=code)
    code = place.code
    table = indicators.load(store)
    members = [c for c in counties.index if place.level == "city" and c.startswith(code[:4])]
    facts = table.facts[(table.facts["code"] == code) & table.facts["value"].notna()
                        & (table.facts["source"] != "")]
    cards = []
    if members:  # a city's census counts: the sum of its counties (计算值)
        totals = census.city_totals(table.facts, members)
        for ident, rows in totals.groupby("indicator", sort=False):
            meta = table.indicator(ident)
            rows = rows.assign(unit=meta.get("unit", ""), qualifier="",
                               source=f"计算值：{len(members)}个区县合计 sum of the counties; "
                                      + meta.get("source", ""))
            title = meta["title_zh"].replace("（计算值）", "") + "（区县合计）"
            cards.append(_card(ident, rows, {**meta, "title_zh": title},
                               f"{root}/indicators/{ident}/values", True))
    ordered = sorted(set(facts["indicator"]), key=lambda i: (
        ORIGIN_ORDER.get(table.catalog.at[i, "origin"], 3), not i.startswith("census_"), i))
    for ident in ordered:
        meta = table.indicator(ident)
        cards.append(_card(ident, facts[facts["indicator"] == ident], meta,
                           f"{root}/indicators/{ident}/values?code={code}",
                           meta.get("derived") == "true"))
    board = Dashboard(code, place.name, f"{root}/static", [
        (code, "地情卡 Fact sheet", f"{root}/places/{code}?f=html"),
        ("", "指数视图 Index view", f"{root}/maps/index"),
        ("", "分级设色图 Choropleth", f"{root}/maps/choropleth?indicator=census_resident_population"
                                   "&change=pct"),
        ("", "总图 Overview", f"{root}/")], cards, index_href=f"{root}/maps/index",
        axes_href=f"{root}/axes/stats")
    try:
        result = service.demo(store)
    except Exception:  # noqa: BLE001 — no census figures here: the section says so
        result = None
    if result is not None and len(result.scores):
        latest = result.scores[result.scores["year"] == result.years[-1]].set_index("code")
        if code in latest.index:
            row = latest.loc[code]
            board.rank = {"title": result.system.title_zh, "year": result.years[-1],
                          "composite": f"{row['composite']:.2f}", "rank": int(row["rank"]),
                          "places": int(row["places"]), "peer_group": row["peer_group"],
                          "peer_rank": int(row["peer_rank"]), "peers": int(row["peers"]),
                          "href": f"{root}/maps/index"}
        board.rank_rows = [{"rank": int(r["rank"]), "name": counties.at[c, "name"],
                            "composite": f"{r['composite']:.2f}",
                            "href": f"{root}/dashboard/{c}"}
                           for c, r in latest.sort_values("rank").iterrows() if c in members]
    wanted = members or [code]
    board.axes = [{**a, "count": sum(a["axes"].values())} for a in (axis_stats or [])
                  if a["county_code"] in wanted]
    board.ledger = _ledger(store, place.name, members, root)
    if "projects" in {x.id for x in store.layers()}:
        frame = store.frame("projects")
        column = next((c for c in ("status", "状态") if c in frame.columns), None)
        if column:
            board.projects = sorted(frame[column].astype(str).value_counts().items())
    return board


def _ledger(store: Store, name: str, members: list[str], root: str) -> dict | None:
    if "bamboo_ledger" not in {x.id for x in store.layers()}:
        return None
    frame = store.frame("bamboo_ledger")
    here = frame if members and "county_name" in frame else frame[frame["county_name"] == name]
    if here.empty:
        return None
    villages = here[here["level"] == "village"]

    def total(series: pd.Series) -> str:
        value = pd.to_numeric(series, errors="coerce").sum()
        return f"{value:,.0f}" if not math.isnan(value) else "—"

    county_rows = [f"{r['item_zh']}：{r['reported_as_written']}（{r['year']}，{r['source_title']}）"
                   for _, r in here[here["level"] == "county"].iterrows()]
    return {"entries": len(here), "villages": len(villages),
            "village_mu": total(villages["area_mu"]),
            "village_yuan": total(villages["reported_yuan"]), "county_rows": county_rows,
            "href": f"{root}/ecology/ledger"}


def dashboard_page(store: Store, code: str, root: str = "",
                   axis_stats: list[dict] | None = None) -> str:
    return str(dashboard(store, code, root, axis_stats).html())
