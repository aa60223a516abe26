"""A Folium layer drawn from our MVT tiles with Leaflet.VectorGrid (npm, served from
/static/vendor), with hover tooltips and highlight like folium's GeoJson layers.

Maps use it instead of inline GeoJSON once a layer has more features than
`Settings.map_tiles_threshold`: the page then stays small however large the layer is.
"""

from __future__ import annotations

from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template


class VectorTileLayer(JSCSSMixin, Layer):
    """`L.vectorGrid.protobuf` over /tiles/{layer}/{z}/{x}/{y}.mvt.

    `style` is a Leaflet path style; `palette` (optional) colours each feature's fill by its
    numeric id (`id_field`), as the GeoJSON county layer does. `point_radius` > 0 draws points.
    Tooltip rows are (`field`, `alias`) pairs; numbers are shown with the locale's separators.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var palette = {{ this.palette|tojson }};
            var base = {{ this.style|tojson }};
            var highlight = {{ this.highlight|tojson }};
            var idField = {{ this.id_field|tojson }};
            function style(properties) {
                var s = Object.assign({}, base);
                if (palette.length) {
                    var n = parseInt(properties[idField], 10) || 0;
                    s.fillColor = palette[n % palette.length];
                }
                return s;
            }
            var styles = {};
            styles[{{ this.layer_id|tojson }}] = style;
            var layer = L.vectorGrid.protobuf({{ this.url|tojson }}, {
                rendererFactory: L.svg.tile,
                interactive: true,
                maxNativeZoom: {{ this.max_native_zoom }},
                vectorTileLayerStyles: styles,
                getFeatureId: function (f) { return f.properties[idField]; }
            });
            var rows = {{ this.tooltip|tojson }};
            var tip = null;
            function content(p) {
                var html = '<table class="atlas-vt-tooltip">';
                rows.forEach(function (row) {
                    var v = p[row[0]];
                    if (v === undefined || v === null) { return; }
                    if (typeof v === "number") { v = v.toLocaleString(); }
                    var th = document.createElement("th"); th.textContent = row[1];
                    var td = document.createElement("td"); td.textContent = String(v);
                    html += "<tr>" + th.outerHTML + td.outerHTML + "</tr>";
                });
                return html + "</table>";
            }
            layer.on("mouseover", function (e) {
                var map = {{ this._parent.get_name() }};
                if (tip) { map.closeTooltip(tip); }
                tip = L.tooltip({sticky: true}).setLatLng(e.latlng)
                    .setContent(content(e.layer.properties)).addTo(map);
                if (Object.keys(highlight).length) {
                    layer.setFeatureStyle(e.layer.properties[idField],
                        Object.assign(style(e.layer.properties), highlight));
                }
            });
            layer.on("mousemove", function (e) { if (tip) { tip.setLatLng(e.latlng); } });
            layer.on("mouseout", function (e) {
                if (tip) { {{ this._parent.get_name() }}.closeTooltip(tip); tip = null; }
                if (Object.keys(highlight).length) {
                    layer.resetFeatureStyle(e.layer.properties[idField]);
                }
            });
            return layer;
        })();
        {% endmacro %}
    """)

    def __init__(self, url: str, layer_id: str, name: str, static_url: str, *,
                 style: dict, id_field: str = "code", palette: list[str] | None = None,
                 highlight: dict | None = None, tooltip: list[tuple[str, str]] = (),
                 max_native_zoom: int = 14, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "VectorTileLayer"
        self.url, self.layer_id, self.style, self.id_field = url, layer_id, style, id_field
        self.palette = palette or []
        self.highlight = highlight or {}
        self.tooltip = [list(row) for row in tooltip]
        self.max_native_zoom = max_native_zoom
        self.default_js = [("leaflet_vectorgrid",
                            f"{static_url}/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js")]
