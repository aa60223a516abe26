"""A planner's upload drawn over the atlas' own zone layers (/maps/overlay/{id}, owner only).

Folium writes tooltip values, aliases and layer names into the page with innerHTML, unescaped;
an upload's attribute text is the sender's, so every string shown is HTML-escaped here first.
"""

from __future__ import annotations

import html

import folium
import geopandas as gpd

from geo.raster import RasterMeta
from layers.overlay import ZONE_LAYERS, overlay
from layers.store import Store
from layers.uploads import ID_FIELD
from maps.elements import (Area, AtlasMap, Attribution, InfoBox, Legend, Links, Note,
                           back_to_workspace)
from maps.views import render

UPLOAD_COLOUR = "#d7301f"
ZONE_STYLES = {"counties": {"color": "#555", "weight": 1.5, "fillColor": "#e0e0e0",
                            "fillOpacity": 0.35, "className": "atlas-county"},
               "townships": {"color": "#2166ac", "weight": 1, "fill": False,
                             "dashArray": "4 3", "className": "atlas-township-area"},
               "axis_domains": {"color": "#1b7837", "weight": 1, "fillOpacity": 0.15,
                                "className": "atlas-axis-domain"}}
MAX_TOOLTIP_FIELDS = 6


def escaped(frame: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """`columns` with every value as HTML-escaped text (safe for innerHTML)."""
    return gpd.GeoDataFrame(
        {c: [None if v is None else html.escape(str(v)) for v in frame[c]] for c in columns},
        geometry=frame.geometry.to_numpy(), crs=4326)


def figures(result: dict | None) -> list[Note]:
    """Legend lines: each upload layer's size and the counties it falls in."""
    notes = []
    for entry in (result or {}).get("layers", []):
        total = entry["total"]
        if "area_km2" in total:
            size = f'{total["area_km2"]:,.3f} km² / {total["area_mu"]:,.0f} 亩'
        elif "length_km" in total:
            size = f'{total["length_km"]:,.3f} km'
        else:
            size = f'{total["count"]} 个要素 features'
        counties = "、".join(z["name"] for z in entry["zones"].get("counties", []))
        notes.append(Note(f'{entry["title"]}: {size}{" · " + counties if counties else ""}'))
    return notes


def legend(filename: str, result: dict | None) -> Legend:
    return Legend("上传叠加", "Upload overlay", [
        Note(filename, css=""),
        Area("上传图层 Uploaded layer（仅本人可见 private）", fill=UPLOAD_COLOUR),
        Area("区县 County", css="key-county"),
        *figures(result),
        Note("面积按 EPSG:4549 量算 Areas on EPSG:4549"),
    ])


def _labelled(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """`code` and `name` for the tooltip whatever the layer calls them: axis domains carry
    `axis_id` and `rank`, not an administrative code and name."""
    def first(names: tuple[str, ...], default) -> list:
        column = next((n for n in names if n in zones.columns), None)
        return list(zones[column]) if column else list(default)
    return zones.assign(code=first(("code", "axis_id"), zones.index.astype(str)),
                        name=first(("name", "axis_name", "rank"), [""] * len(zones)))


def add_zones(fmap: AtlasMap, public: Store) -> None:
    """The public zone layers (polygons only) the store holds, under the upload."""
    present = {layer.id: layer for layer in public.layers()}
    for zone_id in ZONE_LAYERS:
        layer = present.get(zone_id)
        if layer is None or layer.geometry_type not in ("Polygon", "MultiPolygon"):
            continue
        zones = public.frame(zone_id)
        zones = _labelled(zones[zones.geometry.notna()])
        folium.GeoJson(
            escaped(zones, ["code", "name"]), name=html.escape(layer.title),
            style_function=lambda f, s=ZONE_STYLES[zone_id]: s,
            tooltip=folium.GeoJsonTooltip(fields=["name", "code"],
                                          aliases=["名称 Name", "代码 Code"]),
        ).add_to(fmap)


def add_upload(fmap: AtlasMap, layer, frame: gpd.GeoDataFrame) -> None:
    """One upload layer in red, its first attributes (escaped) in the tooltip."""
    fields = [c for c in frame.columns
              if c not in (frame.geometry.name, ID_FIELD)][:MAX_TOOLTIP_FIELDS]
    kwargs = {}
    if layer.geometry_type in ("Point", "MultiPoint"):
        kwargs["marker"] = folium.CircleMarker(radius=6, color="#fff", weight=1.5, fill=True,
                                               fill_color=UPLOAD_COLOUR, fill_opacity=0.9)
    folium.GeoJson(
        escaped(frame, fields), name=f"上传 Upload: {html.escape(layer.title_zh)}",
        style_function=lambda f: {"color": UPLOAD_COLOUR, "weight": 2.5,
                                  "fillColor": UPLOAD_COLOUR, "fillOpacity": 0.35,
                                  "className": "atlas-upload"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[html.escape(f) for f in fields]),
        **kwargs,
    ).add_to(fmap)


def build_overlay_map(public: Store, record, upload_store: Store, root: str = "",
                      result: dict | None = None,
                      rasters: list[RasterMeta] | None = None) -> AtlasMap:
    """The upload's layers (red) over the zone layers the public store holds; rasters (e.g.
    bamboo carbon density) as switchable tile layers, off at first."""
    frames = [(layer, upload_store.frame(layer.id)) for layer in record.layers]
    bounds = tuple(gpd.GeoSeries([g for _, f in frames for g in f.geometry],
                                 crs=4326).total_bounds)
    fmap = AtlasMap.framing(f"{root}/static", bounds, "上传叠加 Upload overlay",
                            zoom_start=11, basemaps=False)
    add_zones(fmap, public)
    for meta in rasters or []:
        label = f"{meta.title_zh} {meta.title_en}" + ("（演示/派生数据 illustrative）"
                                                     if meta.illustrative else "")
        folium.TileLayer(tiles=f"{root}/rasters/{meta.id}/tiles/{{z}}/{{x}}/{{y}}.png",
                         name=html.escape(label), attr=html.escape(meta.source or meta.id),
                         overlay=True, show=False, opacity=0.7).add_to(fmap)
    for layer, frame in frames:
        add_upload(fmap, layer, frame)
    InfoBox(legend(record.filename, result),
            Legend(entries=[Links([back_to_workspace(root)])])).add_to(fmap)
    Attribution("上传 Upload: 用户自有数据 owner's own data").add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap.fit(padding=20)


def overlay_page(public: Store, record, upload_store: Store, root: str = "",
                 rasters: list[RasterMeta] | None = None) -> str:
    """The overlay map's HTML, with the upload's areas, lengths and counties in the legend."""
    result = overlay(public, [(layer, upload_store.frame(layer.id)) for layer in record.layers])
    return render(build_overlay_map(public, record, upload_store, root, result, rasters))
