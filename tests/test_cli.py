"""The `gongfu` command line as a whole: its groups, its one error mapper, its one store choice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.errors import bilingual_errors
from cli.main import app
from cli.options import settings_from
from geo.errors import AtlasError, UnknownCollection
from layers import indicators
from layers.boundaries import Region
from layers.store import GeoPackageStore

runner = CliRunner()

GROUPS = ["build", "serve", "seed", "export", "indicators", "db", "import", "import-boundaries"]


def _commands(typer_app: typer.Typer) -> list:
    """Every command callback registered on `typer_app` and its sub-groups."""
    found = [info.callback for info in typer_app.registered_commands]
    for group in typer_app.registered_groups:
        found += _commands(group.typer_instance)
    return found


def test_help_lists_every_command_group() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = {line.strip("│ ").split(" ")[0] for line in result.output.splitlines()}
    assert set(GROUPS) <= listed


def test_every_command_goes_through_the_one_error_mapper() -> None:
    commands = _commands(app)
    assert len(commands) == 13  # build serve seed index import import-boundaries + groups
    unmapped = [c.__name__ for c in commands if not getattr(c, "maps_atlas_errors", False)]
    assert unmapped == []


def test_a_bad_region_is_the_bilingual_message_on_stderr_and_exit_2(tmp_path: Path) -> None:
    with pytest.raises(AtlasError) as raised:
        Region.parse("xx")
    result = runner.invoke(app, ["build", "--region", "xx", "--store", str(tmp_path / "a.gpkg")])
    assert result.exit_code == 2
    assert result.stderr == f"{raised.value.message_zh}\n{raised.value.message_en}\n"
    assert result.stdout == ""
    assert not (tmp_path / "a.gpkg").exists()  # nothing written before the region was read


def test_a_missing_collection_is_the_bilingual_message_and_exit_2(store_path: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "x.pmtiles"
    result = runner.invoke(app, ["export", "pmtiles", "nope", "--store", str(store_path),
                                 "-o", str(out)])
    assert result.exit_code == 2
    zh, en = result.stderr.splitlines()
    assert zh.startswith("没有名为“nope”的图层") and en.startswith("No layer named 'nope'")
    assert not out.exists()


def test_the_mapper_turns_only_atlas_errors_into_exit_2() -> None:
    mini = typer.Typer()

    @mini.command()
    @bilingual_errors
    def fails(kind: str) -> None:
        if kind == "atlas":
            raise UnknownCollection("没有这个", "No such thing")
        raise ValueError("a bug, not the user's input")

    atlas = runner.invoke(mini, ["atlas"])
    assert atlas.exit_code == 2 and atlas.stderr == "没有这个\nNo such thing\n"
    bug = runner.invoke(mini, ["bug"])  # bugs still surface as themselves
    assert bug.exit_code == 1 and isinstance(bug.exception, ValueError)


def test_store_precedence_database_then_store_then_environment(monkeypatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("GONGFU_DATABASE_URL", "postgresql:///from_env")
    monkeypatch.setenv("GONGFU_STORE_PATH", str(tmp_path / "env.gpkg"))
    named = tmp_path / "named.gpkg"
    assert settings_from().database_url == "postgresql:///from_env"
    assert (settings_from(named).database_url, settings_from(named).store_path) == ("", named)
    both = settings_from(named, "postgresql:///given")
    assert (both.database_url, both.store_path) == ("postgresql:///given", named)
    monkeypatch.delenv("GONGFU_DATABASE_URL")
    assert settings_from().open_store().path == tmp_path / "env.gpkg"


def test_indicators_load_honours_GONGFU_DATABASE_URL(postgis_copy, store_path: Path,
                                                     tmp_path: Path, monkeypatch) -> None:
    """It used to write the GeoPackage whatever the environment said."""
    from layers.postgis_store import PostGISStore

    url = postgis_copy("cli_indicators")
    monkeypatch.setenv("GONGFU_DATABASE_URL", url)
    gpkg = tmp_path / "untouched.gpkg"
    shutil.copyfile(store_path, gpkg)
    monkeypatch.setenv("GONGFU_STORE_PATH", str(gpkg))
    table = tmp_path / "t.csv"
    table.write_text("区县,常住人口（万人）\n安吉县,60\n德清县,56.1\n", encoding="utf-8")
    result = runner.invoke(app, ["indicators", "load", str(table), "--year", "2023",
                                 "--source", "test"])
    assert result.exit_code == 0, result.output
    assert "saved 2 values to cli_indicators" in result.stderr
    store = PostGISStore(url)
    try:
        assert "常住人口" in indicators.load(store).catalog.index
    finally:
        store.close()
    assert "indicators" not in {layer.id for layer in GeoPackageStore(gpkg).layers()}
