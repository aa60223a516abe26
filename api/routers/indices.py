"""Composite indices (综合指数) and the census join report over HTTP.

`POST /indices` computes an index from an indicator-system table (and an optional peer-group
table) over the store's indicators; a dry run by default, saving (the composite and domain
sub-indices become indicators) needs an API key. `GET /indices/demo` is the census
demonstration (方法演示); `GET /indicators/census/report` says how the shipped census figures
matched today's polygons.
"""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import require_api_key, store_of
from geo.errors import NotAnInteger, PayloadTooLarge
from layers import census
from layers.index import service
from layers.index.system import read_peers, read_system
from layers.place_names import PlaceRegistry
from maps.page_cache import rendered_page
from maps.views.index import index_page

router = APIRouter(tags=["indices"])


@router.get("/indicators/census/report")
def census_report(request: Request, layer: str = "counties") -> JSONResponse:
    """The census join per year: matched, joined under a new code, outside this store's
    region, and every unit that does not match today's polygons, with the reason."""
    store = store_of(request)
    polygons = set(store.frame(layer).index) if layer in {x.id for x in store.layers()} \
        else set()
    return JSONResponse({**census.join_report(polygons), "layer": layer})


MAX_TABLE_BYTES = 5 * 1024 * 1024


async def _read(upload: UploadFile | None) -> bytes | None:
    if upload is None:
        return None
    data = await upload.read(MAX_TABLE_BYTES + 1)
    if len(data) > MAX_TABLE_BYTES:
        raise PayloadTooLarge("表格超过 5 MB。", "The table is larger than 5 MB.")
    return data


@router.get("/indices/demo")
def demo_index(request: Request, layer: str = "counties") -> JSONResponse:
    """The census demonstration index (方法演示): weights with their derivation, scores, ranks,
    rows left out for missing figures."""
    result = service.demo(store_of(request), layer)
    return JSONResponse({**result.to_dict(), "id": service.DEMO_ID, "layer": layer})


@router.post("/indices")
async def post_index(
    request: Request,
    system: UploadFile = File(..., description="指标体系 CSV (UTF-8/GBK) or XLSX: 指标编号, "
                              "指标名称, 英文名称, 领域, 方向(+/−), 权重"),
    peers: UploadFile | None = File(None, description="分组 table: 地区代码 (or 地区), 分组"),
    id: str = Form("index", description="index id (saved indicators: id, id_sub_1…, id_rank)"),
    title_zh: str = Form("综合指数"), title_en: str = Form("Composite index"),
    method: str = Form("entropy", description="objective weights: entropy | critic"),
    alpha: float = Form(0.5, description="share of the subjective weights (0–1)"),
    layer: str = Form("counties"), years: str = Form("", description="e.g. 2010,2020"),
    dry_run: bool = Form(True, description="compute only; save nothing"),
    sheet: str | None = Form(None),
) -> JSONResponse:
    """Compute a composite index over the store's indicators; with `dry_run=false` (API key)
    save the composite, sub-indices and rank as indicators."""
    if not dry_run:
        require_api_key(request, "保存指数", "Saving an index")
    store = store_of(request)
    index_id = service.check_id(id)
    table = await _read(system)
    parsed = read_system(table, system.filename or "system.csv", sheet or None,
                         title_zh=title_zh, title_en=title_en)
    peer_data = await _read(peers)
    registry = PlaceRegistry.from_store(store)
    groups = (read_peers(peer_data, peers.filename or "peers.csv", _resolver(registry))
              if peer_data else None)
    result = service.run(store, parsed, groups, method, alpha, layer, _years(years))
    body = {**result.to_dict(), "id": index_id, "layer": layer, "dry_run": dry_run,
            "saved": False}
    if not dry_run:
        service.save(store, result, index_id, system.filename or "uploaded system", layer)
        body.update(saved=True, indicators=[index_id, *(f"{index_id}_{result.domain_column(d)}"
                                                         for d in parsed.domains),
                                            f"{index_id}_rank"])
        return JSONResponse(body, status_code=201)
    return JSONResponse(body)


def _resolver(registry: PlaceRegistry):
    def resolve(name: str) -> str | None:
        found = registry.resolve(name, level="county")
        return found.place.code if found.status == "matched" else None
    return resolve


def _years(text: str) -> list[int] | None:
    if not text.strip():
        return None
    try:
        return [int(y) for y in text.replace("，", ",").split(",") if y.strip()]
    except ValueError:
        raise NotAnInteger("years", text) from None


@router.get("/maps/index", response_class=HTMLResponse, tags=["maps"])
def index_map(request: Request, layer: str = "counties", year: int | None = None
              ) -> HTMLResponse:
    """The index view: composite and sub-index maps, rankings per peer group, radar and trend
    charts, weights with their derivation (the census demonstration, 方法演示)."""
    root = request.scope.get("root_path", "").rstrip("/")
    key = (request.url.path, root, layer, year)  # rendered once per layer versions
    return HTMLResponse(rendered_page(store_of(request), key,
                                      lambda: index_page(store_of(request), root, layer, year)))
