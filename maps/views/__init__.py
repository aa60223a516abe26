"""One module per map page. A view is a plain function of the store, layers, rasters, query
parameters and base path it needs; it returns the folium map (`build_*`) or its HTML. Views
import only geo/, layers/ and maps/ — never the web layer."""

from __future__ import annotations

import folium


def render(fmap: folium.Map) -> str:
    """The whole HTML page of `fmap`."""
    return fmap.get_root().render()
