"""The indicator system (指标体系) and peer groups (分组) of an index, read from the planner's
tables: CSV (UTF-8/GBK) or XLSX, Chinese or English headers.

System columns: 指标编号 (id in the indicator catalogue), 指标名称, 英文名称, 领域 (domain, e.g.
空间融合/经济融合/生活融合/生态融合), 方向 (+ or −: 正向/逆向 also read), 权重 (optional,
subjective; all rows or none). Peer-group columns: 地区代码 (or 地区/名称 with a registry),
分组 (e.g. 高度城镇化地区/山区海岛地区/其他地区).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from geo import tables
from geo.errors import InvalidData

SYSTEM_HEADERS = {
    "id": ("指标编号", "编号", "指标代码", "id", "indicator"),
    "title_zh": ("指标名称", "指标", "名称", "title_zh", "name"),
    "title_en": ("英文名称", "英文名", "title_en", "english"),
    "domain": ("领域", "维度", "一级指标", "domain"),
    "direction": ("方向", "方向(+/−)", "方向(+/-)", "指标方向", "属性", "direction"),
    "weight": ("权重", "主观权重", "weight"),
}
PEER_HEADERS = {
    "code": ("地区代码", "行政区划代码", "代码", "code"),
    "name": ("地区", "地区名称", "区县", "名称", "name"),
    "group": ("分组", "类型", "地区类型", "组别", "peer_group", "group"),
}
_PLUS = {"+", "＋", "正", "正向", "+1", "1", "positive", "pos", "benefit", "效益型"}
_MINUS = {"-", "−", "－", "–", "负", "负向", "逆向", "-1", "negative", "neg", "cost", "成本型"}


@dataclass(frozen=True)
class IndexIndicator:
    id: str
    title_zh: str
    title_en: str
    domain: str
    direction: int  # +1: higher is better; −1: lower is better
    weight: float | None = None  # subjective weight as written (any scale)


@dataclass(frozen=True)
class IndexSystem:
    indicators: tuple[IndexIndicator, ...]
    title_zh: str = "综合指数"
    title_en: str = "Composite index"
    weight_note: str = ""  # how the subjective weights were set (e.g. 演示：等权)
    demo: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.indicators]

    @property
    def domains(self) -> list[str]:
        seen: list[str] = []
        for i in self.indicators:
            if i.domain not in seen:
                seen.append(i.domain)
        return seen

    def directions(self) -> pd.Series:
        return pd.Series({i.id: i.direction for i in self.indicators}, dtype=float)

    def subjective(self) -> pd.Series | None:
        if all(i.weight is None for i in self.indicators):
            return None
        return pd.Series({i.id: i.weight for i in self.indicators}, dtype=float)


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    wanted = {_plain(n) for n in names}
    for column in frame.columns:
        if _plain(column) in wanted:
            return column
    return None


def _plain(text: str) -> str:
    """A header as compared: NFKC, lower case, no spaces, no bracketed note ("方向(+/−)")."""
    plain = unicodedata.normalize("NFKC", str(text)).strip().lower().replace(" ", "")
    return re.sub(r"\(.*\)$", "", plain) or plain


def read_system(data: bytes, filename: str, sheet: str | None = None, **titles: str
                ) -> IndexSystem:
    """An indicator system from a table; every bad row is listed (InvalidData, 422)."""
    frame = tables.header_frame(tables.read_table(data, filename, sheet))
    columns = {key: _column(frame, names) for key, names in SYSTEM_HEADERS.items()}
    missing = [SYSTEM_HEADERS[k][0] for k in ("id", "domain", "direction") if not columns[k]]
    if missing:
        raise InvalidData(
            f"指标体系表缺少列：{'、'.join(missing)}（需要 指标编号、指标名称、英文名称、领域、"
            "方向，可选 权重）。",
            f"The indicator-system table lacks column(s) {', '.join(missing)} (needs 指标编号 "
            "id, 指标名称, 英文名称, 领域 domain, 方向 direction, optional 权重 weight).",
            columns=list(frame.columns))
    problems: list[dict] = []
    items: list[IndexIndicator] = []
    for number, row in enumerate(frame.to_dict("records"), start=2):
        get = lambda key: str(row.get(columns[key], "") if columns[key] else "").strip()  # noqa: E731
        ident, direction_text = get("id"), get("direction")
        if not ident:
            problems.append({"row": number, "problem": "指标编号为空 empty id"})
            continue
        direction = _direction(direction_text)
        if direction is None:
            problems.append({"row": number, "id": ident,
                             "problem": f"方向“{direction_text}”应为 + 或 − "
                                        f"direction '{direction_text}' must be + or −"})
            continue
        weight = None
        if get("weight"):
            weight = _number(get("weight"))
            if weight is None or weight < 0:
                problems.append({"row": number, "id": ident,
                                 "problem": f"权重“{get('weight')}”不是非负数 weight is not a "
                                            "non-negative number"})
                continue
        items.append(IndexIndicator(ident, get("title_zh") or ident, get("title_en") or ident,
                                    get("domain") or "未分领域", direction, weight))
    ids = [i.id for i in items]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append({"id": dup, "problem": "指标编号重复 duplicate id"})
    weighted = [i.weight is not None for i in items]
    if any(weighted) and not all(weighted):
        problems.append({"problem": "权重须全部填写或全部留空 give a weight on every row or "
                                    "on none"})
    if not items and not problems:
        problems.append({"problem": "表中没有指标 no indicators in the table"})
    if problems:
        raise InvalidData("指标体系表有误，见 detail.problems。",
                          "The indicator-system table has problems: see detail.problems.",
                          problems=problems)
    return IndexSystem(tuple(items), **titles)


def read_peers(data: bytes, filename: str, resolve=None, sheet: str | None = None
               ) -> pd.Series:
    """Peer group per place code from a table (地区代码 or 地区 + 分组). `resolve(name)` gives
    a code for a name (else names are reported); every bad row is listed (InvalidData)."""
    frame = tables.header_frame(tables.read_table(data, filename, sheet))
    code_col, name_col = _column(frame, PEER_HEADERS["code"]), _column(frame, PEER_HEADERS["name"])
    group_col = _column(frame, PEER_HEADERS["group"])
    if not group_col or not (code_col or name_col):
        raise InvalidData("分组表需要“地区代码”（或“地区”）和“分组”两列。",
                          "The peer-group table needs 地区代码 (code) or 地区 (name), and 分组 "
                          "(group).", columns=list(frame.columns))
    groups: dict[str, str] = {}
    problems: list[dict] = []
    for number, row in enumerate(frame.to_dict("records"), start=2):
        code = str(row.get(code_col, "")).strip() if code_col else ""
        name = str(row.get(name_col, "")).strip() if name_col else ""
        if code.endswith(".0"):
            code = code[:-2]
        if not code and name and resolve is not None:
            code = resolve(name) or ""
        group = str(row.get(group_col, "")).strip()
        if not code:
            problems.append({"row": number, "place": name,
                             "problem": "找不到该地区的代码 no code for this place"})
        elif not group:
            problems.append({"row": number, "code": code, "problem": "分组为空 empty group"})
        elif code in groups and groups[code] != group:
            problems.append({"row": number, "code": code,
                             "problem": "同一地区分入两个组 place in two groups"})
        else:
            groups[code] = group
    if problems:
        raise InvalidData("分组表有误，见 detail.problems。",
                          "The peer-group table has problems: see detail.problems.",
                          problems=problems)
    return pd.Series(groups, dtype=object, name="peer_group")


def _direction(text: str) -> int | None:
    plain = unicodedata.normalize("NFKC", text).strip().lower()
    if plain in _PLUS or text.strip() in _PLUS:
        return 1
    if plain in _MINUS or text.strip() in _MINUS:
        return -1
    return None


def _number(text: str) -> float | None:
    plain = unicodedata.normalize("NFKC", text).strip().rstrip("%")
    try:
        value = float(plain)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
