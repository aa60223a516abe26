"""The OpenAPI document at /openapi.json: OpenAPI 3.0 (as /conformance declares, class oas30),
with every OGC API items parameter declared with its limits, per collection.

FastAPI writes OpenAPI 3.1 (JSON Schema 2020-12 from pydantic); `to_openapi30` rewrites the few
3.1-only constructs it emits into their 3.0 forms. Then the OGC parts are added: the items
parameters as components (GDAL reads `limit`'s maximum and default to choose its page size,
QGIS reads which parameters exist), and one path per collection (`/collections/counties/items`
with the collection's own attribute filters), as the OGC example "each collection explicitly"
does and as GDAL and the `ogctests` suite look parameters up. The document is rebuilt only when a
layer or its version changes.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.query import COLLECTIONS_LIMIT
from api.settings import Settings
from geo.crs import SUPPORTED
from layers.model import Layer
from layers.store import Store

OPENAPI_VERSION = "3.0.3"
MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
ITEMS_PATH = "/collections/{collection_id}/items"
_REF = "#/components/parameters/"


def items_parameters(settings: Settings) -> dict[str, dict[str, Any]]:
    """The OGC API items query parameters as OpenAPI 3.0 Parameter objects, by name (the
    schemas OGC API Features Part 1 and 2 give, with this server's limits)."""
    crs_uris = [choice.uri for choice in SUPPORTED]

    def query(name: str, description: str, schema: dict, **more: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description,
                "schema": schema, "style": "form", "explode": False, **more}

    return {
        "f": query("f", "返回格式 Response format: json (GeoJSON) or html",
                   {"type": "string", "enum": ["json", "html"], "default": "json"}),
        "limit": query("limit", "每页要素数 Features per page. Above the maximum it is capped "
                       "to the maximum (not refused).",
                       {"type": "integer", "minimum": 1, "maximum": settings.max_limit,
                        "default": settings.default_limit}),
        "offset": query("offset", "跳过的要素数 Features to skip (paging; the next link "
                        "carries it)", {"type": "integer", "minimum": 0, "default": 0}),
        "bbox": query("bbox", "范围 Only features intersecting minx,miny,maxx,maxy (in "
                      "bbox-crs, default CRS84 lon/lat); features without geometry match too",
                      {"type": "array", "minItems": 4, "maxItems": 6,
                       "items": {"type": "number"}}),
        "bbox-crs": query("bbox-crs", "bbox 的坐标系 CRS of bbox (OGC API Features Part 2)",
                          {"type": "string", "format": "uri", "enum": crs_uris,
                           "default": crs_uris[0]}),
        "crs": query("crs", "输出坐标系 CRS of the returned geometries (Part 2)",
                     {"type": "string", "format": "uri", "enum": crs_uris,
                      "default": crs_uris[0]}),
        "datetime": query("datetime", "时间 An RFC 3339 instant or interval (a/b, ../b, a/..)"
                          " matched against the collection's date field (calendar days, "
                          "UTC+8); accepted and ignored by collections without time",
                          {"type": "string"}),
        "properties": query("properties", "只返回这些属性 Comma-separated attributes to return",
                            {"type": "array", "items": {"type": "string"}}),
        # Part 3 (api/filters.py): names are checked against /collections/{id}/queryables
        "filter": query("filter", "筛选 A CQL2 filter on the queryables, e.g. "
                        "name LIKE '安吉%'", {"type": "string"}),
        "filter-lang": query("filter-lang", "筛选语言 Language of filter",
                             {"type": "string", "enum": ["cql2-text", "cql2-json"],
                              "default": "cql2-text"}),
        "filter-crs": query("filter-crs", "filter 中几何的坐标系 CRS of filter geometries",
                            {"type": "string", "format": "uri", "enum": crs_uris,
                             "default": crs_uris[0]}),
        "sortby": query("sortby", "排序 Sort keys: name, +name or -name, comma-separated",
                        {"type": "array", "items": {"type": "string"}}),
    }


def to_openapi30(node: Any) -> Any:
    """A copy of a FastAPI (OpenAPI 3.1 / JSON Schema 2020-12) fragment in OpenAPI 3.0 form:
    `anyOf [X, null]` → X with `nullable`, list `examples` → `example`, `const` → `enum`,
    numeric exclusive bounds → boolean ones, `contentMediaType` → `format: binary`."""
    if isinstance(node, list):
        return [to_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_openapi30(value) for key, value in node.items()}
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del out[key]
            if len(rest) == 1:
                out = {**rest[0], **out}
            else:
                out[key] = rest
            out["nullable"] = True
    if isinstance(out.get("type"), list):
        kinds = [k for k in out["type"] if k != "null"]
        if len(kinds) < len(out["type"]):
            out["nullable"] = True
        out["type"] = kinds[0] if kinds else "string"
    if isinstance(out.get("examples"), list):
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), (int, float)) and not isinstance(out[bound], bool):
            out[plain] = out[bound]
            out[bound] = True
    if "contentMediaType" in out:
        del out["contentMediaType"]
        out["format"] = "binary"
    out.pop("contentEncoding", None)
    return out


