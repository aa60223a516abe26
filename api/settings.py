"""Settings from environment variables (prefix GONGFU_), e.g. GONGFU_STORE_PATH."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGFU_")

    store_path: Path = PROJECT_DIR / "data" / "build" / "atlas.gpkg"
    # PostGIS instead of the GeoPackage when set, e.g. postgresql://user@host/gongfu
    # (layers/postgis_store.py; uploads too, layers/postgis_uploads.py); rasters stay in
    # files beside store_path.
    database_url: str = ""
    static_dir: Path = PROJECT_DIR / "static"
    title: str = "共富图集 Gongfu Atlas"
    max_limit: int = 10000
    default_limit: int = 10
    # Vector tiles (api/tiles.py): LRU budget (0 turns the tile cache off), browser max-age (s),
    # folder of PMTiles archives served at /pmtiles/{name}/…, and the feature count above which
    # maps draw a layer from our MVT tiles instead of inline GeoJSON.
    tile_cache_mb: int = 256
    tile_max_age: int = 300
    pmtiles_dir: Path = PROJECT_DIR / "data" / "build" / "pmtiles"
    map_tiles_threshold: int = 200
