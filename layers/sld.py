"""A QGIS-readable style per vector layer: OGC SLD 1.0 (Styled Layer Descriptor) with the same
colours as the MapLibre style (layers/styles.py), a name label (TextSymbolizer) and the
layer's provenance (source, licence, CRS, 算法生成/演示) in the style's abstract.

QGIS loads it onto the layer read from /collections/{id}/items (Layer Properties → Style →
Load Style, or `QgsVectorLayer.loadSldStyle`), labels included.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from geo.tiles import geometry_kind
from layers.model import Layer

SLD = "http://www.opengis.net/sld"
OGC = "http://www.opengis.net/ogc"
MEDIA_TYPE = "application/vnd.ogc.sld+xml;version=1.0"
ET.register_namespace("sld", SLD)
ET.register_namespace("ogc", OGC)


def _el(parent: ET.Element, tag: str, text: str | None = None, ns: str = SLD,
        **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _params(parent: ET.Element, tag: str, values: dict[str, str]) -> None:
    group = _el(parent, tag)
    for name, value in values.items():
        _el(group, "CssParameter", value, name=name)


def provenance_abstract(layer: Layer) -> str:
    """Source, licence, CRS of origin and the 算法生成/演示 flag, one line."""
    prov = layer.provenance
    parts = [f"来源 source: {prov.source}", f"许可 licence: {prov.license}",
             f"原始坐标系 CRS of origin: {prov.crs_of_origin}; served as WGS84 (EPSG:4326)"]
    if prov.attribution:
        parts.append(f"署名 attribution: {prov.attribution}")
    if prov.illustrative:
        parts.append("算法生成/演示 derived or illustrative data")
    if prov.note:
        parts.append(prov.note)
    return " | ".join(parts)


def sld(layer: Layer, colour: str, label_field: str | None) -> bytes:
    """The SLD 1.0 document of one layer: fill/stroke, line or point marks, and a label."""
    root = ET.Element(f"{{{SLD}}}StyledLayerDescriptor", {"version": "1.0.0"})
    named = _el(root, "NamedLayer")
    _el(named, "Name", layer.id)
    style = _el(named, "UserStyle")
    _el(style, "Name", "default")
    _el(style, "Title", f"{layer.title} 默认样式")
    _el(style, "Abstract", provenance_abstract(layer))
    rule = _el(_el(style, "FeatureTypeStyle"), "Rule")
    _el(rule, "Name", layer.id)
    kind = geometry_kind(layer.geometry_type)
    if kind == "polygon":
        symbolizer = _el(rule, "PolygonSymbolizer")
        _params(symbolizer, "Fill", {"fill": colour, "fill-opacity": "0.35"})
        _params(symbolizer, "Stroke", {"stroke": colour, "stroke-width": "1"})
    elif kind == "line":
        _params(_el(rule, "LineSymbolizer"), "Stroke", {"stroke": colour, "stroke-width": "2"})
    else:
        graphic = _el(_el(rule, "PointSymbolizer"), "Graphic")
        mark = _el(graphic, "Mark")
        _el(mark, "WellKnownName", "circle")
        _params(mark, "Fill", {"fill": colour})
        _params(mark, "Stroke", {"stroke": "#ffffff", "stroke-width": "1"})
        _el(graphic, "Size", "8")
    if label_field:
        text = _el(rule, "TextSymbolizer")
        _el(_el(text, "Label"), "PropertyName", label_field, ns=OGC)
        _params(text, "Font", {"font-family": "Noto Sans CJK SC", "font-size": "12"})
        placement = _el(_el(text, "LabelPlacement"), "PointPlacement")
        anchor = _el(placement, "AnchorPoint")
        _el(anchor, "AnchorPointX", "0.5")
        _el(anchor, "AnchorPointY", "0.5")
        halo = _el(text, "Halo")
        _el(halo, "Radius", "1.5")
        _params(halo, "Fill", {"fill": "#ffffff"})
        _params(text, "Fill", {"fill": "#222222"})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
