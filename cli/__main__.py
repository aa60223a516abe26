"""`python -m cli …` runs the same `gongfu` command line."""

from cli.main import app

app(prog_name="gongfu")
