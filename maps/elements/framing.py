"""The offline map frame: Leaflet from our /static/vendor, no basemap by default, an optional
OpenStreetMap layer (the only remote URL a page may load, and only when chosen)."""

from __future__ import annotations

from typing import ClassVar

import folium

from maps.elements.assets import MAP_CSS, StaticAssets

Bounds = tuple[float, float, float, float]  # west, south, east, north (degrees, WGS 84)
HUZHOU_BOUNDS: Bounds = (119, 30, 121, 31)  # fallback when a store has nothing to frame


class AtlasMap(StaticAssets, folium.Map):
    """A folium.Map whose Leaflet JS/CSS come from our /static/vendor, not from CDNs.

    jQuery, Bootstrap, Font Awesome and awesome-markers are dropped: the pages use no folium
    popups (they need jQuery), icons or Bootstrap markup.
    """

    default_js: ClassVar[list] = []
    default_css: ClassVar[list] = []
    static_js = [("leaflet", "vendor/leaflet/leaflet.js")]
    static_css = [("leaflet_css", "vendor/leaflet/leaflet.css"), MAP_CSS]

    def __init__(self, static_url: str, **kwargs) -> None:
        self.static_url = static_url  # read by every element drawn on this map
        super().__init__(**kwargs)

    @classmethod
    def framing(cls, static_url: str, bounds: Bounds, title: str, zoom_start: int = 9,
                basemaps: bool = True) -> "AtlasMap":
        """A map centred on `bounds` with a scale bar, no tiles and the page `title`.

        With `basemaps`, the layer control offers "no basemap" (the offline default) and an
        optional OpenStreetMap layer, off until chosen.
        """
        west, south, east, north = bounds
        fmap = cls(static_url, location=[(south + north) / 2, (west + east) / 2],
                   zoom_start=zoom_start, tiles=None, control_scale=True)
        fmap.frame_bounds = bounds
        fmap.get_root().title = f"{title} · 共富图集 Gongfu Atlas"
        if basemaps:
            folium.FeatureGroup(name="无底图 No basemap", overlay=False, control=True).add_to(fmap)
            folium.TileLayer("OpenStreetMap", name="OpenStreetMap（需联网 online）",
                             overlay=False, show=False, control=True).add_to(fmap)
        return fmap

    def fit(self, padding: int = 10) -> "AtlasMap":
        """Fit the view to the framed bounds (`padding` in px)."""
        west, south, east, north = self.frame_bounds
        self.fit_bounds([[south, west], [north, east]], padding=(padding, padding))
        return self
