"""Which store a command works on, chosen in one place for the whole command line.

Precedence, the same for every command: `--database` URL, then `--store` file, then
GONGFU_DATABASE_URL, then GONGFU_STORE_PATH (all through `api.settings.Settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.errors import fail

if TYPE_CHECKING:  # loaded when a command runs: `gongfu serve`'s supervisor never needs them
    from api.settings import Settings
    from layers.store import GeoPackageStore, Store

STORE = typer.Option(None, "--store", help="GeoPackage (default: GONGFU_STORE_PATH, or "
                     "GONGFU_DATABASE_URL when set)")
DATABASE = typer.Option(None, "--database",
                        help="PostGIS URL instead of a GeoPackage (default: GONGFU_DATABASE_URL)")


def settings_from(store: Path | None = None, database: str | None = None) -> Settings:
    """Settings with the command line's choice of store over the environment's."""
    from api.settings import Settings

    chosen: dict[str, object] = {}
    if store:
        # a file named on the command line beats a database named only in the environment
        chosen.update(store_path=store, database_url="")
    if database:
        chosen["database_url"] = database
    return Settings(**chosen)


def store_from(store: Path | None = None, database: str | None = None) -> Store:
    """The store a command reads or writes (see the module's precedence)."""
    return settings_from(store, database).open_store()


def geopackage_from(path: Path | None) -> GeoPackageStore:
    """A GeoPackage store whatever the environment's database: a copy's source (`db load`)."""
    from layers.store import GeoPackageStore

    return GeoPackageStore(settings_from(path).store_path)


def database_url(given: str | None) -> str:
    """The URL given, else GONGFU_DATABASE_URL; exits with a bilingual message if neither."""
    from api.settings import Settings

    url = given or Settings().database_url
    if not url:
        fail("未指定数据库：请用 --database 或设置 GONGFU_DATABASE_URL。\n"
             "No database: pass --database or set GONGFU_DATABASE_URL.")
    return url


def where(store: Store) -> str:
    """How to name a store in output: its file, or a database by name only (a URL may hold a
    password)."""
    path = getattr(store, "path", None)
    return str(path) if path else store.url.rsplit("/", 1)[-1]


def zoom_range(text: str) -> list[int]:
    """'5-10' -> [5, ..., 10]; '7' -> [7]; anything else is an `InvalidParameter`."""
    from geo.errors import InvalidParameter
    from geo.tiles import MAX_ZOOM

    low, _, high = text.partition("-")
    try:
        zooms = list(range(int(low), int(high or low) + 1))
    except ValueError:
        zooms = []
    if not zooms or zooms[0] < 0 or zooms[-1] > MAX_ZOOM:
        raise InvalidParameter(f"缩放级别范围无效：{text}（例如 5-10）",
                               f"Invalid zoom range: {text} (e.g. 5-10, within 0-{MAX_ZOOM})")
    return zooms
