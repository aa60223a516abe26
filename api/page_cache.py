"""Rendered map pages, kept once per version of the store's layers.

A Folium page takes 0.1–0.25 s to build; it depends only on the layers it draws and the
request's query, so it is rendered once per (query, layer versions) rather than per request.
"""

from __future__ import annotations

from typing import Callable

from fastapi import Request

_MAX_PAGES = 64
_pages: dict[tuple, str] = {}


def rendered_page(request: Request, build: Callable[[], str]) -> str:
    """`build()`'s HTML for this request, reused while no layer in the store has changed."""
    store = request.app.state.store
    versions = tuple((layer.id, store.version(layer.id)) for layer in store.layers())
    key = (store, request.url.path, request.scope.get("root_path", ""),
           str(request.query_params), versions)
    page = _pages.get(key)
    if page is None:
        if len(_pages) >= _MAX_PAGES:
            _pages.pop(next(iter(_pages)))  # oldest first
        page = _pages[key] = build()
    return page
