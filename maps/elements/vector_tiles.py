"""A layer drawn from our MVT tiles (/tiles/{layer}/{z}/{x}/{y}.mvt) with Leaflet.VectorGrid
(npm, served from /static/vendor) and `Atlas.vectorTiles` (static/js/atlas.js): hover
tooltips and highlight like folium's GeoJson layers, or class colours and fact-sheet popups."""

from __future__ import annotations

from folium.map import Layer
from folium.template import Template

from maps.elements.assets import ATLAS_JS, StaticAssets

VECTORGRID_JS = ("leaflet_vectorgrid", "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js")


def tile_url(root: str, layer_id: str, fields: list[str]) -> str:
    """The layer's MVT URL template under `root`, carrying only `fields` as properties."""
    return f"{root}/tiles/{layer_id}/{{z}}/{{x}}/{{y}}.mvt?properties={','.join(fields)}"


class VectorTileLayer(StaticAssets, Layer):
    """`L.vectorGrid.protobuf` over `url`, listed in the layer control as `name`.

    `style` is a Leaflet path style (points take its "radius", px). Either `palette` colours
    fills by numeric id (`id_field`) with `tooltip` rows of (field, alias) and an optional
    `highlight` style, or `classes` ({id: [colour, figure, source]}, a choropleth) colours by
    class, with `no_data` for the rest and popups titled `title` linking under `root`.
    """

    static_js = [VECTORGRID_JS, ATLAS_JS]
    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = Atlas.vectorTiles({{ this._parent.get_name() }},
            {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, url: str, layer_id: str, name: str, *, style: dict,
                 id_field: str = "code", palette: list[str] | None = None,
                 highlight: dict | None = None, tooltip: list[tuple[str, str]] = (),
                 classes: dict[str, list] | None = None, no_data: str | None = None,
                 title: str = "", root: str = "", max_native_zoom: int = 14,
                 show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "VectorTileLayer"
        self.url, self.layer_id = url, layer_id
        self.options = {"url": url, "layerId": layer_id, "idField": id_field, "style": style,
                        "maxNativeZoom": max_native_zoom, "palette": palette or [],
                        "highlight": highlight or {}, "tooltip": [list(r) for r in tooltip]}
        if classes is not None:
            self.options.update(classes=classes, noData=no_data, title=title, root=root)
