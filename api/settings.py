"""The one settings class: environment variables with prefix GONGFU_ (e.g. GONGFU_STORE_PATH).

Read once per app (`create_app` keeps it in `app.state.settings`) and once per CLI command;
nothing rebuilds it per request.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.archive import UnpackLimits
from geo.sandbox import Limits
from layers.store import Store, open_store

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
    # Vector tiles: LRU budget in MB (0 turns the tile cache off), browser max-age (s),
    # folder of PMTiles archives served at /pmtiles/{name}/…, and the feature count above which
    # maps draw a layer from our MVT tiles instead of inline GeoJSON.
    tile_cache_mb: int = 256
    tile_max_age: int = 300
    pmtiles_dir: Path = PROJECT_DIR / "data" / "build" / "pmtiles"
    map_tiles_threshold: int = 200
    # Rasters (COG + sidecar JSON); default: "rasters" beside the store file.
    raster_dir: Path | None = None
    # Planner uploads: folder (default "uploads" beside the store file) and limits (MB).
    uploads_dir: Path | None = None
    upload_max_mb: float = 200.0
    upload_max_unpacked_mb: float = 1024.0
    upload_max_ratio: float = 200.0
    # Uploads are parsed in a limited child process (geo/sandbox.py): wall-clock and CPU
    # seconds, and MB of memory; 0 seconds reads in the server process (not for production).
    upload_parse_seconds: float = 120.0
    upload_parse_memory_mb: int = 2048
    # Comma-separated keys that may write shared layers and own uploads (e.g. for the CLI).
    api_keys: str = ""

    def open_store(self) -> Store:
        """The store these settings name: PostGIS when database_url is set, else the GeoPackage."""
        return open_store(self.store_path, self.database_url)

    def api_key_set(self) -> set[str]:
        return {key.strip() for key in self.api_keys.split(",") if key.strip()}

    def upload_limits(self) -> UnpackLimits:
        return UnpackLimits(max_upload_bytes=int(self.upload_max_mb * 2**20),
                            max_unpacked_bytes=int(self.upload_max_unpacked_mb * 2**20),
                            max_ratio=self.upload_max_ratio)

    def upload_sandbox(self) -> Limits | None:
        if self.upload_parse_seconds <= 0:
            return None
        return Limits(wall_s=self.upload_parse_seconds,
                      cpu_s=max(1, int(self.upload_parse_seconds)),
                      memory_mb=self.upload_parse_memory_mb)

    def uploads_folder(self, store: Store | None = None) -> Path:
        """Where private uploads live: uploads_dir, else beside the store's file."""
        if self.uploads_dir:
            return Path(self.uploads_dir)
        return self._files_dir(store) / "uploads"

    def raster_folder(self, store: Store | None = None) -> Path:
        if self.raster_dir:
            return Path(self.raster_dir)
        return self._files_dir(store) / "rasters"

    def _files_dir(self, store: Store | None) -> Path:
        # A GeoPackage store given directly (tests, CLI --store) keeps its files beside it.
        path = getattr(store, "path", None) if store is not None else None
        return Path(path or self.store_path).parent
