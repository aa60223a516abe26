"""`gongfu projects load FILE`: a project table placed on an axes scenario, graded, and saved
as a dated snapshot (as `POST /projects`); `--dry-run` only reports."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.errors import bilingual_errors, fail
from cli.options import DATABASE, STORE, store_from, where

projects_app = typer.Typer(help="项目落位与监测 Projects on the development axes",
                           no_args_is_help=True)


@projects_app.command("load")
@bilingual_errors
def load(
    file: Path = typer.Argument(..., help="CSV (UTF-8/GBK) or XLSX project table"),
    scenario: str = typer.Option("", help="Axes scenario ('' = the demo layers)"),
    crs: str = typer.Option("CRS84", help="CRS of lon/lat and WKT (a 坐标系 column overrides)"),
    as_of: str = typer.Option("", "--as-of", help="更新日期 for rows without one"),
    red_lag: float = typer.Option(20.0, help="red at lag ≥ this (pp)"),
    yellow_lag: float = typer.Option(10.0, help="yellow at lag ≥ this (pp)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report only, write nothing"),
    store: Path = STORE,
    database: str = DATABASE,
) -> None:
    """Import one project table as a snapshot (every bad row listed, nothing written)."""
    from layers.projects import Thresholds, as_of_rows, counts, import_projects, parse_date
    from layers.settlement_nodes import read_table

    if not file.is_file():
        fail(f"找不到文件：{file.name}\nNo such file: {file.name}")
    date = ""
    if as_of:
        parsed = parse_date(as_of)
        if parsed is None:
            fail(f"日期无效：{as_of}\nInvalid date: {as_of}")
        date = parsed.isoformat()
    target = store_from(store, database)
    result = import_projects(read_table(file.read_bytes(), file.name), target, scenario, crs,
                             date or None, Thresholds.checked(red_lag, yellow_lag), dry_run,
                             file.name)
    rows = result.rows
    total = counts(as_of_rows(rows))["total"]
    typer.echo(f"{len(rows)} 行 rows · 快照 snapshot {', '.join(result.dates)} · 方案 scenario "
               f"{result.scenario}")
    for kind, n in rows["placement"].value_counts().items():
        typer.echo(f"  {kind:9s} {n:6d}")
    typer.echo(f"  红 red {total['red']} · 黄 yellow {total['yellow']} · 绿 green {total['green']}")
    for warning in result.warnings[:20]:
        typer.echo(f"  ! 行 row {warning['row']}: {warning['zh']} / {warning['en']}")
    if dry_run:
        typer.echo("试算，未写入 dry run: nothing written")
    else:
        typer.echo(f"written {', '.join(result.saved)} to {where(target)}")
