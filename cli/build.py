"""`gongfu build`: the boundary layers (and Huzhou's demo layers) from the packaged sources."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.errors import bilingual_errors
from cli.options import settings_from, where
from cli.pyramids import save_pyramids


@bilingual_errors
def build(
    region: str = typer.Option("3305", help="Adcode prefix: 3305 Huzhou, 33 Zhejiang, all China"),
    store: Path = typer.Option(None, help="GeoPackage to write (default: GONGFU_STORE_PATH, "
                               "or GONGFU_DATABASE_URL when set)"),
    database: str = typer.Option(None, "--database",
                                 help="PostGIS URL to write instead of a GeoPackage"),
) -> None:
    """Rebuild the boundary layers from the packaged sources for a region."""
    from layers.axes import build_axes_layers
    from layers.boundaries import Region, build_all

    settings = settings_from(store, database)
    target = settings.open_store()
    area = Region.parse(region)
    built = build_all(area)
    built += build_axes_layers(built)  # Huzhou demo development axes (演示)
    if any(layer.id == "axes" for layer, _ in built):
        from layers.projects import empty_project_layers

        built += empty_project_layers()  # no project data is public: empty until imported
    from layers.editing import SKETCH_LAYER, sketch_layer

    if SKETCH_LAYER not in {layer.id for layer in target.layers()}:
        built.append(sketch_layer())  # planners' edits: created once, never rebuilt over
    # one atomic write for every layer: a China GeoPackage (~100 MB) is copied once, not
    # once per layer, and a failed build leaves the previous store whole
    target.put_many(built)
    for layer, frame in built:
        typer.echo(f"{layer.id:14s} {len(frame):6d} features  ({layer.title_zh})")
    if area.covers_huzhou():
        from geo.raster import RasterCatalog
        from layers.ecology import build_demo_raster, ledger_layer

        layer, frame = ledger_layer(target)  # after the seats it is placed against
        target.put(layer, frame)
        typer.echo(f"{layer.id:14s} {len(frame):6d} features  ({layer.title_zh})")
        # where the server will look for it: GONGFU_RASTER_DIR, else beside the store file
        meta = build_demo_raster(target, RasterCatalog(settings.raster_folder(target)))
        typer.echo(f"raster {meta.id} ({meta.title_zh})")
    _load_census(target)
    save_pyramids(target, settings.pyramid_folder(target))
    typer.echo(f"written to {where(target)}")


def _load_census(target) -> None:
    """Census indicators into the store's indicator table (citations on every row), with the
    join report against the polygons just built: what does not match is listed, never dropped
    silently."""
    from layers import census, indicators

    have = {layer.id for layer in target.layers()}
    polygons = set(target.frame("counties").index) if "counties" in have else set()
    # census replaces its own ids; the computed indicators are refreshed for the new polygons
    indicators.add(target, indicators.census_table().merged(indicators.computed(target)))
    for line in census.report_lines(census.join_report(polygons)):
        typer.echo(line)
