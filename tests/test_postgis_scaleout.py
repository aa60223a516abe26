"""Two API processes over one PostGIS database: a change made through one (or by any other
writer) is seen by the other — items, indicators, and tiles with a new ETag."""

from __future__ import annotations

import json
import time
import httpx
import mapbox_vector_tile
import pytest
import shapely
import shapely.geometry

from layers.postgis_store import PostGISStore

TILE = "/tiles/counties/8/213/105.mvt"  # holds Huzhou's counties


@pytest.fixture(scope="module")
def shared(postgis_copy, start_server, tmp_path_factory) -> tuple[str, str, str]:
    """A fresh PostGIS copy of the Huzhou build and two servers (own ports, own processes)."""
    url = postgis_copy("two_servers")
    folder = tmp_path_factory.mktemp("scaleout")
    files = folder / "atlas.gpkg"  # rasters beside it; each server its own uploads folder,
    env = {"GONGFU_DATABASE_URL": url, "GONGFU_API_KEYS": "bureau-key"}  # as on two machines
    return (url, start_server(files, GONGFU_UPLOADS_DIR=str(folder / "one"), **env),
            start_server(files, GONGFU_UPLOADS_DIR=str(folder / "two"), **env))


def _eventually(check, seconds: float = 5.0):
    """Poll `check` until it returns a truthy value (other processes re-read versions every
    50 ms); its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_a_layer_replaced_in_the_database_reaches_both_servers_items_and_tiles(shared) -> None:
    url, one, two = shared
    before = {base: httpx.get(base + TILE) for base in (one, two)}
    for response in before.values():
        assert response.status_code == 200
        names = {f["properties"]["name"] for f in
                 mapbox_vector_tile.decode(response.content)["counties"]["features"]}
        assert "安吉县" in names
    etag = before[one].headers["etag"]
    assert before[two].headers["etag"] == etag  # same key, same version, in both processes

    writer = PostGISStore(url)  # a third process's view: e.g. `gongfu db load`
    layer = writer.layer("counties")
    frame = writer.frame("counties").copy()
    frame.loc["330523", "name"] = "安吉县（改）"
    frame = frame.drop(index="330502")
    writer.put(layer, frame)
    writer.close()

    for base in (one, two):
        items = _eventually(lambda: (r := httpx.get(f"{base}/collections/counties/items",
                                                    params={"limit": 50}).json())
                            ["numberMatched"] == 4 and r)
        assert items, f"{base} still serves the old counties"
        names = {f["properties"]["name"] for f in items["features"]}
        assert "安吉县（改）" in names and "吴兴区" not in names
        tile = httpx.get(base + TILE, headers={"If-None-Match": etag})
        assert tile.status_code == 200 and tile.headers["etag"] != etag
        features = mapbox_vector_tile.decode(tile.content)["counties"]["features"]
        assert {f["properties"]["name"] for f in features} >= {"安吉县（改）"}
        assert len(features) == 4


def test_an_indicator_saved_through_one_server_is_served_by_the_other(shared) -> None:
    _, one, two = shared
    # counties the other test leaves as they are
    table = "区县,测试人均收入\n南浔区,222\n德清县,333\n长兴县,444\n"
    saved = httpx.post(f"{one}/indicators", headers={"Authorization": "Bearer bureau-key"},
                       files={"file": ("t.csv", table.encode(), "text/csv")},
                       data={"dry_run": "false", "year": "2024", "unit": "元"}, timeout=60)
    assert saved.status_code == 201, saved.text
    indicator = saved.json()["indicators"][0]["id"]

    def values_on_two() -> dict:
        response = httpx.get(f"{two}/collections/counties/items",
                             params={"indicator": indicator, "year": 2024, "limit": 50})
        if response.status_code != 200:
            return {}
        return {f["id"]: f["properties"]["value"] for f in response.json()["features"]}

    values = _eventually(values_on_two)
    assert {code: values.get(code) for code in ("330503", "330521", "330522")} == {
        "330503": 222, "330521": 333, "330522": 444}


def test_an_upload_made_through_one_server_is_served_by_the_other(shared) -> None:
    _, one, two = shared
    square = shapely.box(120.05, 30.80, 120.10, 30.85)  # in 吴兴区
    geojson = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"名称": "地块甲"},
         "geometry": shapely.geometry.mapping(square)}]}, ensure_ascii=False)
    made = httpx.post(f"{one}/uploads", files={"file": ("plot.geojson", geojson.encode())},
                      timeout=60)
    assert made.status_code == 201, made.text
    upload_id, token = made.json()["id"], made.json()["token"]
    mine = {"Authorization": f"Bearer {token}"}

    assert [u["id"] for u in httpx.get(f"{two}/uploads", headers=mine).json()["uploads"]] == [
        upload_id]
    items = httpx.get(f"{two}/uploads/{upload_id}/layers/layer_1/items", headers=mine)
    assert items.status_code == 200
    feature = items.json()["features"][0]
    assert feature["properties"]["名称"] == "地块甲"
    assert shapely.geometry.shape(feature["geometry"]).equals_exact(square, 1e-6)
    # private on every server: no token or another planner's token gets 404
    assert httpx.get(f"{two}/uploads/{upload_id}").status_code == 404
    other = httpx.post(f"{two}/uploads", files={"file": ("p.geojson", geojson.encode())},
                       timeout=60).json()["token"]
    assert httpx.get(f"{one}/uploads/{upload_id}",
                     headers={"Authorization": f"Bearer {other}"}).status_code == 404
    # deleted through two, gone from one
    assert httpx.delete(f"{two}/uploads/{upload_id}", headers=mine).status_code == 204
    assert httpx.get(f"{one}/uploads/{upload_id}", headers=mine).status_code == 404
    assert httpx.get(f"{one}/uploads/{upload_id}/layers/layer_1/items",
                     headers=mine).status_code == 404


def test_workers_of_one_server_all_see_a_replacement(postgis_copy, start_server,
                                                     tmp_path_factory) -> None:
    """`uvicorn --workers 2`: each worker keeps its own layer and tile caches; after a change
    every answer, whichever worker gives it, is the new layer."""
    url = postgis_copy("two_workers")
    files = tmp_path_factory.mktemp("workers") / "atlas.gpkg"
    base = start_server(files, GONGFU_DATABASE_URL=url, UVICORN_WORKERS="2")
    for _ in range(10):  # warm both workers' caches with the old tile
        assert httpx.get(base + TILE).status_code == 200

    writer = PostGISStore(url, pool_size=1)
    frame = writer.frame("counties")
    writer.put(writer.layer("counties"), frame.drop(index="330502"))
    writer.close()

    time.sleep(1.0)  # version re-read (50 ms) and pyramid rebuild, in each worker
    counts = set()
    for _ in range(20):  # fresh connections, so the kernel spreads them over the workers
        tile = httpx.get(base + TILE)
        counts.add(len(mapbox_vector_tile.decode(tile.content)["counties"]["features"]))
        items = httpx.get(f"{base}/collections/counties/items").json()
        counts.add(items["numberMatched"])
    assert counts == {4}
