"""The catalogue: every layer a map can show, vector (in the Store) and raster (COGs in the
raster catalogue), as `Layer`s with one provenance shape and one version token each."""

from __future__ import annotations

from geo.raster import RasterCatalog, RasterMeta
from layers.model import Layer, Provenance
from layers.store import Store, find_layer

RASTER_CRS = "EPSG:4549"  # rasters are stored on the CGCS2000 3° GK plane (geo/raster.py)

# Themes a planner browses by (the workspace's catalogue panel groups layers under them).
THEMES = {
    "admin": ("行政区划", "Administrative divisions"),
    "axes": ("发展轴", "Development axes"),
    "ecology": ("生态资源", "Ecological assets"),
    "indicators": ("指标专题", "Indicator themes"),
    "constraints": ("管控边界", "Control lines (planner's files)"),
    "mine": ("我的数据", "My data"),
    "other": ("其他", "Other"),
}
_ADMIN = {"cities", "counties", "county_seats", "townships", "villages"}
_AXES_SUFFIXES = ("axis_nodes", "axes", "axis_domains", "axis_clusters", "axis_cluster_areas",
                  "projects", "project_snapshots", "project_areas")


def theme_of(layer: Layer) -> str:
    """The theme a layer is listed under: by id for the shipped layers, by suffix for saved
    axes scenarios (`{scenario}_axes`, …), rasters under ecology."""
    if layer.id in _ADMIN:
        return "admin"
    if layer.id.startswith("constraint_"):
        return "constraints"
    if layer.id.endswith(_AXES_SUFFIXES):
        return "axes"
    if layer.kind == "raster" or layer.id.startswith(("bamboo", "ecology", "carbon")):
        return "ecology"
    if layer.id.startswith(("index_", "indicator")):
        return "indicators"
    return "other"


def raster_layer(meta: RasterMeta) -> Layer:
    """A raster's catalogue entry as a Layer of kind "raster"."""
    return Layer(
        id=meta.id, title_zh=meta.title_zh, title_en=meta.title_en, geometry_type="Raster",
        id_field="", kind="raster",
        provenance=Provenance(source=meta.source, license=meta.license,
                              crs_of_origin=RASTER_CRS, illustrative=meta.illustrative,
                              note=meta.note),
        style={"unit": meta.unit, "colormap": meta.colormap, "rescale": list(meta.rescale),
               "per_ha": meta.per_ha},
    )


class Catalogue:
    """Vector layers of a store followed by the rasters of a raster folder."""

    def __init__(self, store: Store, rasters: RasterCatalog) -> None:
        self.store = store
        self.rasters = rasters

    def layers(self, kind: str | None = None) -> list[Layer]:
        """Every layer (or those of one kind: "vector" or "raster"), store order first."""
        found = [] if kind == "raster" else list(self.store.layers())
        if kind != "vector":
            found += [raster_layer(meta) for meta in self.rasters.list()]
        return found

    def layer(self, layer_id: str) -> Layer:
        return find_layer(self.layers(), layer_id)

    def version(self, layer_id: str) -> str:
        """A token that changes when the layer changes: the store's version for a vector
        layer, the files' modification times for a raster."""
        if self.rasters.has(layer_id):
            paths = [self.rasters.folder / f"{layer_id}{suffix}" for suffix in (".tif", ".json")]
            return "-".join(f"{p.stat().st_mtime_ns:x}" for p in paths)
        return self.store.version(layer_id)
