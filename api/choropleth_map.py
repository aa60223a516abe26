"""The choropleth view (分级设色图): one indicator on one layer, as an offline Folium map.

`/maps/choropleth?layer=counties&indicator=…&year=…&scheme=…&k=…`: polygons are filled by class,
point layers get proportional symbols; a legend (with the no-data class and the citation),
tooltips, popups linking to each place's fact sheet, and a plain HTML form to pick the
indicator, year and classification. Leaflet comes from /static/vendor (see api/maps.py).
"""

from __future__ import annotations

import html
import math

import folium
import numpy as np
from branca.element import MacroElement
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from folium.template import Template

from api.maps import ATTRIBUTION, AtlasMap, Attribution, InfoBox
from api.page_cache import rendered_page
from api.vector_grid import VectorTileLayer
from geo.errors import LayerWithoutGeometry
from layers import indicators
from layers.choropleth import Choropleth, choropleth, spec_from_params
from layers.classification import K_RANGE, NO_DATA_COLOUR, SCHEMES
from layers.store import Store

router = APIRouter(tags=["maps"])
DEFAULT_INDICATOR = "villages_per_100km2"
MAX_RADIUS_PX = 22


class FactSheetPopups(MacroElement):
    """Click a feature: its figure, citation and a link to its fact sheet (/places/{code}).

    Built in plain JS from the feature's properties (folium's own popups need jQuery, which
    the offline map does not load).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.eachLayer(function (layer) {
            var p = layer.feature.properties, esc = function (s) {
                return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) {
                    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; });
            };
            var value = p.value == null ? "无数据 No data" :
                esc(p.display) + (p.year ? " (" + esc(p.year) + ")" : "");
            layer.bindPopup('<div class="atlas-popup"><b>' + esc(p.name) + '</b><br>' +
                {{ this.title|tojson }} + ': ' + value +
                (p.source ? '<br><small>来源 Source: ' + esc(p.source) + '</small>' : '') +
                '<br><a class="atlas-factsheet" href="{{ this.root }}/places/' + esc(p.code) +
                '?f=html">地情卡 Fact sheet →</a></div>');
        });
        {% endmacro %}
    """)

    def __init__(self, title: str, root: str) -> None:
        super().__init__()
        self._name = "FactSheetPopups"
        self.title = title
        self.root = root


class ChoroplethTiles(VectorTileLayer):
    """The classed layer drawn from our MVT tiles (for layers above the map's tile threshold):
    the page carries only {code: [colour, name, figure]}, so it stays small for 2,900
    counties. Tooltips and fact-sheet popups as in the inline version."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var classes = {{ this.classes|tojson }}, noData = {{ this.no_data|tojson }};
            var base = {{ this.style|tojson }}, idField = {{ this.id_field|tojson }};
            var esc = function (s) {
                return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) {
                    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; });
            };
            function style(p) {
                var c = classes[p[idField]];
                return Object.assign({}, base, {fillColor: c ? c[0] : noData,
                    className: c ? "atlas-choropleth" : "atlas-choropleth atlas-nodata"});
            }
            var styles = {};
            styles[{{ this.layer_id|tojson }}] = style;
            var layer = L.vectorGrid.protobuf({{ this.url|tojson }}, {
                rendererFactory: L.svg.tile, interactive: true,
                maxNativeZoom: {{ this.max_native_zoom }}, vectorTileLayerStyles: styles,
                getFeatureId: function (f) { return f.properties[idField]; }
            });
            function text(p) {
                var c = classes[p[idField]];
                return "<b>" + esc(p.name) + "</b><br>" + {{ this.title|tojson }} + ": " +
                    (c ? esc(c[1]) : "无数据 No data");
            }
            var tip = null, map = {{ this._parent.get_name() }};
            layer.on("mouseover", function (e) {
                if (tip) { map.closeTooltip(tip); }
                tip = L.tooltip({sticky: true}).setLatLng(e.latlng)
                    .setContent(text(e.layer.properties)).addTo(map);
            });
            layer.on("mousemove", function (e) { if (tip) { tip.setLatLng(e.latlng); } });
            layer.on("mouseout", function () { if (tip) { map.closeTooltip(tip); tip = null; } });
            layer.on("click", function (e) {
                var p = e.layer.properties, c = classes[p[idField]];
                L.popup().setLatLng(e.latlng).setContent('<div class="atlas-popup">' + text(p) +
                    (c && c[2] ? '<br><small>来源 Source: ' + esc(c[2]) + '</small>' : '') +
                    '<br><a class="atlas-factsheet" href="{{ this.root }}/places/' +
                    esc(p[idField]) + '?f=html">地情卡 Fact sheet →</a></div>').openOn(map);
            });
            return layer;
        })();
        {% endmacro %}
    """)

    def __init__(self, result: Choropleth, layer_id: str, name: str, root: str) -> None:
        super().__init__(f"{root}/tiles/{layer_id}/{{z}}/{{x}}/{{y}}.mvt?properties=code,name",
                         layer_id, name, f"{root}/static",
                         style={"color": "#555", "weight": 0.5, "fill": True,
                                "fillOpacity": 0.8})
        frame = _features(result)
        self.classes = {code: [colour, display, source] for code, colour, display, source, cls
                        in zip(frame["code"], frame["colour"], frame["display"], frame["source"],
                               frame["class"]) if cls >= 0}
        self.no_data = NO_DATA_COLOUR
        self.title = result.title
        self.root = root


