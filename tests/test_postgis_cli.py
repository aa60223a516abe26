"""`gongfu db init|migrate|load` and `gongfu build --database` against a real PostGIS."""

from __future__ import annotations

from pathlib import Path

import psycopg
from typer.testing import CliRunner

from cli.main import app
from layers.postgis_store import PostGISStore, migrations
from layers.store import GeoPackageStore

runner = CliRunner()


def test_init_creates_the_database_then_migrate_has_nothing_left(postgis) -> None:
    url = postgis.url("cli_init")  # does not exist yet
    result = runner.invoke(app, ["db", "init", "--database", url])
    assert result.exit_code == 0, result.output
    assert "created database cli_init" in result.output
    assert "applied 001_layers.sql" in result.output
    again = runner.invoke(app, ["db", "migrate", "--database", url])
    assert again.exit_code == 0 and "applied" not in again.output
    with psycopg.connect(url) as conn:
        done = [r[0] for r in conn.execute("SELECT version FROM gongfu.schema_migrations")]
        assert done == [number for number, _, _ in migrations()]
        indexed = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
        assert indexed.fetchone()[0] == 1


def test_load_copies_layers_with_a_spatial_index(postgis, store_path: Path) -> None:
    url = postgis.database("cli_load")
    result = runner.invoke(app, ["db", "load", "counties", "townships", "--from",
                                 str(store_path), "--database", url])
    assert result.exit_code == 0, result.output
    store, source = PostGISStore(url), GeoPackageStore(store_path)
    try:
        assert [layer.id for layer in store.layers()] == ["counties", "townships"]
        assert store.layer("counties") == source.layer("counties")
        assert store.frame("townships")["name"].tolist() == source.frame("townships")[
            "name"].tolist()
    finally:
        store.close()
    with psycopg.connect(url) as conn:
        index = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = "
                             "'gongfu_features' AND tablename = 'counties' AND "
                             "indexdef LIKE '%gist%'").fetchone()
        assert index is not None
    unknown = runner.invoke(app, ["db", "load", "nope", "--from", str(store_path),
                                  "--database", url])
    assert unknown.exit_code == 2 and "No layer named 'nope'" in unknown.output


def test_build_writes_the_region_into_postgis(postgis, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GONGFU_STORE_PATH", str(tmp_path / "atlas.gpkg"))  # rasters beside it
    url = postgis.database("cli_build")
    result = runner.invoke(app, ["build", "--region", "3305", "--database", url])
    assert result.exit_code == 0, result.output
    store = PostGISStore(url)
    try:
        assert len(store.frame("counties")) == 5 and len(store.frame("townships")) == 72
        assert "bamboo_ledger" in {layer.id for layer in store.layers()}
    finally:
        store.close()
    assert not (tmp_path / "atlas.gpkg").exists()  # nothing went to the GeoPackage


def test_db_commands_without_a_database_say_so(monkeypatch) -> None:
    monkeypatch.delenv("GONGFU_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["db", "migrate"])
    assert result.exit_code == 2 and "GONGFU_DATABASE_URL" in result.output


def test_export_pmtiles_reads_from_postgis(postgis_url: str, tmp_path: Path) -> None:
    from pmtiles.reader import MmapSource, Reader

    out = tmp_path / "hz.pmtiles"
    result = runner.invoke(app, ["export", "pmtiles", "counties", "--zooms", "5-8",
                                 "--database", postgis_url, "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open("rb") as f:
        header = Reader(MmapSource(f)).header()
    assert header["max_zoom"] == 8 and header["addressed_tiles_count"] >= 4


def test_import_with_a_database_saves_the_upload_there(postgis_copy, tmp_path: Path,
                                                       monkeypatch) -> None:
    import json

    import shapely
    import shapely.geometry

    url = postgis_copy("cli_import")
    monkeypatch.setenv("GONGFU_DATABASE_URL", url)
    monkeypatch.setenv("GONGFU_UPLOADS_DIR", str(tmp_path / "uploads"))
    plot = tmp_path / "plot.geojson"
    plot.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"名称": "地块"},
        "geometry": shapely.geometry.mapping(shapely.box(120.05, 30.8, 120.1, 30.85))}]}))
    result = runner.invoke(app, ["import", str(plot)])
    assert result.exit_code == 0, result.output
    upload_id = result.output.split("upload id: ")[1].split()[0]
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT filename, length(data) FROM gongfu.uploads WHERE id = %s",
                           (upload_id,)).fetchone()
    assert row is not None and row[0] == "plot.geojson" and row[1] > 0
