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
    """The schema of `layer`'s features: the queryables' JSON Schema (layers/filtering.py)
    with the Part 5 roles of the id and date fields, the geometry's Part 5 format and the
    layer's description; returned features may carry more than the queryables name."""
    schema = filtering.queryables_schema(layer, found, schema_id)
    schema.pop("additionalProperties", None)
    schema["description"] = layer.description
    roles = {layer.id_field: "id", layer.time_field: "primary-instant"}
    for name, entry in schema["properties"].items():
        if found[name].type == "geometry":
            entry["format"] = GEOMETRY_FORMATS.get(layer.geometry_type, "geometry-any")
        elif roles.get(name):
            entry["x-ogc-role"] = roles[name]
    return schema
