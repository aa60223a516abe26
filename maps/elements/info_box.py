"""The info box: a Leaflet control holding a page's title, legend, lists and forms."""

from __future__ import annotations

from branca.element import MacroElement
from folium.template import Template
from markupsafe import Markup

from maps.elements.assets import ATLAS_JS, MAP_CSS, StaticAssets
from maps.elements.fragment import Fragment


class InfoBox(StaticAssets, MacroElement):
    """A control (`Atlas.infoBox`) showing `parts` one after another: fragments (Legend,
    UnplacedList, ChoroplethForm…) or our own fixed `Markup`. Styled by static/map.css."""

    static_js = [ATLAS_JS]
    static_css = [MAP_CSS]
    _template = Template("""
        {% macro script(this, kwargs) %}
        Atlas.infoBox({{ this._parent.get_name() }}, {{ this.html|tojson }},
                      {{ this.position|tojson }});
        {% endmacro %}
    """)

    def __init__(self, *parts: Fragment | Markup, position: str = "topleft") -> None:
        super().__init__()
        self._name = "InfoBox"
        self.parts = parts
        self.position = position

    @property
    def html(self) -> str:
        return "".join(str(part.html() if isinstance(part, Fragment) else part)
                       for part in self.parts)
