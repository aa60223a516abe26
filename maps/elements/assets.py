"""Scripts and stylesheets of our own server, declared folium-style but relative to /static.

Folium plugins declare `default_js`/`default_css` as absolute (CDN) URLs. Our elements declare
`static_js`/`static_css` as paths under the app's static folder instead; they are linked under
the static URL of the map they are drawn on, so the page works offline and under a root path.
"""

from __future__ import annotations

from typing import ClassVar

from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement

DEFAULT_STATIC_URL = "/static"
ATLAS_JS = ("atlas_js", "js/atlas.js")
MAP_CSS = ("atlas_map_css", "map.css")


def static_url_of(element: Element) -> str:
    """The static URL of the map `element` sits on (its nearest ancestor's `static_url`)."""
    node: Element | None = element
    while node is not None:
        url = getattr(node, "static_url", None)
        if url is not None:
            return url
        node = node._parent
    return DEFAULT_STATIC_URL


class StaticAssets(MacroElement):
    """Mixin: links `static_js`/`static_css` ((name, path under static/) pairs) in the page
    header once per name, before the element's own script runs."""

    static_js: ClassVar[list[tuple[str, str]]] = []
    static_css: ClassVar[list[tuple[str, str]]] = []

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        assert isinstance(figure, Figure), "render the element inside a Figure"
        base = static_url_of(self)
        for name, path in self.static_js:
            figure.header.add_child(JavascriptLink(f"{base}/{path}"), name=name)
        for name, path in self.static_css:
            figure.header.add_child(CssLink(f"{base}/{path}"), name=name)
        super().render(**kwargs)
