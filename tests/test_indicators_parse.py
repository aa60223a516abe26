"""Figures as written → numbers; names and codes → places; classes against mapclassify."""

from __future__ import annotations

import io
import math

import mapclassify
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geo.errors import InvalidParameter
from layers.classification import NO_DATA_COLOUR, classify
from layers.indicator_values import parse_value
from layers.place_names import PlaceRegistry, normalise, stem


@pytest.mark.parametrize("text, unit, value, qualifier, kind", [
    ("84.3万", "亩", 843_000, "", "number"),
    ("180余万", "元", 1_800_000, "余", "number"),
    ("1.61∶1", "ratio", 1.61, "", "ratio"),
    ("1.61:1", "ratio", 1.61, "", "ratio"),
    ("近3万", "元", 30_000, "近", "number"),
    ("5800余", "名", 5800, "余", "number"),
    ("超2亿", "元", 200_000_000, "超", "number"),
    ("50%以上", "%", 50, "以上", "percent"),
    ("12.5%", "", 12.5, "", "percent"),
    ("1,234", "", 1234, "", "number"),
    ("66.26亿", "元", 6_626_000_000, "", "number"),
    ("15亿元以上", "元", 1_500_000_000, "以上", "number"),
    ("第一", "rank", 1, "", "rank"),
    ("１２３４", "", 1234, "", "number"),  # full-width digits
    ("1.66∶1→1.61∶1", "ratio", 1.61, "", "change"),
])
def test_parses_figures_as_written(text, unit, value, qualifier, kind) -> None:
    parsed = parse_value(text, unit)
    assert parsed.value == pytest.approx(value)
    assert parsed.qualifier == qualifier
    assert parsed.kind == kind


def test_magnitudes_are_exact_decimals() -> None:
    assert parse_value("66.26亿").value == 6_626_000_000  # not 6626000000.000001
    assert parse_value("84.3万").value == 843_000


@pytest.mark.parametrize("text", ["—", "…", "", "-", "——", None, float("nan")])
def test_placeholders_are_no_data(text) -> None:
    parsed = parse_value(text)
    assert parsed.value is None and parsed.kind == "missing" and parsed.problem == ""


@pytest.mark.parametrize("text", ["93/5800", "3-5", "全覆盖", "每5个市民中就有一个"])
def test_compound_figures_are_reported_not_guessed(text) -> None:
    parsed = parse_value(text)
    assert parsed.value is None and parsed.kind == "unparsed" and text in parsed.problem


# ------------------------------------------------------------------------------ place names


@pytest.fixture(scope="module")
def registry() -> PlaceRegistry:
    return PlaceRegistry.from_packages()


def test_normalises_full_width_and_suffixes() -> None:
    assert normalise("　安吉县 ") == "安吉县"
    assert normalise("青山村委会") == "青山村" and normalise("余村村委会") == "余村"
    assert normalise("浮星桥社区居委会") == "浮星桥社区"
    assert stem("湖州市") == "湖州" and stem("下渚湖街道") == "下渚湖" and stem("余村") == "余村"


@pytest.mark.parametrize("key, parent, code", [
    ("安吉县", "", "330523"), ("安吉", "", "330523"), ("３３０５２３", "", "330523"),
    ("湖州市", "", "330500"), ("浙江省", "", "330000"), ("全国", "", "100000"),
    ("余村", "", "330523108204"), ("330523108204", "", "330523108204"),
    ("330521004000", "", "330521004"), ("330523.0", "", "330523"),
    ("上杨村", "湖州市德清县下渚湖街道", "330521004202"),
    ("朝阳区", "北京市", "110105"), ("朝阳区", "吉林省长春市", "220104"),
    ("鼓楼区", "350100", "350102"),
])
def test_resolves_codes_and_names(registry, key, parent, code) -> None:
    found = registry.resolve(key, parent)
    assert found.status == "matched", found
    assert found.place.code == code


def test_shared_name_without_parent_is_ambiguous(registry) -> None:
    found = registry.resolve("朝阳区")
    assert found.status == "ambiguous"
    assert {p.code for p in found.candidates} >= {"110105", "220104"}


def test_unknown_name_gets_suggestions(registry) -> None:
    assert registry.resolve("马家弄村村").status == "unmatched"
    assert registry.suggest("马家弄村村")[0].code == "330523206205"  # 马家弄村委会
    assert registry.resolve("999999").status == "unmatched"


# ------------------------------------------------------------------------------ classes


VALUES = pd.Series([3.0, 7, 1, 9, 15, 22, 40, 41, 2, np.nan, 18, 5],
                   index=[f"c{i}" for i in range(12)])


@pytest.mark.parametrize("scheme, reference", [
    ("quantiles", lambda y, k: mapclassify.Quantiles(y, k=k)),
    ("natural_breaks", lambda y, k: mapclassify.FisherJenks(y, k=k)),
    ("equal_interval", lambda y, k: mapclassify.EqualInterval(y, k=k)),
    ("std_mean", lambda y, k: mapclassify.StdMean(y)),
])
@pytest.mark.parametrize("k", [3, 5])
def test_breaks_match_mapclassify(scheme, reference, k) -> None:
    result = classify(VALUES, scheme, k)
    expected = reference(VALUES.dropna().to_numpy(), k)
    assert result.breaks == pytest.approx(tuple(np.unique(expected.bins)))
    got = result.classes.drop("c9").to_numpy()
    assert (got == expected.yb).all()
    assert result.classes["c9"] == -1 and result.colour_of("c9") == NO_DATA_COLOUR
    assert len(set(result.colours)) == result.k


def test_user_breaks_and_validation() -> None:
    result = classify(VALUES, "user", breaks=[5, 20])
    assert result.breaks == (5, 20, 41)
    assert result.classes["c0"] == 0 and result.classes["c10"] == 1 and result.classes["c6"] == 2
    for kwargs in ({"k": 2}, {"k": 10}, {"scheme": "magic"}, {"ramp": "Rainbow"},
                   {"scheme": "user", "breaks": [20, 5]}, {"scheme": "user"}):
        with pytest.raises(InvalidParameter):
            classify(VALUES, **kwargs)


def test_natural_breaks_on_many_values_is_sampled_and_says_so() -> None:
    many = pd.Series(np.random.default_rng(1).lognormal(size=3000))
    result = classify(many, "natural_breaks", 7)
    assert result.k == 7 and "400" in result.note
    assert result.breaks[-1] == pytest.approx(many.max())
    assert (result.classes >= 0).all()


def test_legend_png_decodes() -> None:
    result = classify(VALUES, "quantiles", 4)
    png = result.render_png("村（社区）数", "个")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[1] > 4 * 22
    colours = {c for _, c in image.getcolors(100_000)}
    assert tuple(int(result.colours[0][i:i + 2], 16) for i in (1, 3, 5)) in colours
    labels = [e.label for e in result.entries]
    assert labels[-1].startswith("无数据 No data") and "(1)" in labels[-1]
    assert sum(e.count for e in result.entries) == len(VALUES)
    assert not math.isnan(result.minimum)
