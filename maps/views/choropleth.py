"""The choropleth view (分级设色图, /maps/choropleth): one indicator on one layer.

Polygons are filled by class (from our tiles above the map's feature threshold), point layers
get proportional symbols; a legend with the no-data class and the citation, tooltips, popups
linking to each place's fact sheet, and a plain HTML form to pick indicator, year and classes.
"""

from __future__ import annotations

import math
from typing import Mapping

import folium
import geopandas as gpd
import numpy as np
from markupsafe import Markup

from geo.errors import LayerWithoutGeometry
from layers import indicators
from layers.choropleth import Choropleth, choropleth, spec_from_params
from layers.classification import K_RANGE, NO_DATA_COLOUR, SCHEMES
from layers.store import Store
from maps.elements import (HUZHOU_BOUNDS, Area, AtlasMap, Attribution, ChoroplethForm,
                           FactSheetPopups, InfoBox, Legend, Links, Look, Note,
                           VectorTileLayer, back_to_workspace, feature_layer)
from maps.views import render

DEFAULT_INDICATOR = "villages_per_100km2"
MAX_RADIUS_PX = 22
# the qualifiers written before the number (近 1,000 个); others follow it (1,000 余)
LEADING_QUALIFIERS = ("近", "超", "约", "逾", "突", "破", "上")
TILED_STYLE = {"color": "#555", "weight": 0.5, "fill": True, "fillOpacity": 0.8}


