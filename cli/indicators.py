"""`gongfu indicators load|seed`: indicator tables joined to the place registries."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.errors import bilingual_errors
from cli.options import STORE, store_from, where

indicators_app = typer.Typer(help="指标 Indicators: load tables, rebuild the seed facts",
                             no_args_is_help=True)


@indicators_app.command("load")
@bilingual_errors
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
    store: Path = STORE,
) -> None:
    """Join an indicator table to the place registries and save it (or only report)."""
    from layers import indicators
    from layers.indicator_upload import UploadOptions, join_table, read_table
    from layers.place_names import PlaceRegistry

    target = store_from(store)
    options = UploadOptions(key=key, parent=parent, level=level, indicator=indicator,
                            year=year, unit=unit, source=source, source_date=source_date,
                            sheet=sheet)
    result = join_table(read_table(file.read_bytes(), file.name, sheet),
                        PlaceRegistry.from_store(target), options, file.name)
    typer.echo(json.dumps(result.report, ensure_ascii=False, indent=1, default=str))
    summary = result.report["summary"]
    if not dry_run and len(result.table.facts):
        indicators.add(target, result.table)
        typer.echo(f"saved {summary['values']} values to {where(target)}", err=True)
    else:
        typer.echo("dry run: nothing saved" if dry_run else "no values to save", err=True)


@indicators_app.command("seed")
@bilingual_errors
def indicators_seed(
    source: Path = typer.Option(None, help="seed_indicators.csv (default: ../shared/data)"),
) -> None:
    """Rebuild data/indicators/seed_facts.csv from the source-document figures."""
    from layers import indicators

    facts = indicators.build_seed(source or indicators.SHARED_SEED)
    facts.to_csv(indicators.SEED_FACTS, index=False)
    typer.echo(f"{len(facts)} rows → {indicators.SEED_FACTS}")
    typer.echo(facts["match"].str.split(":").str[0].value_counts().to_string())
