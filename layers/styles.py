"""Documents that describe our vector tilesets to map clients: TileJSON 3.0 and a MapLibre
GL style (v8) with one default look per geometry kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geo.tiles import MAX_SIMPLIFY_ZOOM, geometry_kind
from layers.tilesets import Tileset

TILEJSON_MAXZOOM = MAX_SIMPLIFY_ZOOM + 2  # clients overzoom past this; the server answers to 24
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


def tilejson(sets: Sequence[Tileset], tiles_url: str,
             bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    """TileJSON 3.0 of one or more layers served together at `tiles_url` ({z}/{x}/{y})."""
    west, south, east, north = bounds
    attribution = []
    for s in sets:
        prov = s.layer.provenance
        credit = prov.attribution or f"{prov.source} ({prov.license})"
        if prov.illustrative:
            credit += "（演示/派生数据 illustrative）"
        attribution.append(f"{s.layer.title_zh}: {credit}")
    return {
        "tilejson": "3.0.0",
        "name": " + ".join(s.layer.title for s in sets),
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": 0,
        "maxzoom": TILEJSON_MAXZOOM,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, 8],
        "attribution": "; ".join(attribution),
        "vector_layers": [{
            "id": s.layer.id,
            "description": s.layer.title + ("（演示/派生数据 illustrative）"
                                            if s.layer.provenance.illustrative else ""),
            "fields": {name: s.layer.fields.get(name, "") for name in s.fields},
            "minzoom": 0, "maxzoom": TILEJSON_MAXZOOM,
        } for s in sets],
    }


def maplibre_style(sets: Sequence[Tileset], tilejson_url: str) -> dict[str, Any]:
    """A MapLibre GL style (v8) drawing the tileset: fills, outlines, lines and circles."""
    style_layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f7f7f2"}}]
    for i, s in enumerate(sets):
        colour, lid = PALETTE[i % len(PALETTE)], s.layer.id
        common = {"source": "atlas", "source-layer": lid}
        kind = geometry_kind(s.layer.geometry_type)
        if kind == "polygon":
            style_layers += [
                {"id": f"{lid}-fill", "type": "fill", **common,
                 "paint": {"fill-color": colour, "fill-opacity": 0.35}},
                {"id": f"{lid}-line", "type": "line", **common,
                 "paint": {"line-color": colour, "line-width": 1}}]
        elif kind == "line":
            style_layers.append({"id": f"{lid}-line", "type": "line", **common,
                                 "paint": {"line-color": colour, "line-width": 2}})
        else:
            style_layers.append({"id": f"{lid}-circle", "type": "circle", **common,
                                 "paint": {"circle-color": colour, "circle-radius": 4,
                                           "circle-stroke-color": "#fff",
                                           "circle-stroke-width": 1}})
    return {
        "version": 8,
        "name": " + ".join(s.layer.title for s in sets),
        "sources": {"atlas": {"type": "vector", "url": tilejson_url}},
        "layers": style_layers,
    }
