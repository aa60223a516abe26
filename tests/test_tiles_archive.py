"""PMTiles export round trip (write, read with the `pmtiles` reader, serve) and `gongfu seed`."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli
from api.settings import Settings
from layers.pmtiles_archive import tile_list
from layers.tilesets import VectorTiles

ZOOMS = "5-9"


@pytest.fixture(scope="module")
def archive(store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pmtiles") / "huzhou.pmtiles"
    result = CliRunner().invoke(cli, ["export", "pmtiles", "counties,county_seats", "--out",
                                      str(out), "--zooms", ZOOMS, "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    assert "tiles written" in result.output
    return out


def test_pmtiles_round_trip(archive: Path, store) -> None:
    tiles = VectorTiles(store, cache_bytes=0)
    with archive.open("rb") as handle:
        reader = Reader(MmapSource(handle))
        header, meta = reader.header(), reader.metadata()
        stored = {(z, x, y): gzip.decompress(data) for (z, x, y), data in all_tiles(reader.get_bytes)}
    assert header["tile_type"] == TileType.MVT
    assert header["tile_compression"] == Compression.GZIP
    assert (header["min_zoom"], header["max_zoom"]) == (5, 9)
    assert [layer["id"] for layer in meta["vector_layers"]] == ["counties", "county_seats"]
    expected = {}
    for t in tile_list(tiles, ["counties", "county_seats"], range(5, 10)):
        data = tiles.tile(["counties", "county_seats"], t.z, t.x, t.y).data
        if data:
            expected[(t.z, t.x, t.y)] = data
    assert stored == expected  # every non-empty tile, byte for byte as the server renders it
    names = {f["properties"]["name"] for key, data in stored.items() if key[0] == 9
             for f in mapbox_vector_tile.decode(data)["counties"]["features"]}
    assert {"吴兴区", "南浔区", "德清县", "长兴县", "安吉县"} <= names


def test_server_serves_pmtiles_archives(archive: Path, store_path: Path) -> None:
    client = TestClient(create_app(Settings(store_path=store_path, pmtiles_dir=archive.parent)))
    index = client.get("/pmtiles").json()["archives"]
    assert [a["name"] for a in index] == ["huzhou"]
    tj = client.get("/pmtiles/huzhou/tilejson.json").json()
    assert tj["tiles"] == ["http://testserver/pmtiles/huzhou/{z}/{x}/{y}.mvt"]
    assert (tj["minzoom"], tj["maxzoom"]) == (5, 9)
    live = client.get("/tiles/counties,county_seats/8/213/104.mvt")
    served = client.get("/pmtiles/huzhou/8/213/104.mvt", headers={"Accept-Encoding": "identity"})
    assert served.status_code == 200 and served.content == live.content
    zipped = client.get("/pmtiles/huzhou/8/213/104.mvt", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == live.content
    again = client.get("/pmtiles/huzhou/8/213/104.mvt",
                       headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/pmtiles/huzhou/8/0/0.mvt").status_code == 204
    assert client.get("/pmtiles/huzhou/8/999/0.mvt").status_code == 400
    assert client.get("/pmtiles/nothere/8/213/104.mvt").status_code == 404
    whole = client.get("/pmtiles/huzhou.pmtiles", headers={"Range": "bytes=0-126"})
    assert whole.status_code == 206 and whole.content[:7] == b"PMTiles"


def test_export_refuses_layers_without_geometry(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.pmtiles"
    result = CliRunner().invoke(cli, ["export", "pmtiles", "villages", "--out", str(out),
                                      "--store", str(store_path)])
    assert result.exit_code == 2
    assert "villages" in result.output and not out.exists()


def test_seed_warms_the_running_server(live_server: str) -> None:
    # Two layers: their TileJSON is long enough to come back gzip-compressed if asked so.
    result = CliRunner().invoke(cli, ["seed", "counties,townships", "--zooms", "6-9",
                                      "--url", live_server])
    assert result.exit_code == 0, result.output
    total, rendered = re.match(r"(\d+) tiles: (\d+) rendered",
                               result.output.strip().splitlines()[-1]).groups()
    assert int(total) >= 4 and int(rendered) >= 4  # Huzhou spans ≥ 1 tile per zoom
    bad = CliRunner().invoke(cli, ["seed", "villages", "--url", live_server])
    assert bad.exit_code == 1 and "villages" in bad.output
