"""The one settings class: environment variables with prefix GONGFU_ (e.g. GONGFU_STORE_PATH).

Read once per app (`create_app` keeps it in `app.state.settings`) and once per CLI command;
nothing rebuilds it per request.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.archive import UnpackLimits
from geo.sandbox import Limits
from layers.store import Store, open_store

PROJECT_DIR = Path(__file__).resolve().parent.parent


BUILTIN_BASEMAP_IDS = ("none", "tianditu_vec", "tianditu_img", "amap_vec", "osm")
_BASEMAP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class IntranetBasemap(BaseModel):
    """One basemap served inside the bureau's network (GONGFU_BASEMAPS, a JSON list): an XYZ
    tile template with {z}/{x}/{y} ({s} allowed, with `subdomains`)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    url: str
    crs: Literal["WGS84", "CGCS2000", "GCJ-02"]
    attribution: str = Field(min_length=1)
    subdomains: list[str] = []
    overlay_url: str | None = None
    max_zoom: int = Field(18, ge=0, le=24)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _BASEMAP_ID.match(value) or value in BUILTIN_BASEMAP_IDS:
            raise ValueError(f"id '{value}' must be a-z, 0-9, '-', '_' (≤ 64) and not one of "
                             f"the built-in ids {', '.join(BUILTIN_BASEMAP_IDS)}")
        return value

    @field_validator("url", "overlay_url")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError(f"url '{value}' must start with http://, https:// or /")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            raise ValueError(f"url '{value}' lacks {' '.join(missing)} (an XYZ tile template)")
        return value


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
    # GeoJSON geometries kept encoded between requests (per layer version and CRS, 16 MB at
    # most per layer, so a large layer streams instead of filling the memory); 0 = none.
    geojson_cache_mb: int = 64
    tile_max_age: int = 300
    pmtiles_dir: Path = PROJECT_DIR / "data" / "build" / "pmtiles"
    map_tiles_threshold: int = 200
    # Rasters (COG + sidecar JSON); default: "rasters" beside the store file.
    raster_dir: Path | None = None
    # Saved tile pyramids (one file per layer version, memory-mapped by every worker);
    # default: "pyramids" beside the store file.
    pyramid_dir: Path | None = None
    # Planner uploads: folder (default "uploads" beside the store file) and limits (MB).
    uploads_dir: Path | None = None
    upload_max_mb: float = 200.0
    upload_max_unpacked_mb: float = 1024.0
    upload_max_ratio: float = 200.0
    # Uploads are parsed in a limited child process (geo/sandbox.py): wall-clock and CPU
    # seconds, and MB of memory; 0 seconds reads in the server process (not for production).
    upload_parse_seconds: float = 120.0
    upload_parse_memory_mb: int = 2048
    # Quotas: uploads kept per owner; requests per minute per client on the expensive
    # endpoints (uploads, overlays, compliance, zonal statistics; 0 = no limit).
    upload_quota_count: int = 500
    rate_limit_per_minute: int = 120
    # Comma-separated keys that may write shared layers and own uploads (e.g. for the CLI).
    api_keys: str = ""
    # 一张图 workspace basemaps: the 天地图 browser key (tk=…; the browser fetches 天地图
    # itself, our server never proxies or caches its tiles), and intranet basemaps as a JSON
    # list of {id, name_zh, name_en, url, crs, attribution[, subdomains, overlay_url,
    # max_zoom]}. Both are checked at start-up (a bad value stops the server, saying why).
    tianditu_key: str = ""
    basemaps: str = ""

    @field_validator("tianditu_key")
    @classmethod
    def _tianditu_key(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"[A-Za-z0-9]{8,64}", value):
            raise ValueError("GONGFU_TIANDITU_KEY 须为天地图控制台给出的浏览器端密钥（字母数字）。"
                             " GONGFU_TIANDITU_KEY must be the alphanumeric browser key from the "
                             "Tianditu console.")
        return value

    @field_validator("basemaps")
    @classmethod
    def _basemaps(cls, value: str) -> str:
        intranet_basemaps(value)  # raises ValueError with the reason
        return value

    def intranet_basemaps(self) -> list[IntranetBasemap]:
        return intranet_basemaps(self.basemaps)

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

    def pyramid_folder(self, store: Store | None = None) -> Path:
        """Where `gongfu build` saves each layer's tile pyramid and workers map it from:
        pyramid_dir, else `{store}.pyramids` beside a GeoPackage (two stores in one folder
        keep theirs apart), else `pyramids/db-…` named after the database."""
        if self.pyramid_dir:
            return Path(self.pyramid_dir)
        path = getattr(store, "path", None) if store is not None else None
        if path is None and self.database_url:
            url = re.sub(r"//[^@/]*@", "//", self.database_url)  # credentials do not name it
            name = "db-" + hashlib.blake2b(url.encode(), digest_size=6).hexdigest()
            return self._files_dir(store) / "pyramids" / name
        path = Path(path or self.store_path)
        return path.with_name(f"{path.stem}.pyramids")

    def _files_dir(self, store: Store | None) -> Path:
        # A GeoPackage store given directly (tests, CLI --store) keeps its files beside it.
        path = getattr(store, "path", None) if store is not None else None
        return Path(path or self.store_path).parent


def intranet_basemaps(text: str) -> list[IntranetBasemap]:
    """GONGFU_BASEMAPS parsed and checked; ValueError (bilingual) says what is wrong."""
    if not text or not text.strip():
        return []
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"GONGFU_BASEMAPS 不是有效的 JSON（{error}）。"
                         f" GONGFU_BASEMAPS is not valid JSON ({error}).") from None
    try:
        found = TypeAdapter(list[IntranetBasemap]).validate_python(raw)
    except ValidationError as error:
        where = "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"]
                          for e in error.errors())
        raise ValueError(f"GONGFU_BASEMAPS 配置有误：{where}。"
                         f" GONGFU_BASEMAPS is invalid: {where}.") from None
    ids = [b.id for b in found]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"GONGFU_BASEMAPS 中底图编号重复：{', '.join(twice)}。"
                         f" GONGFU_BASEMAPS repeats basemap ids: {', '.join(twice)}.")
    return found
