"""OGC API – Tiles documents: tile matrix sets, tileset lists and tileset metadata (with the
links GDAL's `OGCAPI:` driver and other clients follow) for vector layers, rasters and the
default map (several layers in one tileset).

Paths (relative to the server root):
    /tileMatrixSets[/{tms}]
    /collections/{id}/tiles[/{tms}[/{tileMatrix}/{tileRow}/{tileCol}]]   one layer or raster
    /tiles[/{tms}[/{tileMatrix}/{tileRow}/{tileCol}]]                    the default map layers
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geo.grids import GRIDS, Grid
from geo.mvt import MEDIA_TYPE as MVT
from layers.model import Layer, Provenance
from layers.store import Store

REL = "http://www.opengis.net/def/rel/ogc/1.0/"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
MAX_LEVEL = 14  # levels advertised in tileMatrixSetLimits (clients overzoom; we answer to 24)
MAP_THEME_LAYERS = ("cities", "counties", "townships", "county_seats")  # the home map's layers
MAP_TITLE = "湖州行政区划底图 Huzhou administrative map"


def map_layer_ids(store: Store) -> list[str]:
    """The layers of the default map tileset (/tiles/…): the home map's administrative
    layers that this store has, in drawing order (areas under points)."""
    present = {layer.id for layer in store.layers() if layer.geometry_type != "None"}
    return [layer_id for layer_id in MAP_THEME_LAYERS if layer_id in present]


def _json(href: str, rel: str, title: str, media: str = "application/json") -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media, "title": title}


def tile_matrix_sets(base: str) -> dict[str, Any]:
    """The /tileMatrixSets list."""
    return {
        "tileMatrixSets": [{
            "id": g.id, "title": g.tms.title, "uri": g.uri, "crs": g.crs_uri,
            "links": [_json(f"{base}/tileMatrixSets/{g.id}", "self", g.tms.title)],
        } for g in GRIDS.values()],
        "links": [_json(f"{base}/tileMatrixSets", "self", "Tile matrix sets 切片方案")],
    }


def provenance_text(provenance: Provenance, title_zh: str) -> str:
    """One attribution line: source (licence), flagged 算法生成/演示 when derived."""
    credit = provenance.attribution or f"{provenance.source} ({provenance.license})"
    if provenance.illustrative:
        credit += "（算法生成/演示 derived or illustrative）"
    return f"{title_zh}: {credit}"


def tileset_list(root: str, path: str, title: str, data_type: str) -> dict[str, Any]:
    """The tileset list at `path` (…/tiles) of a server at `root`: one tileset per grid."""
    return {
        "links": [_json(path, "self", f"{title} tilesets")],
        "tilesets": [{
            "title": f"{title} ({g.id})", "dataType": data_type, "crs": g.crs_uri,
            "tileMatrixSetURI": g.uri,
            "links": [_json(f"{path}/{g.id}", "self", f"{title} ({g.id})"),
                      _json(f"{root}/tileMatrixSets/{g.id}", REL + "tiling-scheme",
                            g.tms.title)],
        } for g in GRIDS.values()],
    }


def tileset(root: str, path: str, grid: Grid, title: str, layers: Sequence[Layer],
            label_layers: Sequence[str], bounds: tuple[float, float, float, float],
            data_type: str = "vector", styles_href: str | None = None) -> dict[str, Any]:
    """Tileset metadata at `path` (…/tiles/{tms}): grid, limits over the data, layers,
    attribution and the links to the tile template, the TMS, TileJSON and styles."""
    media = MVT if data_type == "vector" else "image/png"
    levels = range(grid.levels[0], MAX_LEVEL + 1)
    links = [
        _json(path, "self", f"{title} ({grid.id})"),
        _json(f"{root}/tileMatrixSets/{grid.id}", REL + "tiling-scheme", grid.tms.title),
        {"href": f"{path}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}", "rel": "item", "type": media,
         "templated": True, "title": f"{title} tiles"},
    ]
    if data_type == "vector":
        links.append(_json(f"{path}?f=tilejson", "alternate", "TileJSON",
                           "application/vnd.mapbox.tile+json"))
    if styles_href:
        links.append(_json(styles_href, REL + "styles", "Styles 样式"))
    doc: dict[str, Any] = {
        "title": f"{title} ({grid.id})",
        "dataType": data_type,
        "crs": grid.crs_uri,
        "tileMatrixSetURI": grid.uri,
        "tileMatrixSetLimits": grid.limits(bounds, levels),
        "boundingBox": {"lowerLeft": list(bounds[:2]), "upperRight": list(bounds[2:]),
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "attribution": "; ".join(provenance_text(layer.provenance, layer.title_zh)
                                 for layer in layers),
        "links": links,
    }
    if data_type == "vector":
        doc["layers"] = [{
            "id": layer.id, "title": layer.title, "dataType": "vector",
            "geometryDimension": _dimension(layer.geometry_type),
            "propertiesSchema": {"type": "object", "properties": {
                name: {"description": text} for name, text in layer.fields.items()}},
        } for layer in layers] + [{
            "id": name, "title": f"{name} (label points 注记点)", "dataType": "vector",
            "geometryDimension": 0,
        } for name in label_layers]
    return doc


def _dimension(geometry_type: str) -> int:
    name = geometry_type.removeprefix("Multi")
    return {"Point": 0, "LineString": 1, "Polygon": 2}.get(name, 2)


def raster_collection(base: str, layer: Layer, bounds: tuple[float, float, float, float]
                      ) -> dict[str, Any]:
    """/collections/{raster}: a raster as an OGC API collection of map tiles (PNG), so
    clients that start from a collection (GDAL's `OGCAPI:` driver) find its tilesets."""
    path = f"{base}/collections/{layer.id}"
    prov = layer.provenance
    return {
        "id": layer.id, "title": layer.title, "itemType": "map",
        "description": prov.note or layer.title,
        "extent": {"spatial": {"bbox": [list(bounds)],
                               "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
        "attribution": provenance_text(prov, layer.title_zh),
        "provenance": {"source": prov.source, "license": prov.license,
                       "crs_of_origin": prov.crs_of_origin, "illustrative": prov.illustrative,
                       "note": prov.note},
        "links": [_json(path, "self", layer.title),
                  _json(f"{path}/tiles", REL + "tilesets-map", f"{layer.title} map tiles")],
    }
