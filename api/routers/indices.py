"""Composite indices (综合指数) and the census join report over HTTP.

`POST /indices` computes an index from an indicator-system table (and an optional peer-group
table) over the store's indicators; a dry run by default, saving (the composite and domain
sub-indices become indicators) needs an API key. `GET /indices/demo` is the census
demonstration (方法演示); `GET /indicators/census/report` says how the shipped census figures
matched today's polygons.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import store_of
from layers import census

router = APIRouter(tags=["indices"])


@router.get("/indicators/census/report")
def census_report(request: Request, layer: str = "counties") -> JSONResponse:
    """The census join per year: matched, joined under a new code, outside this store's
    region, and every unit that does not match today's polygons, with the reason."""
    store = store_of(request)
    polygons = set(store.frame(layer).index) if layer in {x.id for x in store.layers()} \
        else set()
    return JSONResponse({**census.join_report(polygons), "layer": layer})
