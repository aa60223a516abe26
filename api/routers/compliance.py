"""Compliance check (合规性审查) over HTTP.

- `POST /constraints?kind=…&id=…&title=…&crs=…&dry_run=true` (multipart `file`, repeatable, as
  for `/uploads`): a constraint layer from the planner's own file. Dry run (default) reports;
  `dry_run=false` needs an API key and publishes the public layer `constraint_<id>`.
- `GET /constraints`: the published constraint layers.
- `GET /uploads/{id}/compliance[.geojson|.xlsx|.csv]?constraints=a,b`: the owner's upload
  checked against every (or the named) constraint layer; 404 for anyone else.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from api.deps import PRIVATE, owner_of, require_api_key, store_of, uploads_of
from api.paging import PagingDep, paged
from api.upload_stream import receive
from geo import geojson
from geo.measure import HUZHOU_ZONE_EPSG, MU_PER_KM2, area_km2
from layers.compliance import (KIND_FIELD, compliance, compliance_csv, compliance_xlsx, conflict_features,
                               constraint_layer, constraint_layers, describe,
                               read_constraint_file, resolve_kind)
from layers.uploads import build_report, huzhou_outline, remove_tree

router = APIRouter(tags=["compliance 合规性审查"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post("/constraints")
async def publish_constraint(
    request: Request,
    kind: str = Query(..., description="生态保护红线 | 永久基本农田 | 城镇开发边界 | a custom name"),
    layer_slug: str | None = Query(None, alias="id", description="layer id after constraint_ "
                                   "(a–z, 0–9, _); defaults for the three standard kinds"),
    title: str | None = Query(None, description="title shown in the catalogue"),
    crs: str | None = Query(None, description="CRS when the file does not say, e.g. EPSG:4549"),
    dry_run: bool = Query(True, description="Only report (default); false publishes (API key)"),
) -> JSONResponse:
    """A constraint layer from the planner's own file (zip/shp/gpkg/geojson/kml/报盘 txt…)."""
    kind, layer_id, title_zh, title_en = resolve_kind(kind, layer_slug, title)
    if not dry_run:
        require_api_key(request, "发布约束图层", "Publishing a constraint layer")
    uploads = uploads_of(request)
    work = Path(tempfile.mkdtemp(prefix="gongfu-constraint-"))
    try:
        names = await receive(request, work, uploads.limits.max_upload_bytes)
        filename = names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1})"

        def build():
            read = read_constraint_file(uploads, work, filename, crs)
            report = build_report(read, filename, huzhou_outline(uploads.public))
            layer, frame = constraint_layer(read, work, filename, kind, layer_id, title_zh,
                                            title_en)
            if not dry_run:
                uploads.public.put(layer, frame)  # atomic: readers see old or new
            return report, layer, frame

        report, layer, frame = await asyncio.to_thread(build)
    finally:
        remove_tree(work)
    km2 = float(area_km2(frame.geometry.to_numpy(), HUZHOU_ZONE_EPSG).sum())
    body = {"dry_run": dry_run, "saved": not dry_run,
            "layer": {"id": layer.id, "kind": kind, "title_zh": layer.title_zh,
                      "title_en": layer.title_en, "feature_count": len(frame),
                      "area_km2": round(km2, 6), "area_mu": round(km2 * MU_PER_KM2, 2),
                      "area_crs": f"EPSG:{HUZHOU_ZONE_EPSG}",
                      "provenance": {"source": layer.provenance.source,
                                     "license": layer.provenance.license,
                                     "crs_of_origin": layer.provenance.crs_of_origin,
                                     "note": layer.provenance.note}},
            "report": report}
    if not dry_run:
        base = str(request.base_url).rstrip("/")
        body["links"] = [{"href": f"{base}/collections/{layer.id}", "rel": "collection"},
                         {"href": f"{base}/collections/{layer.id}/items", "rel": "items"}]
    return JSONResponse(body, status_code=200 if dry_run else 201)


@router.get("/constraints")
def list_constraints(request: Request, page: PagingDep) -> dict:
    """The published constraint layers (from planners' files, never official 三区三线); paged
    (`limit`/`offset`, `next`) and searchable (`q`: id, kind, titles)."""
    store = store_of(request)
    return paged(request, constraint_layers(store), page,
                 lambda layer: " ".join([layer.id, layer.title_zh, layer.title_en,
                                         str(layer.style.get(KIND_FIELD, ""))]),
                 lambda layer: describe(layer, store), "constraints")


def _wanted(constraints: str | None) -> list[str] | None:
    return [c.strip() for c in constraints.split(",") if c.strip()] if constraints else None


async def _check(request: Request, upload_id: str, constraints: str | None, what):
    record, store = uploads_of(request).store.layers_store(
        upload_id, owner_of(request, required=False))
    layers = [(layer, store.frame(layer.id)) for layer in record.layers]
    public = store_of(request)
    return await asyncio.to_thread(lambda: what(public, layers, _wanted(constraints)))


_CONSTRAINTS_Q = Query(None, description="constraint layer ids, comma-separated (default all)")


@router.get("/uploads/{upload_id}/compliance")
async def upload_compliance(request: Request, upload_id: str,
                            constraints: str | None = _CONSTRAINTS_Q) -> JSONResponse:
    """Conflict area (m², 亩, share) per constraint and parcel, and totals; owner only."""
    result = await _check(request, upload_id, constraints, compliance)
    return JSONResponse({"upload": upload_id, **result}, headers=PRIVATE)


@router.get("/uploads/{upload_id}/compliance.geojson")
async def upload_compliance_geojson(request: Request, upload_id: str,
                                    constraints: str | None = _CONSTRAINTS_Q) -> Response:
    """The conflict polygons (WGS84) to draw in red or download; owner only."""
    frame = await _check(request, upload_id, constraints, conflict_features)
    props = [c for c in frame.columns if c != frame.geometry.name]
    feats = geojson.features(frame, frame.geometry.to_numpy(), props, 7)
    body = {"type": "FeatureCollection", "features": feats, "numberMatched": len(feats),
            "numberReturned": len(feats)}
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/geo+json",
                    headers={**PRIVATE, "Content-Disposition":
                             f'attachment; filename="compliance_{upload_id}.geojson"'})


@router.get("/uploads/{upload_id}/compliance.xlsx")
async def upload_compliance_xlsx(request: Request, upload_id: str,
                                 constraints: str | None = _CONSTRAINTS_Q) -> Response:
    result = await _check(request, upload_id, constraints, compliance)
    return Response(compliance_xlsx(result, upload_id), media_type=XLSX, headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="compliance_{upload_id}.xlsx"'})


@router.get("/uploads/{upload_id}/compliance.csv")
async def upload_compliance_csv(request: Request, upload_id: str,
                                constraints: str | None = _CONSTRAINTS_Q) -> Response:
    result = await _check(request, upload_id, constraints, compliance)
    return Response(compliance_csv(result), media_type="text/csv; charset=utf-8", headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="compliance_{upload_id}.csv"'})
