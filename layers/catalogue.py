"""The catalogue: every layer a map can show, vector (in the Store) and raster (COGs in the
raster catalogue), as `Layer`s with one provenance shape and one version token each."""

from __future__ import annotations

from geo.errors import UnknownCollection
from geo.raster import RasterCatalog, RasterMeta
from layers.model import Layer, Provenance
from layers.store import Store

RASTER_CRS = "EPSG:4549"  # rasters are stored on the CGCS2000 3° GK plane (geo/raster.py)


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
        for layer in self.layers():
            if layer.id == layer_id:
                return layer
        known = ", ".join(layer.id for layer in self.layers())
        raise UnknownCollection(f"没有名为“{layer_id}”的图层。现有图层：{known}",
                                f"No layer named '{layer_id}'. Available layers: {known}",
                                collection=layer_id)

    def version(self, layer_id: str) -> str:
        """A token that changes when the layer changes: the store's version for a vector
        layer, the files' modification times for a raster."""
        if self.rasters.has(layer_id):
            paths = [self.rasters.folder / f"{layer_id}{suffix}" for suffix in (".tif", ".json")]
            return "-".join(f"{p.stat().st_mtime_ns:x}" for p in paths)
        return self.store.version(layer_id)
