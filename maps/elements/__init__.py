"""Folium map elements in folium's plugin style: a class, its Jinja template (inline
`_template` for page script, maps/templates for HTML), and the JS/CSS it needs, declared as
paths under our /static (`static_js`, `static_css`) so pages work offline under any root."""

from maps.elements.assets import StaticAssets, static_url_of
from maps.elements.attribution import ATTRIBUTION, Attribution
from maps.elements.charts import ChartPanel
from maps.elements.choropleth_form import ChoroplethForm
from maps.elements.feature_layer import Look, feature_layer, inline_layer, tiled
from maps.elements.framing import HUZHOU_BOUNDS, AtlasMap
from maps.elements.info_box import InfoBox
from maps.elements.ledger import LedgerEntry, LedgerMarkers, LedgerPlace
from maps.elements.legend import Area, Dot, Legend, Line, Links, Note, Ramp
from maps.elements.plugins import AntPath, PolyLineTextPath
from maps.elements.popups import FactSheetPopups
from maps.elements.unplaced import UnplacedList
from maps.elements.vector_tiles import VectorTileLayer, tile_url
from maps.elements.workspace import back_to_workspace

__all__ = [
    "ATTRIBUTION", "AntPath", "Area", "AtlasMap", "Attribution", "ChartPanel",
    "ChoroplethForm", "Dot",
    "FactSheetPopups", "HUZHOU_BOUNDS", "InfoBox", "LedgerEntry", "LedgerMarkers",
    "LedgerPlace", "Legend", "Line", "Links", "Look", "Note", "PolyLineTextPath", "Ramp",
    "StaticAssets", "UnplacedList", "VectorTileLayer", "feature_layer", "inline_layer",
    "back_to_workspace", "static_url_of", "tile_url", "tiled",
]
