"""Projects on the axes map: circle markers coloured by red/yellow/green status, popups with
the project's monthly curve (ECharts from /static/vendor, fetched from /projects/{id}/curve
when opened), and a panel with filters (status, type, county) and the warning list."""

from __future__ import annotations

from dataclasses import dataclass, field

from branca.element import MacroElement
from folium.template import Template

from maps.elements.assets import ATLAS_JS, MAP_CSS, StaticAssets
from maps.elements.fragment import Fragment

STATUS_COLOUR = {"red": "#d7191c", "yellow": "#f0a500", "green": "#1a9641"}
ECHARTS_JS = ("echarts_js", "vendor/echarts/echarts.min.js")
PROJECTS_JS = ("projects_js", "js/projects.js")


class ProjectMarkers(StaticAssets, MacroElement):
    """`features`: dicts with id, name, type, county, status, status_zh, lag, planned,
    actual, axis, invested, total, date, owner, lat, lon."""

    static_js = [ATLAS_JS, ECHARTS_JS, PROJECTS_JS]
    static_css = [MAP_CSS, ("projects_css", "projects.css")]
    _template = Template("""
        {% macro script(this, kwargs) %}
        AtlasProjects.layer({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, features: list[dict], root: str = "", scenario: str = "") -> None:
        super().__init__()
        self._name = "ProjectMarkers"
        self.options = {"features": features, "colours": STATUS_COLOUR, "root": root,
                        "scenario": scenario}


@dataclass
class ProjectPanel(Fragment):
    """Filters (status, type, county), counts, and warnings (red first, largest lag first)."""

    counts: dict[str, int]
    types: list[str]
    counties: list[str]
    warnings: list[dict] = field(default_factory=list)
    shown: int = 30
    colours: dict[str, str] = field(default_factory=lambda: dict(STATUS_COLOUR))
    template = "project_panel.html"
