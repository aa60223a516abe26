"""The 一张图 workspace (`/`): one map with the layer catalogue, basemaps, place search,
downloads and print links, Chinese first. The page is a frame; layers, basemaps and places
come from the JSON endpoints (/catalogue, /workspace/config, /search…) as the planner asks."""

from __future__ import annotations

from layers.store import Store
from maps.elements import HUZHOU_BOUNDS, AtlasMap, Attribution, tiled
from maps.elements.ledger import LEDGER_COLOUR
from maps.elements.upload_panel import UploadPanel
from maps.elements.workspace import (BasemapSwitcher, DownloadDialog, LayerCatalogue,
                                     PlaceSearch, PrintExport, WorkspaceShell)
from maps.messages import DEFAULT_CHOICES, ENCODED_FORMATS, MESSAGES
from maps.views import render
from maps.views.axes import CLUSTER_COLOUR, RANK_STYLE, TIER_STYLE
from maps.views.home import COUNTY_COLOURS, COUNTY_SEAT_COLOUR, TOWNSHIP_COLOUR

VISIBLE_AT_START = ["cities", "counties", "county_seats"]


def _dot(colour: str, radius: float) -> dict:
    return {"radius": radius, "color": "#fff", "weight": 1.5, "fill": True, "fillColor": colour,
            "fillOpacity": 0.95}


# How each shipped layer is drawn (Leaflet path styles); other layers get one by geometry.
STYLES: dict[str, dict] = {
    "cities": {"color": "#24425c", "weight": 3, "fill": False},
    "counties": {"color": "#555", "weight": 1, "fill": True, "fillOpacity": 0.5,
                 "palette": COUNTY_COLOURS},
    "county_seats": _dot(COUNTY_SEAT_COLOUR, 6),
    "townships": _dot(TOWNSHIP_COLOUR, 4),
    "axis_nodes": _dot(TIER_STYLE["central_town"][1], 6),
    "axes": {"color": RANK_STYLE["main"][1], "weight": 3, "fill": False},
    "axis_domains": {"color": RANK_STYLE["main"][1], "weight": 0.5, "fill": True,
                     "fillColor": RANK_STYLE["main"][2], "fillOpacity": 0.45},
    "axis_clusters": {"color": CLUSTER_COLOUR, "weight": 1.5, "dashArray": "2 4",
                      "fill": False},
    "bamboo_ledger": _dot(LEDGER_COLOUR, 6),
}

# (message key, path): the other pages, linked from the top bar.
VIEWS = [("view_overview", "/maps/overview"), ("view_axes", "/maps/axes"),
         ("view_ecology", "/maps/ecology"), ("view_choropleth", "/maps/choropleth"),
         ("data_service", "/collections?f=html"), ("api", "/docs")]


def drawing(store: Store, threshold: int | None) -> dict[str, str]:
    """Per vector layer with geometry: "tiles" or "inline", by the maps' one rule (`tiled`)."""
    return {layer.id: "tiles" if tiled(len(store.frame(layer.id)), threshold) else "inline"
            for layer in store.layers() if layer.geometry_type != "None"}


def bounds_of(store: Store) -> tuple[float, float, float, float]:
    """The city outline's extent (else the counties', else Huzhou's)."""
    have = {layer.id for layer in store.layers()}
    for layer_id in ("cities", "counties"):
        if layer_id in have:
            frame = store.frame(layer_id)
            frame = frame[frame.geometry.notna()]
            if len(frame):
                return tuple(float(v) for v in frame.total_bounds)
    return HUZHOU_BOUNDS


def build_workspace(store: Store, root: str = "", tiles_threshold: int | None = None
                    ) -> AtlasMap:
    """The workspace page's map with its panels. `root` is the app's root path."""
    fmap = AtlasMap.framing(f"{root}/static", bounds_of(store), "一张图 Workspace",
                            basemaps=False)
    WorkspaceShell(MESSAGES, [(key, root + path) for key, path in VIEWS], root).add_to(fmap)
    LayerCatalogue(url=f"{root}/catalogue", drawing=drawing(store, tiles_threshold),
                   styles=STYLES, visible=VISIBLE_AT_START, root=root).add_to(fmap)
    BasemapSwitcher(config=f"{root}/workspace/config",
                    place_names=f"{root}/basemaps/place-names.geojson").add_to(fmap)
    PlaceSearch(url=f"{root}/search", root=root).add_to(fmap)
    DownloadDialog(choices=DEFAULT_CHOICES, encoded_formats=list(ENCODED_FORMATS)
                   ).add_to(fmap)
    PrintExport(url=f"{root}/print", papers=["A4", "A3"], formats=["png", "pdf"]
                ).add_to(fmap)
    Attribution().add_to(fmap)
    UploadPanel(root=root).add_to(fmap)  # 我的数据 (issue 13), after the workspace parts
    return fmap.fit()


def workspace_page(store: Store, root: str = "", tiles_threshold: int | None = None) -> str:
    """The workspace's HTML."""
    return render(build_workspace(store, root, tiles_threshold))
