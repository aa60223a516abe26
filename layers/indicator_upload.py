"""Planners' indicator tables → the long indicator table, with an honest join report.

Reads CSV (UTF-8, GBK/GB18030) and XLSX, including yearbook-style sheets with title rows above
the header and notes below the data; accepts long tables (place, indicator, year, value) and
wide ones (one column per indicator, or one per year). Every key is resolved with the
`PlaceRegistry`; the report lists what matched, what did not (with suggestions), what is
ambiguous, duplicates and values that are not numbers. Nothing is saved here.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from geo import tables
from geo.errors import InvalidParameter, UnreadableUpload
from layers.indicator_values import parse_value
from layers.indicators import IndicatorTable
from layers.place_names import LEVELS, PlaceRegistry

CODE_HEADERS = ("code", "adcode", "代码", "行政区划代码", "区划代码", "统计用区划代码", "编码")
NAME_HEADERS = ("name", "place", "place_name", "地区", "地名", "名称", "区县", "县（市、区）",
                "县(市、区)", "区域", "乡镇", "乡镇（街道）", "村", "村（社区）", "行政区",
                "地区名称", "区县名称", "乡镇名称", "村名", "村庄", "社区", "单位名称")
PARENT_HEADERS = ("parent", "上级", "上级地区", "所属区县", "所属县区", "所属地区", "所属乡镇",
                  "所属市", "区县", "县", "市")
LONG_HEADERS = {
    "indicator": ("indicator", "指标", "指标名称", "指标编号", "项目"),
    "value": ("value", "数值", "值", "数据", "指标值"),
    "year": ("year", "年份", "年度", "年"),
    "unit": ("unit", "单位", "计量单位"),
    "source": ("source", "来源", "数据来源", "资料来源"),
}
_YEAR_HEADER = re.compile(r"^(19\d\d|20\d\d)\s*年?(末|底|度)?$")
_UNIT_IN_HEADER = re.compile(r"^(?P<name>.+?)\s*[(（](?P<unit>[^()（）]+)[)）]$")
_UNIT_ROW = re.compile(r"(?:计量)?单位\s*[:：]\s*(?P<unit>\S+)")
_NOTE_ROW = re.compile(r"^(注|备注|说明|资料来源|数据来源|来源)\s*[:：]?")
_YEAR_IN_TEXT = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
_YEAR_OF_DATA = re.compile(r"(?<!\d)(19\d\d|20\d\d)年")
MAX_LISTED = 500  # report lists are cut here (counts stay exact)


@dataclass
class UploadOptions:
    """How to read a table; everything is optional and guessed when absent."""

    key: str | None = None  # column holding the code or name
    parent: str | None = None  # column naming the parent unit (上级), to separate shared names
    level: str = ""  # county | township | village … to match only units of that level
    layout: str = "auto"  # long | wide | auto
    indicator: str | None = None  # id of the one indicator of a wide-by-year table
    title_zh: str | None = None
    title_en: str | None = None
    year: int | None = None  # year of a wide-by-indicator table
    unit: str = ""
    source: str = ""
    source_date: str = ""
    higher_is_better: bool | None = None
    sheet: str | None = None


@dataclass
class RawTable:
    """Cells as text below the detected header, with what was found above and below it."""

    header: list[str]
    rows: list[list[str]]
    first_row: int  # 1-based line/row number of rows[0] in the file
    encoding: str
    title: str = ""
    unit: str = ""
    notes: list[str] = field(default_factory=list)
    sheet: str = ""


@dataclass
class JoinResult:
    table: IndicatorTable
    report: dict[str, object]


def read_table(data: bytes, filename: str, sheet: str | None = None) -> RawTable:
    """CSV (UTF-8 with or without BOM, else GB18030 ⊇ GBK; delimiter sniffed) or XLSX (the
    first or the named sheet) → cells as text below the detected header."""
    table = tables.read_table(data, filename, sheet)
    return _locate_header(table.grid, table.encoding or table.kind, table.sheet)


def _locate_header(grid: list[list[str]], encoding: str, sheet: str) -> RawTable:
    """The header is the first row filled at least half as wide as the widest row; rows
    above it are titles (and may give the unit), one-cell rows below starting 注/资料来源
    are notes."""
    filled = [sum(1 for c in row if c) for row in grid]
    width = max(filled, default=0)
    if width < 2:
        raise UnreadableUpload("表格至少需要两列（地名或代码，以及数值）。",
                               "The table needs at least two columns (place and value).")
    at = next(i for i, n in enumerate(filled) if n >= max(2, (width + 1) // 2))
    above = [" ".join(c for c in row if c) for row in grid[:at] if any(row)]
    unit = ""
    for line in above:
        found = _UNIT_ROW.search(line)
        if found:
            unit = found["unit"]
    header = _header(grid[at], width)
    rows, notes = [], []
    first_row = at + 2
    body = grid[at + 1:]
    # trailing notes and blank lines are not data
    while body and (not any(body[-1]) or _is_note(body[-1])):
        last = body.pop()
        if any(last):
            notes.insert(0, " ".join(c for c in last if c))
    for row in body:
        cells = (row + [""] * len(header))[: len(header)]
        rows.append(cells)
    title = " ".join(line for line in above if not _UNIT_ROW.fullmatch(line.strip()))
    return RawTable(header, rows, first_row, encoding, title, unit, notes, sheet)


def _is_note(row: list[str]) -> bool:
    cells = [c for c in row if c]
    return len(cells) == 1 and (bool(_NOTE_ROW.match(cells[0])) or len(cells[0]) > 20)


def _header(row: list[str], width: int) -> list[str]:
    names: list[str] = []
    seen: Counter[str] = Counter()
    last = max(i for i, c in enumerate(row) if c) + 1
    for i, cell in enumerate(row[: max(last, width)]):
        name = unicodedata.normalize("NFKC", cell).strip() or f"column_{i + 1}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names


# ----------------------------------------------------------------------------- join


def join_table(raw: RawTable, registry: PlaceRegistry, options: UploadOptions,
               filename: str = "") -> JoinResult:
    """Resolve every row's place and parse every value; the report says what happened."""
    if options.level and options.level not in LEVELS:
        raise InvalidParameter(f"未知层级“{options.level}”。可用：{', '.join(LEVELS)}",
                               f"Unknown level '{options.level}'. Use one of {', '.join(LEVELS)}",
                               parameter="level")
    frame = pd.DataFrame(raw.rows, columns=raw.header, dtype=str).fillna("")
    key = _pick(raw.header, options.key, CODE_HEADERS, "key") or _finest_name(frame) \
        or raw.header[0]
    parent = _pick([h for h in raw.header if h != key], options.parent, PARENT_HEADERS,
                   "parent")
    keys = frame[key].str.strip()
    present = keys[keys != ""]
    is_code = present.str.fullmatch(r"\d{6}(\d{3})?(\d{3})?(\.0)?")
    key_kind = "code" if len(present) and is_code.mean() >= 0.8 else "name"
    long = _long_columns(raw.header)
    layout = options.layout
    if layout == "auto":
        layout = "long" if "indicator" in long and "value" in long else "wide"
    if layout not in ("long", "wide"):
        raise InvalidParameter("layout 须为 long、wide 或 auto。", "layout must be long, wide or "
                               "auto.", parameter="layout")
    if layout == "long" and not ("indicator" in long and "value" in long):
        raise InvalidParameter("长表须有“指标”和“数值”两列。",
                               "A long table needs an indicator column and a value column.",
                               parameter="layout")
    source = options.source or raw.title or f"上传文件 Upload: {filename}"
    source_date = options.source_date or date.today().isoformat()
    # "2023年…指标" dates its figures; a yearbook's own year (年鉴2024) is the next year's
    year_from_title = None if "年鉴" in raw.title else _YEAR_OF_DATA.search(raw.title)
    default_year = options.year or (int(year_from_title[1]) if year_from_title else None)

    cells: list[dict[str, object]] = []  # one per (row, indicator, year) before matching
    catalog: dict[str, dict[str, str]] = {}
    ignored: list[str] = []
    if layout == "long":
        for i, rec in enumerate(frame.to_dict("records")):
            title = rec[long["indicator"]].strip()
            if not title:
                continue
            unit = rec.get(long.get("unit", ""), "") or options.unit or raw.unit
            ind = _indicator_id(title)
            catalog.setdefault(ind, _entry(ind, title, unit, options, source))
            cells.append({"i": i, "indicator": ind, "column": long["value"],
                          "text": rec[long["value"]], "unit": unit,
                          "year": _year_cell(rec.get(long.get("year", ""), "")) or default_year,
                          "source": rec.get(long.get("source", ""), "") or source})
    else:
        value_columns = []
        for column in raw.header:  # text columns (names, remarks) are not indicators
            if column not in (key, parent):
                (value_columns if _numeric_enough(frame[column]) else ignored).append(column)
        years = {h: int(m[1]) for h in value_columns if (m := _YEAR_HEADER.match(h))}
        by_year = bool(years) and len(years) == len(value_columns)
        for column in value_columns:
            if by_year:
                title = options.title_zh or options.indicator or raw.title
                if not title:
                    raise InvalidParameter(
                        "按年份分列的表须指定指标（indicator 参数）。",
                        "A table with one column per year needs the indicator (parameter "
                        "'indicator').", parameter="indicator")
                ind, unit, year = _indicator_id(options.indicator or title), \
                    options.unit or raw.unit, years[column]
            else:
                found = _UNIT_IN_HEADER.match(column)
                title = found["name"] if found else column
                unit = (found["unit"] if found else "") or options.unit or raw.unit
                ind = _indicator_id(options.indicator if options.indicator and
                                    len(value_columns) == 1 else title)
                year = default_year
            catalog.setdefault(ind, _entry(ind, title, unit, options, source))
            for i, text in enumerate(frame[column]):
                cells.append({"i": i, "indicator": ind, "column": column, "text": text,
                              "unit": unit, "year": year, "source": source})
    if not cells:
        raise UnreadableUpload("表中没有可读的数值列。", "The table has no readable value column.",
                               columns=raw.header)
    result = _resolve(raw, frame, key, parent, key_kind, layout, cells, catalog, ignored,
                      registry, options, source_date, filename)
    result.report["year_of_table"] = default_year
    return result


