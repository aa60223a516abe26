"""OGC API – Tiles: tile matrix sets (incl. 天地图's CGCS2000 'c' grid), tilesets, MVT and PNG
tiles in every grid, label points, styles (MapLibre and SLD) — decoded and checked against the
stored geometry."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image
from shapely.geometry import shape

from geo.grids import GRIDS

CGCS = GRIDS["CGCS2000Quad"]


@pytest.fixture(scope="module", params=["geopackage", "postgis"])
def client(request: pytest.FixtureRequest, client: TestClient) -> TestClient:
    """The session's app over each store in turn (the same Huzhou build)."""
    return client if request.param == "geopackage" else request.getfixturevalue("postgis_client")
ANJI = "330523"
REL = "http://www.opengis.net/def/rel/ogc/1.0/"


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)  # y up, tile units 0..4096


def to_lonlat(geometry: shapely.Geometry, bounds: tuple[float, float, float, float]
              ) -> shapely.Geometry:
    """Decoded tile units (y up) back to lon/lat in a geographic grid's tile."""
    minx, miny, maxx, maxy = bounds
    return shapely.transform(geometry, lambda xy: np.column_stack(
        (minx + xy[:, 0] * (maxx - minx) / 4096, miny + xy[:, 1] * (maxy - miny) / 4096)))


def test_cgcs2000_grid_is_tianditus_c_grid(client: TestClient) -> None:
    """Level 1 is 2 columns × 1 row from (-180°, 90°); a level-z tile spans 180/2^(z-1)°."""
    listed = client.get("/tileMatrixSets").json()["tileMatrixSets"]
    assert [t["id"] for t in listed] == ["WebMercatorQuad", "WorldCRS84Quad", "CGCS2000Quad"]
    doc = client.get("/tileMatrixSets/CGCS2000Quad").json()
    assert doc["crs"] == "http://www.opengis.net/def/crs/EPSG/0/4490"
    first = doc["tileMatrices"][0]
    assert (first["id"], first["matrixWidth"], first["matrixHeight"]) == ("1", 2, 1)
    assert first["pointOfOrigin"] == [90.0, -180.0]  # EPSG:4490 is lat, lon
    assert [m["id"] for m in doc["tileMatrices"]] == [str(z) for z in range(1, 21)]
    for z in (1, 5, 12, 18):
        west, south, east, north = CGCS.tile_bounds(z, 0, 0)
        assert (west, north) == (-180.0, 90.0)
        assert east - west == pytest.approx(180 / 2 ** (z - 1))
        assert north - south == pytest.approx(180 / 2 ** (z - 1))
    # Huzhou (120.1°E, 30.9°N) at level 12: column 3414, row 672 of 天地图's img_c/vec_c
    assert (lambda t: (t.x, t.y))(CGCS.tms.tile(120.1, 30.9, 12)) == (3414, 672)


@pytest.mark.parametrize("path", ["/tileMatrixSets/Nope", "/collections/counties/tiles/Nope",
                                  "/collections/counties/tiles/Nope/3/0/0"])
