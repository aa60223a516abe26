"""A layer joined to one indicator and classified: what a choropleth (分级设色图) draws.

`choropleth(store, layer_id, spec)` gives each feature of the layer its value (with unit,
qualifier and citation), its class and its colour; places without a figure are "no data".
Results are cached per (layer version, indicator version, spec).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from geo.errors import InvalidParameter, NotAnInteger, UnknownChoice
from layers import indicators
from layers.classification import NO_DATA_COLOUR, Classification, classify
from layers.store import Store

JOINED_FIELDS = {
    "indicator": "指标编号 indicator id", "year": "年份 year", "value": "数值 value",
    "unit": "单位 unit", "qualifier": "修饰 qualifier", "value_as_written": "原文 as written",
    "source": "来源 source", "source_date": "来源日期 source date", "class": "分级 class (-1 no data)",
    "colour": "颜色 colour",
}


@dataclass(frozen=True)
class ChoroplethSpec:
    """What to map: indicator, year (None = each place's latest), classes and colours."""

    indicator: str
    year: int | None = None
    scheme: str = "quantiles"
    k: int = 5
    ramp: str = "YlOrRd"
    breaks: tuple[float, ...] | None = None
    reverse: bool = False
    change: str | None = None  # "delta" (Δ = year − base_year) or "pct" (% change)
    base_year: int | None = None  # the year compared with (default: the earliest)


@dataclass(frozen=True)
class Choropleth:
    frame: gpd.GeoDataFrame  # the layer's features + JOINED_FIELDS columns
    classification: Classification
    meta: dict[str, str]  # the indicator's catalogue entry
    years: list[int]
    spec: ChoroplethSpec

    @property
    def title(self) -> str:
        if self.spec.change:  # the catalogue entry of a change view names both years
            return f"{self.meta.get('title_zh', '')} {self.meta.get('title_en', '')}".strip()
        if self.spec.year:
            year = f"（{self.spec.year}）"
        else:  # each place's newest figure: say so when the years differ
            year = "（各地最新 latest）" if len(self.years) > 1 else ""
        zh, en = self.meta.get("title_zh", ""), self.meta.get("title_en", "")
        return f"{zh}{year} {en}".strip()

    def legend(self) -> dict[str, object]:
        body = self.classification.legend(self.title, self.meta.get("unit", ""))
        body.update(indicator=self.spec.indicator, year=self.spec.year, years=self.years,
                    origin=self.meta.get("origin", ""), source=self.meta.get("source", ""),
                    derived=self.meta.get("derived") == "true",
                    matched=int((self.classification.classes >= 0).sum()),
                    features=len(self.frame))
        if self.spec.change:
            body.update(change=self.spec.change, year=int(self.meta["year"]),
                        base_year=int(self.meta["base_year"]))
        return body


_cache: OrderedDict[tuple, Choropleth] = OrderedDict()
_lock = threading.Lock()
_CACHE_SIZE = 64


def choropleth(store: Store, layer_id: str, spec: ChoroplethSpec) -> Choropleth:
    """The layer's features with the indicator's values, classes and colours."""
    layer = store.layer(layer_id)
    key = (id(store), layer_id, store.version(layer_id), indicators.version_of(store), spec)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    table = indicators.load(store)
    meta = table.indicator(spec.indicator)
    years = table.years(spec.indicator)
    if spec.year is not None and years and spec.year not in years:
        raise InvalidParameter(
            f"指标“{spec.indicator}”没有 {spec.year} 年的数据。可选年份：{years}",
            f"Indicator '{spec.indicator}' has no figures for {spec.year}. Years: {years}",
            parameter="year")
    frame = store.frame(layer.id)
    if spec.change:
        meta, values = change_values(table, spec, years)
        values = values.reindex(frame.index)
    else:
        values = table.values(spec.indicator, spec.year).reindex(frame.index)
    classes = classify(values["value"], spec.scheme, spec.k,
                       list(spec.breaks) if spec.breaks else None, spec.ramp,
                       spec.reverse or meta.get("higher_is_better") == "false")
    joined = frame.copy()
    for column in ("indicator", "year", "value", "unit", "qualifier", "value_as_written",
                   "source", "source_date"):
        joined[column] = values[column].to_numpy()
    joined["indicator"] = spec.indicator
    joined["class"] = classes.classes.reindex(frame.index).fillna(-1).astype(int).to_numpy()
    joined["colour"] = [classes.colours[c] if c >= 0 else NO_DATA_COLOUR
                        for c in joined["class"]]
    result = Choropleth(joined, classes, meta, years, spec)
    with _lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


CHANGES = {"delta": ("变化量", "change", "Δ"), "pct": ("变化率", "% change", "%")}


def change_values(table: indicators.IndicatorTable, spec: ChoroplethSpec,
                  years: list[int]) -> tuple[dict[str, str], pd.DataFrame]:
    """The change of an indicator between `spec.base_year` and `spec.year` per place: Δ in the
    indicator's unit, or % of the base value (no base or a base of 0 → no data). Returns the
    catalogue entry of the change (titled with both years, labelled 计算值) and the values."""
    if spec.change not in CHANGES:
        raise UnknownChoice("change", spec.change, tuple(CHANGES))
    if len(years) < 2:
        raise InvalidParameter(
            f"指标“{spec.indicator}”只有 {years} 年的数据，无法计算变化。",
            f"Indicator '{spec.indicator}' has figures for {years} only: no change to map.",
            parameter="change")
    year = spec.year if spec.year is not None else years[-1]
    base = spec.base_year if spec.base_year is not None else years[0]
    if base not in years or base == year:
        choices = [y for y in years if y != year]
        raise UnknownChoice("base_year", base, choices)
    meta = dict(table.indicator(spec.indicator))
    now, then = table.values(spec.indicator, year), table.values(spec.indicator, base)
    codes = now.index.intersection(then.index)
    now, then = now.loc[codes], then.loc[codes]
    zh, en, sign = CHANGES[spec.change]
    if spec.change == "delta":  # the change of a percentage is in percentage points
        unit = "个百分点" if meta.get("unit") == "%" else meta.get("unit", "")
        value = now["value"] - then["value"]
    else:
        base_value = then["value"].where(then["value"] != 0)
        value, unit = ((now["value"] - base_value) / base_value * 100).round(2), "%"
    out = now.copy()
    out["value"] = value.round(4)
    out["unit"], out["qualifier"], out["year"] = unit, "", year
    out["value_as_written"] = [f"{_number(a)} → {_number(b)}" for a, b in
                               zip(then["value"], now["value"])]
    out["source"] = (f"计算值：{year}年与{base}年之{'差' if spec.change == 'delta' else '变化率'}"
                     f" Computed {en} {base}→{year}; 来源 Source: " + now["source"])
    title_zh = meta.get("title_zh", "").replace("（计算值）", "")
    meta.update(title_zh=f"{title_zh}{zh}（{base}→{year}，计算值）", change=spec.change,
                year=str(year), base_year=str(base),
                title_en=f"{meta.get('title_en', '')}, {en} {base}→{year} ({sign}, computed)",
                unit=unit, source=f"计算值 Computed from: {meta.get('source', '')}")
    return meta, out


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.6g}"


