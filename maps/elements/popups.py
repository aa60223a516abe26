"""Click popups built in the browser by static/js/atlas.js (Leaflet's own bindPopup: folium's
popups need jQuery, which the offline pages do not load)."""

from __future__ import annotations

from branca.element import MacroElement
from folium.template import Template

from maps.elements.assets import ATLAS_JS, StaticAssets


class FactSheetPopups(StaticAssets, MacroElement):
    """On an inline choropleth GeoJson layer: each place's figure, citation and a link to its
    fact sheet ({root}/places/{code}?f=html)."""

    static_js = [ATLAS_JS]
    _template = Template("""
        {% macro script(this, kwargs) %}
        Atlas.factSheetPopups({{ this._parent.get_name() }}, {{ this.title|tojson }},
                              {{ this.root|tojson }});
        {% endmacro %}
    """)

    def __init__(self, title: str, root: str) -> None:
        super().__init__()
        self._name = "FactSheetPopups"
        self.title = title
        self.root = root
