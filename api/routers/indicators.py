"""Indicators over HTTP: the catalogue, values with citations, legends, and uploads.

`POST /indicators` joins a planner's CSV/XLSX to the place registries and returns the join
report; with `dry_run=true` (the default) nothing is saved.
"""

from __future__ import annotations

from typing import Any

from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from api.deps import require_api_key, store_of

from geo.errors import PayloadTooLarge, UnknownChoice
from layers import indicators
from layers.choropleth import choropleth, spec_from_params
from layers.indicator_upload import UploadOptions, join_table, read_table
from layers.place_names import PlaceRegistry
from layers.store import Store

router = APIRouter(tags=["indicators"])
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _store(request: Request) -> Store:
    return store_of(request)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _entry(request: Request, table: indicators.IndicatorTable, summary: Any,
           ind: str) -> dict[str, Any]:
    meta = table.indicator(ind)
    base = f"{_base(request)}/indicators/{ind}"
    return {
        **meta,
        "derived": meta.get("derived") == "true",
        "higher_is_better": {"true": True, "false": False}.get(meta["higher_is_better"]),
        "years": summary.at[ind, "years"],
        "places": int(summary.at[ind, "places"]),
        "levels": summary.at[ind, "levels"],
        "links": [
            {"href": base, "rel": "self", "type": "application/json"},
            {"href": f"{base}/values", "rel": "data", "type": "application/json"},
            {"href": f"{base}/legend", "rel": "describedby", "type": "application/json"},
            {"href": f"{_base(request)}/maps/choropleth?indicator={ind}", "rel": "alternate",
             "type": "text/html", "title": "Choropleth map"},
        ],
    }


@router.get("/indicators")
def list_indicators(request: Request, origin: str | None = None,
                    mappable: bool = False,
                    q: str | None = Query(None, description="text in the id or the titles"),
                    level: str | None = Query(None, description="county, city, township…"),
                    limit: int = Query(100, ge=1, le=5000),
                    offset: int = Query(0, ge=0)) -> JSONResponse:
    """The indicator catalogue, paged (`limit`/`offset`, `next` link) and searchable (`q`,
    `level`, `origin`); `mappable=true` keeps those with figures for ≥ 2 places."""
    store = _store(request)
    version = indicators.version_of(store)
    table, summary = indicators.load_with_summary(store)
    catalog = table.catalog
    keep = pd.Series(True, index=catalog.index)
    if mappable:
        keep &= summary["mappable"]
    if origin:
        keep &= catalog["origin"] == origin
    if level:
        keep &= summary["levels"].map(lambda levels: level in levels)
    if q:
        text = (catalog.index.to_series() + " " + catalog["title_zh"].fillna("") + " "
                + catalog["title_en"].fillna("")).str.lower()
        keep &= text.str.contains(q.strip().lower(), regex=False)
    ids = list(catalog.index[keep.to_numpy()])
    if mappable:  # most places first, as the picker wants them
        ids.sort(key=lambda i: (-summary.at[i, "places"], i))
    page = ids[offset:offset + limit]
    body: dict[str, Any] = {
        "indicators": [_entry(request, table, summary, i) for i in page],
        "numberMatched": len(ids), "numberReturned": len(page), "version": version,
        "links": []}
    if offset + limit < len(ids):
        query = {**request.query_params, "offset": str(offset + limit), "limit": str(limit)}
        body["links"].append({"rel": "next", "type": "application/json",
                              "href": f"{_base(request)}/indicators?{urlencode(query)}"})
    return JSONResponse(body)


@router.get("/indicators/seed/report")
def seed_report() -> JSONResponse:
    """How the shipped seed facts matched the registries (unmatched rows are listed)."""
    facts = indicators.seed_table().facts
    status = facts["match"].str.split(":").str[0]
    unmatched = facts[status != "matched"]
    body = {
        "rows": len(facts),
        "by_status": status.value_counts().to_dict(),
        "matched_levels": facts.loc[status == "matched", "level"].value_counts().to_dict(),
        "not_matched": unmatched[["place_name", "level", "match", "indicator",
                                  "value_as_written", "source"]].to_dict("records"),
    }
    return JSONResponse(body)


@router.get("/indicators/{indicator_id}")
def indicator(request: Request, indicator_id: str) -> JSONResponse:
    table = indicators.load(_store(request))
    table, summary = indicators.load_with_summary(_store(request))
    return JSONResponse(_entry(request, table, summary, indicator_id))


@router.get("/indicators/{indicator_id}/values")
def values(request: Request, indicator_id: str, year: int | None = None) -> JSONResponse:
    """Every figure of an indicator (optionally one year), each with its citation."""
    table = indicators.load(_store(request))
    table.indicator(indicator_id)
    rows = table.facts[table.facts["indicator"] == indicator_id]
    if year is not None:
        rows = rows[rows["year"] == year]
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    return JSONResponse({"indicator": indicator_id, "values": records,
                         "numberMatched": len(records)})


@router.get("/indicators/{indicator_id}/legend")
def legend(request: Request, indicator_id: str, layer: str = "counties",
           f: str = "json") -> Response:
    """Classes, colours and counts for a layer (JSON), or the legend image (`f=png`)."""
    if f not in ("json", "png"):
        raise UnknownChoice("f", f, ("json", "png"))
    params = {k: v for k, v in request.query_params.items() if k not in ("layer", "f")}
    spec = spec_from_params({**params, "indicator": indicator_id})
    result = choropleth(_store(request), layer, spec)
    if f == "png":
        png = result.classification.render_png(result.title, result.meta.get("unit", ""))
        return Response(png, media_type="image/png")
    return JSONResponse({**result.legend(), "layer": layer})


@router.post("/indicators", status_code=200)
async def upload(
    request: Request,
    file: UploadFile = File(..., description="CSV (UTF-8/GBK/GB18030) or XLSX"),
    dry_run: bool = Form(True, description="only report the join; save nothing"),
    key: str | None = Form(None), parent: str | None = Form(None), level: str = Form(""),
    layout: str = Form("auto"), indicator: str | None = Form(None),
    title_zh: str | None = Form(None), title_en: str | None = Form(None),
    year: int | None = Form(None), unit: str = Form(""), source: str = Form(""),
    source_date: str = Form(""), higher_is_better: bool | None = Form(None),
    sheet: str | None = Form(None),
) -> JSONResponse:
    """Join a table to the place registries; the report says what matched and what did not."""
    if not dry_run:  # the indicator table is shared by everyone
        require_api_key(request, "保存指标表", "Saving an indicator table")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge("文件超过 20 MB。", "The file is larger than 20 MB.")
    store = _store(request)
    options = UploadOptions(key=key or None, parent=parent or None, level=level, layout=layout,
                            indicator=indicator or None, title_zh=title_zh or None,
                            title_en=title_en or None, year=year, unit=unit, source=source,
                            source_date=source_date, higher_is_better=higher_is_better,
                            sheet=sheet or None)
    name = file.filename or "upload"
    result = join_table(read_table(data, name, options.sheet), PlaceRegistry.from_store(store),
                        options, name)
    report = {**result.report, "dry_run": dry_run, "saved": False}
    if not dry_run and len(result.table.facts):
        indicators.add(store, result.table)
        report.update(saved=True, version=indicators.version_of(store))
        return JSONResponse(report, status_code=201)
    return JSONResponse(report)
