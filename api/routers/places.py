"""Place fact sheets (地情卡): every figure known for a place, each with its citation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import store_of
from api.negotiation import wants_html
from api.pages import render_page
from geo.errors import NotFound
from layers import indicators
from layers.place_names import PlaceRegistry

router = APIRouter(tags=["indicators"])
_BEFORE = ("均超过", "超过", "突破", "近", "超", "逾", "约", "破", "上", "达", "共", "累计")


_LAYER_OF = {"city": "cities", "county": "counties", "township": "townships"}


class UnknownPlace(NotFound):
    code = "unknown_place"


def fact_sheet(request: Request, code: str) -> dict[str, Any]:
    store = store_of(request)
    registry = PlaceRegistry.from_store(store)
    place = registry.by_code(code)
    table = indicators.load(store)
    rows = table.for_place(place.code if place else code)
    if place is None and rows.empty:
        raise UnknownPlace(f"没有代码为“{code}”的地方。", f"No place with code '{code}'.",
                           place=code)
    base = str(request.base_url).rstrip("/")
    mappable = set(table.mappable())  # a map of one place is no map: link only these
    facts = []
    for rec in rows.astype(object).where(rows.notna(), None).to_dict("records"):
        qualifier = rec["qualifier"] or ""
        before = qualifier if qualifier.startswith(_BEFORE) else ""
        facts.append({
            "indicator": rec["indicator"], "title_zh": rec["title_zh"],
            "title_en": rec["title_en"], "year": rec["year"], "period": rec["period"],
            "value": rec["value"], "unit": rec["unit"], "qualifier": qualifier,
            "qualifier_before": before, "qualifier_after": "" if before else qualifier,
            "value_as_written": rec["value_as_written"], "kind": rec["kind"],
            "source": rec["source"], "source_date": rec["source_date"],
            "derived": rec["derived"] == "true", "origin": rec["origin"], "note": rec["note"],
            "href": f"{base}/indicators/{rec['indicator']}",
            "map": (f"{base}/maps/choropleth?layer={_LAYER_OF[rec['level']]}"
                    f"&indicator={rec['indicator']}"
                    if rec["level"] in _LAYER_OF and rec["indicator"] in mappable else ""),
            "display": _display(rec["value"], before, "" if before else qualifier, rec["unit"]),
        })
    name = place.name if place else (rows["place_name"].iloc[0] if len(rows) else code)
    parents = [{"code": c, "name": n, "href": f"{base}/places/{c}"}
               for c, n in (place.ancestors if place else ())]
    return {"code": place.code if place else code, "name": name,
            "level": place.level if place else "", "parents": parents, "facts": facts,
            "links": [{"href": f"{base}/places/{code}", "rel": "self",
                       "type": "application/json"},
                      {"href": f"{base}/places/{code}?f=html", "rel": "alternate",
                       "type": "text/html"}]}


def _display(value: float | None, before: str, after: str, unit: str) -> str:
    if value is None:
        return "—"
    sep = "" if unit == "年" else ","  # a year (2010 年) takes no thousands separator
    number = format(int(value), sep) if float(value).is_integer() else format(value, f"{sep}.6g")
    return f"{before}{number}{after} {unit}".strip()


@router.get("/places/{code}")
def place(request: Request, code: str) -> Response:
    """A place's fact sheet: JSON, or HTML (`f=html`, or a browser's Accept header)."""
    body = fact_sheet(request, code)
    if wants_html(request):
        return HTMLResponse(render_page("place.html", request, body=body))
    return JSONResponse(body)
