"""Place-name labels (地名注记) from our own data, for the offline 一张图 basemap.

- the city (地级市) and every county (区县) at a point inside its polygon: the pole of
  inaccessibility of its largest part (`shapely.ops.polylabel`), so a label never sits outside
  a crescent-shaped county;
- township seats (乡镇街道驻地) where GeoNames has a point (36 of Huzhou's 72); townships
  without one get no label — none is invented.

Each label carries its source. Output in WGS84 lon/lat or shifted to GCJ-02 (for 高德).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.ops import polylabel

from geo.crs import CRS84, CrsChoice, from_wgs84, resolve_crs
from geo.errors import UnknownChoice, UnknownCrs
from layers.store import Store

LEVEL_ZH = {"city": "地级市", "county": "区县", "township": "乡镇街道"}
LABEL_CRS = ("WGS84", "GCJ-02")
_LAYERS = ("cities", "counties", "townships")
_cache: dict[tuple, dict] = {}


def resolve_label_crs(text: str | None) -> CrsChoice:
    """WGS84 (also CRS84, EPSG:4326: labels are always lon/lat) or GCJ-02."""
    try:
        choice = resolve_crs(text)
    except UnknownCrs:
        raise UnknownChoice("crs", text, LABEL_CRS) from None
    if choice.is_gcj02:
        return choice
    if choice is CRS84 or choice.epsg == 4326:
        return CRS84
    raise UnknownChoice("crs", text, LABEL_CRS)


def label_point(geom: shapely.Geometry) -> shapely.Point:
    """A point inside a (multi)polygon: the pole of inaccessibility of its largest part."""
    parts = shapely.get_parts(geom)
    largest = parts[int(np.argmax(shapely.area(parts)))]
    # tolerance ~ 1/1000 of the part's size: well inside, and fast even for China's counties
    minx, miny, maxx, maxy = largest.bounds
    point = polylabel(largest, tolerance=max(maxx - minx, maxy - miny) / 1000 or 1e-6)
    return point if largest.contains(point) else largest.representative_point()


def place_labels(store: Store, crs: CrsChoice = CRS84) -> dict:
    """A GeoJSON FeatureCollection of label points: name, level, level_zh, code, source."""
    have = {layer.id for layer in store.layers()}
    key = (id(store), crs.key) + tuple((i, store.version(i)) for i in _LAYERS if i in have)
    if key not in _cache:
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = _build(store, have, crs)
    return _cache[key]


def _build(store: Store, have: set[str], crs: CrsChoice) -> dict:
    names, levels, codes, sources, points = [], [], [], [], []
    for layer_id, level in (("cities", "city"), ("counties", "county")):
        if layer_id not in have:
            continue
        layer = store.layer(layer_id)
        frame = store.frame(layer_id)
        for code, name, geom in zip(frame["code"], frame["name"], frame.geometry):
            if geom is None or geom.is_empty:
                continue
            names.append(name), levels.append(level), codes.append(str(code))
            sources.append(f"{layer.provenance.source}（标注点为面内代表点 a point inside the "
                           "polygon）")
            points.append(label_point(geom))
    if "townships" in have:
        frame = store.frame("townships")
        seat_source = frame["seat_source"] if "seat_source" in frame else [""] * len(frame)
        for code, name, seat, geom in zip(frame["code"], frame["name"], seat_source,
                                          frame.geometry):
            if geom is None or geom.is_empty:
                continue  # no open seat point: no label (never invented)
            names.append(name), levels.append("township"), codes.append(str(code))
            sources.append(f"{seat}（乡镇驻地 township seat; CC BY 4.0）" if seat else
                           "乡镇驻地 township seat")
            points.append(geom)
    shifted = from_wgs84(np.array(points, dtype=object), crs, authority_order=False)
    features = [
        {"type": "Feature", "id": code,
         "geometry": {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]},
         "properties": {"name": name, "level": level, "level_zh": LEVEL_ZH[level],
                        "code": code, "source": source}}
        for name, level, code, source, point in zip(names, levels, codes, sources, shifted)
    ]
    crs_note = ("GCJ-02（高德坐标，由 WGS84 换算）GCJ-02, shifted from WGS84 for Amap"
                if crs.is_gcj02 else "WGS84 经纬度 lon/lat")
    return {"type": "FeatureCollection", "name": "place_names",
            "crs_note": crs_note,
            "description": "地名注记：市、区县名在其面内代表点，乡镇街道名在 GeoNames 驻地点（仅有点者）。"
                           " Place labels: city and county names at a point inside each polygon, "
                           "township names at GeoNames seats (only where one exists).",
            "features": features}
