"""我的数据 in the 一张图 workspace: the planner's own files (issue 13), folium-plugin style —
one element, its template (maps/templates/upload_panel.html) and static/js/uploads.js with
static/css/uploads.css.

What it starts in the browser: the upload panel (drag-and-drop or pick files → dry-run
report in Chinese with a CRS override → 保存), the owner's access key kept in localStorage
(copy, import, forget) and sent only as `Authorization: Bearer`, the 我的数据 list (show with
a colour and opacity, zoom, download through fetch, delete), the overlay table with exports,
the compliance check, the axes editor and indicator tables. Parts whose endpoints this server
does not offer (read once from /openapi.json) stay hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from branca.element import MacroElement
from folium.template import Template
from markupsafe import Markup

from maps.elements.assets import ATLAS_JS, StaticAssets
from maps.elements.fragment import Fragment
from maps.elements.vector_tiles import VECTORGRID_JS
from maps.elements.workspace import WORKSPACE_JS
from maps.messages_upload import OLD_DATUM_CRS, UPLOAD_MESSAGES

UPLOADS_JS = ("uploads_js", "js/uploads.js")
UPLOADS_CSS = ("uploads_css", "css/uploads.css")


@dataclass
class UploadPanelHtml(Fragment):
    """The panel's fixed HTML, Chinese labels; uploads.js relabels `data-i18n` on a switch."""

    messages: dict[str, str]
    template = "upload_panel.html"


class UploadPanel(StaticAssets, MacroElement):
    """我的数据 and its tools. Runs after the workspace's own parts (add it last): it merges
    its messages into the workspace's catalogue and puts its section into the side panel.
    `root` is the app's root path."""

    static_js = [VECTORGRID_JS, ATLAS_JS, WORKSPACE_JS, UPLOADS_JS]
    static_css = [UPLOADS_CSS]
    _template = Template("""
        {% macro html(this, kwargs) %}{{ this.panel }}{% endmacro %}
        {% macro script(this, kwargs) %}
        Uploads.start({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, root: str = "") -> None:
        super().__init__()
        self._name = "UploadPanel"
        self.options = {"root": root, "messages": UPLOAD_MESSAGES, "old_crs": OLD_DATUM_CRS}
        self.panel = Markup(UploadPanelHtml(UPLOAD_MESSAGES["zh"]).html())
