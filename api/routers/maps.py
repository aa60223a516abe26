"""Every `/maps/...` page and the home page (the 一张图 workspace): reads the request (query, root path, the
owner's token for an upload overlay) and calls `maps.views`; rendered pages are cached per
query and layer versions (`maps.page_cache`), except the private overlay."""

from __future__ import annotations

from typing import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import PRIVATE, owner_of, raster_catalog, settings_of, store_of, uploads_of
from maps.page_cache import rendered_page
from maps.views.axes import axes_page, scenario_store
from maps.views.choropleth import choropleth_page
from maps.views.ecology import ecology_page
from maps.views.home import home_page
from maps.views.overlay import overlay_page
from maps.views.workspace import workspace_page

router = APIRouter()


def root_of(request: Request) -> str:
    """The app's root path without a trailing slash ("" or e.g. "/atlas")."""
    return request.scope.get("root_path", "").rstrip("/")


def cached(request: Request, build: Callable[[], str], *versions: object) -> str:
    """The page for this URL (path, root path, query), rendered once per layer versions (and
    `versions` of whatever else it draws, e.g. raster files)."""
    key = (request.url.path, request.scope.get("root_path", ""), str(request.query_params),
           *versions)
    return rendered_page(store_of(request), key, build)


def home_map(request: Request) -> str:
    """The home page's HTML (`/` when HTML is wanted): the 一张图 workspace."""
    threshold = settings_of(request).map_tiles_threshold
    return cached(request, lambda: workspace_page(store_of(request), root_of(request),
                                                  threshold))


@router.get("/maps/overview", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """The administrative-divisions map (the former home map)."""
    threshold = settings_of(request).map_tiles_threshold
    return HTMLResponse(cached(request, lambda: home_page(store_of(request), root_of(request),
                                                          threshold)))


@router.get("/maps/axes", response_class=HTMLResponse)
def axes_map(request: Request, scenario: str = "") -> HTMLResponse:
    """The development-axes map (HTML): the demo, or `?scenario=name` saved by
    `POST /axes/generate` (404 for an unknown name)."""
    store = store_of(request)
    scenario_store(store, scenario)  # unknown → bilingual 404 before the page cache
    return HTMLResponse(cached(request, lambda: axes_page(store, root_of(request), scenario)))


@router.get("/maps/choropleth", response_class=HTMLResponse, tags=["maps"])
def choropleth_map(request: Request) -> HTMLResponse:
    """An indicator on a layer: classes, legend, tooltips, fact-sheet popups, selectors."""
    threshold = settings_of(request).map_tiles_threshold
    return HTMLResponse(cached(request, lambda: choropleth_page(
        store_of(request), request.query_params, root_of(request), threshold)))


@router.get("/maps/ecology", response_class=HTMLResponse)
def ecology_map(request: Request) -> HTMLResponse:
    """Bamboo carbon density (derived tiles), ledger points and unplaced villages, legend."""
    catalog = raster_catalog(request)
    return HTMLResponse(cached(request, lambda: ecology_page(store_of(request), catalog,
                                                             root_of(request)),
                               catalog.version()))


@router.get("/maps/overlay/{upload_id}", response_class=HTMLResponse, tags=["uploads"])
def overlay_map(request: Request, upload_id: str) -> HTMLResponse:
    """The upload over counties (and townships / axis domains when present); owner only."""
    record, upload_store = uploads_of(request).store.layers_store(
        upload_id, owner_of(request, required=False))
    page = overlay_page(store_of(request), record, upload_store, root_of(request),
                        raster_catalog(request).list())
    # The token may be in the URL (?access_token=): keep it out of caches and Referer headers.
    return HTMLResponse(page, headers=PRIVATE)
