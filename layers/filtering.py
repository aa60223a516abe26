"""CQL2 filters and sort keys over one layer's attributes and geometry (OGC API Features Part 3).

A filter is parsed by the `cql2` library (cql2-rs) into its JSON form, then translated here
into a small tree of our own nodes whose every property name has been checked against the
layer's queryables — names are looked up, never evaluated. Two evaluators read the tree: `mask`
(vectorised pandas/shapely, for layers held in memory) and `layers.postgis_filter` (SQL with
bound parameters). Both follow SQL's three-valued logic, so a comparison with a missing value
is neither true nor false and `NOT` does not turn it true: both stores select the same rows.

Instants are compared in UTC: a date is its day's start (00:00 UTC).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Union

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from geo.crs import CRS84, CrsChoice, to_wgs84
from geo.errors import InvalidParameter, UnknownChoice, UnknownFields
from layers.model import Layer

GEOMETRY = "geometry"  # the name of the geometry queryable
LANGUAGES = ("cql2-text", "cql2-json")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


# --- queryables ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Queryable:
    """One name a filter may use: an attribute or the geometry.

    `type` is a JSON Schema type ("string", "number", "integer", "boolean") or "geometry";
    `format` is "date" / "date-time" for text holding ISO instants (temporal operators apply).
    """

    name: str
    type: str
    title: str = ""
    format: str = ""

    @property
    def is_instant(self) -> bool:
        return self.format in ("date", "date-time")

    @property
    def is_numeric(self) -> bool:
        return self.type in ("number", "integer")


def _column_type(series: pd.Series) -> tuple[str, str]:
    """(JSON Schema type, format) of a column, as the stores keep it."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean", ""
    if pd.api.types.is_integer_dtype(series):
        return "integer", ""
    if pd.api.types.is_float_dtype(series):
        return "number", ""
    values = series.dropna()
    if len(values) and all(isinstance(v, (bool, np.bool_)) for v in values):
        return "boolean", ""
    if len(values) and all(isinstance(v, (int, np.integer)) for v in values):
        return "integer", ""
    if len(values) and all(isinstance(v, (float, int, np.number)) for v in values):
        return "number", ""
    text = values.astype(str)
    if len(text) and text.str.fullmatch(_DATE.pattern).all():
        return "string", "date"
    if len(text) and text.str.fullmatch(_DATETIME.pattern).all():
        return "string", "date-time"
    return "string", ""


def queryables(layer: Layer, frame: gpd.GeoDataFrame) -> dict[str, Queryable]:
    """Every attribute of the layer with its type, then the geometry (when it has one)."""
    found = {}
    for name in layer.fields:
        if name not in frame.columns or name == GEOMETRY:
            continue
        kind, fmt = _column_type(frame[name])
        found[name] = Queryable(name, kind, layer.fields[name], fmt)
    if layer.geometry_type not in ("None", "Raster"):
        found[GEOMETRY] = Queryable(GEOMETRY, "geometry", "几何 geometry",
                                    layer.geometry_type.lower())
    return found


def queryables_schema(layer: Layer, found: dict[str, Queryable], schema_id: str) -> dict:
    """The queryables as a JSON Schema document (Part 3, /collections/{id}/queryables)."""
    properties: dict[str, dict] = {}
    for q in found.values():
        if q.type == "geometry":
            properties[q.name] = {"title": q.title, "format": f"geometry-{q.format}",
                                  "x-ogc-role": "primary-geometry"}
            continue
        entry = {"title": q.title or q.name, "type": q.type}
        if q.format:
            entry["format"] = q.format
        properties[q.name] = entry
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "type": "object",
        "title": layer.title,
        "properties": properties,
        "additionalProperties": False,
    }


# --- the tree ---------------------------------------------------------------------------

Value = Union[str, float, bool, datetime]


@dataclass(frozen=True)
class Compare:
    op: str  # = <> < <= > >=
    left: Queryable
    right: Value | Queryable


@dataclass(frozen=True)
class Like:
    prop: Queryable
    pattern: str  # CQL2: % any run, _ one character, backslash escapes


@dataclass(frozen=True)
class In:
    prop: Queryable
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Between:
    prop: Queryable
    low: Value
    high: Value


@dataclass(frozen=True)
class IsNull:
    prop: Queryable