def _display(value: float, qualifier: str, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    number = f"{int(value):,}" if float(value).is_integer() else f"{value:,.4g}"
    before = qualifier if qualifier[:1] in ("近", "超", "约", "逾", "突", "破", "上") else ""
    after = "" if before else qualifier
    return f"{before}{number}{after} {unit}".strip()


def _features(result: Choropleth):
    frame = result.frame
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    out = frame[["code", "name", "value", "year", "unit", "qualifier", "source", "colour",
                 "class", "geometry"]].copy()
    out["display"] = [_display(v, q or "", u or "") for v, q, u in
                      zip(out["value"], out["qualifier"], out["unit"])]
    out["year"] = out["year"].astype("string").fillna("")
    return out


def _polygons(result: Choropleth, name: str) -> folium.GeoJson:
    frame = _features(result)
    title = result.title
    return folium.GeoJson(
        frame, name=name,
        style_function=lambda f: {
            "color": "#555", "weight": 1, "fillOpacity": 0.8,
            "fillColor": f["properties"]["colour"],
            "className": "atlas-choropleth" + (" atlas-nodata"
                                               if f["properties"]["class"] < 0 else ""),
        },
        highlight_function=lambda f: {"weight": 3, "color": "#222"},
        tooltip=folium.GeoJsonTooltip(fields=["name", "display", "year"],
                                      aliases=["地名 Place", title, "年份 Year"], sticky=True),
    )


def _symbols(result: Choropleth, name: str) -> folium.FeatureGroup:
    """Proportional symbols: circle area ∝ value (radius ∝ √value), coloured by class."""
    frame = _features(result)
    group = folium.FeatureGroup(name=name)
    values = frame["value"].astype(float)
    top = float(np.nanmax(np.abs(values))) if values.notna().any() else 1.0
    for row in frame.itertuples():
        has = not math.isnan(row.value)
        radius = 3 + MAX_RADIUS_PX * math.sqrt(abs(row.value) / top) if has and top else 3
        label = f"{row.name}: {row.display or '无数据 No data'}"
        folium.CircleMarker(
            location=[row.geometry.y, row.geometry.x], radius=radius, weight=1, color="#333",
            fill=True, fill_color=row.colour if has else NO_DATA_COLOUR, fill_opacity=0.85,
            class_name="atlas-symbol" + ("" if has else " atlas-nodata"),
            tooltip=label,
            popup=None,
        ).add_to(group)
    return group


def _legend_html(result: Choropleth, layer_title: str, choices: list[tuple[str, str]],
                 layer_id: str, root: str, points: bool) -> str:
    spec, meta = result.spec, result.meta
    rows = "".join(
        f'<div class="atlas-legend-class"><span class="key" style="background:{e.colour};'
        f'border:1px solid #777;width:18px;height:12px"></span>{html.escape(e.label)}</div>'
        for e in result.classification.entries)
    derived = meta.get("derived") == "true"
    origin = ("计算指标 Derived (computed by the atlas)" if derived
              else "来源 Source: " + meta.get("source", ""))
    note = result.classification.note
    options = "".join(
        f'<option value="{html.escape(i)}"{" selected" if i == spec.indicator else ""}>'
        f"{html.escape(t)}</option>" for i, t in choices)
    years = "".join(
        f'<option value="{y}"{" selected" if y == spec.year else ""}>{y}</option>'
        for y in result.years)
    schemes = "".join(
        f'<option value="{s}"{" selected" if s == spec.scheme else ""}>{html.escape(t)}</option>'
        for s, t in SCHEMES.items() if s != "user")
    ks = "".join(f'<option{" selected" if k == spec.k else ""}>{k}</option>'
                 for k in range(K_RANGE[0], K_RANGE[1] + 1))
    symbols = ("<div><small>圆面积与数值成正比 Circle area ∝ value</small></div>"
               if points else "")
    return (
        f'<div class="atlas-title">{html.escape(result.title)}<br><small>'
        f'{html.escape(layer_title)} · {html.escape(meta.get("unit", ""))}</small></div>'
        f'<div class="atlas-legend">{rows}</div>{symbols}'
        f'<div class="atlas-note atlas-citation" style="max-width:260px">{html.escape(origin)}'
        f'{("<br>" + html.escape(note)) if note else ""}</div>'
        f'<form class="atlas-choropleth-form" method="get" action="{root}/maps/choropleth" '
        f'style="margin-top:6px">'
        f'<input type="hidden" name="layer" value="{html.escape(layer_id)}">'
        f'<label>指标 Indicator<br><select name="indicator" onchange="this.form.year.value=\'\';'
        f'this.form.submit()" style="max-width:250px">{options}</select></label><br>'
        f'<label>年份 Year <select name="year" onchange="this.form.submit()">'
        f'<option value="">最新 latest</option>{years}</select></label><br>'
        f'<label>分级 Classes <select name="scheme" onchange="this.form.submit()">{schemes}'
        f'</select></label> <label>k <select name="k" onchange="this.form.submit()">{ks}'
        f"</select></label></form>"
        f'<div class="atlas-note"><a href="{root}/indicators/{html.escape(spec.indicator)}'
        f'/legend?layer={layer_id}&f=png">图例 PNG</a> · <a href="{root}/collections/'
        f'{layer_id}/items?f=json&limit=10000&indicator={html.escape(spec.indicator)}">'
        f"GeoJSON</a> · <a href=\"{root}/\">总图 Overview</a></div>"
    )


def build_choropleth(store: Store, params, root: str = "",
                     tiles_threshold: int | None = None) -> AtlasMap:
    """The choropleth map for query `params` (layer, indicator, year, scheme, k, ramp…).

    Polygon layers with more than `tiles_threshold` features are drawn from our MVT tiles.
    """
    layer_id = params.get("layer") or "counties"
    layer = store.layer(layer_id)
    if layer.geometry_type == "None":
        raise LayerWithoutGeometry(
            f"图层“{layer_id}”没有几何，无法制图。", f"Layer '{layer_id}' has no geometry to map.",
            parameter="layer")
    table = indicators.load(store)
    codes = set(store.frame(layer_id).index)
    mappable = table.mappable(codes)
    default = DEFAULT_INDICATOR if DEFAULT_INDICATOR in mappable else (
        mappable[0] if mappable else DEFAULT_INDICATOR)
    spec = spec_from_params(params, default)
    result = choropleth(store, layer_id, spec)
    choices = [(i, _choice_title(table, i)) for i in mappable]
    if spec.indicator not in mappable:
        choices.insert(0, (spec.indicator, _choice_title(table, spec.indicator)))

    static_url = f"{root}/static"
    frame = result.frame[result.frame.geometry.notna()]
    west, south, east, north = frame.total_bounds if len(frame) else (119, 30, 121, 31)
    fmap = AtlasMap.framing(static_url, (west, south, east, north), result.title,
                            basemaps=False)
    points = layer.geometry_type in ("Point", "MultiPoint")
    name = f"{layer.title_zh} {layer.title_en}"
    if points:
        _symbols(result, name).add_to(fmap)
    elif tiles_threshold is not None and len(result.frame) > tiles_threshold:
        ChoroplethTiles(result, layer_id, name, root).add_to(fmap)
    else:
        polygons = _polygons(result, name)
        FactSheetPopups(result.title, root).add_to(polygons)
        polygons.add_to(fmap)
    cities = store.frame("cities") if "cities" in {x.id for x in store.layers()} else None
    if cities is not None and len(cities) <= 50:  # the city outline helps at Huzhou scale
        folium.GeoJson(cities[["name", "geometry"]], name="地级市 Cities",
                       style_function=lambda f: {"color": "#24425c", "weight": 2,
                                                 "fill": False}).add_to(fmap)
    InfoBox(_legend_html(result, name, choices, layer_id, root, points), static_url,
            position="topright").add_to(fmap)
    source = "" if result.meta.get("derived") == "true" else \
        f" | 指标 Indicator: {result.meta.get('source', '')}"
    Attribution(ATTRIBUTION + source).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]], padding=(10, 10))
    return fmap


def _choice_title(table: indicators.IndicatorTable, ind: str) -> str:
    meta = table.catalog.loc[ind] if ind in table.catalog.index else {}
    zh, en = meta.get("title_zh", ""), meta.get("title_en", "")
    tag = "（计算）" if meta.get("derived") == "true" else ""
    return f"{zh or en or ind}{tag}"


@router.get("/maps/choropleth", response_class=HTMLResponse)
def choropleth_map(request: Request) -> HTMLResponse:
    """An indicator on a layer: classes, legend, tooltips, fact-sheet popups, selectors."""
    root = request.scope.get("root_path", "").rstrip("/")
    threshold = getattr(request.app.state.settings, "map_tiles_threshold", None)
    return HTMLResponse(rendered_page(request, lambda: build_choropleth(
        request.app.state.store, request.query_params, root, threshold).get_root().render()))
