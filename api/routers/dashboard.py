"""The 驾驶舱 (dashboard) pages: /dashboard/{code} for a city or county of the store."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import services_of, store_of
from layers.axes import county_stats
from maps.page_cache import rendered_page
from maps.views.dashboard import dashboard_page

router = APIRouter(tags=["dashboard"])
AXIS_LAYERS = {"axis_nodes", "axes"}


@router.get("/dashboard/{code}", response_class=HTMLResponse)
def dashboard(request: Request, code: str) -> HTMLResponse:
    """Headline figures with change and trend, index rank, axis statistics, ledger totals."""
    store = store_of(request)
    root = request.scope.get("root_path", "").rstrip("/")

    def build() -> str:
        stats = None
        if AXIS_LAYERS <= {x.id for x in store.layers()}:
            plan, gazetteer, access = services_of(request).axis_plans.get(store, 200.0)
            stats = county_stats(plan, gazetteer, access)
        return dashboard_page(store, code, root, stats)

    # rendered once per layer versions, like the map pages
    return HTMLResponse(rendered_page(store, ("/dashboard", code, root), build))
