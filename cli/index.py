"""`gongfu index`: a composite index (综合指数) from an indicator-system table over the store's
indicators — printed, and saved as indicators unless --dry-run."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.errors import bilingual_errors
from cli.options import STORE, store_from, where


@bilingual_errors
def index(
    system: Path = typer.Argument(None, exists=True, dir_okay=False,
                                  help="指标体系 CSV/XLSX (指标编号, 指标名称, 英文名称, 领域, "
                                  "方向, 权重); default: the census demonstration"),
    peers: Path = typer.Option(None, exists=True, dir_okay=False,
                               help="分组 table (地区代码 or 地区, 分组)"),
    index_id: str = typer.Option("index", "--id", help="Index id (saved as id, id_sub_N, "
                                 "id_rank)"),
    title_zh: str = typer.Option("综合指数", help="Chinese title"),
    title_en: str = typer.Option("Composite index", help="English title"),
    method: str = typer.Option("entropy", help="Objective weights: entropy | critic"),
    alpha: float = typer.Option(0.5, help="Share of the subjective weights (0–1)"),
    layer: str = typer.Option("counties", help="Places: a polygon layer of the store"),
    years: str = typer.Option("", help="Years, e.g. 2010,2020 (default: all)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Compute and print only"),
    store: Path = STORE,
) -> None:
    """Compute a composite index (entropy/CRITIC + subjective weights) and save it."""
    from geo.errors import NotAnInteger
    from layers.index import service
    from layers.index.system import read_peers, read_system

    target = store_from(store)
    if system is None:
        parsed = service.demo_system()
        index_id = service.DEMO_ID if index_id == "index" else index_id
    else:
        parsed = read_system(system.read_bytes(), system.name, title_zh=title_zh,
                             title_en=title_en)
    service.check_id(index_id)
    codes = service.place_codes(target, layer)
    groups = (read_peers(peers.read_bytes(), peers.name) if peers
              else service.city_peers(codes) if system is None else None)
    try:
        chosen = [int(y) for y in years.split(",") if y.strip()] or None
    except ValueError:
        raise NotAnInteger("years", years) from None
    result = service.run(target, parsed, groups, method, alpha, layer, chosen)
    body = result.to_dict()
    typer.echo(json.dumps({k: body[k] for k in ("title_zh", "weight_rule", "weights",
                                                "scores", "missing", "warnings")},
                          ensure_ascii=False, indent=1, default=str))
    if dry_run:
        typer.echo("dry run: nothing saved", err=True)
        return
    service.save(target, result, index_id, system.name if system else "census demonstration",
                 layer)
    typer.echo(f"saved index {index_id} ({len(result.scores)} scores) to {where(target)}",
               err=True)