def spec_from_params(params, default_indicator: str | None = None) -> ChoroplethSpec | None:
    """A spec from query parameters (indicator, year, scheme, k, ramp, breaks, reverse, and
    change=delta|pct with base_year for a change view)."""
    indicator = params.get("indicator") or default_indicator
    if not indicator:
        return None
    year = _int(params.get("year"), "year") if params.get("year") not in (None, "", "latest") \
        else None
    k = _int(params.get("k"), "k") if params.get("k") else 5
    breaks = None
    if params.get("breaks"):
        try:
            breaks = tuple(float(b) for b in params["breaks"].split(","))
        except ValueError:
            raise InvalidParameter(f"断点“{params['breaks']}”须为逗号分隔的数字。",
                                   f"Breaks '{params['breaks']}' must be comma-separated "
                                   "numbers.", parameter="breaks") from None
    scheme = params.get("scheme") or ("user" if breaks else "quantiles")
    reverse = str(params.get("reverse", "")).lower() in ("1", "true", "yes")
    change = params.get("change") or None
    if change is not None and change not in CHANGES:
        raise UnknownChoice("change", change, tuple(CHANGES))
    base_year = _int(params.get("base_year"), "base_year") if params.get("base_year") else None
    return ChoroplethSpec(indicator, year, scheme, k, params.get("ramp") or "YlOrRd", breaks,
                          reverse, change, base_year)


CHOROPLETH_PARAMS = ("indicator", "year", "scheme", "k", "ramp", "breaks", "reverse", "change",
                     "base_year")


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise NotAnInteger(name, text) from None


def values_frame(result: Choropleth) -> pd.DataFrame:
    """The joined attributes only (no geometry), for tables and CSV."""
    return pd.DataFrame(result.frame.drop(columns="geometry"))
