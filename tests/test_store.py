"""Both stores (GeoPackage, PostGIS): atomic replacement, versions, cached reads, typed
not-found errors. Each test runs once per store on a fresh, empty location."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count

import geopandas as gpd
import pytest
import shapely

from geo.errors import InvalidData, UnknownCollection, UnknownFeature
from layers.model import Layer, Provenance
from layers.store import GeoPackageStore, Store

SYNTHETIC = Provenance(source="test fixture (synthetic)", license="CC0",
                       crs_of_origin="WGS84", illustrative=True)
_databases = count()


@pytest.fixture(params=["geopackage", "postgis"])
def open_store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[[], Store]]:
    """Opens a store on one fresh location; a second call is another process's view of it."""
    if request.param == "geopackage":
        yield lambda: GeoPackageStore(tmp_path / "s.gpkg")
        return
    from layers.postgis_store import PostGISStore

    url = request.getfixturevalue("postgis").database(f"store_{next(_databases)}")
    opened: list[PostGISStore] = []

    def open_postgis() -> Store:
        opened.append(PostGISStore(url, pool_size=2, freshness_s=0))
        return opened[-1]

    yield open_postgis
    for store in opened:
        store.close()


def _layer(layer_id: str = "sites") -> Layer:
    return Layer(id=layer_id, title_zh="测试点", title_en="Test sites", geometry_type="Point",
                 id_field="code", provenance=SYNTHETIC, fields={"code": "", "name": ""})


def _frame(names: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [str(i) for i in range(len(names))], "name": names},
        geometry=[shapely.Point(120 + i / 100, 30.8) for i in range(len(names))], crs=4326,
    )


def test_put_then_read_back_with_metadata(open_store) -> None:
    store = open_store()
    store.put(_layer(), _frame(["甲", "乙"]))
    assert store.layer("sites").provenance.illustrative is True
    assert list(store.frame("sites")["name"]) == ["甲", "乙"]
    assert store.feature("sites", "1")["name"].iloc[0] == "乙"


def test_replacing_a_layer_changes_its_version_and_refreshes_reads(open_store) -> None:
    store = open_store()
    store.put(_layer(), _frame(["甲"]))
    before = store.version("sites")
    assert len(store.frame("sites")) == 1
    store.put(_layer(), _frame(["甲", "乙", "丙"]))
    assert store.version("sites") != before
    assert len(store.frame("sites")) == 3
    # a second store on the same file sees the new version too
    assert len(open_store().frame("sites")) == 3


def _state(store: Store) -> tuple:
    """What a reader sees of the layer: its version and its rows."""
    frame = store.frame("sites")
    return store.version("sites"), frame["name"].tolist(), frame.geometry.to_wkt().tolist()


def test_features_that_do_not_fit_the_layer_are_refused(open_store) -> None:
    store = open_store()
    store.put(_layer(), _frame(["甲"]))
    before = _state(open_store())
    lines = _frame(["乙"]).assign(geometry=[shapely.LineString([(0, 0), (1, 1)])])
    with pytest.raises(InvalidData):
        store.put(_layer(), lines)
    with pytest.raises(InvalidData):
        store.put(_layer(), _frame(["a", "b"]).assign(code=["1", "1"]))
    with pytest.raises(InvalidData):
        store.put(_layer(), _frame(["a"]).to_crs(4549))
    assert _state(open_store()) == before


