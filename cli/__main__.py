"""`python -m cli …` runs the same `gongfu` command line."""

from cli.main import app

if __name__ == "__main__":  # not again in a spawned worker process (multiprocessing imports it)
    app(prog_name="gongfu")
