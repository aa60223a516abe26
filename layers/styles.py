"""Documents that describe our vector tilesets to map clients: TileJSON 3.0 (per tile grid)
and a MapLibre GL style (v8) with one default look per geometry kind, label layers on the
`{layer}_label` points and the layers' provenance in its metadata. (The QGIS-readable SLD is
layers/sld.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geo.grids import WEB_MERCATOR, Grid
from geo.tiles import MAX_SIMPLIFY_ZOOM, geometry_kind
from layers.tilesets import LABEL_SUFFIX, Tileset

TILEJSON_MAXZOOM = MAX_SIMPLIFY_ZOOM + 2  # clients overzoom past this; the server answers to 24
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


def tilejson(sets: Sequence[Tileset], tiles_url: str,
             bounds: tuple[float, float, float, float], grid: Grid = WEB_MERCATOR,
             name: str | None = None, labels: bool = False) -> dict[str, Any]:
    """TileJSON 3.0 of one or more layers served together at `tiles_url` ({z}/{x}/{y});
    `labels`: the tiles carry `{layer}_label` points (the OGC API Tiles routes).

    TileJSON knows only Web Mercator; for another grid the document names it in the
    `tileMatrixSet` and `crs` keys (as TiTiler does) and {z}/{x}/{y} are level/column/row.
    """
    west, south, east, north = bounds
    attribution = []
    for s in sets:
        prov = s.layer.provenance
        credit = prov.attribution or f"{prov.source} ({prov.license})"
        if prov.illustrative:
            credit += "（演示/派生数据 illustrative）"
        attribution.append(f"{s.layer.title_zh}: {credit}")
    doc = {
        "tilejson": "3.0.0",
        "name": name or " + ".join(s.layer.title for s in sets),
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": grid.levels[0],
        "maxzoom": TILEJSON_MAXZOOM,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, 8],
        "attribution": "; ".join(attribution),
        "vector_layers": [{
            "id": s.layer.id,
            "description": s.layer.title + ("（演示/派生数据 illustrative）"
                                            if s.layer.provenance.illustrative else ""),
            "fields": {name: s.layer.fields.get(name, "") for name in s.fields},
            "minzoom": grid.levels[0], "maxzoom": TILEJSON_MAXZOOM,
        } for s in sets] + [{
            "id": s.layer.id + LABEL_SUFFIX,
            "description": f"{s.layer.title_zh}注记点 label points (inside each polygon)",
            "fields": {name: s.layer.fields.get(name, "")
                       for name in (s.layer.id_field, s.label_field)},
            "minzoom": grid.levels[0], "maxzoom": TILEJSON_MAXZOOM,
        } for s in sets if labels and s.label_field],
    }
    if grid is not WEB_MERCATOR:
        doc["tileMatrixSet"] = grid.id
        doc["crs"] = grid.crs_uri
        # GDAL's MVT metadata keys (its `METADATA_FILE`): where tile 0/0/0 would sit, so the
        # MVT driver georeferences tiles of a geographic grid (col = X, row = Y)
        level = grid.tms.matrix(grid.levels[0])
        size = level.cellSize * level.tileWidth * 2 ** grid.levels[0]  # CRS units at "level 0"
        doc.update({"tile_origin_upper_left_x": -180.0, "tile_origin_upper_left_y": 90.0,
                    "tile_dimension_zoom_0": size})
    return doc


def maplibre_style(sets: Sequence[Tileset], tilejson_url: str, glyphs_url: str | None = None
                   ) -> dict[str, Any]:
    """A MapLibre GL style (v8) drawing the tileset: fills, outlines, lines and circles, and,
    with `glyphs_url`, name labels (polygons on their `{layer}_label` points, points beside
    themselves). `metadata` carries each layer's provenance (source, licence, CRS, 算法生成/演示)."""
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
    if glyphs_url is not None:
        style_layers += [label for s in sets if (label := _label_layer(s)) is not None]
    style = {
        "version": 8,
        "name": " + ".join(s.layer.title for s in sets),
        "metadata": {"gongfu:provenance": [provenance(s) for s in sets]},
        "sources": {"atlas": {"type": "vector", "url": tilejson_url,
                              "attribution": "; ".join(provenance(s)["attribution"]
                                                       for s in sets)}},
        "layers": style_layers,
    }
    if glyphs_url is not None:
        style["glyphs"] = glyphs_url
    return style


LABEL_FONT = ["Noto Sans CJK SC Regular"]  # CJK glyphs are drawn locally by MapLibre


def label_text_field(s: Tileset) -> str | None:
    """The attribute a layer's labels show: a polygon layer's label field, a point layer's
    `name`; None for lines and layers without a name."""
    kind = geometry_kind(s.layer.geometry_type)
    if kind == "polygon":
        return s.label_field
    return "name" if kind == "point" and "name" in s.fields else None


def _label_layer(s: Tileset) -> dict[str, Any] | None:
    """A symbol layer writing the layer's name: on the label points of a polygon layer, next
    to each point of a point layer; None for lines and layers without a name."""
    field = label_text_field(s)
    if field is None:
        return None
    if s.label_field:
        source_layer, offset = s.layer.id + LABEL_SUFFIX, [0, 0]
    else:
        source_layer, offset = s.layer.id, [0, 1.2]
    return {"id": f"{s.layer.id}-label", "type": "symbol", "source": "atlas",
            "source-layer": source_layer,
            "layout": {"text-field": ["get", field], "text-font": LABEL_FONT, "text-size": 12,
                       "text-offset": offset, "text-anchor": "top" if offset[1] else "center"},
            "paint": {"text-color": "#222222", "text-halo-color": "#ffffff",
                      "text-halo-width": 1.5}}


def provenance(s: Tileset) -> dict[str, Any]:
    """Where a layer comes from, for style metadata: source, licence, CRS of origin and the
    算法生成/演示 flag of derived or illustrative content."""
    prov = s.layer.provenance
    credit = prov.attribution or f"{prov.source} ({prov.license})"
    flag = "算法生成/演示 derived or illustrative" if prov.illustrative else ""
    return {"layer": s.layer.id, "title": s.layer.title, "source": prov.source,
            "license": prov.license, "crs_of_origin": prov.crs_of_origin,
            "served_crs": "WGS84 (EPSG:4326) in the tile grid's CRS",
            "illustrative": prov.illustrative, "flag": flag, "note": prov.note,
            "attribution": f"{s.layer.title_zh}: {credit}" + (f"（{flag}）" if flag else "")}
