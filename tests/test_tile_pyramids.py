"""Saved tile pyramids (issue 18): written once per layer version by `gongfu build`, mapped by
every later process without building; a stale, broken or missing file is never used (the
pyramid is built again); tiles are byte-identical with and without them, on both stores."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from cli.pyramids import save_pyramids
from geo.array_file import ArrayFileError, open_arrays, read_meta, write_arrays
from geo.packed_geometries import IndexedGeometries, PackedGeometries
from geo.tiles import tiles_covering
from layers import pyramids
from layers.store import GeoPackageStore, Store
from layers.tilesets import VectorTiles

HUZHOU = (119.23, 30.37, 120.49, 31.19)
WUXING_Z9 = (9, 426, 209)  # the tiles over 吴兴区 (120.1° E, 30.8° N)
WUXING_Z10 = (10, 853, 419)


@pytest.fixture()
def copy(store_path: Path, tmp_path: Path) -> Path:
    """A private copy of the session's Huzhou build (these tests replace layers)."""
    path = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    return path


def vector_ids(store: Store) -> list[str]:
    return [layer.id for layer in store.layers() if layer.geometry_type != "None"]


def sample_tiles(per_zoom: int = 12) -> list:
    """Tiles over Huzhou at zooms 5–14, spread over each zoom's tiles."""
    found = []
    for z in range(5, 15):
        tiles = list(tiles_covering(HUZHOU, [z]))
        found += tiles[:: max(1, len(tiles) // per_zoom)]
    return found


def built_in_memory(tiles: VectorTiles, layer_id: str) -> bool:
    """Whether the layer's tileset was built from its features here, not mapped from a file
    (a mapped tileset never holds the full-detail geometries)."""
    return tiles.tileset(layer_id).mercator is not None


def test_array_file_round_trip_and_refuses_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "a.arrays"
    arrays = {"ints": np.arange(10, dtype=np.int64), "boxes": np.ones((3, 4)),
              "empty": np.zeros(0, np.uint8)}
    write_arrays(path, {"version": "v1"}, arrays)
    meta, back = open_arrays(path)
    assert meta == {"version": "v1"} == read_meta(path)
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in arrays.items())
    assert not back["ints"].flags.writeable  # a shared read-only map, not a private copy
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ArrayFileError):
        open_arrays(path)
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_packed_geometries_answer_like_the_strtree(store: GeoPackageStore) -> None:
    geoms = np.asarray(store.frame("counties").geometry.to_numpy(), dtype=object)
    geoms = np.concatenate([geoms, [None]])  # a missing geometry is never a hit
    packed, indexed = PackedGeometries.pack(geoms), IndexedGeometries.of(geoms)
    for box in [(119.9, 30.6, 120.2, 30.9), (120.0, 30.0, 120.01, 30.01), (0, 0, 1, 1)]:
        hits, found = packed.intersecting(box)
        expected, geometries = indexed.intersecting(box)
        assert np.array_equal(hits, expected)
        assert all(a.equals_exact(b, 0) for a, b in zip(found, geometries))


def test_build_saves_pyramids_a_fresh_process_maps_them_without_building(copy: Path) -> None:
    folder = copy.parent / "pyramids"
    save_pyramids(GeoPackageStore(copy), folder)  # what `gongfu build` does last
    ids = vector_ids(GeoPackageStore(copy))
    assert sorted(p.name for p in folder.glob("*.pyramid")) == sorted(
        f"{layer_id}.WGS84.WebMercatorQuad.pyramid" for layer_id in ids)

    fresh = GeoPackageStore(copy)  # as a new worker: nothing in memory
    tiles = VectorTiles(fresh, cache_bytes=0, pyramid_dir=folder)
    assert tiles.tile(["counties"], *WUXING_Z9).data  # a Huzhou tile
    assert not built_in_memory(tiles, "counties")
    assert isinstance(tiles.tileset("counties")._levels[13], PackedGeometries)  # not decoded
    assert fresh._frames == {}  # the features were never read for tiles