def test_unknown_grid_is_404_in_both_languages(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "CGCS2000Quad" in response.json()["message"]["zh"]


@pytest.mark.parametrize("path", ["/collections/counties/tiles/CGCS2000Quad/0/0/0",
                                  "/collections/counties/tiles/CGCS2000Quad/1/1/0",
                                  "/collections/counties/tiles/WorldCRS84Quad/2/0/8"])
def test_tiles_outside_the_grid_are_400(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.json()["message"]["zh"] and response.json()["message"]["en"]


def test_tileset_lists_and_metadata_link_to_template_and_grid(client: TestClient) -> None:
    tilesets = client.get("/collections/counties/tiles").json()["tilesets"]
    assert {t["tileMatrixSetURI"].rsplit("/", 1)[-1].rsplit(":", 1)[-1] for t in tilesets} == set(
        GRIDS)
    assert {t["dataType"] for t in tilesets} == {"vector"}
    meta = client.get("/collections/counties/tiles/CGCS2000Quad").json()
    rels = {link["rel"]: link for link in meta["links"]}
    assert rels["item"]["href"].endswith(
        "/collections/counties/tiles/CGCS2000Quad/{tileMatrix}/{tileRow}/{tileCol}")
    assert rels["item"]["type"] == "application/vnd.mapbox-vector-tile"
    assert rels[REL + "tiling-scheme"]["href"].endswith("/tileMatrixSets/CGCS2000Quad")
    assert [layer["id"] for layer in meta["layers"]] == ["counties", "counties_label"]
    level12 = next(limit for limit in meta["tileMatrixSetLimits"] if limit["tileMatrix"] == "12")
    assert level12["minTileCol"] <= 3414 <= level12["maxTileCol"]
    assert "MIT" in meta["attribution"]
    tilejson = client.get("/collections/counties/tiles/CGCS2000Quad?f=tilejson").json()
    assert tilejson["tileMatrixSet"] == "CGCS2000Quad" and tilejson["minzoom"] == 1
    assert tilejson["tiles"][0].endswith("/collections/counties/tiles/CGCS2000Quad/{z}/{y}/{x}")
    assert "counties_label" in {layer["id"] for layer in tilejson["vector_layers"]}


def _county_tile(client: TestClient, code: str, z: int) -> tuple[dict, tuple, shapely.Geometry]:
    """The decoded CGCS2000Quad tile at level z holding the county's label point."""
    county = shape(client.get(f"/collections/counties/items/{code}").json()["geometry"])
    point = shapely.point_on_surface(county)
    tile = CGCS.tms.tile(point.x, point.y, z)
    response = client.get(f"/collections/counties/tiles/CGCS2000Quad/{z}/{tile.y}/{tile.x}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return decode(response.content), CGCS.tile_bounds(z, tile.x, tile.y), county


def test_vertices_decoded_from_a_z12_cgcs2000_tile_land_within_half_a_pixel(
        client: TestClient, store) -> None:
    """Every vertex of 安吉县 in the level-12 tile (tile edges excepted, where clipping adds
    points) lies within half a pixel (1/512 of the tile) of a vertex of the stored shape."""
    stored = store.feature("counties", ANJI).geometry.iloc[0]
    corner = shapely.get_coordinates(stored)[0]  # a vertex of the outline
    t = CGCS.tms.tile(*corner, 12)
    response = client.get(f"/collections/counties/tiles/CGCS2000Quad/12/{t.y}/{t.x}")
    tile, bounds = decode(response.content), CGCS.tile_bounds(12, t.x, t.y)
    decoded = next(shape(f["geometry"]) for f in tile["counties"]["features"] if f["id"] == 330523)
    units = shapely.get_coordinates(decoded)
    inner = units[((units > 0) & (units < 4096)).all(axis=1)]
    assert len(inner) > 20
    half_pixel = (bounds[2] - bounds[0]) / 256 / 2  # degrees
    source = shapely.points(shapely.get_coordinates(stored))
    tree = shapely.STRtree(source)
    for x, y in inner:
        lonlat = to_lonlat(shapely.Point(x, y), bounds)
        nearest = source[tree.nearest(lonlat)]
        assert lonlat.distance(nearest) <= half_pixel, (x, y)


def test_label_points_are_inside_their_polygon_with_the_name(client: TestClient) -> None:
    for z in (8, 12):
        tile, bounds, county = _county_tile(client, ANJI, z)
        labels = [f for f in tile["counties_label"]["features"] if f["id"] == 330523]
        assert len(labels) == 1
        assert labels[0]["properties"] == {"code": ANJI, "name": "安吉县"}
        assert labels[0]["geometry"]["type"] == "Point"
        point = to_lonlat(shape(labels[0]["geometry"]), bounds)
        assert county.buffer(1e-4).contains(point)


def test_label_points_are_in_one_tile_only(client: TestClient) -> None:
    """Label points are not repeated in the neighbours' buffers (no doubled names)."""
    counts: dict[int, int] = {}
    z = 9
    for row in range(CGCS.tms.tile(119.2, 31.2, z).y, CGCS.tms.tile(119.2, 30.3, z).y + 1):
        for col in range(CGCS.tms.tile(119.2, 31.2, z).x, CGCS.tms.tile(120.6, 31.2, z).x + 1):
            response = client.get(f"/collections/counties/tiles/CGCS2000Quad/{z}/{row}/{col}")
            if response.status_code == 200:
                for f in decode(response.content).get("counties_label", {"features": []})[
                        "features"]:
                    counts[f["id"]] = counts.get(f["id"], 0) + 1
    assert counts == {330502: 1, 330503: 1, 330521: 1, 330522: 1, 330523: 1}


def test_same_tile_cache_and_etags_in_every_grid(client: TestClient) -> None:
    """WebMercatorQuad through the OGC route is the XYZ tile plus the label points (the
    counties layer decodes identically; XYZ tiles have no label layer, as before); every grid
    and variant has its own ETag and answers If-None-Match with 304."""
    import morecantile

    t = morecantile.tms.get("WebMercatorQuad").tile(120.1, 30.8, 10)
    xyz = client.get(f"/tiles/counties/10/{t.x}/{t.y}.mvt")
    ogc = client.get(f"/collections/counties/tiles/WebMercatorQuad/10/{t.y}/{t.x}")
    assert ogc.status_code == xyz.status_code == 200
    plain, labelled = decode(xyz.content), decode(ogc.content)
    assert list(plain) == ["counties"] and list(labelled) == ["counties", "counties_label"]
    assert plain["counties"] == labelled["counties"]
    assert ogc.headers["etag"] != xyz.headers["etag"]
    c = CGCS.tms.tile(120.1, 30.8, 10)
    path = f"/collections/counties/tiles/CGCS2000Quad/10/{c.y}/{c.x}"
    first = client.get(path)
    assert first.status_code == 200 and first.headers["etag"] != xyz.headers["etag"]
    again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    world = client.get(f"/collections/counties/tiles/WorldCRS84Quad/9/{c.y}/{c.x}")
    assert world.status_code == 200 and world.content == first.content  # same cut, level-1 id


def test_map_tileset_holds_every_administrative_layer(client: TestClient) -> None:
    assert client.get("/tiles").json()["tilesets"][0]["dataType"] == "vector"
    c = CGCS.tms.tile(120.1, 30.8, 9)
    tile = decode(client.get(f"/tiles/CGCS2000Quad/9/{c.y}/{c.x}").content)
    assert list(tile) == ["cities", "cities_label", "counties", "counties_label", "townships",
                          "county_seats"]
    meta = client.get("/tiles/CGCS2000Quad").json()
    assert {layer["id"] for layer in meta["layers"]} >= {"counties", "townships"}


def test_raster_tiles_in_the_cgcs2000_grid(client: TestClient) -> None:
    tilesets = client.get("/collections/bamboo_carbon_density/tiles").json()["tilesets"]
    assert {t["dataType"] for t in tilesets} == {"map"}
    meta = client.get("/collections/bamboo_carbon_density/tiles/CGCS2000Quad").json()
    assert "算法生成/演示" in meta["attribution"]
    limit = next(m for m in meta["tileMatrixSetLimits"] if m["tileMatrix"] == "9")
    response = client.get(f"/collections/bamboo_carbon_density/tiles/CGCS2000Quad/9/"
                          f"{limit['minTileRow']}/{limit['minTileCol']}")
    assert response.headers["content-type"] == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))
    assert pixels.shape == (256, 256, 4) and (pixels[..., 3] > 0).sum() > 1000
    import morecantile

    t = morecantile.tms.get("WebMercatorQuad").tile(119.6, 30.6, 10)  # same PNG as XYZ
    assert client.get(f"/collections/bamboo_carbon_density/tiles/WebMercatorQuad/10/{t.y}/"
                      f"{t.x}").content == client.get(
        f"/rasters/bamboo_carbon_density/tiles/10/{t.x}/{t.y}.png").content
    far = client.get("/collections/bamboo_carbon_density/tiles/CGCS2000Quad/9/10/10")
    assert (np.asarray(Image.open(io.BytesIO(far.content)).convert("RGBA"))[..., 3] == 0).all()


def test_landing_conformance_and_collection_links(client: TestClient) -> None:
    rels = {link["rel"] for link in client.get("/?f=json").json()["links"]}
    assert {REL + "tiling-schemes", REL + "tilesets-vector"} <= rels
    conforms = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conforms
    links = {link["rel"]: link["href"] for link in client.get("/collections/counties").json()[
        "links"]}
    assert links[REL + "tilesets-vector"].endswith("/collections/counties/tiles")
    assert links[REL + "styles"].endswith("/collections/counties/styles")
    village_rels = {link["rel"] for link in client.get("/collections/villages").json()["links"]}
    assert REL + "tilesets-vector" not in village_rels  # a registry without geometry


def test_styles_carry_labels_and_provenance(client: TestClient, tmp_path: Path) -> None:
    listing = client.get("/collections/counties/styles").json()
    types = {link["type"] for link in listing["styles"][0]["links"]}
    assert types == {"application/vnd.mapbox.style+json", "application/vnd.ogc.sld+xml;version=1.0"}
    style = client.get("/collections/counties/styles/default?f=mapbox").json()
    label = next(layer for layer in style["layers"] if layer["type"] == "symbol")
    assert label["source-layer"] == "counties_label"
    assert label["layout"]["text-field"] == ["get", "name"]
    prov = style["metadata"]["gongfu:provenance"][0]
    assert prov["license"] == "MIT" and "GCJ-02" in prov["crs_of_origin"]
    assert client.get(style["glyphs"].replace("{fontstack}", "a").replace("{range}", "0-255")
                      .replace("http://testserver", "")).status_code == 200
    validator = Path(__file__).parent.parent / "node_modules" / ".bin" / "gl-style-validate"
    path = tmp_path / "style.json"
    path.write_text(client.get("/collections/counties/styles/default").text)
    result = subprocess.run([str(validator), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    sld = ET.fromstring(client.get("/collections/counties/styles/default?f=sld10").content)
    ns = {"sld": "http://www.opengis.net/sld", "ogc": "http://www.opengis.net/ogc"}
    assert sld.find(".//sld:TextSymbolizer/sld:Label/ogc:PropertyName", ns).text == "name"
    abstract = sld.find(".//sld:UserStyle/sld:Abstract", ns).text
    assert "MIT" in abstract and "GCJ-02" in abstract
    for collection in client.get("/collections").json()["collections"]:
        if collection["geometryType"] == "None":
            continue
        got = client.get(f"/collections/{collection['id']}/styles/default").json()
        flag = got["metadata"]["gongfu:provenance"][0]["flag"]
        assert flag.startswith("算法生成/演示") == collection["provenance"]["illustrative"]
    assert client.get("/collections/counties/styles/other").status_code == 404
    assert client.get("/collections/counties/styles/default?f=qml").status_code == 400


def test_serving_app_answers_warm_ogc_tiles_before_fastapi(store_path: Path,
                                                            monkeypatch) -> None:
    """The fast path (api/tile_cache.py) serves warm OGC tiles of every grid and the map
    tileset: same bytes and ETag as the route, no request id (FastAPI never ran), 304s."""
    from api.app import serving_app

    monkeypatch.setenv("GONGFU_STORE_PATH", str(store_path))
    client = TestClient(serving_app())
    plain = {"Accept-Encoding": "identity"}
    c = CGCS.tms.tile(120.1, 30.8, 9)
    for path in (f"/collections/counties/tiles/CGCS2000Quad/9/{c.y}/{c.x}",
                 f"/tiles/CGCS2000Quad/9/{c.y}/{c.x}",
                 f"/collections/counties/tiles/WorldCRS84Quad/8/{c.y}/{c.x}"):
        first, second = client.get(path, headers=plain), client.get(path, headers=plain)
        assert first.status_code == second.status_code == 200
        assert "x-request-id" in first.headers and "x-request-id" not in second.headers
        assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and "x-request-id" not in again.headers
    assert client.get("/collections/counties/tiles/CGCS2000Quad/0/0/0").status_code == 400
    assert client.get("/tiles/CGCS2000Quad/1/1/0").status_code == 400