def _collection_paths(layer: Layer, generic: dict[str, Any]) -> dict[str, dict]:
    """One collection's own paths from the generic ones, with the path parameter fixed and,
    on items, the layer's attributes declared as equality filters."""
    paths = {}
    for template, operation in generic.items():
        op = copy.deepcopy(operation)
        op["parameters"] = [p for p in op.get("parameters", [])
                            if p.get("name") != "collection_id"]
        op["operationId"] = f"{op.get('operationId', 'op')}_{layer.id}"
        op["summary"] = f"{op.get('summary', '')} – {layer.title}".strip(" –")
        op["tags"] = ["collection: " + layer.id]
        if template == ITEMS_PATH:
            op["parameters"] += [
                {"name": name, "in": "query", "required": False, "style": "form",
                 "explode": False, "description": f"{description}（等于 equals）",
                 "schema": {"type": "string"}}
                for name, description in layer.fields.items()
            ]
        paths[template.replace("{collection_id}", layer.id)] = {"get": op}
    return paths


class OpenAPIDocument:
    """The app's OpenAPI 3.0 document, rebuilt when the store's layers change."""

    def __init__(self, app: FastAPI, settings: Settings, store: Store) -> None:
        self.app, self.settings, self.store = app, settings, store
        self._lock = threading.Lock()
        self._base: dict[str, Any] | None = None
        self._cached: tuple[tuple, dict[str, Any]] | None = None
        self._encoded: tuple[dict[str, Any], bytes] | None = None

    def _framework_doc(self) -> dict[str, Any]:
        """FastAPI's own document (routes, models) in 3.0 form, made once."""
        if self._base is None:
            app = self.app
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            doc = to_openapi30(doc)
            doc["openapi"] = OPENAPI_VERSION
            self._base = doc
        return self._base

    def encoded(self) -> bytes:
        """The document as UTF-8 JSON, encoded once per version of the layers."""
        doc = self.document()
        cached = self._encoded
        if cached is None or cached[0] is not doc:
            cached = (doc, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())
            self._encoded = cached
        return cached[1]

    def document(self) -> dict[str, Any]:
        layers = [layer for layer in self.store.layers() if layer.kind == "vector"]
        key = tuple((layer.id, self.store.version(layer.id)) for layer in layers)
        cached = self._cached
        if cached and cached[0] == key:
            return cached[1]
        with self._lock:
            doc = copy.deepcopy(self._framework_doc())
            params = items_parameters(self.settings)
            doc.setdefault("components", {})["parameters"] = params
            items = doc["paths"].get(ITEMS_PATH, {}).get("get")
            if items is not None:
                items["parameters"] = [p for p in items.get("parameters", [])
                                       if p.get("in") == "path"]
                items["parameters"] += [{"$ref": _REF + name} for name in params]
                items["description"] = (
                    "要素 Features of a collection, paged. Attributes of the collection may be "
                    "given as equality filters (name=value); each collection's own path "
                    "below lists them.")
                items["responses"]["200"]["content"] = {
                    "application/geo+json": {"schema": {"type": "object"}},
                    "text/html": {"schema": {"type": "string"}}}
            # the items path only: what GDAL (limit) and QGIS (parameters) look up per
            # collection; the others stay generic
            generic = {ITEMS_PATH: items} if items is not None else {}
            listing = doc["paths"].get("/collections", {}).get("get")
            if listing is not None:  # parsed by the route itself, so declared here
                listing["parameters"] = [
                    {**params["f"]},
                    {**params["limit"], "schema": {"type": "integer", "minimum": 1,
                                                   "maximum": COLLECTIONS_LIMIT,
                                                   "default": COLLECTIONS_LIMIT}},
                    {**params["offset"]},
                    {"name": "q", "in": "query", "required": False, "style": "form",
                     "explode": False, "description": "检索 Text in the id or the titles",
                     "schema": {"type": "string", "maxLength": 200}}]
            for layer in layers:
                doc["paths"].update(_collection_paths(layer, generic))
            self._cached = (key, doc)
        return doc