@dataclass(frozen=True)
class Spatial:
    op: str  # a key of SPATIAL
    geometry: Any  # shapely geometry, WGS84 lon/lat


@dataclass(frozen=True)
class Logic:
    op: str  # "and" / "or"
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    arg: "Node"


Node = Union[Compare, Like, In, Between, IsNull, Spatial, Logic, Not]

# CQL2 spatial operator -> (shapely predicate, PostGIS function, operator with arguments swapped)
SPATIAL = {
    "s_intersects": ("intersects", "ST_Intersects", "s_intersects"),
    "s_disjoint": ("disjoint", "ST_Disjoint", "s_disjoint"),
    "s_equals": ("equals", "ST_Equals", "s_equals"),
    "s_touches": ("touches", "ST_Touches", "s_touches"),
    "s_overlaps": ("overlaps", "ST_Overlaps", "s_overlaps"),
    "s_crosses": ("crosses", "ST_Crosses", "s_crosses"),
    "s_within": ("within", "ST_Within", "s_contains"),
    "s_contains": ("contains", "ST_Contains", "s_within"),
}
_COMPARE = ("=", "<>", "<", "<=", ">", ">=")
_FLIPPED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
TEMPORAL = ("t_after", "t_before", "t_intersects", "t_equals", "t_disjoint")
SUPPORTED_OPS = ("and", "or", "not", *_COMPARE, "like", "in", "between", "isNull",
                 *SPATIAL, *TEMPORAL)


# --- parsing ------------------------------------------------------------------------------

class InvalidFilter(InvalidParameter):
    """A filter that cannot be read or does not fit the layer."""

    code = "invalid_filter"


def _error(zh: str, en: str, parameter: str = "filter") -> InvalidFilter:
    return InvalidFilter(zh, en, parameter=parameter)


def _syntax_error(text: str, message: str) -> InvalidFilter:
    """Where the parser stopped, in the user's own text (the library's wording stays out)."""
    place = re.search(r"(\d+):(\d+)", message) or re.search(r"line (\d+) column (\d+)", message)
    if not place:
        return _error(f"filter 语法错误：“{text[:80]}”", f"Syntax error in filter '{text[:80]}'")
    line, column = int(place.group(1)), int(place.group(2))
    lines = text.splitlines() or [""]
    row = lines[min(line, len(lines)) - 1]
    near = row[max(0, column - 1):column + 14] or "（结尾）"
    near_en = row[max(0, column - 1):column + 14] or "(end of text)"
    return _error(f"filter 语法错误：第 {line} 行第 {column} 个字符处（“{near}”）无法解析。",
                  f"Syntax error in filter at line {line}, character {column} "
                  f"(near '{near_en}').")


MAX_LENGTH = 8_000  # characters: a long IN list fits; the parser is not fed megabytes
MAX_DEPTH = 50  # nested brackets; the Rust parser crashes the process near 2,000
MAX_NOTS = 200


