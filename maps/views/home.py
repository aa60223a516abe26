"""The home map (/ and /maps/overview): counties, city outline, county and township seats."""

from __future__ import annotations

import folium
import geopandas as gpd

from layers.store import Store
from maps.elements import (HUZHOU_BOUNDS, Area, AtlasMap, Attribution, Dot, InfoBox, Legend,
                           Links, Look, back_to_workspace, feature_layer)
from maps.views import render

COUNTY_COLOURS = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
                  "#b3de69", "#fccde5", "#d9d9d9", "#bc80bd"]
CITY_STYLE = {"color": "#24425c", "weight": 3, "fill": False, "className": "atlas-city"}
COUNTY_SEAT_COLOUR = "#b2182b"
TOWNSHIP_COLOUR = "#2166ac"
COUNTY_TOOLTIP = [("name", "区县 County"), ("area_km2", "面积 Area (km²)"),
                  ("area_mu", "面积 Area (亩 mu)")]
TOWNSHIP_TOOLTIP = [("name", "乡镇 Township"), ("type", "类型 Type"), ("county_name", "区县 County")]


def point_style(colour: str, radius_px: int, class_name: str) -> dict:
    """A white-rimmed circle marker style."""
    return {"radius": radius_px, "color": "#fff", "weight": 1.5, "fill": True,
            "fillColor": colour, "fillOpacity": 0.95, "className": class_name}


LOOKS = {
    "counties": Look(style={"color": "#555", "weight": 1, "fill": True, "fillOpacity": 0.55,
                            "className": "atlas-county"},
                     tooltip=COUNTY_TOOLTIP, palette=COUNTY_COLOURS, localize=True, sticky=True,
                     highlight={"weight": 3, "color": "#222", "fillOpacity": 0.75}),
    # the inline city outline has no tooltip; tiled, the tiles' hover needs one
    "cities": Look(style=CITY_STYLE, tooltip=[("name", "地级市 City")], inline_tooltip=False),
    "county_seats": Look(style=point_style(COUNTY_SEAT_COLOUR, 6, "atlas-county-seat"),
                         tooltip=[("name", "县政府驻地 County seat of")], points=True),
    "townships": Look(style=point_style(TOWNSHIP_COLOUR, 4, "atlas-township"),
                      tooltip=TOWNSHIP_TOOLTIP, points=True),
}


def present_features(store: Store, layer_id: str, columns: list[str]) -> gpd.GeoDataFrame | None:
    """The layer's features with geometry (nulls and empties skipped), or None if absent."""
    if layer_id not in {layer.id for layer in store.layers()}:
        return None
    frame = store.frame(layer_id)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    return frame[[c for c in columns if c in frame.columns] + ["geometry"]]


def layer_name(store: Store, layer_id: str) -> str:
    layer = store.layer(layer_id)
    return f"{layer.title_zh} {layer.title_en}"


def legend(root: str, township_seats: tuple[int, int] | None) -> Legend:
    """Title, keys and links; `township_seats` is (with a seat point, all) if shown."""
    entries = [
        Area("市界 City boundary", css="key-city"),
        Area("区县 County (悬停查看面积 hover for area)", css="key-county"),
        Dot("县城 County seat", COUNTY_SEAT_COLOUR),
    ]
    if township_seats is not None:
        entries.append(Dot(f"乡镇驻地 Township seat ({township_seats[0]}/{township_seats[1]})",
                           TOWNSHIP_COLOUR, small=True))
    entries.append(Links([back_to_workspace(root), ("数据 Data", f"{root}/collections?f=html"),
                          ("API", f"{root}/docs")]))
    return Legend("湖州市行政区划", "Huzhou administrative divisions", entries)


def build_map(store: Store, root: str = "", tiles_threshold: int | None = None) -> AtlasMap:
    """The Huzhou map: counties, city outline, county and township seats, no basemap.

    `root` is the app's root path ("" or e.g. "/atlas"); local URLs are built under it.
    Layers with more than `tiles_threshold` features come from /tiles as MVT (None: never).
    """
    frames = {
        "counties": present_features(store, "counties", ["code", "name", "area_km2", "area_mu"]),
        "cities": present_features(store, "cities", ["code", "name"]),
        "county_seats": present_features(store, "county_seats", ["code", "name"]),
        # 36 of 72 townships have a GeoNames seat; the rest are skipped
        "townships": present_features(store, "townships",
                                      ["code", "name", "type", "county_name"]),
    }
    cities, counties = frames["cities"], frames["counties"]
    extent = cities if cities is not None and len(cities) else counties
    bounds = tuple(extent.total_bounds) if extent is not None else HUZHOU_BOUNDS
    fmap = AtlasMap.framing(f"{root}/static", bounds, "湖州地图 Huzhou map")
    for layer_id, frame in frames.items():
        if frame is None:
            continue
        feature_layer(frame, layer_id, layer_name(store, layer_id), LOOKS[layer_id], root=root,
                      threshold=tiles_threshold).add_to(fmap)
    townships = frames["townships"]
    seats = None if townships is None else (len(townships), len(store.frame("townships")))
    InfoBox(legend(root, seats)).add_to(fmap)
    Attribution().add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap.fit()


def home_page(store: Store, root: str = "", tiles_threshold: int | None = None) -> str:
    """The home map's HTML."""
    return render(build_map(store, root, tiles_threshold))
