"""The index engine against hand-computed values on a small fixture, and its tables.

Fixture: places A, B (peer group 北) and C (南); years 2020 and 2021; two indicators:
x1 (positive, domain 经济) and x2 (negative, domain 生活).

            x1   x2          x1' = (x1−10)/20    x2' = (5−x2)/4
  A 2020    10    5            0                  0
  B 2020    20    3            0.5                0.5
  C 2020    30    1            1                  1
  A 2021    20    1            0.5                1
  B 2021    30    5            1                  0
  C 2021    40    —   → missing x2: reported, left out of 2021, and NOT in the pooled
                       min–max (so max x1 stays 30).
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from geo.errors import InvalidData, OutOfRange, UnknownChoice
from layers.index import IndexIndicator, IndexSystem, combine, compute, critic, entropy, minmax
from layers.index.system import read_peers, read_system

VALUES = pd.DataFrame({
    "code": ["A", "B", "C", "A", "B", "C"],
    "year": [2020, 2020, 2020, 2021, 2021, 2021],
    "x1": [10, 20, 30, 20, 30, 40],
    "x2": [5, 3, 1, 1, 5, np.nan],
})
SYSTEM = IndexSystem((IndexIndicator("x1", "指标一", "one", "经济", +1, 3.0),
                      IndexIndicator("x2", "指标二", "two", "生活", -1, 1.0)))
PEERS = pd.Series({"A": "北", "B": "北", "C": "南"})
COMPLETE = VALUES.dropna().reset_index(drop=True)

# --- entropy, by hand (n = 5 rows, ln 5 = 1.609438) ----------------------------------------
# x1': Σ = 3 → p = 0, 1/6, 1/3, 1/6, 1/3
#   Σ p ln p = 2·(1/6)·ln(1/6) + 2·(1/3)·ln(1/3) = −0.597253 − 0.732408 = −1.329661
#   e1 = 1.329661 / 1.609438 = 0.826165 → d1 = 0.173835   (0·ln 0 = 0 for A 2020)
# x2': Σ = 2.5 → p = 0, 0.2, 0.4, 0.4, 0
#   Σ p ln p = 0.2·ln 0.2 + 2·0.4·ln 0.4 = −0.321888 − 0.733033 = −1.054920
#   e2 = 1.054920 / 1.609438 = 0.655459 → d2 = 0.344541
# w = d / (d1 + d2) = 0.173835 / 0.518376, 0.344541 / 0.518376 = 0.335345, 0.664655
D1 = 1 + (2 * (1 / 6) * math.log(1 / 6) + 2 * (1 / 3) * math.log(1 / 3)) / math.log(5)
D2 = 1 + (0.2 * math.log(0.2) + 2 * 0.4 * math.log(0.4)) / math.log(5)
W_ENTROPY = (D1 / (D1 + D2), D2 / (D1 + D2))

# --- CRITIC, by hand --------------------------------------------------------------------------
# x1' mean 0.6, deviations −.6 −.1 .4 −.1 .4, Σ² = 0.70 → σ1 = √(0.70/4) = 0.418330
# x2' mean 0.5, deviations −.5 0 .5 .5 −.5, Σ² = 1.00 → σ2 = √(1.00/4) = 0.5
# Σ dev1·dev2 = .30 + 0 + .20 − .05 − .20 = 0.25 → r = 0.25 / √(0.70 × 1.00) = 0.298807
# C1 = σ1 (1 − r) = 0.293330, C2 = σ2 (1 − r) = 0.350597 → w = 0.455533, 0.544467
R = 0.25 / math.sqrt(0.70)
C1, C2 = math.sqrt(0.70 / 4) * (1 - R), 0.5 * (1 - R)
W_CRITIC = (C1 / (C1 + C2), C2 / (C1 + C2))

# --- combination, α = 0.5: subjective 3 : 1 → 0.75, 0.25 -------------------------------------
# w1 = 0.5·0.75 + 0.5·0.335345 = 0.542673; w2 = 0.5·0.25 + 0.5·0.664655 = 0.457327
W1 = 0.5 * 0.75 + 0.5 * W_ENTROPY[0]
W2 = 0.5 * 0.25 + 0.5 * W_ENTROPY[1]

# --- composite = 100 (w1 x1' + w2 x2') ---------------------------------------------------------
# A 2020: 0; B 2020: 100·(0.5 w1 + 0.5 w2) = 50; C 2020: 100
# A 2021: 100·(0.5·0.542673 + 1·0.457327) = 72.8664; B 2021: 100·0.542673 = 54.2673
# ranks 2020: C 1, B 2, A 3; 2021: A 1, B 2. Peer ranks (北: A, B; 南: C): 2020 B 1, A 2, C 1.
# change vs 2020: A +72.8664 (rank 3 → 1: +2), B +4.2673 (rank 2 → 2: 0)
EXPECTED = {("A", 2020): 0.0, ("B", 2020): 50.0, ("C", 2020): 100.0,
            ("A", 2021): 100 * (0.5 * W1 + W2), ("B", 2021): 100 * W1}


def test_hand_numbers_are_what_the_comments_say() -> None:
    assert W_ENTROPY[0] == pytest.approx(0.335345, abs=1e-6)
    assert W_CRITIC[0] == pytest.approx(0.455533, abs=1e-6)
    assert EXPECTED[("A", 2021)] == pytest.approx(72.8664, abs=1e-4)


def test_minmax_pooled_over_years_with_direction() -> None:
    x, info = minmax(COMPLETE[["x1", "x2"]], pd.Series({"x1": 1, "x2": -1}))
    assert x["x1"].tolist() == [0, 0.5, 1, 0.5, 1]
    assert x["x2"].tolist() == [0, 0.5, 1, 1, 0]
    assert info.loc["x1", "max"] == 30 and not info["constant"].any()


def test_entropy_and_critic_weights() -> None:
    x, _ = minmax(COMPLETE[["x1", "x2"]], pd.Series({"x1": 1, "x2": -1}))
    assert entropy(x).tolist() == pytest.approx(W_ENTROPY, abs=1e-12)
    assert critic(x).tolist() == pytest.approx(W_CRITIC, abs=1e-12)


def test_combination() -> None:
    objective = pd.Series(W_ENTROPY, index=["x1", "x2"])
    w = combine(pd.Series({"x1": 0.75, "x2": 0.25}), objective, 0.5)
    assert w.tolist() == pytest.approx([W1, W2], abs=1e-12) and w.sum() == pytest.approx(1)
    assert combine(None, objective).tolist() == list(W_ENTROPY)
    with pytest.raises(OutOfRange):
        combine(None, objective, 1.5)


def test_composite_ranks_peers_change_and_missing() -> None:
    result = compute(VALUES, SYSTEM, PEERS, "entropy", 0.5)
    scores = result.scores.set_index(["code", "year"])
    for key, value in EXPECTED.items():
        assert scores.at[key, "composite"] == pytest.approx(value, abs=1e-9)
    # sub-indices: one indicator per domain → 100 x'
    assert scores.at[("A", 2021), "sub_1"] == pytest.approx(50)
    assert scores.at[("A", 2021), "sub_2"] == pytest.approx(100)
    assert scores["rank"].to_dict() == {("A", 2020): 3, ("B", 2020): 2, ("C", 2020): 1,
                                        ("A", 2021): 1, ("B", 2021): 2}
    assert scores["peer_rank"].to_dict() == {("A", 2020): 2, ("B", 2020): 1, ("C", 2020): 1,
                                             ("A", 2021): 1, ("B", 2021): 2}
    assert scores.at[("A", 2021), "change"] == pytest.approx(72.8664, abs=1e-4)
    assert scores.at[("B", 2021), "change"] == pytest.approx(100 * W1 - 50, abs=1e-9)
    assert scores.at[("A", 2021), "rank_change"] == 2
    assert np.isnan(scores.at[("A", 2020), "change"])
    assert result.missing == [{"code": "C", "year": 2021, "missing": ["x2"]}]
    assert ("C", 2021) not in scores.index
    weights = result.weights
    assert weights.at["x1", "combined"] == pytest.approx(W1)
    assert "0.5×主观 0.7500" in weights.at["x1", "derivation"]


def test_critic_composite_without_subjective_weights() -> None:
    system = IndexSystem(tuple(IndexIndicator(i.id, i.title_zh, i.title_en, i.domain,
                                              i.direction) for i in SYSTEM.indicators))
    result = compute(VALUES, system, method="critic")
    scores = result.scores.set_index(["code", "year"])
    # A 2021: 100·(0.5·w1c + 1·w2c)
    assert scores.at[("A", 2021), "composite"] == pytest.approx(
        100 * (0.5 * W_CRITIC[0] + W_CRITIC[1]), abs=1e-9)
    assert set(result.scores["peer_group"]) == {"全部 all"}
    assert "客观赋权" in result.weight_rule()


def test_bad_input_is_a_typed_error() -> None:
    with pytest.raises(UnknownChoice):
        compute(VALUES, SYSTEM, method="ahp")
    with pytest.raises(InvalidData):
        compute(VALUES.iloc[:1], SYSTEM)
    constant = VALUES.assign(x1=7.0, x2=7.0)
    with pytest.raises(InvalidData):  # nothing varies: no objective weights
        compute(constant, SYSTEM, alpha=0.0)


SYSTEM_ROWS = [["指标编号", "指标名称", "英文名称", "领域", "方向(+/−)", "权重"],
               ["x1", "指标一", "one", "经济融合", "+", "30"],
               ["x2", "指标二", "two", "生活融合", "−", "10"]]


def _xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_system_table_xlsx_and_gbk_csv() -> None:
    system = read_system(_xlsx(SYSTEM_ROWS), "体系.xlsx")
    assert system.ids == ["x1", "x2"] and system.domains == ["经济融合", "生活融合"]
    assert system.directions().tolist() == [1, -1]
    assert system.subjective().tolist() == [30, 10]
    text = "\n".join(",".join(r[:5]) for r in SYSTEM_ROWS).replace("−", "逆向")
    gbk = read_system(text.encode("gbk"), "体系.csv")
    assert gbk.directions().tolist() == [1, -1] and gbk.subjective() is None


def test_system_table_problems_are_listed() -> None:
    rows = [SYSTEM_ROWS[0], ["x1", "a", "a", "经济", "?", "1"], ["x2", "b", "b", "经济", "+", ""]]
    with pytest.raises(InvalidData) as error:
        read_system(_xlsx(rows), "体系.xlsx")
    problems = error.value.detail["problems"]
    assert problems[0]["row"] == 2 and "direction" in problems[0]["problem"]
    with pytest.raises(InvalidData):
        read_system(_xlsx([["名称", "备注"], ["a", "b"]]), "x.xlsx")


def test_peer_table() -> None:
    peers = read_peers(_xlsx([["地区代码", "地区", "分组"], [330502, "吴兴区", "高度城镇化地区"],
                              ["", "安吉县", "其他地区"]]), "分组.xlsx",
                       resolve={"安吉县": "330523"}.get)
    assert peers.to_dict() == {"330502": "高度城镇化地区", "330523": "其他地区"}


def test_chinese_header_wide_xlsx_loads_and_indexes() -> None:
    """A yearbook-style wide table (one column per indicator, Chinese headers) loads through
    the indicator upload and feeds an index."""
    from layers.indicator_upload import UploadOptions, join_table, read_table
    from layers.index.inputs import wide_values
    from layers.place_names import PlaceRegistry

    rows = [["2022年湖州各区县主要指标"], ["单位：见列名"],
            ["区县", "人均GDP（元）", "城乡收入比"],
            ["吴兴区", 120000, 1.6], ["南浔区", 110000, 1.55], ["德清县", 130000, 1.58],
            ["长兴县", 125000, 1.62], ["安吉县", 115000, 1.57]]
    registry = PlaceRegistry.from_packages()
    result = join_table(read_table(_xlsx(rows), "指标.xlsx"), registry,
                        UploadOptions(year=2022, source="测试表 test table"), "指标.xlsx")
    assert result.report["summary"]["values"] == 10
    ids = list(result.table.catalog.index)
    wide = wide_values(result.table, ids, ["330502", "330503", "330521", "330522", "330523"])
    system = IndexSystem((IndexIndicator(ids[0], "人均GDP", "GDP pc", "经济融合", +1),
                          IndexIndicator(ids[1], "城乡收入比", "ratio", "生活融合", -1)))
    scores = compute(wide, system).scores.set_index("code")
    assert scores["rank"].min() == 1 and len(scores) == 5
