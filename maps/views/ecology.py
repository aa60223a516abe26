"""The ecology map (/maps/ecology): bamboo carbon density tiles (our PNG raster tiles), the
ledger at its stand-in points, county outlines, and the ledger entries without a place."""

from __future__ import annotations

import folium
from markupsafe import Markup

from geo.raster import RasterCatalog, RasterMeta, info
from layers.ecology import CARBON_DENSITY_RASTER, BambooParameters, ledger_frame
from layers.store import Store
from maps.elements import (Area, AtlasMap, Attribution, Dot, InfoBox, LedgerEntry,
                           LedgerMarkers, LedgerPlace, Legend, Links, Note, Ramp, UnplacedList,
                           back_to_workspace)
from maps.elements.ledger import LEDGER_COLOUR
from maps.views import render

PLACED_NOTE = "县城代位 county seat as stand-in"


def legend(meta: RasterMeta, root: str) -> Legend:
    """The raster (name, unit, ramp, the derived warning), ledger and county keys."""
    low, high = meta.rescale
    return Legend("安吉竹林碳汇", "Anji bamboo carbon sink", [
        Note(Markup("<b>{}</b><br>{} ({})").format(meta.title_zh, meta.title_en, meta.unit),
             css=""),
        Ramp(f"{root}/rasters/{meta.id}/legend.png?width=200&height=12", low, high),
        Note(Markup("派生数据，县域均值，并非竹林分布图<br>Derived, uniform per county — "
                    "not a bamboo map"), css="atlas-derived",
             style="color:#8c2d04;max-width:260px"),
        Dot(f"台账 Ledger ({PLACED_NOTE})", LEDGER_COLOUR),
        Area("区县 County outline", stroke="#333", stroke_px=2),
    ])


def links(meta: RasterMeta, root: str) -> Legend:
    return Legend(entries=[Links([back_to_workspace(root),
                                  ("台账 Ledger JSON", f"{root}/ecology/ledger"),
                                  ("参数 Parameters", f"{root}/ecology/parameters"),
                                  ("TileJSON", f"{root}/rasters/{meta.id}/tilejson.json")])])


def build_ecology_map(store: Store, catalog: RasterCatalog, root: str = "") -> AtlasMap:
    """Carbon density tiles under the counties and ledger markers; unplaced entries listed."""
    meta = catalog.meta(CARBON_DENSITY_RASTER)
    bounds = tuple(info(catalog.path(CARBON_DENSITY_RASTER)).bounds_wgs84)
    fmap = AtlasMap.framing(f"{root}/static", bounds, "竹林碳汇 Bamboo carbon", zoom_start=10)
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
    for _, group in placed.groupby(placed.geometry.to_wkt()):  # one marker per point
        rows = group.drop(columns="geometry").to_dict("records")
        point = group.geometry.iloc[0]
        place = LedgerPlace(rows[0]["placement"], [LedgerEntry(r) for r in rows])
        markers.append({"lon": point.x, "lat": point.y, "html": str(place.html())})
    LedgerMarkers(markers).add_to(fmap)
    unplaced = ledger[ledger.geometry.isna()].drop(columns="geometry").to_dict("records")
    InfoBox(legend(meta, root),
            UnplacedList("未标注位置的村 Unplaced villages",
                         "无公开坐标，不编造位置 No open coordinates; no point invented.",
                         [LedgerEntry(r).html() for r in unplaced], show_empty=True),
            links(meta, root)).add_to(fmap)
    Attribution("竹林碳汇 Bamboo carbon: derived from quoted figures").add_to(fmap)
    folium.LayerControl(collapsed=False, position="bottomright").add_to(fmap)
    return fmap.fit()


def ecology_page(store: Store, catalog: RasterCatalog, root: str = "") -> str:
    """The ecology map's HTML."""
    return render(build_ecology_map(store, catalog, root))