def _check_size(text: str) -> None:
    """Refuse filters too long or too deeply nested for the parser, before it sees them."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote  # '' (an escaped ') re-opens at once
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    nots = len(re.findall(r"\bnot\b", text, flags=re.IGNORECASE))
    if len(text) > MAX_LENGTH or deepest > MAX_DEPTH or nots > MAX_NOTS:
        raise _too_big()


def _too_big() -> InvalidFilter:
    return _error(f"filter 过长或嵌套过深（上限 {MAX_LENGTH} 个字符、{MAX_DEPTH} 层括号、"
                  f"{MAX_NOTS} 个 NOT）。",
                  f"The filter is too long or too deeply nested (at most {MAX_LENGTH} "
                  f"characters, {MAX_DEPTH} levels of brackets, {MAX_NOTS} NOTs).")


def _depth(tree: Any) -> int:
    """How deeply lists and objects nest in parsed JSON (json.loads bounds the recursion)."""
    if isinstance(tree, dict):
        return 1 + max((_depth(v) for v in tree.values()), default=0)
    if isinstance(tree, list):
        return 1 + max((_depth(v) for v in tree), default=0)
    return 0


def parse_filter(text: str, lang: str | None, crs: CrsChoice,
                 found: dict[str, Queryable]) -> Node:
    """A CQL2 filter (text or JSON) as a checked tree; geometry literals given in `crs`."""
    import cql2  # the Rust parser, loaded when a filter is first given

    lang = (lang or "cql2-text").strip().lower()
    if lang not in LANGUAGES:
        raise UnknownChoice("filter-lang", lang, LANGUAGES)
    if not text.strip():
        raise _error("filter 为空。", "The filter is empty.")
    if lang == "cql2-text" or len(text) > MAX_LENGTH:
        _check_size(text)
    try:
        if lang == "cql2-json":
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _syntax_error(text, f"line {exc.lineno} column {exc.colno}") from None
            if _depth(raw) > MAX_DEPTH:  # counted on the parsed tree: escapes cannot hide it
                raise _too_big()
            tree = cql2.Expr(raw).to_json()
        else:
            tree = cql2.Expr(text).to_json()
    except InvalidFilter:
        raise
    except Exception as exc:  # cql2 raises plain Exception/ValueError subclasses
        if lang == "cql2-json":
            raise _error("filter 不是有效的 CQL2 JSON 表达式。",
                         "The filter is not a valid CQL2 JSON expression.") from None
        raise _syntax_error(text, str(exc)) from None
    return _Builder(found, crs).node(tree)


class _Builder:
    """CQL2 JSON → our nodes, checking names against the queryables and types of values."""

    def __init__(self, found: dict[str, Queryable], crs: CrsChoice) -> None:
        self.found, self.crs = found, crs

    def node(self, tree: Any) -> Node:
        if not isinstance(tree, dict) or "op" not in tree:
            raise _error("filter 须为条件表达式（如 name = '安吉县'）。",
                         "The filter must be a condition (e.g. name = '安吉县').")
        op, args = tree["op"], list(tree.get("args") or [])
        if op in ("and", "or"):
            return Logic(op, tuple(self.node(a) for a in args))
        if op == "not":
            return Not(self.node(self._arity(op, args, 1)[0]))
        if op in _COMPARE:
            left, right = self._arity(op, args, 2)
            if not _is_prop(left) and _is_prop(right):
                left, right, op = right, left, _FLIPPED[op]
            prop = self.prop(left)
            if _is_prop(right):
                other = self.prop(right)
                if _family(other) != _family(prop):
                    raise self._type_error(prop, other.name)
                return Compare(op, prop, other)
            return Compare(op, prop, self.value(prop, right))
        if op == "like":
            prop, pattern = self._arity(op, args, 2)
            prop = self.prop(prop)
            if prop.type != "string" or not isinstance(pattern, str):
                raise _error(f"LIKE 只适用于文本字段与文本模式（字段“{prop.name}”）。",
                             f"LIKE takes a text field and a text pattern (field '{prop.name}').")
            return Like(prop, pattern)
        if op == "in":
            prop, values = self._arity(op, args, 2)
            prop = self.prop(prop)
            if not isinstance(values, list) or not values:
                raise _error("IN 需要一组值，如 IN ('a', 'b')。",
                             "IN needs a list of values, e.g. IN ('a', 'b').")
            return In(prop, tuple(self.value(prop, v) for v in values))
        if op == "between":
            prop, low, high = self._arity(op, args, 3)
            prop = self.prop(prop)
            return Between(prop, self.value(prop, low), self.value(prop, high))
        if op == "isNull":
            return IsNull(self.prop(self._arity(op, args, 1)[0]))
        if op in SPATIAL:
            return self.spatial(op, args)
        if op in TEMPORAL:
            return self.temporal(op, args)
        supported = ", ".join(o.upper() if o[0].isalpha() else o for o in SUPPORTED_OPS)
        raise _error(f"不支持的运算或函数“{op}”。支持：{supported}",
                     f"Unsupported operator or function '{op}'. Supported: {supported}")

    def _arity(self, op: str, args: list, n: int) -> list:
        if len(args) != n:
            raise _error(f"运算 {op} 需要 {n} 个参数，收到 {len(args)} 个。",
                         f"Operator {op} takes {n} argument(s), got {len(args)}.")
        return args

    def prop(self, arg: Any) -> Queryable:
        if isinstance(arg, dict) and "op" in arg:
            self.node(arg)  # names an unsupported function (casei, arithmetic…) if it is one
        if not _is_prop(arg):
            raise _error("比较的一侧须为字段名。", "One side of each comparison must be a field.")
        name = arg["property"]
        if name not in self.found:
            raise UnknownFields([str(name)], list(self.found), parameter="filter")
        return self.found[name]

    def value(self, prop: Queryable, raw: Any) -> Value:
        """A literal, checked against the field's type (no silent casting between kinds)."""
        if prop.type == "geometry":
            raise _error("几何字段只能用于空间运算（S_INTERSECTS 等）。",
                         "The geometry can only be used with spatial operators (S_INTERSECTS…).")
        if isinstance(raw, dict) and ("date" in raw or "timestamp" in raw):
            if not prop.is_instant:
                raise self._type_error(prop, "DATE/TIMESTAMP")
            return _instant(raw.get("date") or raw.get("timestamp"))
        if isinstance(raw, bool):
            if prop.type != "boolean":
                raise self._type_error(prop, str(raw).lower())
            return raw
        if isinstance(raw, (int, float)):
            if not prop.is_numeric:
                raise self._type_error(prop, f"{raw:g}")
            return float(raw)
        if isinstance(raw, str):
            if prop.type != "string":
                raise self._type_error(prop, f"'{raw}'")
            return _instant(raw) if prop.is_instant and _is_iso(raw) else raw
        raise _error(f"字段“{prop.name}”的比较值无效。", f"Invalid value for field '{prop.name}'.")

    def _type_error(self, prop: Queryable, given: str) -> InvalidFilter:
        kind_zh = {"string": "文本", "number": "数值", "integer": "整数", "boolean": "布尔",
                   "geometry": "几何"}.get(prop.type, prop.type)
        return _error(f"字段“{prop.name}”为{kind_zh}类型，不能与 {given} 比较"
                      f"{'（文本值请加单引号）' if prop.type == 'string' else ''}。",
                      f"Field '{prop.name}' is of type {prop.type} and cannot be compared "
                      f"with {given}{' (quote text values)' if prop.type == 'string' else ''}.")

    def spatial(self, op: str, args: list) -> Spatial:
        left, right = self._arity(op, args, 2)
        if not _is_prop(left) and _is_prop(right):
            left, right, op = right, left, SPATIAL[op][2]
        prop = self.prop(left)
        if prop.type != "geometry":
            raise _error(f"空间运算 {op.upper()} 须作用于几何字段“{GEOMETRY}”，而非“{prop.name}”。",
                         f"Spatial operator {op.upper()} applies to '{GEOMETRY}', "
                         f"not '{prop.name}'.")
        return Spatial(op, self.geometry(right))

    def geometry(self, raw: Any) -> Any:
        """A GeoJSON geometry or BBOX literal in the filter CRS, as a WGS84 shapely geometry."""
        try:
            if isinstance(raw, dict) and "bbox" in raw:
                box = [float(v) for v in raw["bbox"]]
                half = len(box) // 2
                geom = shapely.box(box[0], box[1], box[half], box[half + 1])
            else:
                geom = shape(raw)
        except Exception:
            raise _error("空间运算的第二个参数须为几何（WKT、GeoJSON 或 BBOX）。",
                         "A spatial operator's second argument must be a geometry "
                         "(WKT, GeoJSON or BBOX).") from None
        if not shapely.is_valid(geom):
            geom = shapely.make_valid(geom)
        if self.crs is not CRS84:
            geom = to_wgs84(np.array([geom]), self.crs, authority_order=True)[0]
        coords = shapely.get_coordinates(geom)
        if not (np.isfinite(coords).all() and (np.abs(coords[:, 0]) <= 180).all()
                and (np.abs(coords[:, 1]) <= 90).all()):
            # typically metres (EPSG:4549) or lat/lon given without naming their CRS
            crs = self.crs.key
            raise _error(f"空间运算的几何坐标在 {crs} 中超出经纬度范围；投影坐标请用 filter-crs "
                         "指明坐标系（如 filter-crs=EPSG:4549）。",
                         f"The geometry's coordinates fall outside longitude/latitude once read "
                         f"in {crs}; for projected coordinates name their CRS with filter-crs "
                         "(e.g. filter-crs=EPSG:4549).")
        return geom

    def temporal(self, op: str, args: list) -> Node:
        """Temporal operators on an instant field, lowered to comparisons on UTC instants."""
        left, right = self._arity(op, args, 2)
        prop = self.prop(left)
        if not prop.is_instant:
            raise _error(f"时间运算 {op.upper()} 须作用于日期字段，“{prop.name}”不是。",
                         f"Temporal operator {op.upper()} applies to a date field; "
                         f"'{prop.name}' is not one.")
        start, end = _period(right)
        if op == "t_after":
            return Compare(">", prop, end) if end else _never(prop)
        if op == "t_before":
            return Compare("<", prop, start) if start else _never(prop)
        if op == "t_equals" and start != end:
            return _never(prop)  # an instant never equals a period
        bounds = [Compare(">=", prop, start)] if start else []
        bounds += [Compare("<=", prop, end)] if end else []
        inside: Node = Logic("and", tuple(bounds)) if bounds else Not(IsNull(prop))
        return Not(inside) if op == "t_disjoint" else inside


