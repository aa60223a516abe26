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
    from layers.boundaries import Region, build_all
    from layers.store import GeoPackageStore

    target = GeoPackageStore(store or Settings().store_path)
    try:
        built = build_all(Region.parse(region))
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


if __name__ == "__main__":
    app()
