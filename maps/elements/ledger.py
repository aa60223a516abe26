"""The bamboo carbon ledger on the ecology map: entries (HTML from a template) and markers."""

from __future__ import annotations

from dataclasses import dataclass

from branca.element import MacroElement
from folium.template import Template

from maps.elements.assets import ATLAS_JS, StaticAssets
from maps.elements.fragment import Fragment

LEDGER_COLOUR = "#8c510a"


def number(value: object, digits: int = 0) -> str:
    """`value` with thousands separators and `digits` decimals; "—" if missing or NaN."""
    try:
        if value != value:  # NaN
            return "—"
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return "—"


@dataclass
class LedgerEntry(Fragment):
    """One ledger row (a dict of layers.ecology.ledger_frame's columns): the reported and
    computed figures with their source."""

    row: dict
    template = "ledger_entry.html"

    def text(self, key: str) -> str | None:
        value = self.row.get(key)
        return value if isinstance(value, str) and value else None

    def figure(self, key: str) -> str:
        return number(self.row.get(key))


@dataclass
class LedgerPlace(Fragment):
    """The entries placed at one point, under the placement's name (a popup's content)."""

    placement: str
    entries: list[LedgerEntry]
    template = "ledger_place.html"


class LedgerMarkers(StaticAssets, MacroElement):
    """Circle markers with HTML popups; `markers` are {lat, lon, html} (html: a rendered
    LedgerPlace)."""

    static_js = [ATLAS_JS]
    _template = Template("""
        {% macro script(this, kwargs) %}
        Atlas.ledgerMarkers({{ this._parent.get_name() }}, {{ this.markers|tojson }},
                            {{ this.colour|tojson }});
        {% endmacro %}
    """)

    def __init__(self, markers: list[dict], colour: str = LEDGER_COLOUR) -> None:
        super().__init__()
        self._name = "LedgerMarkers"
        self.markers = markers
        self.colour = colour