def display(value: float, qualifier: str, unit: str) -> str:
    """A figure as written: qualifier, thousands separators, unit ("" if missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    number = f"{int(value):,}" if float(value).is_integer() else f"{value:,.4g}"
    before = qualifier if qualifier[:1] in LEADING_QUALIFIERS else ""
    after = "" if before else qualifier
    return f"{before}{number}{after} {unit}".strip()


def features(result: Choropleth) -> gpd.GeoDataFrame:
    """The classed places with geometry, with their figure as shown (`display`)."""
    frame = result.frame
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    out = frame[["code", "name", "value", "year", "unit", "qualifier", "source", "colour",
                 "class", "geometry"]].copy()
    out["display"] = [display(v, q or "", u or "") for v, q, u in
                      zip(out["value"], out["qualifier"], out["unit"])]
    out["year"] = out["year"].astype("string").fillna("")
    return out


def polygons(frame: gpd.GeoDataFrame, title: str, name: str, root: str) -> folium.GeoJson:
    """Inline classed polygons with tooltips and fact-sheet popups."""
    layer = folium.GeoJson(
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
    FactSheetPopups(title, root).add_to(layer)
    return layer


def classed_tiles(frame: gpd.GeoDataFrame, url: str, layer_id: str, title: str, name: str,
                  root: str) -> VectorTileLayer:
    """Classed polygons from our tiles: the page carries only {code: [colour, figure,
    source]}, so it stays small for thousands of places."""
    classes = {code: [colour, shown, source] for code, colour, shown, source, cls
               in zip(frame["code"], frame["colour"], frame["display"], frame["source"],
                      frame["class"]) if cls >= 0}
    return VectorTileLayer(url, layer_id, name, style=TILED_STYLE, classes=classes,
                           no_data=NO_DATA_COLOUR, title=title, root=root)


def symbols(frame: gpd.GeoDataFrame, name: str) -> folium.FeatureGroup:
    """Proportional symbols: circle area ∝ value (radius ∝ √value), coloured by class."""
    group = folium.FeatureGroup(name=name)
    values = frame["value"].astype(float)
    top = float(np.nanmax(np.abs(values))) if values.notna().any() else 1.0
    for row in frame.itertuples():
        has = not math.isnan(row.value)
        radius = 3 + MAX_RADIUS_PX * math.sqrt(abs(row.value) / top) if has and top else 3
        folium.CircleMarker(
            location=[row.geometry.y, row.geometry.x], radius=radius, weight=1, color="#333",
            fill=True, fill_color=row.colour if has else NO_DATA_COLOUR, fill_opacity=0.85,
            class_name="atlas-symbol" + ("" if has else " atlas-nodata"),
            tooltip=f"{row.name}: {row.display or '无数据 No data'}",
        ).add_to(group)
    return group


def legend(result: Choropleth, layer_title: str, points: bool) -> Legend:
    """Classes (with no data), the symbol note and the citation."""
    meta = result.meta
    entries = [Area(e.label, fill=e.colour, stroke="#777", size_px=(18, 12),
                    row_class="atlas-legend-class") for e in result.classification.entries]
    if points:
        entries.append(Note(Markup("<small>圆面积与数值成正比 Circle area ∝ value</small>"),
                            css=""))
    origin = ("计算指标 Derived (computed by the atlas)" if meta.get("derived") == "true"
              else "来源 Source: " + meta.get("source", ""))
    note = result.classification.note
    text = Markup("{}<br>{}").format(origin, note) if note else origin
    entries.append(Note(text, css="atlas-note atlas-citation", style="max-width:260px"))
    return Legend(result.title, f'{layer_title} · {meta.get("unit", "")}', entries)


def selector(result: Choropleth, layer_id: str, choices: list[tuple[str, str]],
             root: str) -> ChoroplethForm:
    spec = result.spec
    return ChoroplethForm(
        action=f"{root}/maps/choropleth", layer_id=layer_id, indicators=choices,
        indicator=spec.indicator, years=list(result.years), year=spec.year,
        schemes=[(s, t) for s, t in SCHEMES.items() if s != "user"], scheme=spec.scheme,
        ks=list(range(K_RANGE[0], K_RANGE[1] + 1)), k=spec.k)


def links(layer_id: str, indicator: str, root: str) -> Legend:
    return Legend(entries=[Links([
        ("图例 PNG", f"{root}/indicators/{indicator}/legend?layer={layer_id}&f=png"),
        ("GeoJSON", f"{root}/collections/{layer_id}/items?f=json&limit=10000"
                    f"&indicator={indicator}"),
        back_to_workspace(root)])])


def choice_title(table: indicators.IndicatorTable, ind: str) -> str:
    meta = table.catalog.loc[ind] if ind in table.catalog.index else {}
    zh, en = meta.get("title_zh", ""), meta.get("title_en", "")
    tag = "（计算）" if meta.get("derived") == "true" else ""
    return f"{zh or en or ind}{tag}"


def build_choropleth(store: Store, params: Mapping[str, str], root: str = "",
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
    mappable = table.mappable(set(store.frame(layer_id).index))
    default = DEFAULT_INDICATOR if DEFAULT_INDICATOR in mappable else (
        mappable[0] if mappable else DEFAULT_INDICATOR)
    spec = spec_from_params(params, default)
    result = choropleth(store, layer_id, spec)
    choices = [(i, choice_title(table, i)) for i in mappable]
    if spec.indicator not in mappable:
        choices.insert(0, (spec.indicator, choice_title(table, spec.indicator)))

    located = result.frame[result.frame.geometry.notna()]
    bounds = tuple(located.total_bounds) if len(located) else HUZHOU_BOUNDS
    fmap = AtlasMap.framing(f"{root}/static", bounds, result.title, basemaps=False)
    points = layer.geometry_type in ("Point", "MultiPoint")
    name = f"{layer.title_zh} {layer.title_en}"
    frame = features(result)
    if points:
        symbols(frame, name).add_to(fmap)
    else:
        feature_layer(result.frame, layer_id, name,
                      Look(style=TILED_STYLE, tooltip=[("name", "地名 Place")]),
                      root=root, threshold=tiles_threshold,
                      inline=lambda: polygons(frame, result.title, name, root),
                      tiles=lambda url: classed_tiles(frame, url, layer_id, result.title,
                                                      name, root)).add_to(fmap)
    cities = store.frame("cities") if "cities" in {x.id for x in store.layers()} else None
    if cities is not None and len(cities) <= 50:  # the city outline helps at Huzhou scale
        folium.GeoJson(cities[["name", "geometry"]], name="地级市 Cities",
                       style_function=lambda f: {"color": "#24425c", "weight": 2,
                                                 "fill": False}).add_to(fmap)
    InfoBox(legend(result, name, points), selector(result, layer_id, choices, root),
            links(layer_id, spec.indicator, root), position="topright").add_to(fmap)
    derived = result.meta.get("derived") == "true"
    Attribution(*([] if derived else [f"指标 Indicator: {result.meta.get('source', '')}"])
                ).add_to(fmap)
    return fmap.fit()


def choropleth_page(store: Store, params: Mapping[str, str], root: str = "",
                    tiles_threshold: int | None = None) -> str:
    """The choropleth map's HTML."""
    return render(build_choropleth(store, params, root, tiles_threshold))