def _never(prop: Queryable) -> Node:
    """A condition no row meets (an unbounded side of an interval)."""
    return Logic("and", (IsNull(prop), Not(IsNull(prop))))


def _is_prop(arg: Any) -> bool:
    return isinstance(arg, dict) and set(arg) == {"property"}


def _family(q: Queryable) -> str:
    return "instant" if q.is_instant else ("number" if q.is_numeric else q.type)


def _is_iso(text: str) -> bool:
    return bool(_DATE.fullmatch(text) or _DATETIME.fullmatch(text))


def _instant(text: str) -> datetime:
    """An ISO date or timestamp as a UTC datetime (a date alone: its day's start)."""
    try:
        value = pd.Timestamp(text)
    except ValueError:
        raise _error(f"无效的日期/时间“{text}”（格式：2024-03-31 或 2024-03-31T08:00:00Z）。",
                     f"Invalid date/time '{text}' (use 2024-03-31 or "
                     "2024-03-31T08:00:00Z).") from None
    value = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
    return value.to_pydatetime()


def _period(raw: Any) -> tuple[datetime | None, datetime | None]:
    """(start, end) of a DATE/TIMESTAMP/INTERVAL literal; None for an open end ('..')."""
    if isinstance(raw, dict) and ("date" in raw or "timestamp" in raw):
        moment = _instant(raw.get("date") or raw.get("timestamp"))
        return moment, moment
    if isinstance(raw, dict) and isinstance(raw.get("interval"), list) and len(raw["interval"]) == 2:
        ends = []
        for item in raw["interval"]:
            if isinstance(item, dict):
                item = item.get("date") or item.get("timestamp")
            ends.append(None if item in ("..", "", None) else _instant(str(item)))
        return ends[0], ends[1]
    raise _error("时间运算的第二个参数须为 DATE、TIMESTAMP 或 INTERVAL。",
                 "A temporal operator's second argument must be a DATE, TIMESTAMP or INTERVAL.")