def test_a_write_that_fails_midway_leaves_the_previous_layer_intact(
        open_store, monkeypatch) -> None:
    """Fault injection after the features are written but before the metadata is."""
    store = open_store()
    store.put(_layer(), _frame(["甲"]))
    before = _state(open_store())

    def disk_full(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("layers.store._write_meta", disk_full)
    monkeypatch.setattr("layers.postgis_store._write_meta", disk_full)
    with pytest.raises(OSError):
        store.put(_layer(), _frame(["乙", "丙"]))
    assert _state(open_store()) == before
    assert list(open_store().frame("sites")["name"]) == ["甲"]
    if isinstance(store, GeoPackageStore):
        assert list(store.path.parent.iterdir()) == [store.path]  # no temp file left behind


def test_several_layers_written_together_move_together(open_store, monkeypatch) -> None:
    """`put_many` (a project snapshot's history + latest + areas): a fault while writing the
    second layer leaves the first one unchanged as well; without a fault both change."""
    store = open_store()
    store.put_many([(_layer("sites"), _frame(["甲"])), (_layer("others"), _frame(["乙"]))])
    before = (_state(open_store()), open_store().version("others"))
    real = {"layers.store": __import__("layers.store", fromlist=["_write_meta"])._write_meta,
            "layers.postgis_store": __import__("layers.postgis_store",
                                               fromlist=["_write_meta"])._write_meta}
    for module, write_meta in real.items():
        calls = []

        def second_fails(*args: object, _write=write_meta, _calls=calls) -> None:
            _calls.append(1)
            if len(_calls) == 2:
                raise OSError("disk full")
            _write(*args)

        monkeypatch.setattr(f"{module}._write_meta", second_fails)
    with pytest.raises(OSError):
        store.put_many([(_layer("sites"), _frame(["丙", "丁"])),
                        (_layer("others"), _frame(["戊"]))])
    assert (_state(open_store()), open_store().version("others")) == before
    monkeypatch.undo()
    store.put_many([(_layer("sites"), _frame(["丙", "丁"])), (_layer("others"), _frame(["戊"]))])
    fresh = open_store()
    assert fresh.frame("sites")["name"].tolist() == ["丙", "丁"]
    assert fresh.frame("others")["name"].tolist() == ["戊"]


def test_bbox_and_filters_and_paging(open_store) -> None:
    store = open_store()
    store.put(_layer(), _frame(["a", "b", "c", "d"]))
    page = store.features("sites", bbox=(120.005, 30, 120.025, 31))
    assert list(page.features["name"]) == ["b", "c"]
    page = store.features("sites", limit=2, offset=3)
    assert page.number_matched == 4 and list(page.features["name"]) == ["d"]
    assert store.features("sites", filters={"name": "c"}).number_matched == 1


def test_unknown_layer_and_feature_raise_typed_errors(open_store) -> None:
    store = open_store()
    with pytest.raises(UnknownCollection):
        store.frame("sites")
    store.put(_layer(), _frame(["a"]))
    with pytest.raises(UnknownFeature):
        store.feature("sites", "99")


def test_readers_in_another_process_view_never_see_half_a_replacement(open_store) -> None:
    """While one store replaces the layer again and again (2 rows, then 300), another store
    reading all the while sees 2 or 300 rows, each set whole."""
    import threading

    writer, reader = open_store(), open_store()
    small, large = _frame(["a", "b"]), _frame([f"n{i}" for i in range(300)])
    writer.put(_layer(), small)
    seen: list[tuple[int, bool]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            frame = reader.frame("sites")
            expected = small if len(frame) == 2 else large
            seen.append((len(frame), frame["name"].tolist() == expected["name"].tolist()))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(12):
            writer.put(_layer(), large if i % 2 == 0 else small)
    finally:
        done.set()
        thread.join()
    assert {n for n, _ in seen} == {2, 300}  # both versions were read, nothing else
    assert all(whole for _, whole in seen)


def test_replacement_is_fsynced_before_and_after_the_rename(tmp_path, monkeypatch) -> None:
    """A layer write reaches the disk before it takes the store's name, and the rename
    reaches the directory before put() returns (geo/durable.py)."""
    import os


    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.readlink(
        f"/proc/self/fd/{fd}"))), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", str(b))),
                                                      real_replace(a, b))[1])
    store = GeoPackageStore(tmp_path / "s.gpkg")
    store.put(_layer(), _frame(["a", "b"]))
    kinds = [kind for kind, _ in calls]
    at = kinds.index("replace")
    assert "fsync" in kinds[:at], "temp file not flushed before the rename"
    assert calls[at + 1] == ("fsync", str(tmp_path)), "directory not flushed after the rename"
    assert len(store.frame("sites")) == 2
