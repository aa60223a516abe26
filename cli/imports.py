"""`gongfu import FILE` (a private upload, as POST /uploads) and `gongfu import-boundaries`
(a planner's official township file published as the `townships` layer)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import typer

from cli.errors import bilingual_errors, fail
from cli.options import STORE, settings_from, store_from, where
from cli.pyramids import save_pyramids


def _staged(files: list[Path]) -> Path:
    """Copy the given files into a private work folder (archives are unpacked there)."""
    work = Path(tempfile.mkdtemp(prefix="gongfu-import-"))
    for path in files:
        if not path.is_file():
            shutil.rmtree(work, ignore_errors=True)
            raise typer.BadParameter(f"not a file: {path}")
        shutil.copyfile(path, work / path.name)
    return work


@bilingual_errors
def import_file(
    files: list[Path] = typer.Argument(..., help="zip, .shp with its parts, gpkg, geojson, kml, "
                                       "kmz or csv"),
    crs: str = typer.Option(None, help="CRS when the files do not say, e.g. EPSG:4549"),
    api_key: str = typer.Option(None, envvar="GONGFU_API_KEY",
                                help="Owner: one of GONGFU_API_KEYS (else a token is issued)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only print the report"),
    store: Path = STORE,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Import your own file as a private upload and print its report (中文 + English)."""
    settings = settings_from(store)
    public = settings.open_store()  # PostGIS when GONGFU_DATABASE_URL is set: uploads shared
    # the API's intake pipeline (layers/intake.py), so a CLI upload is the same as a POST
    from layers.intake import Uploads

    uploads = Uploads(public, settings.uploads_folder(public), settings.api_key_set(),
                      settings.upload_limits(), settings.upload_sandbox(),
                      settings.upload_quota_count)
    owner = uploads.owner(api_key) if api_key else None
    if api_key and owner is None:
        fail("API key not in GONGFU_API_KEYS / 密钥无效")
    name = files[0].name if len(files) == 1 else f"{files[0].name} (+{len(files) - 1})"
    work = _staged(files)
    try:
        done = uploads.intake(work, name, crs, dry_run, owner)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = done.report
    typer.echo(json.dumps(report, ensure_ascii=False, indent=1) if as_json
               else f"{report['summary']['zh']}\n\n{report['summary']['en']}")
    if dry_run:
        return
    typer.echo(f"\nupload id: {done.record.id}")
    if done.token:
        typer.echo(f"token (keep it; only its holder can see this upload): {done.token}")


@bilingual_errors
def import_boundaries(
    file: Path = typer.Argument(..., help="The planner's official township boundary file"),
    level: str = typer.Option("township", help="Only 'township' for now"),
    code_field: str = typer.Option(..., help="Field holding the 9- or 12-digit township code"),
    crs: str = typer.Option(None, help="CRS when the file does not say, e.g. EPSG:4549"),
    store: Path = STORE,
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; publish nothing"),
) -> None:
    """Validate official township boundaries against the 72-code registry and the county
    boundaries, then publish them as the `townships` layer."""
    from layers.township_import import check_townships, township_layer

    if level != "township":
        fail("only --level township is supported / 目前仅支持乡镇级")
    target = store_from(store)
    work = _staged([file])
    try:
        from geo.vector_read import read_folder

        read = read_folder(work, crs_override=crs)
        polygons = [layer for layer in read.layers if layer.geometry_type.endswith("Polygon")]
        if len(polygons) != 1:
            fail(f"expected one polygon layer, found {len(polygons)} / 应有且仅有一个面图层")
        check, frame = check_townships(polygons[0], code_field, target.frame("counties"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    source = polygons[0]
    typer.echo(f"{file.name}: encoding {source.encoding.codec} ({source.encoding.source}), "
               f"CRS {source.crs.key} ({source.crs.how})")
    typer.echo(json.dumps(check.to_dict(), ensure_ascii=False, indent=1))
    if check.blocking:
        fail("\n".join(f"{reason['zh']}\n{reason['en']}" for reason in check.blocking))
    if dry_run:
        return
    sha = hashlib.sha256(file.read_bytes()).hexdigest()
    target.put(township_layer(file.name, sha, source, check), frame)
    save_pyramids(target, settings_from(store).pyramid_folder(target), ["townships"])
    typer.echo(f"published townships: {len(check.matched)} of 72 with boundaries → "
               f"{where(target)}")