def _resolve(raw, frame, key, parent, key_kind, layout, cells, catalog, ignored, registry,
             options, source_date, filename) -> JoinResult:
    resolved: dict[int, object] = {}
    cache: dict[tuple[str, str], object] = {}
    unmatched, ambiguous = [], []
    levels: Counter[str] = Counter()
    for i, rec in enumerate(frame.to_dict("records")):
        k = rec[key].strip()
        p = rec[parent].strip() if parent else ""
        if not k and not any(v.strip() for v in rec.values()):
            continue
        found = cache.get((k, p))
        if found is None:
            found = cache[(k, p)] = registry.resolve(k, p, options.level)
        resolved[i] = found
        row = raw.first_row + i
        if found.status == "matched":
            levels[found.place.level] += 1
        elif found.status == "ambiguous":
            ambiguous.append({"row": row, "key": k, "parent": p,
                              "candidates": [c.to_dict() for c in found.candidates]})
        else:
            unmatched.append({"row": row, "key": k, "parent": p, "reason": found.reason,
                              "suggestions": [s.to_dict() for s in registry.suggest(k)]
                              if k and key_kind == "name" else []})
    facts, invalid, missing = [], [], 0
    seen: dict[tuple[str, str, object], int] = {}
    duplicates = []
    for cell in cells:
        found = resolved.get(cell["i"])
        if found is None or found.status != "matched":
            continue
        parsed = parse_value(cell["text"], cell["unit"])
        row = raw.first_row + cell["i"]
        if parsed.kind == "missing":
            missing += 1
            continue
        if parsed.value is None:
            invalid.append({"row": row, "column": cell["column"], "value": cell["text"],
                            "problem": parsed.problem})
            continue
        ident = (found.place.code, cell["indicator"], cell["year"])
        if ident in seen:
            duplicates.append({"rows": [seen[ident], row], "code": ident[0],
                               "indicator": ident[1], "year": ident[2],
                               "kept": "first"})
            continue
        seen[ident] = row
        unit = "%" if parsed.kind == "percent" else cell["unit"]
        facts.append({
            "code": found.place.code, "place_name": frame.at[cell["i"], key],
            "level": found.place.level, "indicator": cell["indicator"], "year": cell["year"],
            "period": "" if cell["year"] is None else str(cell["year"]), "value": parsed.value,
            "value_as_written": cell["text"], "unit": unit, "qualifier": parsed.qualifier,
            "kind": parsed.kind, "source": cell["source"], "source_date": source_date,
            "match": "matched", "note": parsed.note,
        })
    table = IndicatorTable.of(pd.DataFrame(facts), pd.DataFrame(list(catalog.values())))
    rows_seen = len(resolved)
    report = {
        "file": filename, "sheet": raw.sheet, "encoding": raw.encoding,
        "header_row": raw.first_row - 1, "title": raw.title, "unit_from_title": raw.unit,
        "notes": raw.notes, "layout": layout, "key_column": key,
        "key_kind": key_kind,
        "parent_column": parent, "ignored_columns": ignored,
        "indicators": [
            {**entry, "values": int((table.facts["indicator"] == ind).sum()),
             "years": table.years(ind)} for ind, entry in catalog.items()],
        "summary": {"rows": rows_seen, "matched": sum(levels.values()),
                    "unmatched": len(unmatched), "ambiguous": len(ambiguous),
                    "values": len(facts), "duplicates": len(duplicates),
                    "invalid_values": len(invalid), "missing_values": missing},
        "matched_levels": dict(levels),
        "unmatched": unmatched[:MAX_LISTED], "ambiguous": ambiguous[:MAX_LISTED],
        "duplicates": duplicates[:MAX_LISTED], "invalid_values": invalid[:MAX_LISTED],
    }
    return JoinResult(table, report)