# --- evaluation in memory -----------------------------------------------------------------

def mask(frame: gpd.GeoDataFrame, node: Node) -> np.ndarray:
    """Rows of `frame` the filter selects (True only where the condition is known true)."""
    true, _ = _eval(frame, node)
    return true


def _eval(frame: gpd.GeoDataFrame, node: Node) -> tuple[np.ndarray, np.ndarray]:
    """(known true, known false) per row; a row in neither is unknown (SQL NULL)."""
    if isinstance(node, Logic):
        parts = [_eval(frame, a) for a in node.args]
        trues, falses = [p[0] for p in parts], [p[1] for p in parts]
        if node.op == "and":
            return np.logical_and.reduce(trues), np.logical_or.reduce(falses)
        return np.logical_or.reduce(trues), np.logical_and.reduce(falses)
    if isinstance(node, Not):
        true, false = _eval(frame, node.arg)
        return false, true
    if isinstance(node, IsNull):
        missing = _missing(frame, node.prop)
        return missing, ~missing
    if isinstance(node, Spatial):
        geoms = frame.geometry.to_numpy()
        known = ~(pd.isna(geoms))
        hit = getattr(shapely, SPATIAL[node.op][0])(geoms, node.geometry).astype(bool)
        return known & hit, known & ~hit
    if isinstance(node, Compare):
        left = _values(frame, node.left)
        known = ~_missing(frame, node.left)
        if isinstance(node.right, Queryable):
            right = _values(frame, node.right)
            known &= ~_missing(frame, node.right)
        else:
            right = node.right
        with np.errstate(invalid="ignore"):
            hit = _compare(left, node.op, right)
        return known & hit, known & ~hit
    known = ~_missing(frame, node.prop)
    if isinstance(node, Like):  # on the stored text, dates included
        values = frame[node.prop.name].astype("string")
        hit = values.str.fullmatch(_like_regex(node.pattern)).fillna(False).to_numpy(dtype=bool)
    elif isinstance(node, In):
        wanted = [_datetime64(v) if isinstance(v, datetime) else v for v in node.values]
        values = _values(frame, node.prop)
        hit = pd.Series(values).isin(wanted).fillna(False).to_numpy(dtype=bool)
    elif isinstance(node, Between):
        values = _values(frame, node.prop)
        hit = _compare(values, ">=", node.low) & _compare(values, "<=", node.high)
    else:
        raise TypeError(f"unknown filter node {node!r}")
    return known & hit, known & ~hit


