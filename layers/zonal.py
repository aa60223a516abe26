"""Zonal accounting: a raster summed over polygons in EPSG:4549 (area-weighted total and
mean per zone), valued with the bamboo carbon model where the raster is a carbon density, and
optionally saved as indicators so choropleths can map it. One pipeline for every caller."""

from __future__ import annotations

import numpy as np

from geo.errors import InvalidParameter
from geo.raster import RasterCatalog, RasterMeta, ZonalResult, zonal_stats
from layers.ecology import BambooParameters, account_tonnes, save_zonal_indicators
from layers.store import Store


def _rows(meta: RasterMeta, results: list[ZonalResult], params: BambooParameters,
          props: list[dict]) -> list[dict]:
    rows = []
    for result, properties in zip(results, props):
        row = {"properties": properties, **result.__dict__}
        if meta.per_ha and meta.unit.startswith("t CO2e"):
            # the raster integrates to t CO2e/yr; value it with the same accounting model
            row["accounting"] = account_tonnes(result.total, params).as_dict()
        rows.append(row)
    return rows


def account(catalog: RasterCatalog, raster: str, geoms: np.ndarray, props: list[dict],
            params: BambooParameters) -> dict:
    """Zonal totals of `raster` over WGS84 polygons `geoms` (one row per polygon, its
    properties echoed), with units, the measuring CRS and the accounting parameters."""
    meta = catalog.meta(raster)
    results = zonal_stats(geoms, catalog.path(raster))
    return {
        "raster": meta.id, "unit": meta.unit, "measured_in": "EPSG:4549",
        "illustrative": meta.illustrative, "note": meta.note,
        "total_unit": meta.unit.replace("/ha", "") if meta.per_ha else f"{meta.unit} × ha",
        "parameters": params.__dict__, "zones": _rows(meta, results, params, props),
    }


def account_layer(catalog: RasterCatalog, raster: str, store: Store, layer_id: str,
                  params: BambooParameters, save_as: str | None = None) -> dict:
    """`account` over every polygon of a stored layer (e.g. counties), each zone named by its
    code and name; with `save_as`, the totals are saved as indicators `<save_as>_total`, …"""
    catalog.meta(raster)  # an unknown raster is a 404 before any work
    layer = store.layer(layer_id)
    frame = store.frame(layer_id)
    frame = frame[frame.geometry.notna() & frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    if frame.empty:
        raise InvalidParameter(f"图层“{layer_id}”没有面要素。",
                               f"Layer '{layer_id}' has no polygon features.")
    props = [{"code": str(code), "name": str(row.get("name", ""))}
             for code, row in zip(frame[layer.id_field], frame.to_dict("records"))]
    body = account(catalog, raster, frame.geometry.to_numpy(), props, params)
    if save_as is not None:
        body["saved_indicators"] = save_zonal_indicators(store, save_as, catalog.meta(raster),
                                                         body["zones"])
    return body
