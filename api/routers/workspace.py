"""一张图 workspace: what the browser page needs to start — basemaps, CRS, download formats and
encodings, counties — and the place-name label layer drawn from our own data.

The online basemaps (天地图, 高德, OpenStreetMap) are fetched by the planner's browser
directly; this server never requests, proxies or caches their tiles (天地图's terms forbid
caching, and the server has no internet). Offline, the "none" basemap (first, the default)
plus our place-name labels and vector layers make the map.
"""

from __future__ import annotations

import numpy as np
import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import settings_of, store_of
from api.settings import Settings
from geo.crs import CRS_NAMES
from geo.vector_io import ENCODING_NAMES, FORMATS
from layers.place_labels import place_labels, resolve_label_crs
from layers.store import Store

router = APIRouter(tags=["一张图 workspace"])

TIANDITU_URL = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")
TIANDITU_ATTRIBUTION = "天地图 国家地理信息公共服务平台 (tianditu.gov.cn)"
AMAP_URL = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
            "&x={x}&y={y}&z={z}")
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
WORKSPACE_CRS = ("EPSG:4490", "EPSG:4549", "EPSG:4528", "EPSG:4326", "EPSG:3857", "GCJ-02")
WORKSPACE_FORMATS = ("shp", "gpkg", "geojson", "kml", "csv", "xlsx")
WORKSPACE_ENCODINGS = ("gbk", "utf-8")


def _basemap(id: str, name_zh: str, name_en: str, kind: str, url: str | None, crs: str,
             online: bool, attribution: str, subdomains: list[str] | None = None,
             overlay_url: str | None = None, max_zoom: int = 18) -> dict:
    return {"id": id, "name_zh": name_zh, "name_en": name_en, "kind": kind, "url": url,
            "subdomains": subdomains or [], "crs": crs, "online": online,
            "attribution": attribution, "overlay_url": overlay_url, "max_zoom": max_zoom}


def basemaps(settings: Settings) -> list[dict]:
    """The basemap choices, the offline "none" first (the default). `url` is always an XYZ
    template ({z}/{x}/{y}, {s} from `subdomains`) that Leaflet's L.tileLayer takes as is;
    `kind` "wmts" says it is a WMTS GetTile (天地图, tile matrix set "w" = Web Mercator on
    CGCS2000), "xyz" a plain tile server."""
    found = [_basemap("none", "无底图（离线）", "No basemap (offline)", "none", None, "WGS84",
                      False, "", max_zoom=20)]
    key = settings.tianditu_key
    if key:
        digits = [str(i) for i in range(8)]
        found.append(_basemap(
            "tianditu_vec", "天地图 矢量（需联网）", "Tianditu vector (needs internet)", "wmts",
            TIANDITU_URL.format(layer="vec", key=key), "CGCS2000", True, TIANDITU_ATTRIBUTION,
            digits, TIANDITU_URL.format(layer="cva", key=key), 18))
        found.append(_basemap(
            "tianditu_img", "天地图 影像（需联网）", "Tianditu imagery (needs internet)", "wmts",
            TIANDITU_URL.format(layer="img", key=key), "CGCS2000", True, TIANDITU_ATTRIBUTION,
            digits, TIANDITU_URL.format(layer="cia", key=key), 18))
    found.append(_basemap(
        "amap_vec", "高德 矢量（需联网，GCJ-02）", "Amap vector (needs internet, GCJ-02)", "xyz",
        AMAP_URL, "GCJ-02", True, "© 高德地图 AutoNavi", ["1", "2", "3", "4"], None, 18))
    found.append(_basemap(
        "osm", "OpenStreetMap（需联网）", "OpenStreetMap (needs internet)", "xyz", OSM_URL,
        "WGS84", True, "© OpenStreetMap contributors (ODbL)", None, None, 19))
    for own in settings.intranet_basemaps():
        found.append(_basemap(own.id, own.name_zh, own.name_en, "xyz", own.url, own.crs, False,
                              own.attribution, own.subdomains, own.overlay_url, own.max_zoom))
    return found


def counties(store: Store) -> list[dict]:
    """Each county's code, name and WGS84 bbox [w, s, e, n] (the extent picker)."""
    if "counties" not in {layer.id for layer in store.layers()}:
        return []
    frame = store.frame("counties")
    bounds = shapely.bounds(frame.geometry.to_numpy())
    return [{"code": str(code), "name": str(name),
             "bbox": [round(float(v), 6) for v in box] if np.all(np.isfinite(box)) else None}
            for code, name, box in zip(frame["code"], frame["name"], bounds)]


@router.get("/workspace/config")
def workspace_config(request: Request) -> JSONResponse:
    """Basemaps, CRS choices, download formats and encodings, and counties for the
    一张图 workspace page."""
    settings = settings_of(request)
    return JSONResponse({
        "basemaps": basemaps(settings),
        "crs_choices": [{"id": key, "name_zh": CRS_NAMES[key][0], "name_en": CRS_NAMES[key][1]}
                        for key in WORKSPACE_CRS],
        "formats": [{"id": key, "name_zh": FORMATS[key].title_zh, "name_en": FORMATS[key].title}
                    for key in WORKSPACE_FORMATS],
        "encodings": [{"id": key, "name_zh": ENCODING_NAMES[key][0],
                       "name_en": ENCODING_NAMES[key][1]} for key in WORKSPACE_ENCODINGS],
        "counties": counties(store_of(request)),
    })


@router.get("/basemaps/place-names.geojson")
def place_names(request: Request,
                crs: str = Query("WGS84", description="WGS84 or GCJ-02 (to sit on 高德)")
                ) -> JSONResponse:
    """Label points from our own data: the city, each county (a point inside its polygon)
    and the township seats that GeoNames has (no other seat is invented)."""
    choice = resolve_label_crs(crs)
    return JSONResponse(place_labels(store_of(request), choice),
                        media_type="application/geo+json")
