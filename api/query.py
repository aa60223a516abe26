"""Parse and validate the query of an OGC API items request, with bilingual errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from geo.crs import CRS84, CrsChoice, bbox_to_wgs84, resolve_crs
from geo.errors import InvalidParameter, NotAnInteger, OutOfRange, UnknownFields
from geo.period import Period, parse_period
from layers.model import Layer

ITEMS_PARAMS = ("f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "properties")
COLLECTIONS_LIMIT = 1000  # default and maximum page of /collections


@dataclass(frozen=True)
class ItemsQuery:
    limit: int
    offset: int
    crs: CrsChoice
    bbox_wgs84: tuple[float, float, float, float] | None
    properties: tuple[str, ...] | None
    filters: dict[str, str]
    raw: tuple[tuple[str, str], ...] = field(default=())
    # `datetime` (None: not given); layers without a time field accept and ignore it
    period: Period | None = None

    @classmethod
    def parse(
        cls,
        params: QueryParams,
        layer: Layer,
        default_limit: int,
        max_limit: int,
        allow: tuple[str, ...] = ITEMS_PARAMS,
        allow_filters: bool = True,
    ) -> "ItemsQuery":
        """Validate `params`; attributes of the layer may be given as equality filters."""
        fields = list(layer.fields) or []
        filters: dict[str, str] = {}
        for name, value in params.multi_items():
            if name in allow:
                continue
            if name in fields and allow_filters:
                filters[name] = value
                continue
            valid = ", ".join(list(allow) + (fields if allow_filters else []))
            raise InvalidParameter(
                f"未知参数“{name}”。可用参数：{valid}",
                f"Unknown parameter '{name}'. Valid parameters: {valid}",
                parameter=name,
            )
        crs = resolve_crs(params.get("crs"))
        bbox_crs = resolve_crs(params.get("bbox-crs"))
        bbox = _bbox(params.get("bbox"))
        if bbox is not None and bbox_crs is not CRS84:
            bbox = bbox_to_wgs84(bbox, bbox_crs)
        props = params.get("properties")
        properties = None
        if props is not None:
            properties = tuple(p.strip() for p in props.split(",") if p.strip())
            unknown = [p for p in properties if p not in fields]
            if unknown:
                raise UnknownFields(unknown, fields)
        when = params.get("datetime")
        return cls(
            # a limit above the maximum is capped, not refused (OGC API Features, /per/core/
            # limit-response-1); the next link carries the capped value
            limit=min(parse_int(params.get("limit"), "limit", default_limit, 1, 10**9),
                      max_limit),
            offset=parse_int(params.get("offset"), "offset", 0, 0, 10**9),
            crs=crs,
            bbox_wgs84=bbox,
            properties=properties,
            filters=filters,
            raw=tuple(params.multi_items()),
            period=parse_period(when) if when is not None else None,
        )

    def properties_of(self, layer: Layer) -> list[str]:
        return list(self.properties) if self.properties is not None else list(layer.fields)

    def url(self, base: str, offset: int, **override: str) -> str:
        """This query's URL at another offset (for next/prev links)."""
        # the limit in force (a capped one too), not the one asked for
        params = [(k, v) for k, v in self.raw if k not in ("offset", "limit", *override)]
        params += [("offset", str(offset))] if offset else []
        params += list(override.items())
        params.append(("limit", str(self.limit)))
        return f"{base}?{urlencode(params)}" if params else base


def parse_int(text: str | None, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter in [low, high] (`default` when absent), else a 400."""
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise NotAnInteger(name, text) from None
    if not low <= value <= high:
        raise OutOfRange(name, value, low, high)
    return value


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    problem_zh = problem_en = ""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
        problem_zh, problem_en = "含有非数字", "contains a non-number"
    if values and len(values) not in (4, 6):
        problem_zh, problem_en = "须为 4 个（或 6 个）数字", "needs 4 (or 6) numbers"
    if values and not all(math.isfinite(v) for v in values):
        values, problem_zh, problem_en = [], "含有无穷或非数值", "contains an infinite or NaN value"
    if len(values) in (4, 6):
        half = len(values) // 2
        minx, miny, maxx, maxy = values[0], values[1], values[half], values[half + 1]
        if minx > maxx or miny > maxy:
            problem_zh, problem_en = "最小值大于最大值", "has a minimum above its maximum"
        else:
            return minx, miny, maxx, maxy
    if not problem_en:
        problem_zh, problem_en = "含有非数字", "contains a non-number"
    raise InvalidParameter(
        f"bbox 参数“{text}”无效：{problem_zh}。格式：minx,miny,maxx,maxy",
        f"Invalid bbox '{text}': it {problem_en}. Format: minx,miny,maxx,maxy",
        parameter="bbox",
    )
