"""Folium plugins pointed at our npm copies under /static/vendor instead of jsDelivr."""

from __future__ import annotations

from typing import ClassVar

from folium.plugins import AntPath as _AntPath
from folium.plugins import PolyLineTextPath as _PolyLineTextPath

from maps.elements.assets import StaticAssets


class AntPath(StaticAssets, _AntPath):
    """folium's AntPath (animated direction) with npm leaflet-ant-path."""

    default_js: ClassVar[list] = []
    static_js = [("antpath", "vendor/leaflet-ant-path/leaflet-ant-path.js")]


class PolyLineTextPath(StaticAssets, _PolyLineTextPath):
    """folium's PolyLineTextPath (text along a line) with npm leaflet-textpath."""

    default_js: ClassVar[list] = []
    static_js = [("polylinetextpath", "vendor/leaflet-textpath/leaflet.textpath.js")]
