"""`/maps/overlay/{id}`: a planner's upload drawn over the atlas' own layers (offline Folium).

Reuses the home map's offline set-up (`api.maps.AtlasMap`: Leaflet from /static/vendor, no CDN).
Folium writes tooltip values, aliases and layer names into the page with innerHTML, unescaped;
an upload's attribute text is the sender's, so every string shown is HTML-escaped here first.
"""

from __future__ import annotations

import html

import folium
import geopandas as gpd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.maps import ATTRIBUTION, AtlasMap, Attribution, InfoBox
from api.deps import PRIVATE, owner_of, raster_catalog, uploads_of
from layers.overlay import ZONE_LAYERS, overlay
from layers.uploads import ID_FIELD

router = APIRouter(tags=["uploads"])

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
    out = gpd.GeoDataFrame(
        {c: [None if v is None else html.escape(str(v)) for v in frame[c]] for c in columns},
        geometry=frame.geometry.to_numpy(), crs=4326)
    return out


def _figures(result: dict | None) -> str:
    """Legend lines: each upload layer's size and the counties it falls in (escaped)."""
    if not result:
        return ""
    lines = []
    for entry in result["layers"]:
        total = entry["total"]
        if "area_km2" in total:
            size = f'{total["area_km2"]:,.3f} km² / {total["area_mu"]:,.0f} 亩'
        elif "length_km" in total:
            size = f'{total["length_km"]:,.3f} km'
        else:
            size = f'{total["count"]} 个要素 features'
        counties = "、".join(html.escape(z["name"]) for z in entry["zones"].get("counties", []))
        lines.append(f'<div class="atlas-note">{html.escape(entry["title"])}: {size}'
                     f'{" · " + counties if counties else ""}</div>')
    return "".join(lines)


def build_overlay_map(public, record, upload_store, root: str = "", result: dict | None = None,
                      rasters: list | None = None) -> AtlasMap:
    """The upload's layers (red) over the zone layers the public store holds; rasters (e.g.
    bamboo carbon density) as switchable tile layers, off at first."""
    static_url = f"{root}/static"
    frames = [(layer, upload_store.frame(layer.id)) for layer in record.layers]
    bounds = gpd.GeoSeries([g for _, f in frames for g in f.geometry], crs=4326).total_bounds
    west, south, east, north = bounds
    fmap = AtlasMap.framing(static_url, (west, south, east, north),
                            "上传叠加 Upload overlay", zoom_start=11, basemaps=False)
    present = {layer.id: layer for layer in public.layers()}
    for zone_id in ZONE_LAYERS:
        layer = present.get(zone_id)
        if layer is None or layer.geometry_type not in ("Polygon", "MultiPolygon"):
            continue
        zones = public.frame(zone_id)
        zones = zones[zones.geometry.notna()]
        folium.GeoJson(
            escaped(zones, ["code", "name"]), name=html.escape(layer.title),
            style_function=lambda f, s=ZONE_STYLES[zone_id]: s,
            tooltip=folium.GeoJsonTooltip(fields=["name", "code"],
                                          aliases=["名称 Name", "代码 Code"]),
        ).add_to(fmap)
    for meta in rasters or []:
        label = f"{meta.title_zh} {meta.title_en}" + ("（示意 illustrative）"
                                                     if meta.illustrative else "")
        folium.TileLayer(tiles=f"{root}/rasters/{meta.id}/tiles/{{z}}/{{x}}/{{y}}.png",
                         name=html.escape(label), attr=html.escape(meta.source or meta.id),
                         overlay=True, show=False, opacity=0.7).add_to(fmap)
    for layer, frame in frames:
        fields = [c for c in frame.columns
                  if c not in (frame.geometry.name, ID_FIELD)][:MAX_TOOLTIP_FIELDS]
        safe = escaped(frame, fields)
        kwargs = {}
        if layer.geometry_type in ("Point", "MultiPoint"):
            kwargs["marker"] = folium.CircleMarker(radius=6, color="#fff", weight=1.5, fill=True,
                                                   fill_color=UPLOAD_COLOUR, fill_opacity=0.9)
        folium.GeoJson(
            safe, name=f"上传 Upload: {html.escape(layer.title_zh)}",
            style_function=lambda f: {"color": UPLOAD_COLOUR, "weight": 2.5,
                                      "fillColor": UPLOAD_COLOUR, "fillOpacity": 0.35,
                                      "className": "atlas-upload"},
            tooltip=folium.GeoJsonTooltip(fields=fields,
                                          aliases=[html.escape(f) for f in fields]),
            **kwargs,
        ).add_to(fmap)
    legend = (
        '<div class="atlas-title">上传叠加<br><small>Upload overlay</small></div>'
        f'<div>{html.escape(record.filename)}</div>'
        f'<div><span class="key" style="background:{UPLOAD_COLOUR}"></span>'
        "上传图层 Uploaded layer（仅本人可见 private）</div>"
        '<div><span class="key key-county"></span>区县 County</div>'
        f"{_figures(result)}"
        f'<div class="atlas-note">面积按 EPSG:4549 量算 Areas on EPSG:4549</div>'
    )
    InfoBox(legend, static_url).add_to(fmap)
    Attribution(ATTRIBUTION + " | 上传 Upload: 用户自有数据 owner's own data").add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]], padding=(20, 20))
    return fmap


@router.get("/maps/overlay/{upload_id}", response_class=HTMLResponse)
def overlay_map(request: Request, upload_id: str) -> HTMLResponse:
    """The upload over counties (and townships / axis domains when present); owner only."""
    record, upload_store = uploads_of(request).store.layers_store(
        upload_id, owner_of(request, required=False))

    root = request.scope.get("root_path", "").rstrip("/")
    public = request.app.state.store
    result = overlay(public, [(layer, upload_store.frame(layer.id)) for layer in record.layers])
    page = build_overlay_map(public, record, upload_store, root, result,
                             raster_catalog(request).list())
    # The token may be in the URL (?access_token=): keep it out of caches and Referer headers.
    return HTMLResponse(page.get_root().render(), headers=PRIVATE)