def _pick(header: list[str], wanted: str | None, known: tuple[str, ...], what: str) -> str | None:
    if wanted:
        if wanted not in header:
            raise InvalidParameter(f"表中没有列“{wanted}”。现有列：{', '.join(header)}",
                                   f"No column '{wanted}'. Columns: {', '.join(header)}",
                                   parameter=what)
        return wanted
    lowered = {h.lower(): h for h in header}
    for name in known:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _finest_name(frame: pd.DataFrame) -> str | None:
    """Of the columns named like places (区县, 乡镇, 村…), the one with most distinct values."""
    known = {n.lower() for n in NAME_HEADERS}
    names = [h for h in frame.columns if h.lower() in known]
    return max(names, key=lambda h: frame[h].nunique(), default=None)


def _long_columns(header: list[str]) -> dict[str, str]:
    lowered = {h.lower(): h for h in header}
    out = {}
    for role, names in LONG_HEADERS.items():
        for name in names:
            if name.lower() in lowered:
                out[role] = lowered[name.lower()]
                break
    return out


def _numeric_enough(column: pd.Series) -> bool:
    """A value column: at least half its filled cells parse as figures."""
    filled = [c for c in column if parse_value(c).kind != "missing"]
    if not filled:
        return False
    return sum(parse_value(c).value is not None for c in filled) >= len(filled) / 2


def _year_cell(text: str) -> int | None:
    found = _YEAR_IN_TEXT.search(text or "")
    return int(found[1]) if found else None


def _indicator_id(title: str) -> str:
    """An id from a title: ASCII titles → slug; Chinese titles kept (NFKC, no punctuation)."""
    text = unicodedata.normalize("NFKC", title).strip()
    if text.isascii():
        return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "indicator"
    return re.sub(r"[^\w]+", "_", text).strip("_")[:60]


def _entry(ind: str, title: str, unit: str, options: UploadOptions, source: str) -> dict:
    cjk = not title.isascii()
    return {"id": ind, "title_zh": options.title_zh or (title if cjk else ""),
            "title_en": options.title_en or ("" if cjk else title), "unit": unit,
            "higher_is_better": "" if options.higher_is_better is None
            else str(options.higher_is_better).lower(),
            "origin": "upload", "source": source, "derived": "false"}