def _missing(frame: gpd.GeoDataFrame, prop: Queryable) -> np.ndarray:
    if prop.type == "geometry":
        return np.asarray(pd.isna(frame.geometry.to_numpy()), dtype=bool)
    return frame[prop.name].isna().to_numpy(dtype=bool)


def _values(frame: gpd.GeoDataFrame, prop: Queryable) -> np.ndarray:
    """The column as comparable values: floats, booleans, text, or UTC instants."""
    column = frame[prop.name]
    if prop.is_numeric:
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if prop.is_instant:
        stamps = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
        return stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    if prop.type == "boolean":
        return column.fillna(False).to_numpy(dtype=bool)
    return column.astype("string")  # pandas strings: vectorised, compared by code point


def _datetime64(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(timezone.utc).replace(tzinfo=None), "ns")


def _compare(left: Any, op: str, right: Any) -> np.ndarray:
    if isinstance(right, datetime):
        right = _datetime64(right)
    if isinstance(left, pd.Series):  # text; missing values (NA) are masked out by the caller
        return _OPS[op](left, right).fillna(False).to_numpy(dtype=bool)
    if isinstance(left, np.ndarray) and np.issubdtype(left.dtype, np.datetime64):
        left = left.astype("datetime64[ns]")
    result = _OPS[op](left, right)
    return np.asarray(result, dtype=bool)


_OPS = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _like_regex(pattern: str) -> str:
    """A CQL2 LIKE pattern as a regular expression matching the whole value."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "(?s)" + "".join(out)


# --- sort keys ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SortKey:
    prop: Queryable
    ascending: bool


def parse_sortby(text: str, found: dict[str, Queryable]) -> tuple[SortKey, ...]:
    """`+name,-population` (a bare name sorts ascending) as checked sort keys."""
    keys = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        ascending = not part.startswith("-")
        name = part.lstrip("+-").strip()
        if name not in found or found[name].type == "geometry":
            sortable = [q for q in found if found[q].type != "geometry"]
            raise UnknownFields([name], sortable, parameter="sortby")
        keys.append(SortKey(found[name], ascending))
    return tuple(keys)


def order(frame: gpd.GeoDataFrame, positions: np.ndarray,
          keys: tuple[SortKey, ...]) -> np.ndarray:
    """`positions` (rows of `frame`) ordered by `keys`, missing values last in either
    direction, ties kept in stored order; text by code point, as PostgreSQL's "C" collation
    orders it. Only the key columns of those rows are touched, never the geometries."""
    if not keys or len(positions) < 2:
        return positions
    columns = {}
    for i, key in enumerate(keys):
        column = frame[key.prop.name].iloc[positions].reset_index(drop=True)
        columns[f"k{i}"] = (pd.to_numeric(column, errors="coerce") if key.prop.is_numeric
                            else column.astype("string") if key.prop.type == "string"
                            else column)
    table = pd.DataFrame(columns)
    ranked = table.sort_values(list(columns), ascending=[k.ascending for k in keys],
                               kind="stable", na_position="last").index.to_numpy()
    return positions[ranked]
