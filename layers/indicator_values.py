"""Figures as planners write them → numbers (数值解析).

"84.3万" → 843000; "180余万" → 1800000 with qualifier 余; "近3万" → 30000 with qualifier 近;
"1.61∶1" → 1.61 (a ratio); "12.5%" → 12.5 (percent); "1,234" → 1234; "第一" → 1 (a rank);
"—" / "…" → no data. Anything else (compound figures like "93/5800", ranges "3-5", prose) is
not guessed at: it comes back without a number and with the reason, for the join report.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
import unicodedata
from dataclasses import dataclass

MAGNITUDES = {"十": 10, "百": 100, "千": 1_000, "万": 10_000, "亿": 100_000_000}
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
# Written before the number: 近 nearly, 超/超过/逾 over, 约 about, 突破/破 past, 上 "into the …s"
_PREFIXES = ("均超过", "超过", "突破", "近", "超", "逾", "约", "破", "上", "达", "共", "累计")
# Written after it: 余/多 "and more", 以上 or more, 左右 about, 以内/以下 at most
_SUFFIXES = ("以上", "以下", "以内", "左右", "余", "多")
NO_DATA = {"", "-", "—", "——", "–", "…", "……", "...", "－", "/", "na", "n/a", "nan", "null",
           "none", "无", "空", "暂无", "不详", "x", "×"}
_NUMBER = r"(?P<num>\d+(?:\.\d+)?|[零〇一二两三四五六七八九十]+)?"
_PATTERN = re.compile(
    r"^(?P<pre>" + "|".join(_PREFIXES) + r")?" + _NUMBER
    + r"(?P<mid>余|多)?(?P<mag>[十百千万亿]*)(?P<post>" + "|".join(_SUFFIXES) + r")?$"
)
_RATIO = re.compile(r"^(?P<a>\d+(?:\.\d+)?)[:∶：](?P<b>\d+(?:\.\d+)?)$")
_RANK = re.compile(r"^第(?P<num>\d+|[一二两三四五六七八九十]+)(?:位|名)?$")
_NOTE = re.compile(r"^(?P<body>.+?)[(（](?P<note>[^()（）]*)[)）]$")


@dataclass(frozen=True)
class ParsedValue:
    """A figure: its number (None if none), qualifier (余, 近, 以上…), kind, and why not."""

    value: float | None
    qualifier: str = ""
    kind: str = "number"  # number | percent | ratio | rank | change | missing | unparsed
    note: str = ""
    problem: str = ""  # why there is no number (empty when there is one or the cell was blank)


def parse_value(text: object, unit: str = "") -> ParsedValue:
    """Parse one cell; `unit` (e.g. 元) may trail the figure ("15亿元以上") and is dropped."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ParsedValue(None, kind="missing")
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return ParsedValue(float(text))
    raw = unicodedata.normalize("NFKC", str(text)).strip().replace(" ", "")
    if raw.lower() in NO_DATA or set(raw) <= set("-—–…．.·"):
        return ParsedValue(None, kind="missing")
    body, note = raw, ""
    match = _NOTE.match(raw)
    if match:  # "第1位（连续两年）": the bracket is a note, kept beside the number
        body, note = match["body"], match["note"]
    if "→" in body:  # "1.66∶1→1.61∶1": the figure moved to its latest value
        first, _, last = body.rpartition("→")
        parsed = parse_value(last, unit)
        if parsed.value is not None:
            return ParsedValue(parsed.value, parsed.qualifier, "change",
                               _join(note, f"from {first}"), "")
    for candidate in _without_unit(body, unit):
        parsed = _parse_plain(candidate)
        if parsed is not None:
            value, qualifier, kind = parsed
            return ParsedValue(value, qualifier, kind, note)
    return ParsedValue(None, kind="unparsed", note=note,
                       problem=f"not a single figure: '{raw}'")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _without_unit(text: str, unit: str) -> list[str]:
    """The text, and the text with the unit removed wherever it trails the number."""
    out = [text]
    for u in {unit, unit.split("/")[0]} - {""}:
        if u and u in text and u not in ("%",):
            out.append(text.replace(u, "", 1))
    return out


def _parse_plain(text: str) -> tuple[float, str, str] | None:
    thousands = text.replace(",", "")
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", thousands):
        return float(thousands), "", "number"
    ratio = _RATIO.match(text)
    if ratio:
        return float(ratio["a"]) / float(ratio["b"]), "", "ratio"
    rank = _RANK.match(text)
    if rank:
        return float(_number(rank["num"])), "", "rank"
    percent = text.endswith("%") or "%" in text
    body = text.replace("%", "", 1) if percent else thousands
    match = _PATTERN.match(body)
    if not match or not (match["num"] or match["mag"]):
        return None
    number = _number(match["num"]) if match["num"] else 1.0
    if number is None:
        return None
    exact = Decimal(match["num"]) if match["num"] and match["num"][0].isdigit() else Decimal(number)
    for char in match["mag"] or "":  # decimal, so 66.26亿 is 6626000000 and not …000001
        exact *= MAGNITUDES[char]
    qualifier = "".join(q for q in (match["pre"], match["mid"], match["post"]) if q)
    return float(exact), qualifier, "percent" if percent else "number"


def _number(text: str) -> float | None:
    """Arabic digits, or simple Chinese numerals up to 99 (一, 十六, 二十)."""
    if text[0].isdigit():
        return float(text)
    if text in ("十",):
        return 10.0
    if "十" in text:
        tens, _, ones = text.partition("十")
        return float((_CN_DIGITS.get(tens, 1) if tens else 1) * 10
                     + (_CN_DIGITS.get(ones, 0) if ones else 0))
    if len(text) == 1 and text in _CN_DIGITS:
        return float(_CN_DIGITS[text])
    return None
