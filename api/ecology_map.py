"""The ecology map (/maps/ecology): bamboo carbon density tiles, the ledger, county outlines.

Reuses the home map's offline Folium setup (api/maps.py: AtlasMap, InfoBox, Attribution), so
every script comes from our /static/vendor. The raster overlay is our own PNG tiles.
"""

from __future__ import annotations

import html

import folium
from branca.element import MacroElement
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from folium.template import Template

from api.maps import ATTRIBUTION, AtlasMap, Attribution, InfoBox
from api.deps import raster_catalog
from geo.raster import RasterMeta, info
from layers.ecology import CARBON_DENSITY_RASTER, BambooParameters, ledger_frame

router = APIRouter()

LEDGER_COLOUR = "#8c510a"


class LedgerMarkers(MacroElement):
    """Circle markers with HTML popups (Leaflet's own bindPopup: no jQuery needed)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var group = L.featureGroup();
            {{ this.markers|tojson }}.forEach(function (m) {
                L.circleMarker([m.lat, m.lon], {radius: 8, color: "#fff", weight: 2,
                    fillColor: {{ this.colour|tojson }}, fillOpacity: 0.95,
                    className: "atlas-ledger"}).bindPopup(m.html, {maxWidth: 420}).addTo(group);
            });
            group.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, markers: list[dict], colour: str = LEDGER_COLOUR) -> None:
        super().__init__()
        self._name = "LedgerMarkers"
        self.markers = markers
        self.colour = colour


def _num(value: object, digits: int = 0) -> str:
    try:
        if value != value:  # NaN
            return "—"
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return "—"


def _entry_html(row: dict) -> str:
    esc = html.escape
    source = esc(str(row["source_title"]))
    note = (f'<br><small class="atlas-ledger-note">注 Note: {esc(row["note"])}</small>'
            if isinstance(row.get("note"), str) and row["note"] else "")
    if isinstance(row.get("source_url"), str):
        source = f'<a href="{esc(row["source_url"])}" target="_blank">{source}</a>'
    return (
        f'<div class="atlas-ledger-entry"><b>{esc(row["place_name"])}</b> · {esc(row["item_zh"])}'
        f'<br>报道 Reported: {esc(str(row["reported_as_written"]))}'
        f'<br>面积 Area: {_num(row["area_mu"])} 亩'
        f'<br><i>模型计算 computed:</i> {_num(row["sequestration_t_co2e_yr"])} t CO2e/yr · '
        f'{_num(row["trade_value_yuan_yr"])} 元/yr · 村集体 village share '
        f'{_num(row["village_share_yuan_yr"])} 元/yr'
        f'<br><small>来源 Source: {source} ({esc(str(row["source_date"]))})</small>{note}</div>'
    )


def _legend(meta: RasterMeta, root: str, unplaced: list[dict], placed_note: str) -> str:
    legend_url = f"{root}/rasters/{meta.id}/legend.png?width=200&height=12"
    low, high = meta.rescale
    items = "".join(f"<li>{_entry_html(row)}</li>" for row in unplaced)
    return (
        '<div class="atlas-title">安吉竹林碳汇<br><small>Anji bamboo carbon sink</small></div>'
        f'<div><b>{html.escape(meta.title_zh)}</b><br>{html.escape(meta.title_en)} '
        f'({html.escape(meta.unit)})</div>'
        f'<div><img class="atlas-raster-legend" src="{legend_url}" width="200" height="12" '
        f'alt="legend"><br><span>{low:g}</span>'
        f'<span style="float:right">{high:g}</span></div>'
        f'<div class="atlas-derived" style="color:#8c2d04;max-width:260px">'
        f'派生数据，县域均值，并非竹林分布图<br>Derived, uniform per county — not a bamboo map</div>'
        f'<div><span class="key key-dot" style="background:{LEDGER_COLOUR}"></span>'
        f'台账 Ledger ({html.escape(placed_note)})</div>'
        '<div><span class="key" style="border:2px solid #333"></span>区县 County outline</div>'
        f'<details class="atlas-unplaced" open><summary>未标注位置的村 Unplaced villages '
        f'({len(unplaced)})</summary><small>无公开坐标，不编造位置 No open coordinates; '
        f'no point invented.</small><ul style="padding-left:16px;max-width:280px;'
        f'max-height:260px;overflow:auto">{items}</ul></details>'
        f'<div class="atlas-note"><a href="{root}/ecology/ledger">台账 Ledger JSON</a> · '
        f'<a href="{root}/ecology/parameters">参数 Parameters</a> · '
        f'<a href="{root}/rasters/{meta.id}/tilejson.json">TileJSON</a></div>'
    )


def build_ecology_map(request: Request, root: str = "") -> AtlasMap:
    store = request.app.state.store
    catalog = raster_catalog(request)
    meta = catalog.meta(CARBON_DENSITY_RASTER)
    details = info(catalog.path(CARBON_DENSITY_RASTER))
    static_url = f"{root}/static"
    west, south, east, north = details.bounds_wgs84

    fmap = AtlasMap.framing(static_url, (west, south, east, north), "竹林碳汇 Bamboo carbon",
                            zoom_start=10)
    low, high = meta.rescale
    folium.raster_layers.TileLayer(
        tiles=f"{root}/rasters/{meta.id}/tiles/{{z}}/{{x}}/{{y}}.png"
              f"?colormap={meta.colormap}&rescale={low},{high}",
        name=f"{meta.title_zh} {meta.title_en}", attr="派生 derived: " + meta.source,
        overlay=True, control=True, opacity=0.8, max_zoom=18, class_name="atlas-carbon-tiles",
    ).add_to(fmap)

    counties = store.frame("counties")[["code", "name", "geometry"]]
    folium.GeoJson(counties, name="区县 Counties",
                   style_function=lambda f: {"color": "#333", "weight": 1.5, "fill": False,
                                             "className": "atlas-county"},
                   tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["区县 County"]),
                   ).add_to(fmap)

    ledger = ledger_frame(BambooParameters.from_file(), store)
    placed = ledger[ledger.geometry.notna()]
    markers = []
    for geometry, group in placed.groupby(placed.geometry.to_wkt()):
        rows = group.drop(columns="geometry").to_dict("records")
        point = group.geometry.iloc[0]
        body = "".join(_entry_html(r) for r in rows)
        markers.append({"lon": point.x, "lat": point.y, "html": (
            f'<div style="max-height:300px;overflow:auto"><b>{html.escape(rows[0]["placement"])}'
            f'</b>{body}</div>')})
    LedgerMarkers(markers).add_to(fmap)
    unplaced = ledger[ledger.geometry.isna()].drop(columns="geometry").to_dict("records")
    InfoBox(_legend(meta, root, unplaced, "县城代位 county seat as stand-in"), static_url
            ).add_to(fmap)
    Attribution(ATTRIBUTION + " | 竹林碳汇 Bamboo carbon: derived from quoted figures").add_to(fmap)
    folium.LayerControl(collapsed=False, position="bottomright").add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]], padding=(10, 10))
    return fmap


@router.get("/maps/ecology", response_class=HTMLResponse)
def ecology_map(request: Request) -> HTMLResponse:
    """Bamboo carbon density (derived tiles), ledger points and unplaced villages, legend."""
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(build_ecology_map(request, root).get_root().render())
