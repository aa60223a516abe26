"""PostGIS-only paths: items encoded by ST_AsGeoJSON and tiles by ST_AsMVT give the same
features as the in-memory paths over the GeoPackage."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import pytest
import shapely
from fastapi.testclient import TestClient

from layers.postgis_store import PostGISStore
from layers.tilesets import VectorTiles


@pytest.mark.parametrize("params", [
    {"limit": 3, "offset": 1},
    {"bbox": "119.8,30.4,120.2,30.7", "limit": 100},
    {"county_code": "330523", "properties": "name,type", "limit": 100},
    {"name": "不存在"},
])
def test_sql_encoded_items_match_the_python_encoding(client: TestClient,
                                                     postgis_client: TestClient,
                                                     params: dict) -> None:
    path = "/collections/townships/items"
    ours, theirs = client.get(path, params=params), postgis_client.get(path, params=params)
    assert ours.status_code == theirs.status_code == 200
    a, b = ours.json(), theirs.json()
    for key in ("numberMatched", "numberReturned", "links"):
        assert a[key] == b[key], key
    assert [f["id"] for f in a["features"]] == [f["id"] for f in b["features"]]
    for fa, fb in zip(a["features"], b["features"]):
        assert fa["properties"] == fb["properties"]
        ga, gb = fa["geometry"], fb["geometry"]
        assert (ga is None) == (gb is None)
        if ga is not None:
            assert shapely.geometry.shape(ga).equals_exact(shapely.geometry.shape(gb), 1e-7)


def test_registry_without_geometry_pages_alike(client, postgis_client) -> None:
    params = {"township_code": "330502101", "limit": 5, "offset": 2}
    a = client.get("/collections/villages/items", params=params).json()
    b = postgis_client.get("/collections/villages/items", params=params).json()
    assert a["numberMatched"] == b["numberMatched"] == 51
    assert a["features"] == b["features"] and all(f["geometry"] is None for f in b["features"])


def test_counties_page_is_sql_encoded_with_full_geometry(client, postgis_client) -> None:
    a = client.get("/collections/counties/items").json()
    b = postgis_client.get("/collections/counties/items").json()
    assert a["numberMatched"] == b["numberMatched"] == 5
    for fa, fb in zip(a["features"], b["features"]):
        assert fa["id"] == fb["id"] and fa["properties"] == fb["properties"]
        assert shapely.geometry.shape(fa["geometry"]).equals_exact(
            shapely.geometry.shape(fb["geometry"]), 1e-7)


def test_st_asmvt_tile_holds_the_same_counties(postgis_url: str, store_path: Path) -> None:
    store = PostGISStore(postgis_url, pool_size=1)
    try:
        sql_tile = mapbox_vector_tile.decode(store.mvt("counties", 8, 213, 105))
        python_tile = mapbox_vector_tile.decode(
            VectorTiles(store, cache_bytes=0).tile(["counties"], 8, 213, 105).data)
    finally:
        store.close()
    names = {f["properties"]["name"] for f in sql_tile["counties"]["features"]}
    assert names == {f["properties"]["name"] for f in python_tile["counties"]["features"]}
    assert "安吉县" in names


def test_names_postgis_would_truncate_or_that_the_store_uses_are_refused(postgis) -> None:
    from geo.errors import InvalidData
    from layers.model import Layer, Provenance

    store = PostGISStore(postgis.database("names"), pool_size=1)
    layer = Layer(id="sites", title_zh="点", title_en="Sites", geometry_type="Point",
                  id_field="code", provenance=Provenance("test (synthetic)", "CC0", "WGS84",
                                                         illustrative=True))
    frame = gpd.GeoDataFrame({"code": ["1"]}, geometry=[shapely.Point(120, 30)], crs=4326)
    try:
        with pytest.raises(InvalidData, match="63-byte"):
            store.put(layer, frame.assign(**{"长" * 22: ["x"]}))  # 66 bytes in UTF-8
        with pytest.raises(InvalidData, match="reserved"):
            store.put(layer, frame.assign(geom=["x"]))
        assert store.layers() == []
        store.put(layer, frame.assign(**{"长" * 21: ["x"]}))  # 63 bytes: fine
        assert store.frame("sites")["长" * 21].tolist() == ["x"]
    finally:
        store.close()