@pytest.mark.parametrize("decoded_bytes", [0, 3 * 2**20], ids=["packed", "decoded"])
def test_tiles_identical_with_and_without_saved_pyramids(copy: Path, monkeypatch,
                                                         decoded_bytes: int) -> None:
    """Levels cut straight from the mapped WKB, and small levels decoded once (both paths)."""
    from layers import tilesets

    monkeypatch.setattr(tilesets, "DECODED_LEVEL_BYTES", decoded_bytes)
    folder = copy.parent / "pyramids"
    VectorTiles(GeoPackageStore(copy), 0, folder).save_pyramids()
    plain = VectorTiles(GeoPackageStore(copy), 0)
    mapped = VectorTiles(GeoPackageStore(copy), 0, folder)
    ids = vector_ids(plain.store)
    compared = 0
    for t in sample_tiles():
        for layer_ids in [[i] for i in ids] + [ids]:
            a = plain.tile(layer_ids, t.z, t.x, t.y).data
            assert mapped.tile(layer_ids, t.z, t.x, t.y).data == a, (layer_ids, t)
            compared += bool(a)
        props = ["name", "code"]
        assert (mapped.tile(["counties"], t.z, t.x, t.y, props, 0).data
                == plain.tile(["counties"], t.z, t.x, t.y, props, 0).data)
    assert compared > 150  # non-empty tiles among them
    assert not built_in_memory(mapped, "counties")
    kinds = {type(level) for level in mapped.tileset("counties")._levels.values()}
    assert kinds == ({PackedGeometries} if decoded_bytes == 0
                     else {PackedGeometries, IndexedGeometries})


def test_gcj02_pyramid_saved_on_first_build_and_identical(copy: Path) -> None:
    folder = copy.parent / "pyramids"
    first = VectorTiles(GeoPackageStore(copy), 0, folder)
    plain = VectorTiles(GeoPackageStore(copy), 0)
    tile = plain.tile(["counties"], *WUXING_Z10, crs="GCJ-02").data
    assert tile and first.tile(["counties"], *WUXING_Z10, crs="GCJ-02").data == tile
    assert (folder / "counties.GCJ-02.WebMercatorQuad.pyramid").exists()
    again = VectorTiles(GeoPackageStore(copy), 0, folder)
    assert again.tile(["counties"], *WUXING_Z10, crs="GCJ-02").data == tile
    assert again.tileset("counties", "GCJ-02").mercator is None  # mapped, not built


def test_cgcs2000_grid_pyramid_identical(copy: Path) -> None:
    from geo.grids import grid

    folder = copy.parent / "pyramids"
    plain = VectorTiles(GeoPackageStore(copy), 0)
    mapped = VectorTiles(GeoPackageStore(copy), 0, folder)
    cgcs = grid("CGCS2000Quad")
    for z in (6, 9, 12):
        for t in cgcs.tiles_covering(HUZHOU, z):
            args = (["counties"], z, t.x, t.y)
            assert mapped.tile(*args, grid=cgcs.id).data == plain.tile(*args, grid=cgcs.id).data
    assert (folder / "counties.WGS84.CGCS2000Quad.pyramid").exists()


