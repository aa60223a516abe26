"""The Part 3 query parameters of an items request (`filter`, `filter-lang`, `filter-crs`,
`sortby`) read into the checked filter tree and sort keys of layers/filtering.py."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from geo.crs import resolve_crs
from layers import filtering
from layers.model import Layer
from layers.store import Store

FILTER_PARAMS = ("filter", "filter-lang", "filter-crs", "sortby")


def filter_and_sort(params: QueryParams, store: Store, layer: Layer
                    ) -> tuple[filtering.Node | None, tuple[filtering.SortKey, ...]]:
    """(condition or None, sort keys) of the request; both checked against the queryables."""
    text, order = params.get("filter"), params.get("sortby")
    if text is None and order is None:
        return None, ()
    found = store.queryables(layer.id)
    where = None
    if text is not None:
        where = filtering.parse_filter(text, params.get("filter-lang"),
                                       resolve_crs(params.get("filter-crs")), found)
    return where, filtering.parse_sortby(order, found) if order is not None else ()
