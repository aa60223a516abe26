"""Mapbox Vector Tile (MVT 2.1) encoding with `mapbox-vector-tile`.

Geometries arrive already in integer tile units (y down, oriented, see geo/tiles.py), so the
encoder only writes commands and attributes; that keeps the per-coordinate Python work small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mapbox_vector_tile
import numpy as np

from geo.tiles import EXTENT

MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


@dataclass(frozen=True)
class TileLayer:
    """One named layer of a tile: geometries in tile units, their ids and attributes."""

    name: str
    geometries: np.ndarray
    ids: Sequence[int | None]
    properties: Sequence[dict]


def encode(layers: Sequence[TileLayer], extent: int = EXTENT) -> bytes:
    """The MVT bytes of the layers that have features (b"" when none has)."""
    payload = []
    for layer in layers:
        features = [
            {"geometry": geometry, "properties": props, **({"id": fid} if fid is not None else {})}
            for geometry, fid, props in zip(layer.geometries, layer.ids, layer.properties)
        ]
        if features:
            payload.append({"name": layer.name, "features": features})
    if not payload:
        return b""
    return mapbox_vector_tile.encode(payload, default_options={
        "extents": extent, "y_coord_down": True, "check_winding_order": False})


def decode(data: bytes) -> dict:
    """Decoded tile (GeoJSON-like per layer, y up, coordinates in tile units 0..extent)."""
    return mapbox_vector_tile.decode(data)