def test_a_replaced_layer_is_not_served_from_its_stale_pyramid(
        copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = copy.parent / "pyramids"
    store = GeoPackageStore(copy)
    VectorTiles(store, 0, folder).save_pyramids()
    old_version = store.version("counties")
    frame = store.frame("counties")
    gone = frame.index[0]
    store.put(store.layer("counties"), frame.drop(index=gone))  # the layer is replaced

    caplog.set_level(logging.INFO, logger="layers")
    fresh = GeoPackageStore(copy)
    tiles = VectorTiles(fresh, 0, folder)
    served = tiles.tileset("counties")
    assert "counties.WGS84.WebMercatorQuad.pyramid is stale" in caplog.text  # it says why it builds
    assert served.version == fresh.version("counties") != old_version
    assert len(served.ids) == len(frame) - 1
    assert read_meta(folder / "counties.WGS84.WebMercatorQuad.pyramid")["version"] == served.version  # re-saved
    plain = VectorTiles(GeoPackageStore(copy), 0)
    for t in sample_tiles(4):
        assert tiles.tile(["counties"], t.z, t.x, t.y).data == \
            plain.tile(["counties"], t.z, t.x, t.y).data


def test_a_broken_pyramid_file_is_rebuilt_not_served(
        copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = copy.parent / "pyramids"
    VectorTiles(GeoPackageStore(copy), 0, folder).save_pyramids()
    path = folder / "counties.WGS84.WebMercatorQuad.pyramid"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # e.g. a full disk
    caplog.set_level(logging.INFO, logger="layers")
    tiles = VectorTiles(GeoPackageStore(copy), 0, folder)
    plain = VectorTiles(GeoPackageStore(copy), 0)
    assert tiles.tile(["counties"], *WUXING_Z9).data == plain.tile(["counties"], *WUXING_Z9).data
    assert "unreadable" in caplog.text
    assert open_arrays(path)[0]["version"] == tiles.store.version("counties")  # written again


def test_pyramid_settings_change_makes_the_file_stale(copy: Path, monkeypatch) -> None:
    folder = copy.parent / "pyramids"
    store = GeoPackageStore(copy)
    VectorTiles(store, 0, folder).save_pyramids()
    version = store.version("counties")
    assert pyramids.load(folder, "counties", "WGS84.WebMercatorQuad", version) is not None
    monkeypatch.setitem(pyramids.SETTINGS, "tolerance_units", 4.0)  # another simplification
    assert pyramids.load(folder, "counties", "WGS84.WebMercatorQuad", version) is None
    assert pyramids.load(folder, "counties", "WGS84.WebMercatorQuad", "another-version") is None


def test_app_serves_tiles_from_the_saved_pyramids(copy: Path) -> None:
    settings = Settings(store_path=copy)
    save_pyramids(GeoPackageStore(copy), settings.pyramid_folder())
    app = create_app(settings)
    client = TestClient(app)
    answer = client.get("/tiles/counties/{}/{}/{}.mvt".format(*WUXING_Z9))
    assert answer.status_code == 200 and answer.content
    assert client.get("/tiles/counties/tilejson.json").json()["bounds"][0] == pytest.approx(
        GeoPackageStore(copy).frame("counties").total_bounds[0])
    services = app.state.services
    assert not built_in_memory(services.tiles, "counties")
    assert "counties" not in services.store._frames


def test_postgis_tiles_identical_with_and_without_saved_pyramids(postgis_copy,
                                                                tmp_path: Path) -> None:
    from layers.postgis_store import PostGISStore

    url = postgis_copy("pyramids")
    folder = Settings(database_url=url, store_path=tmp_path / "x.gpkg").pyramid_folder(
        PostGISStore(url, pool_size=1))
    assert folder.parent == tmp_path / "pyramids" and folder.name.startswith("db-")
    VectorTiles(PostGISStore(url, pool_size=1), 0, folder).save_pyramids()
    store = PostGISStore(url, pool_size=1)
    plain, mapped = VectorTiles(store, 0), VectorTiles(PostGISStore(url, pool_size=1), 0, folder)
    for t in sample_tiles(4):
        assert mapped.tile(["counties", "county_seats"], t.z, t.x, t.y).data == \
            plain.tile(["counties", "county_seats"], t.z, t.x, t.y).data
    assert not built_in_memory(mapped, "counties")
    frame = store.frame("counties")
    store.put(store.layer("counties"), gpd.GeoDataFrame(frame.iloc[1:]))  # replaced
    again = VectorTiles(PostGISStore(url, pool_size=1), 0, folder)
    assert len(again.tileset("counties").ids) == len(frame) - 1


def test_workers_wanting_the_same_missing_pyramid_build_it_once(
        copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    import threading

    folder = copy.parent / "pyramids"
    caplog.set_level(logging.INFO, logger="layers")
    workers = [VectorTiles(GeoPackageStore(copy), 0, folder) for _ in range(3)]
    tiles: list[bytes] = []
    threads = [threading.Thread(target=lambda w=w: tiles.append(
        w.tile(["counties"], *WUXING_Z9).data)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert caplog.text.count("built and saved the tile pyramid of counties") == 1
    assert len(tiles) == 3 and tiles[0] and len(set(tiles)) == 1
    assert all(not built_in_memory(w, "counties") for w in workers)


def test_a_killed_writers_temp_file_is_swept(copy: Path) -> None:
    folder = copy.parent / "pyramids"
    folder.mkdir()
    dead = folder / ".counties.WGS84.WebMercatorQuad.pyramid.999999999.0badf00d.tmp"
    dead.write_bytes(b"half a pyramid")
    VectorTiles(GeoPackageStore(copy), 0, folder)
    assert not dead.exists()
