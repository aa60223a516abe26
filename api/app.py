"""The FastAPI application: OGC API Features, downloads and map views over one Store."""

from __future__ import annotations

import threading

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from api.routers import (axes, catalogue, downloads, ecology, features, indicators, maps, places,
                         pmtiles, projects, rasters, search, tiles, uploads, workspace)
from api.routers import dashboard, indices  # composite indices, 驾驶舱
from api.routers import print as print_router
from api.routers import compliance  # 合规性审查
from api.routers import transactions  # OGC API Features Part 4 editing
from api.routers import filtering  # OGC API Features Part 3: queryables
from api.routers import ogc_tiles, styles  # OGC API Tiles, styles per collection
from api.deps import Services
from api.errors import install_error_handlers
from api.head import HeadAsGet
from api.negotiation import wants_html
from api.openapi import MEDIA_TYPE as OPENAPI_MEDIA_TYPE, OpenAPIDocument
from api.rate_limit import RateLimits
from api.settings import Settings
from api.tile_cache import CachedTiles, install_fast_path
from layers.store import Store


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title=settings.title,
        description="OGC API – Features, downloads and maps for Huzhou planners.",
        version="0.1.0",
        # Swagger UI from our own /static (npm swagger-ui-dist), not a CDN: see /docs below.
        # ReDoc is not offered (its bundle is not vendored).
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below: OpenAPI 3.0 with the OGC parameters (api/openapi.py)
    )
    services = Services(settings, store or settings.open_store())
    app.state.services = services
    # plain aliases for the few places that hold the app, not a request (middleware, pages)
    app.state.settings, app.state.store = services.settings, services.store
    install_error_handlers(app)
    # Level 5, not Starlette's 9: the same size on our HTML/JSON (a 320 KB map page: 118 KB
    # either way) at a quarter of the time (26 ms vs 134 ms per page on this machine).
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=5)
    app.add_middleware(RateLimits, per_minute=settings.rate_limit_per_minute)
    app.add_middleware(HeadAsGet)  # outermost: HEAD is the GET of every route, body dropped

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """Swagger UI, every asset served by us (works on an intranet without internet)."""
        root = request.scope.get("root_path", "").rstrip("/")
        vendor = f"{root}/static/vendor/swagger-ui"
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json", title=f"{settings.title} – API",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/favicon-32x32.png",
            # no badge fetched from validator.swagger.io (the default would call the internet)
            swagger_ui_parameters={"validatorUrl": None})

    openapi_document = OpenAPIDocument(app, services.settings, services.store)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response:
        """The OpenAPI 3.0 document (GDAL reads the items limits from it, QGIS its params)."""
        return Response(openapi_document.encoded(), media_type=OPENAPI_MEDIA_TYPE)

    @app.get("/", include_in_schema=True)
    def home(request: Request) -> Response:
        """Landing page: the map (HTML) or the OGC API landing document (JSON)."""
        if wants_html(request):
            return HTMLResponse(maps.home_map(request))
        return JSONResponse(features.landing(request))

    app.include_router(features.router)
    app.include_router(transactions.router)
    app.include_router(filtering.router)
    app.include_router(catalogue.router)
    app.include_router(downloads.router)
    app.include_router(maps.router)
    app.include_router(axes.router)
    app.include_router(projects.router)
    app.include_router(indicators.router)
    app.include_router(indices.router)
    app.include_router(dashboard.router)
    app.include_router(places.router)
    app.include_router(rasters.router)
    app.include_router(ecology.router)
    app.include_router(tiles.router)
    app.include_router(ogc_tiles.router)  # after the XYZ routes: /tiles/{tms}/… never shadows them
    app.include_router(styles.router)
    app.include_router(pmtiles.router)
    app.include_router(uploads.router)
    app.include_router(compliance.router)
    app.include_router(workspace.router)
    app.include_router(search.router)
    app.include_router(print_router.router)
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    install_fast_path(app)  # cached tiles are answered before the rest of the stack
    return app


def serving_app() -> CachedTiles:
    """The ASGI app `gongfu serve` runs (uvicorn factory): the atlas with cached tiles answered
    before FastAPI is entered at all, whose own per-request work (telemetry check, error
    middleware) costs about as much as a cache hit. Tile pyramids are built in the
    background so the server answers at once."""
    app = create_app()
    tiles = app.state.services.tiles
    threading.Thread(target=tiles.prebuild, name="tile-prebuild", daemon=True).start()
    return CachedTiles(app, atlas=app)
