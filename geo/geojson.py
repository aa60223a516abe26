"""GeoJSON encoding of feature frames (any CRS; coordinates as given)."""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

import geopandas as gpd
import numpy as np
import shapely


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
