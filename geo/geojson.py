"""GeoJSON in and out: encoding feature frames (any CRS; coordinates as given), plain
values for JSON, and polygons read from a posted GeoJSON body."""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import InvalidParameter


def _plain(value: Any) -> Any:
    """A JSON-safe Python value (numpy scalars unwrapped, NaN/NA as null)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        if value is gpd.pd.NA or (not isinstance(value, (str, bytes)) and gpd.pd.isna(value)):
            return None
    except (TypeError, ValueError):
        pass
    return value


def features(
    frame: gpd.GeoDataFrame,
    geometries: np.ndarray,
    properties: Iterable[str],
    precision: int,
) -> list[dict[str, Any]]:
    """GeoJSON Feature dicts: id from the frame's index, geometry from `geometries`."""
    names = list(properties)
    texts = shapely.to_geojson(shapely.set_precision(geometries, 10.0**-precision, mode="pointwise"))
    out = []
    columns = {name: frame[name].tolist() for name in names}
    for i, fid in enumerate(frame.index):
        out.append(
            {
                "type": "Feature",
                "id": str(fid),
                "geometry": json.loads(texts[i]) if texts[i] is not None else None,
                "properties": {name: _plain(columns[name][i]) for name in names},
            }
        )
    return out


def plain(value: Any) -> Any:
    """A JSON-safe Python value: numpy scalars unwrapped, NaN/NA/±inf as null."""
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def geometry(geom: shapely.Geometry | None, precision: int = 7) -> dict | None:
    """One geometry as a GeoJSON dict (None for missing or empty)."""
    if geom is None or shapely.is_empty(geom):
        return None
    return json.loads(shapely.to_geojson(
        shapely.set_precision(geom, 10.0**-precision, mode="pointwise")))


def polygons_from_geojson(body: Any, max_count: int) -> tuple[np.ndarray, list[dict]]:
    """Polygons (WGS84) and their properties from a GeoJSON geometry, Feature or
    FeatureCollection; 1 to `max_count` of them, each with a non-empty geometry."""
    if not isinstance(body, dict) or "type" not in body:
        raise InvalidParameter("请求体须为 GeoJSON（几何、要素或要素集合）。",
                               "The body must be GeoJSON (geometry, Feature or FeatureCollection).")
    if body["type"] == "FeatureCollection":
        feats = body.get("features") or []
    elif body["type"] == "Feature":
        feats = [body]
    else:
        feats = [{"type": "Feature", "geometry": body, "properties": {}}]
    if not isinstance(feats, list) or not feats or len(feats) > max_count:
        raise InvalidParameter(f"须有 1–{max_count} 个面。", f"Send 1–{max_count} polygons.")
    try:
        frame = gpd.GeoDataFrame.from_features(feats, crs=4326)
        geoms = frame.geometry.to_numpy()
    except Exception:  # noqa: BLE001 - any malformed GeoJSON is the sender's to fix
        raise InvalidParameter("无法解析 GeoJSON 几何。", "Could not parse the GeoJSON geometry.") \
            from None
    if shapely.is_missing(geoms).any() or shapely.is_empty(geoms).any():
        raise InvalidParameter("每个要素都须有面几何。", "Every feature needs a polygon geometry.")
    return geoms, [f.get("properties") or {} for f in feats]
