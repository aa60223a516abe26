"""OGC API Features Part 4 (create, replace, update, delete) over HTTP; the rules live in
layers/editing.py.

- Shared planner layers (`editable`, e.g. `planning_sketches`): `POST
  /collections/{id}/items`, `PUT|PATCH|DELETE /collections/{id}/items/{fid}`, with an API key
  (`Authorization: Bearer`, GONGFU_API_KEYS). Other layers answer 403 (read-only).
- A planner's uploads, with the upload's token: the same verbs under
  `/uploads/{upload}/layers/{layer}/items`, plus `GET …/items/{fid}` for the ETag.

Writes need `If-Match` with the ETag from a GET of the item (428 without, 412 when stale);
answers carry the feature as stored and its new ETag. `Content-Crs: <uri>` gives the CRS of
incoming geometry (default CRS84).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.deps import PRIVATE, owner_of, require_api_key, store_of, uploads_of
from geo import geojson
from geo.errors import InvalidData, PayloadTooLarge
from layers import editing
from layers.editing import Target
from layers.store import FeatureRow, find_layer, row_of

router = APIRouter(tags=["editing"])
GEOJSON = "application/geo+json"
MAX_BODY = 16 * 2**20  # one feature; larger bodies are refused before parsing

# The body and headers each verb takes, for the OpenAPI document (the body is read raw so
# that a malformed one gets our bilingual 422, not the framework's).
_FEATURE = {"type": "object", "required": ["type", "geometry"], "properties": {
    "type": {"type": "string", "enum": ["Feature"]},
    "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    "geometry": {"type": "object", "description": "GeoJSON geometry in the Content-Crs"},
    "properties": {"type": "object"}}}
_CONTENT_CRS = {"name": "Content-Crs", "in": "header", "required": False,
                "schema": {"type": "string"}, "description": "CRS of the geometry, e.g. "
                "<http://www.opengis.net/def/crs/EPSG/0/4549>; default CRS84"}
_IF_MATCH = {"name": "If-Match", "in": "header", "required": True, "schema": {
    "type": "string"}, "description": "The ETag from GET of the item (428 without, 412 stale)"}


def _doc(body: dict | None, *headers: dict) -> dict:
    extra: dict = {"parameters": list(headers)}
    if body is not None:
        media = "application/merge-patch+json" if body is not _FEATURE else GEOJSON
        extra["requestBody"] = {"required": True, "content": {media: {"schema": body}}}
    return extra


_CREATE = _doc(_FEATURE, _CONTENT_CRS)
_REPLACE = _doc(_FEATURE, _CONTENT_CRS, _IF_MATCH)
_UPDATE = _doc({"type": "object", "description": "JSON merge patch: properties and/or "
                "geometry"}, _CONTENT_CRS, _IF_MATCH)
_DELETE = _doc(None, _IF_MATCH)


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge("要素过大（上限 16 MB）。", "Feature too large (limit 16 MB).")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidData("请求体不是有效的 JSON。", "The body is not valid JSON.") from None


def _crs(request: Request):
    return editing.content_crs(request.headers.get("content-crs"))


def _answer(target: Target, row: FeatureRow, href: str, status: int = 200,
            private: bool = False) -> JSONResponse:
    """The feature as stored (CRS84 GeoJSON) with its ETag (and Location for a create)."""
    layer = target.layer
    fid = str(row.properties[layer.id_field])
    frame = target.store.feature(layer.id, fid)
    names = [c for c in frame.columns if c != frame.geometry.name]
    feature = geojson.features(frame, frame.geometry.to_numpy(), names, 7)[0]
    feature["links"] = [{"href": href, "rel": "self", "type": GEOJSON}]
    headers = {"ETag": editing.etag(row), "Content-Crs": "<http://www.opengis.net/def/crs/OGC/"
               "1.3/CRS84>", **(PRIVATE if private else {})}
    if status == 201:
        headers["Location"] = href
    return JSONResponse(feature, status_code=status, media_type=GEOJSON, headers=headers)


# --- shared planner layers (API key) --------------------------------------------------------

def _shared(request: Request, collection_id: str) -> Target:
    require_api_key(request, "编辑共享图层", "Editing a shared layer")
    store = store_of(request)
    return Target.of(store, editing.editable(store, collection_id))


def _item_href(request: Request, collection_id: str, fid: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/collections/{collection_id}/items/{fid}"


@router.post("/collections/{collection_id}/items", status_code=201,
             openapi_extra=_CREATE)
async def create_item(request: Request, collection_id: str) -> Response:
    """Add a feature to a planner-editable layer (API key)."""
    target = _shared(request, collection_id)
    row = await asyncio.to_thread(editing.create, target, await _json(request), _crs(request))
    fid = str(row.properties[target.layer.id_field])
    return _answer(target, row, _item_href(request, collection_id, fid), status=201)


@router.put("/collections/{collection_id}/items/{feature_id}",
             openapi_extra=_REPLACE)
async def replace_item(request: Request, collection_id: str, feature_id: str) -> Response:
    """Replace a feature of a planner-editable layer (API key, If-Match)."""
    target = _shared(request, collection_id)
    row = await asyncio.to_thread(editing.replace, target, feature_id, await _json(request),
                                  request.headers.get("if-match"), _crs(request))
    return _answer(target, row, _item_href(request, collection_id, feature_id))


@router.patch("/collections/{collection_id}/items/{feature_id}",
             openapi_extra=_UPDATE)
async def update_item(request: Request, collection_id: str, feature_id: str) -> Response:
    """Change some attributes and/or the geometry (JSON merge patch; API key, If-Match)."""
    target = _shared(request, collection_id)
    row = await asyncio.to_thread(editing.update, target, feature_id, await _json(request),
                                  request.headers.get("if-match"), _crs(request))
    return _answer(target, row, _item_href(request, collection_id, feature_id))


@router.delete("/collections/{collection_id}/items/{feature_id}", status_code=204,
             openapi_extra=_DELETE)
async def delete_item(request: Request, collection_id: str, feature_id: str) -> Response:
    """Remove a feature of a planner-editable layer (API key, If-Match)."""
    target = _shared(request, collection_id)
    await asyncio.to_thread(editing.delete, target, feature_id, request.headers.get("if-match"))
    return Response(status_code=204)


# --- a planner's own uploads (their token) --------------------------------------------------

def _upload_href(request: Request, upload_id: str, layer_id: str, fid: str) -> str:
    return (f"{str(request.base_url).rstrip('/')}/uploads/{upload_id}/layers/{layer_id}"
            f"/items/{fid}")


def _edit_upload(request: Request, upload_id: str, layer_id: str, fid: str | None,
                 verb, *args) -> tuple[Target, FeatureRow | None, str]:
    """Run one edit on an upload layer (owner only) and say where the feature is."""
    owner = owner_of(request, required=False)
    with uploads_of(request).editing(upload_id, owner, layer_id) as target:
        row = verb(target, *args)
    if row is not None:
        fid = str(row.properties[target.layer.id_field])
    # read back through the committed store (PostGIS uploads: the fresh local copy)
    _, store = uploads_of(request).store.layers_store(upload_id, owner)
    return Target(store, target.layer, target.kinds), row, _upload_href(
        request, upload_id, layer_id, fid or "")


@router.get("/uploads/{upload_id}/layers/{layer_id}/items/{feature_id}")
def upload_item(request: Request, upload_id: str, layer_id: str, feature_id: str) -> Response:
    """One feature of an upload layer with its ETag (owner only)."""
    record, store = uploads_of(request).store.layers_store(
        upload_id, owner_of(request, required=False))
    layer = find_layer(record.layers, layer_id)
    frame = store.feature(layer.id, feature_id)
    row = row_of(frame, feature_id)
    return _answer(Target(store, layer, {}), row,
                   _upload_href(request, upload_id, layer_id, feature_id), private=True)


@router.post("/uploads/{upload_id}/layers/{layer_id}/items", status_code=201,
             openapi_extra=_CREATE)
async def create_upload_item(request: Request, upload_id: str, layer_id: str) -> Response:
    """Add a feature to one of your uploads."""
    body, crs = await _json(request), _crs(request)
    target, row, href = await asyncio.to_thread(
        _edit_upload, request, upload_id, layer_id, None, editing.create, body, crs)
    return _answer(target, row, href, status=201, private=True)


@router.put("/uploads/{upload_id}/layers/{layer_id}/items/{feature_id}",
             openapi_extra=_REPLACE)
async def replace_upload_item(request: Request, upload_id: str, layer_id: str,
                              feature_id: str) -> Response:
    """Replace a feature of one of your uploads (If-Match)."""
    body, crs = await _json(request), _crs(request)
    target, row, href = await asyncio.to_thread(
        _edit_upload, request, upload_id, layer_id, feature_id, editing.replace, feature_id,
        body, request.headers.get("if-match"), crs)
    return _answer(target, row, href, private=True)


@router.patch("/uploads/{upload_id}/layers/{layer_id}/items/{feature_id}",
             openapi_extra=_UPDATE)
async def update_upload_item(request: Request, upload_id: str, layer_id: str,
                             feature_id: str) -> Response:
    """Change a feature of one of your uploads (JSON merge patch, If-Match)."""
    body, crs = await _json(request), _crs(request)
    target, row, href = await asyncio.to_thread(
        _edit_upload, request, upload_id, layer_id, feature_id, editing.update, feature_id,
        body, request.headers.get("if-match"), crs)
    return _answer(target, row, href, private=True)


@router.delete("/uploads/{upload_id}/layers/{layer_id}/items/{feature_id}", status_code=204,
             openapi_extra=_DELETE)
async def delete_upload_item(request: Request, upload_id: str, layer_id: str,
                             feature_id: str) -> Response:
    """Remove a feature of one of your uploads (If-Match)."""
    await asyncio.to_thread(_edit_upload, request, upload_id, layer_id, feature_id,
                            editing.delete, feature_id, request.headers.get("if-match"))
    return Response(status_code=204, headers=PRIVATE)
