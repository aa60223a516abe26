"""Downloads of a layer in GeoJSON, GeoPackage, Shapefile (zip), KML, CSV or Excel (XLSX).

`GET /collections/{id}/download?format=…&crs=…&encoding=…`, optionally narrowed with the
items query's `bbox`/`bbox-crs`, `properties` and attribute filters, or to one county
(`county=330523`: the features intersecting that county's polygon). GeoJSON is streamed as
it is encoded (geo.geojson_file: the first slice is encoded before the response starts, so
bad input is still a clean JSON error); the other formats are written completely by GDAL
(geo.vector_io) before the response starts, then sent from the temporary file in blocks.
"""

from __future__ import annotations

import numpy as np
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from api.deps import services_of, store_of
from geopandas import GeoDataFrame

from api.query import ItemsQuery
from api.streaming import streamed
from geo.geojson_file import geojson_file
from geo.errors import UnknownChoice
from geo.vector_io import ENCODINGS, FORMATS, resolve_encoding, resolve_format, stream_vector
from layers.model import Layer
from layers.store import Store

router = APIRouter()

DOWNLOAD_PARAMS = ("format", "encoding", "crs", "bbox", "bbox-crs", "properties", "county")


@router.get("/collections/{collection_id}/download")
def download(
    request: Request,
    collection_id: str,
    # Plain strings, validated by geo.vector_io so that every error is the bilingual one.
    format_key: str = Query("geojson", alias="format",
                            description=f"One of: {', '.join(FORMATS)}"),
    encoding_key: str = Query("utf-8", alias="encoding",
                              description=f"One of: {', '.join(ENCODINGS)} (gbk: shp, csv)"),
    # Declared for the OpenAPI document; ItemsQuery parses it (with bbox-crs).
    crs: str | None = Query(None, description="Output CRS, e.g. EPSG:4549 or GCJ-02 "
                            "(KML: WGS 84 only)"),
    county: str | None = Query(None, description="6-digit county code: only the features "
                               "intersecting that county (区县范围)"),
) -> Response:
    """The whole layer (or the features matching bbox/filters) as one file."""
    store: Store = store_of(request)
    layer = store.layer(collection_id)
    fmt = resolve_format(format_key)
    text_encoding = resolve_encoding(encoding_key)
    # Items-query parsing gives bbox, bbox-crs, properties and filters the same meaning and
    # errors as on /items; paging does not apply, so the limits passed are unused.
    query = ItemsQuery.parse(request.query_params, layer, 1, 1, allow=DOWNLOAD_PARAMS)
    outline = None if county is None else county_outline(store, county)
    page = store.features(layer.id, bbox=query.bbox_wgs84, filters=query.filters)
    features = page.features
    if outline is not None:
        features = _in_county(features, outline, county)
    frame = features[[*_columns(features, layer, query), features.geometry.name]]
    geometry_type = None if layer.geometry_type == "None" else layer.geometry_type
    if fmt.key == "geojson":  # streamed: starts at once, memory bounded by a slice
        cache = services_of(request).geometry_texts.section(
            (layer.id, store.version(layer.id), query.crs.key, "east first"))
        filename, chunks = geojson_file(frame, name=layer.id, geometry_type=geometry_type,
                                        crs=query.crs, encoding=text_encoding,
                                        description=_description(layer), cache=cache)
        return streamed(request, chunks, fmt.media_type, headers={
            "Content-Disposition": f'attachment; filename="{filename}"'})
    result, blocks = stream_vector(
        frame,
        name=layer.id,
        geometry_type=geometry_type,
        fmt=fmt,
        crs=query.crs,
        encoding=text_encoding,
        description=_description(layer),
    )
    # No Content-Crs header: it would imply the CRS's authority axis order, and files are
    # east-first. Zips (shapefile, XLSX) are compressed already: not gzipped by us.
    headers = {"Content-Disposition": f'attachment; filename="{result.filename}"'}
    return streamed(request, blocks, result.media_type, headers=headers,
                    compress=fmt.key not in ("shp", "xlsx"))


def county_outline(store: Store, code: str) -> shapely.Geometry:
    """The polygon of county `code` from the counties layer (UnknownChoice if none)."""
    counties = store.frame("counties") if any(
        layer.id == "counties" for layer in store.layers()) else None
    codes = [] if counties is None else [str(c) for c in counties["code"]]
    if code not in codes:
        raise UnknownChoice("county", code, codes)
    return counties.geometry.iloc[codes.index(code)]


def _in_county(features: GeoDataFrame, outline: shapely.Geometry, code: str) -> GeoDataFrame:
    """Features intersecting the county (neighbours that only share its border are left
    out); rows without geometry (villages, townships without a seat point) by their
    county_code column."""
    geoms = features.geometry.to_numpy()
    shapely.prepare(outline)
    keep = np.asarray(shapely.intersects(outline, geoms) & ~shapely.touches(outline, geoms),
                      dtype=bool)
    missing = np.asarray(shapely.is_missing(geoms) | shapely.is_empty(geoms), dtype=bool)
    if missing.any() and "county_code" in features:
        same = features["county_code"].astype("string").fillna("").to_numpy() == code
        keep |= missing & same
    return features[keep]


def _columns(frame: GeoDataFrame, layer: Layer, query: ItemsQuery) -> list[str]:
    """Requested properties, else the layer's fields in the stored column order."""
    if query.properties is not None:
        return list(query.properties)
    known = set(layer.fields) or set(frame.columns)
    return [c for c in frame.columns if c in known and c != frame.geometry.name]


def _description(layer: Layer) -> str:
    """Title, description and provenance: what travels with every downloaded file."""
    prov = layer.provenance
    lines = [layer.title, layer.description,
             f"来源 Source: {prov.source}; 许可 License: {prov.license}"]
    if prov.attribution:
        lines.append(f"署名 Attribution: {prov.attribution}")
    if prov.illustrative:
        lines.append("演示/派生数据，非官方成果 Illustrative (derived) data, not an official product.")
    if prov.note:
        lines.append(prov.note)
    return "\n".join(line for line in lines if line)
