"""A collection's feature schema as OGC API – Features Part 5 describes it
(`/collections/{id}/schema`): a JSON Schema of the returned properties, with `x-ogc-role`
marking the feature id, the primary geometry and the primary instant (the layer's date)."""

from __future__ import annotations

from layers import filtering
from layers.model import Layer

# Part 5 geometry formats; a Multi* layer also holds the single kind (layers/store.check_frame)
GEOMETRY_FORMATS = {
    "Point": "geometry-point", "LineString": "geometry-linestring",
    "Polygon": "geometry-polygon", "MultiPoint": "geometry-point-or-multipoint",
    "MultiLineString": "geometry-linestring-or-multilinestring",
    "MultiPolygon": "geometry-polygon-or-multipolygon",
}


def feature_schema(layer: Layer, found: dict[str, filtering.Queryable], schema_id: str) -> dict:
    """The schema of `layer`'s features from its typed attributes (`found`, the queryables)."""
    properties: dict[str, dict] = {}
    for q in found.values():
        if q.type == "geometry":
            properties[q.name] = {
                "title": q.title,
                "format": GEOMETRY_FORMATS.get(layer.geometry_type, "geometry-any"),
                "x-ogc-role": "primary-geometry"}
            continue
        entry = {"title": q.title or q.name, "type": q.type}
        if q.format:
            entry["format"] = q.format
        if q.name == layer.id_field:
            entry["x-ogc-role"] = "id"
        elif q.name == layer.time_field:
            entry["x-ogc-role"] = "primary-instant"
        properties[q.name] = entry
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "type": "object",
        "title": layer.title,
        "description": layer.description,
        "properties": properties,
    }
