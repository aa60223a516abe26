"""The 一张图 workspace's elements (the page at `/`), folium-plugin style: each a class, a
Jinja template and the JS/CSS it declares. `WorkspaceShell` lays out the page (top bar,
side panel, status bar) and carries the zh/en message catalogue; the others each start one
part of static/js/workspace.js on the map:

- `LayerCatalogue`: the 图层目录 panel fed by GET /catalogue (show/hide, opacity, legend
  swatch, zoom to, download, provenance, 演示 badge) and the identify popup on click;
- `BasemapSwitcher`: 底图 from GET /workspace/config and the 地名注记 overlay;
- `PlaceSearch`: the search box over GET /search;
- `DownloadDialog`: format, CRS, encoding and extent → a plain /collections/{id}/download link;
- `PrintExport`: links to GET /print with the visible layers and the current view.

Endpoints that are missing (404) leave their part quietly reduced, never the page broken.
"""

from __future__ import annotations

from dataclasses import dataclass

from branca.element import MacroElement
from folium.template import Template
from markupsafe import Markup

from maps.elements.assets import ATLAS_JS, StaticAssets
from maps.elements.fragment import Fragment
from maps.elements.vector_tiles import VECTORGRID_JS
from maps.messages import bilingual

WORKSPACE_JS = ("workspace_js", "js/workspace.js")
WORKSPACE_CSS = ("workspace_css", "css/workspace.css")


def back_to_workspace(root: str) -> tuple[str, str]:
    """The (label, href) link from another map page back to the workspace at `root`/."""
    return bilingual("back_to_workspace"), f"{root}/"


class WorkspacePart(StaticAssets, MacroElement):
    """One part of the workspace: `Workspace.<part>(map, options)` in workspace.js."""

    static_js = [VECTORGRID_JS, ATLAS_JS, WORKSPACE_JS]
    static_css = [WORKSPACE_CSS]
    part = ""
    _template = Template("""
        {% macro script(this, kwargs) %}
        Workspace.{{ this.part }}({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, **options) -> None:
        super().__init__()
        self._name = f"Workspace{self.part.title()}"
        self.options = options


@dataclass
class ShellHtml(Fragment):
    """The page around the map (maps/templates/workspace.html), labelled in Chinese; the
    script relabels every `data-i18n` element when the planner switches language."""

    messages: dict[str, str]
    views: list[tuple[str, str]]  # (message key, href)
    template = "workspace.html"


class WorkspaceShell(WorkspacePart):
    """Top bar (title, search box, links to the theme maps, print, language switch), the
    side panel (底图, 图层目录) and the status bar (坐标系, cursor position).

    `messages` is the whole zh/en catalogue ({"zh": {...}, "en": {...}}); `views` are
    (message key, href) links to the other pages.
    """

    part = "start"
    _template = Template("""
        {% macro html(this, kwargs) %}{{ this.shell }}{% endmacro %}
        {% macro script(this, kwargs) %}
        Workspace.start({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, messages: dict[str, dict[str, str]], views: list[tuple[str, str]],
                 root: str = "") -> None:
        super().__init__(messages=messages, root=root)
        self.shell = Markup(ShellHtml(messages["zh"], views).html())


class LayerCatalogue(WorkspacePart):
    """The 图层目录 panel. Options: `url` (GET /catalogue), `drawing` ({layer id: "tiles" or
    "inline"}, the maps' tiled-or-inline rule applied to the store's counts), `styles`
    ({layer id: Leaflet path style, "palette" for fills by code}), `visible` (ids shown at
    start), `root`."""

    part = "catalogue"


class BasemapSwitcher(WorkspacePart):
    """底图 and 地名注记. Options: `config` (GET /workspace/config), `place_names`
    (GET /basemaps/place-names.geojson). Without a config only 无底图（离线） is offered."""

    part = "basemaps"


class PlaceSearch(WorkspacePart):
    """The search box. Options: `url` (GET /search), `root` (fact sheets)."""

    part = "search"


class DownloadDialog(WorkspacePart):
    """The download dialog. Options: `choices` (crs_choices, formats, encodings used until
    the config answers), `encoded_formats` (formats that take an encoding)."""

    part = "downloads"


class PrintExport(WorkspacePart):
    """Print/export links. Options: `url` (GET /print), `papers`, `formats`."""

    part = "printing"
