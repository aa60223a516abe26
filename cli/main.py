"""The `gongfu` command line (console script `gongfu = cli.main:app`): every group, assembled."""

from __future__ import annotations

import typer

from cli.build import build
from cli.db import db_app
from cli.export import export_app
from cli.imports import import_boundaries, import_file
from cli.index import index
from cli.indicators import indicators_app
from cli.projects import projects_app
from cli.seed import seed
from cli.serve import serve

app = typer.Typer(help="共富图集 Gongfu Atlas — web GIS for Huzhou's planners", no_args_is_help=True)

# The order `gongfu --help` lists them in, as before the move out of api/.
app.command()(build)
app.add_typer(indicators_app, name="indicators")
app.command()(index)  # composite indices (cli/index.py)
app.command()(serve)
app.command()(seed)
app.add_typer(export_app, name="export")
app.add_typer(db_app, name="db")  # the PostGIS store's database: init, migrate, load
app.command("import")(import_file)  # planner uploads (layers/intake.py, as POST /uploads)
app.command("import-boundaries")(import_boundaries)
app.add_typer(projects_app, name="projects")  # project tables on the axes (issue 14)

if __name__ == "__main__":
    app()
