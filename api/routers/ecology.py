"""Bamboo carbon accounting over HTTP: sourced parameters, an area calculator, the ledger."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from api.deps import bamboo_parameters, store_of
from geo import geojson
from layers.ecology import (COMPUTED_FIELDS, BambooParameters, account_area, ledger_frame,
                            parameter_sources)

router = APIRouter(tags=["ecology 生态"])


@router.get("/ecology/parameters")
def parameters() -> dict:
    """Every accounting parameter with its value, unit and source (incl. the CO2e-vs-C note)."""
    return {"parameters": parameter_sources()}


@router.get("/ecology/accounting")
def accounting(area_mu: float = Query(..., ge=0, le=1e9, description="moso bamboo area, 亩"),
               params: BambooParameters = Depends(bamboo_parameters)) -> dict:
    """Annual sequestration (t CO2e, t C), collection payment, trade value and village share."""
    return {"computed": True, "parameters": params.__dict__,
            **account_area(area_mu, params).as_dict()}


@router.get("/ecology/ledger")
def ledger(request: Request, params: BambooParameters = Depends(bamboo_parameters)) -> dict:
    """The ledger as GeoJSON: reported figures with citations + the model's computed fields.

    Unplaced entries (villages without open coordinates) have `geometry: null`.
    """
    frame = ledger_frame(params, store_of(request))
    features = []
    for row in frame.to_dict("records"):
        geometry = row.pop("geometry")
        features.append({"type": "Feature", "id": row["id"],
                         "geometry": geojson.geometry(geometry),
                         "properties": {k: geojson.plain(v) for k, v in row.items()}})
    return {"type": "FeatureCollection", "computed_fields": list(COMPUTED_FIELDS),
            "parameters": params.__dict__, "features": features}
