"""A store layer on a map, inline or tiled: the one place that chooses between GeoJSON in
the page (small layers) and our MVT tiles (layers above the map's feature-count threshold,
so the page stays small however large the layer is)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import folium
import geopandas as gpd
from folium.map import Layer

from maps.elements.vector_tiles import VectorTileLayer, tile_url


def tiled(count: int, threshold: int | None) -> bool:
    """Whether a layer of `count` features comes from tiles (`threshold` None: never)."""
    return threshold is not None and count > threshold


@dataclass(frozen=True)
class Look:
    """How a layer is drawn and labelled, either way.

    `style` is a Leaflet path style; with `points` features are circle markers of
    style["radius"] px. `palette` fills by feature id; `tooltip` rows are (field, alias).
    """

    style: dict
    tooltip: list[tuple[str, str]] = field(default_factory=list)
    highlight: dict | None = None
    palette: list[str] = field(default_factory=list)
    points: bool = False
    localize: bool = False  # inline tooltips: numbers with the locale's separators
    sticky: bool = False  # inline tooltips follow the pointer
    inline_tooltip: bool = True  # False: tooltips on tiles only (hover needs them there)


def inline_layer(frame: gpd.GeoDataFrame, name: str, look: Look,
                 id_field: str = "code") -> folium.GeoJson:
    """The features as folium GeoJSON in the page. A palette colours by rank of sorted id."""
    colours = {code: look.palette[i % len(look.palette)]
               for i, code in enumerate(sorted(frame[id_field]))} if look.palette else {}
    style = dict(look.style)
    kwargs: dict = {}
    if look.points:
        kwargs["marker"] = folium.CircleMarker(
            radius=style.pop("radius"), color=style.pop("color"), weight=style.pop("weight"),
            fill=style.pop("fill", True), fill_color=style.pop("fillColor"),
            fill_opacity=style.pop("fillOpacity"))
    if look.highlight:
        kwargs["highlight_function"] = lambda f: look.highlight
    if look.tooltip and look.inline_tooltip:
        fields, aliases = zip(*look.tooltip)
        kwargs["tooltip"] = folium.GeoJsonTooltip(fields=list(fields), aliases=list(aliases),
                                                  localize=look.localize, sticky=look.sticky)

    def style_function(feature: dict) -> dict:
        if not colours:
            return style
        return {**style, "fillColor": colours[feature["properties"][id_field]]}

    return folium.GeoJson(frame, name=name, style_function=style_function, **kwargs)


def feature_layer(frame: gpd.GeoDataFrame, layer_id: str, name: str, look: Look, *,
                  root: str, threshold: int | None, id_field: str = "code",
                  inline: Callable[[], Layer] | None = None,
                  tiles: Callable[[str], Layer] | None = None) -> Layer:
    """`frame` (the layer's features with geometry) as a map layer named `name`.

    Above `threshold` features: our tiles under `root` (properties: the id and the tooltip
    fields), else inline GeoJSON. `inline()` / `tiles(url)` replace the default builders
    for layers drawn differently (e.g. choropleth classes) but chosen by the same rule.
    """
    fields = [id_field] + [f for f, _ in look.tooltip if f != id_field]
    if tiled(len(frame), threshold):
        url = tile_url(root, layer_id, fields)
        if tiles is not None:
            return tiles(url)
        return VectorTileLayer(url, layer_id, name, style=look.style, id_field=id_field,
                               palette=look.palette, highlight=look.highlight,
                               tooltip=look.tooltip)
    if inline is not None:
        return inline()
    return inline_layer(frame, name, look, id_field)
