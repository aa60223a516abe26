"""What routes need, as FastAPI dependencies: the settings, the store, the tile, raster and
upload services, the caller's upload owner, and the API-key rule for shared writes.

Everything is built once in `create_app` (`Services`, kept in `app.state.services`); routes
ask for it here and never set anything up on `app.state` themselves.
"""

from __future__ import annotations

import hmac
import threading
from typing import Annotated

from fastapi import Depends, Query, Request

from api.settings import Settings
from geo.errors import Unauthorized
from geo.geojson_stream import GeometryTexts
from geo.raster import RasterCatalog
from layers.axes.served import ServedPlans
from layers.catalogue import Catalogue
from layers.ecology import CARBON_DENSITY_RASTER, BambooParameters, build_demo_raster
from layers.intake import Uploads
from layers.pmtiles_archive import PMTilesFolder
from layers.store import Store
from layers.tilesets import VectorTiles

# Owner-only answers must not be kept by shared caches, nor leak a URL token via Referer.
PRIVATE = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


class Services:
    """The app's long-lived services over one store (one per process)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.tiles = VectorTiles(store, settings.tile_cache_mb * 2**20,
                                 settings.pyramid_folder(store))
        self.pmtiles = PMTilesFolder(settings.pmtiles_dir)
        self.uploads = Uploads(store, settings.uploads_folder(store), settings.api_key_set(),
                               settings.upload_limits(), settings.upload_sandbox(),
                               settings.upload_quota_count)
        self.geometry_texts = GeometryTexts(settings.geojson_cache_mb * 2**20,
                                            section_bytes=16 * 2**20)
        self.axis_plans = ServedPlans()  # the served axes plan per store version (cached)
        self._rasters = RasterCatalog(settings.raster_folder())
        self._demo_lock = threading.Lock()

    @property
    def rasters(self) -> RasterCatalog:
        """The raster catalogue, with the demo carbon raster built on first need (a store
        built without it, e.g. a region outside Huzhou, gets it derived from its counties)."""
        if not self._rasters.has(CARBON_DENSITY_RASTER):
            with self._demo_lock:
                if not self._rasters.has(CARBON_DENSITY_RASTER):
                    build_demo_raster(self.store, self._rasters)
        return self._rasters


    @property
    def catalogue(self) -> Catalogue:
        """Every layer a map can show: the store's vector layers and the rasters."""
        return Catalogue(self.store, self.rasters)


def services_of(request: Request) -> Services:
    return request.app.state.services


def settings_of(request: Request) -> Settings:
    return request.app.state.services.settings


def store_of(request: Request) -> Store:
    return request.app.state.services.store


def vector_tiles(request: Request) -> VectorTiles:
    return request.app.state.services.tiles


def pmtiles_folder(request: Request) -> PMTilesFolder:
    return request.app.state.services.pmtiles


def raster_catalog(request: Request) -> RasterCatalog:
    return request.app.state.services.rasters


def catalogue_of(request: Request) -> Catalogue:
    return request.app.state.services.catalogue


def uploads_of(request: Request) -> Uploads:
    return request.app.state.services.uploads


def bearer_token(request: Request) -> str | None:
    """`Authorization: Bearer …`, else `?access_token=` (RFC 6750 §2.3: a map page opened
    from a link cannot send a header)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("access_token")


def owner_of(request: Request, required: bool) -> str | None:
    """The caller's upload owner id; 401 when `required` and the token is missing or
    unknown (or when a token is given but unknown)."""
    token = bearer_token(request)
    owner = uploads_of(request).owner(token)
    if owner is None and (required or token):
        raise Unauthorized(
            "需要有效的访问令牌（Authorization: Bearer …）。",
            "A valid access token is required (Authorization: Bearer …).",
        )
    return owner


def require_api_key(request: Request, what_zh: str, what_en: str) -> None:
    """Raise Unauthorized (401) unless the Bearer token is one of GONGFU_API_KEYS: writing
    anything everyone sees (saved axis scenarios, indicator tables, rasters) needs one; a
    planner's upload token owns only that planner's private uploads."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    keys = settings_of(request).api_key_set()
    if not token or not any(hmac.compare_digest(token, key) for key in keys):
        raise Unauthorized(
            f"{what_zh}需要 API 密钥（Authorization: Bearer …，见 GONGFU_API_KEYS）；试算无需。",
            f"{what_en} needs an API key (Authorization: Bearer …, see GONGFU_API_KEYS); "
            "a dry run does not.",
        )


def bamboo_parameters(
    sequestration_t_per_mu_yr: float | None = Query(None, description="t/亩/yr (default 0.39)"),
    carbon_basis: str | None = Query(None, description="CO2e (default) or C"),
    collection_price_yuan_per_mu_yr: float | None = Query(None, description="元/亩/yr (16.926)"),
    trade_price_yuan_per_t: float | None = Query(None, description="元/t (73.41; or 59)"),
    village_share: float | None = Query(None, description="0–1 (0.80)"),
) -> BambooParameters:
    """Accounting parameters from the sourced file, with per-request overrides."""
    return BambooParameters.from_file().override(
        sequestration_t_per_mu_yr=sequestration_t_per_mu_yr, carbon_basis=carbon_basis,
        collection_price_yuan_per_mu_yr=collection_price_yuan_per_mu_yr,
        trade_price_yuan_per_t=trade_price_yuan_per_t, village_share=village_share)


StoreDep = Annotated[Store, Depends(store_of)]
CatalogueDep = Annotated[Catalogue, Depends(catalogue_of)]
