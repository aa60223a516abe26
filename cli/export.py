"""`gongfu export pmtiles`: layers' vector tiles written to a PMTiles v3 archive."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.errors import bilingual_errors
from cli.options import store_from, zoom_range

export_app = typer.Typer(help="Export layers to files", no_args_is_help=True)


@export_app.command("pmtiles")
@bilingual_errors
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

    tiles = VectorTiles(store_from(store, database), cache_bytes=0)  # each tile is read once
    layer_ids, levels = parse_layer_ids(layers), zoom_range(zooms)
    total = len(tile_list(tiles, layer_ids, levels))
    with typer.progressbar(length=total, label="tiles") as bar:
        counts = export(tiles, layer_ids, levels, out, on_tile=lambda: bar.update(1))
    typer.echo(f"{counts['written']} tiles written ({counts['empty']} empty skipped) to {out}")
