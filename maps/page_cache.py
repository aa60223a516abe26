"""Rendered map pages, kept once per version of the store's layers.

A Folium page takes 0.1–0.25 s to build; it depends only on the layers it draws and the
request's query, so it is rendered once per (page key, layer versions) rather than per request.
Callers pass the key parts (e.g. path, root path, query string); no web framework here.
"""

from __future__ import annotations

from typing import Callable, Hashable

from layers.store import Store

MAX_PAGES = 64


class PageCache:
    """Up to `max_pages` rendered pages; the oldest is dropped first."""

    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self._pages: dict[tuple, str] = {}

    def page(self, store: Store, key: tuple[Hashable, ...], build: Callable[[], str]) -> str:
        """`build()`'s HTML for `key`, reused while no layer in `store` has changed."""
        versions = tuple((layer.id, store.version(layer.id)) for layer in store.layers())
        full_key = (store, *key, versions)
        page = self._pages.get(full_key)
        if page is None:
            if len(self._pages) >= self.max_pages:
                self._pages.pop(next(iter(self._pages)))
            page = self._pages[full_key] = build()
        return page


PAGES = PageCache()  # one per process, as the app's store is


def rendered_page(store: Store, key: tuple[Hashable, ...], build: Callable[[], str]) -> str:
    """`build()`'s HTML from the process-wide cache (see PageCache.page)."""
    return PAGES.page(store, key, build)
