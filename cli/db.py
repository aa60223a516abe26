"""`gongfu db`: set up and fill a PostGIS database for the PostGIS store.

    gongfu db init    --database URL          create the database if missing, apply migrations
    gongfu db migrate --database URL          apply migrations not yet applied
    gongfu db load    --database URL --from atlas.gpkg [LAYER …]   copy layers from a GeoPackage

URL defaults to GONGFU_DATABASE_URL, e.g. postgresql://gongfu@db.example/gongfu.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from cli.errors import bilingual_errors, fail
from cli.options import database_url, geopackage_from, settings_from, store_from
from cli.pyramids import save_pyramids

db_app = typer.Typer(help="PostGIS 数据库 The PostGIS store: init, migrate, load",
                     no_args_is_help=True)

DATABASE = typer.Option(None, "--database", help="PostgreSQL URL (default: GONGFU_DATABASE_URL)")


def _connect(url: str):
    """An autocommit connection, or exit 1 with the server's reason."""
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        fail(f"无法连接数据库 Cannot connect to the database: {error}", code=1)


@db_app.command("init")
@bilingual_errors
def init(database: str = DATABASE) -> None:
    """Create the database (if the server lacks it) and apply every migration."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    url = database_url(database)
    name = conninfo_to_dict(url).get("dbname")
    if name:
        try:
            psycopg.connect(url).close()
        except psycopg.OperationalError as error:
            if "does not exist" not in str(error):
                fail(f"无法连接数据库 Cannot connect to the database: {error}", code=1)
            # the server is there but not the database: create it from the maintenance db
            with _connect(make_conninfo(url, dbname="postgres")) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            typer.echo(f"created database {name}")
    _migrate(url)


@db_app.command("migrate")
@bilingual_errors
def migrate(database: str = DATABASE) -> None:
    """Apply the schema migrations not yet applied (layers/migrations/*.sql)."""
    _migrate(database_url(database))


def _migrate(url: str) -> None:
    from layers.postgis_store import migrate as apply

    with _connect(url) as conn:
        applied = apply(conn)
        current = conn.execute("SELECT max(version) FROM gongfu.schema_migrations").fetchone()[0]
    for name in applied:
        typer.echo(f"applied {name}")
    typer.echo(f"schema at migration {current}")


@db_app.command("load")
@bilingual_errors
def load(
    layers: list[str] = typer.Argument(None, help="Layer ids to copy (default: all)"),
    source: Path = typer.Option(None, "--from", exists=True, dir_okay=False,
                                help="GeoPackage store to copy from (default: GONGFU_STORE_PATH)"),
    database: str = DATABASE,
) -> None:
    """Copy layers (features, metadata) from a GeoPackage store into PostGIS, each atomically."""
    origin = geopackage_from(source)  # a GeoPackage even when GONGFU_DATABASE_URL is set
    target = store_from(database=database_url(database))
    wanted = layers or [layer.id for layer in origin.layers()]
    try:
        for layer_id in wanted:
            start = time.perf_counter()
            layer = origin.layer(layer_id)
            frame = origin.frame(layer_id)
            target.put(layer, frame)
            typer.echo(f"{layer_id:20s} {len(frame):6d} features  "
                       f"{time.perf_counter() - start:6.2f} s")
        save_pyramids(target, settings_from(database=database_url(database)).pyramid_folder(
            target), wanted)
    finally:
        target.close()  # a PostGIS store: give its connections back
