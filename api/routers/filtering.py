"""OGC API Features Part 3: the queryables of each collection (what `filter` and `sortby`
may name, with types), as a JSON Schema."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.deps import store_of
from layers.filtering import queryables_schema

router = APIRouter()


@router.get("/collections/{collection_id}/queryables")
def queryables(request: Request, collection_id: str) -> Response:
    store = store_of(request)
    layer = store.layer(collection_id)
    url = f"{str(request.base_url).rstrip('/')}/collections/{layer.id}/queryables"
    body = queryables_schema(layer, store.queryables(layer.id), url)
    return JSONResponse(body, media_type="application/schema+json")
