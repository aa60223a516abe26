"""OGC API Features Part 4 (create, replace, update, delete) on both stores: the shared
planner layer `planning_sketches` with an API key, a planner's own upload with its token;
ETags and If-Match (412/428), geometry and attribute checks, read-only official layers, and
edits showing in the next tile and in items. The sketches drawn here are test shapes."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
import shutil
import uuid
from pathlib import Path

import mapbox_vector_tile
import morecantile
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from api.app import create_app
from api.settings import Settings
from layers.editing import SKETCH_LAYER, sketch_layer
from layers.store import GeoPackageStore

KEY = "edit-test-key"
ITEMS = f"/collections/{SKETCH_LAYER}/items"
PART4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def app(request, store_path: Path, tmp_path_factory) -> TestClient:
    """The app over a private copy of the Huzhou build plus an empty sketch layer."""
    folder = tmp_path_factory.mktemp(f"edit-{request.param}")
    path = folder / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    url = ""
    if request.param == "postgis":
        from layers.postgis_store import PostGISStore

        url = request.getfixturevalue("postgis_copy")(f"edit_{uuid.uuid4().hex[:8]}")
        target = PostGISStore(url, pool_size=1)
        target.put(*sketch_layer())
        target.close()
    else:
        GeoPackageStore(path).put(*sketch_layer())
    client = TestClient(create_app(Settings(store_path=path, database_url=url, api_keys=KEY,
                                            rate_limit_per_minute=100_000)))
    client.kind = request.param
    return client


def key() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


def square(lon: float, lat: float, size: float = 0.01) -> dict:
    return json.loads(shapely.to_geojson(shapely.box(lon, lat, lon + size, lat + size)))


def sketch(name: str, lon: float = 119.68, lat: float = 30.63, **extra) -> dict:
    return {"type": "Feature", "geometry": square(lon, lat),
            "properties": {"name": name, "category": "拟选址", **extra}}


def test_create_read_update_replace_delete_with_etags(app: TestClient) -> None:
    made = app.post(ITEMS, json=sketch("测试地块甲"), headers=key())
    assert made.status_code == 201, made.text
    fid = made.json()["id"]
    assert made.headers["Location"].endswith(f"{ITEMS}/{fid}")
    tag = made.headers["ETag"]
    got = app.get(f"{ITEMS}/{fid}")
    assert got.status_code == 200 and got.headers["ETag"] == tag
    assert got.json()["properties"]["name"] == "测试地块甲"

    # no If-Match: 428; a stale one: 412 (both bilingual)
    missing = app.patch(f"{ITEMS}/{fid}", json={"properties": {"note": "x"}}, headers=key())
    assert missing.status_code == 428 and "If-Match" in missing.json()["message"]["zh"]
    changed = app.patch(f"{ITEMS}/{fid}", json={"properties": {"note": "已踏勘"}},
                        headers={**key(), "If-Match": tag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["properties"] == {**got.json()["properties"], "note": "已踏勘"}
    new_tag = changed.headers["ETag"]
    assert new_tag != tag and app.get(f"{ITEMS}/{fid}").headers["ETag"] == new_tag
    stale = app.put(f"{ITEMS}/{fid}", json=sketch("覆盖"), headers={**key(), "If-Match": tag})
    assert stale.status_code == 412
    assert "他人修改" in stale.json()["message"]["zh"] and "changed" in stale.json()[
        "message"]["en"]

    # the geometry alone, by merge patch; then a whole replacement (unset fields become null)
    moved = app.patch(f"{ITEMS}/{fid}", json={"geometry": square(119.70, 30.65)},
                      headers={**key(), "If-Match": new_tag})
    assert moved.status_code == 200
    assert shapely.geometry.shape(moved.json()["geometry"]).bounds[0] == pytest.approx(119.70)
    replaced = app.put(f"{ITEMS}/{fid}", json=sketch("测试地块乙"),
                       headers={**key(), "If-Match": moved.headers["ETag"]})
    assert replaced.status_code == 200
    assert replaced.json()["properties"]["name"] == "测试地块乙"
    assert replaced.json()["properties"]["note"] is None

    gone = app.delete(f"{ITEMS}/{fid}", headers={**key(), "If-Match": replaced.headers["ETag"]})
    assert gone.status_code == 204
    assert app.get(f"{ITEMS}/{fid}").status_code == 404
    again = app.delete(f"{ITEMS}/{fid}", headers={**key(), "If-Match": "*"})
    assert again.status_code == 404


def test_only_planner_layers_are_editable(app: TestClient) -> None:
    assert app.post(ITEMS, json=sketch("无密钥")).status_code == 401
    official = app.post("/collections/counties/items", json=sketch("x"), headers=key())
    assert official.status_code == 403
    body = official.json()
    assert "只读" in body["message"]["zh"] and SKETCH_LAYER in body["message"]["zh"]
    assert "read-only" in body["message"]["en"]
    code = app.get("/collections/counties/items?limit=1").json()["features"][0]["id"]
    assert app.delete(f"/collections/counties/items/{code}",
                      headers={**key(), "If-Match": "*"}).status_code == 403
    assert app.get(f"/collections/counties/items/{code}").status_code == 200
    assert PART4 in app.get("/conformance").json()["conformsTo"]


def test_geometry_and_attributes_are_checked(app: TestClient) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[119.6, 30.6], [119.7, 30.7], [119.7, 30.6],
                                                  [119.6, 30.7], [119.6, 30.6]]]}
    bad = app.post(ITEMS, json={**sketch("自相交"), "geometry": bowtie}, headers=key())
    assert bad.status_code == 422 and "自相交" in bad.json()["message"]["zh"]
    swapped = app.post(ITEMS, json=sketch("经纬颠倒", lon=30.63, lat=119.68), headers=key())
    assert swapped.status_code == 422 and "合理范围" in swapped.json()["message"]["zh"]
    point = app.post(ITEMS, json={**sketch("点"), "geometry": {"type": "Point",
                                                               "coordinates": [119.7, 30.6]}},
                     headers=key())
    assert point.status_code == 422 and "MultiPolygon" in point.json()["message"]["en"]
    unknown = app.post(ITEMS, json=sketch("字段", area=3), headers=key())
    assert unknown.status_code == 422 and "area" in unknown.json()["message"]["en"]
    wrong = app.post(ITEMS, json={**sketch("类型"), "properties": {"name": 5}}, headers=key())
    assert wrong.status_code == 422 and "name" in wrong.json()["message"]["zh"]
    assert app.post(ITEMS, content=b"{not json", headers=key()).status_code == 422
    # metres on the CGCS2000 GK plane, northing first (EPSG:4549 axis order)
    to_gk = Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True)
    x0, y0 = to_gk.transform(119.68, 30.63)
    ring = [[y0, x0], [y0, x0 + 500], [y0 + 500, x0 + 500], [y0 + 500, x0], [y0, x0]]
    made = app.post(ITEMS, json={**sketch("平面坐标"), "geometry": {
        "type": "Polygon", "coordinates": [ring]}},
        headers={**key(), "Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4549>"})
    assert made.status_code == 201, made.text
    corners = shapely.get_coordinates(shapely.geometry.shape(made.json()["geometry"]))
    nearest = min(corners.tolist(), key=lambda c: abs(c[0] - 119.68) + abs(c[1] - 30.63))
    assert nearest == [pytest.approx(119.68, abs=1e-6), pytest.approx(30.63, abs=1e-6)]
    area = app.get(f"{ITEMS}/{made.json()['id']}?crs=EPSG:4549").json()["geometry"]
    assert shapely.geometry.shape(area).area == pytest.approx(250_000, rel=1e-3)  # 500 m × 500 m


def _tile(app: TestClient, lon: float, lat: float, z: int = 12):
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
    response = app.get(f"/tiles/{SKETCH_LAYER}/{z}/{tile.x}/{tile.y}.mvt")
    assert response.status_code in (200, 204)
    decoded = mapbox_vector_tile.decode(response.content) if response.content else {}
    names = [f["properties"].get("name") for f in decoded.get(SKETCH_LAYER, {}).get(
        "features", [])]
    return response.headers.get("ETag"), names


def test_an_edit_shows_in_the_next_tile_and_in_items(app: TestClient) -> None:
    lon, lat = 119.90, 30.52
    before_tag, before = _tile(app, lon + 0.002, lat + 0.002)
    assert "瓦片可见" not in before
    made = app.post(ITEMS, json=sketch("瓦片可见", lon=lon, lat=lat), headers=key())
    assert made.status_code == 201
    after_tag, after = _tile(app, lon + 0.002, lat + 0.002)
    assert after_tag != before_tag and "瓦片可见" in after
    found = app.get(ITEMS, params={"bbox": f"{lon},{lat},{lon + 0.01},{lat + 0.01}"}).json()
    assert "瓦片可见" in [f["properties"]["name"] for f in found["features"]]
    fid = made.json()["id"]
    app.delete(f"{ITEMS}/{fid}", headers={**key(), "If-Match": made.headers["ETag"]})
    gone_tag, gone = _tile(app, lon + 0.002, lat + 0.002)
    assert gone_tag != after_tag and "瓦片可见" not in gone


def _upload(app: TestClient) -> tuple[str, str, dict]:
    geoms = [shapely.box(119.6 + i / 100, 30.6, 119.605 + i / 100, 30.605) for i in range(3)]
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)),
         "properties": {"名称": f"地块{i}", "面积": 10 + i}} for i, g in enumerate(geoms)]}
    response = app.post("/uploads", files={"file": ("parcels.geojson",
                                                    json.dumps(collection).encode())})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["token"], {"Authorization": f"Bearer {body['token']}"}


def test_owner_edits_an_upload(app: TestClient) -> None:
    upload, _, auth = _upload(app)
    base = f"/uploads/{upload}/layers/layer_1/items"
    first = app.get(f"{base}/1", headers=auth)
    assert first.status_code == 200 and first.headers["Cache-Control"].startswith("private")
    tag = first.headers["ETag"]
    _, other, _ = _upload(app)
    stranger = {"Authorization": f"Bearer {other}"}
    assert app.patch(f"{base}/1", json={"properties": {"面积": 99}},
                     headers={**stranger, "If-Match": tag}).status_code == 404
    wrong = app.patch(f"{base}/1", json={"properties": {"面积": "很大"}},
                      headers={**auth, "If-Match": tag})
    assert wrong.status_code == 422 and "面积" in wrong.json()["message"]["zh"]
    changed = app.patch(f"{base}/1", json={"properties": {"面积": 99}},
                        headers={**auth, "If-Match": tag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["properties"]["面积"] == 99
    assert app.patch(f"{base}/1", json={"properties": {"面积": 1}},
                     headers={**auth, "If-Match": tag}).status_code == 412
    made = app.post(base, json={"type": "Feature", "geometry": square(119.7, 30.61, 0.005),
                                "properties": {"名称": "新增地块"}}, headers=auth)
    assert made.status_code == 201 and made.json()["id"] == "4"
    rows = app.get(base, headers=auth).json()["features"]
    assert [f["properties"]["名称"] for f in rows] == ["地块0", "地块1", "地块2", "新增地块"]
    assert rows[0]["properties"]["面积"] == 99
    tile = morecantile.tms.get("WebMercatorQuad").tile(119.7025, 30.6125, 13)
    mvt = app.get(f"/uploads/{upload}/tiles/13/{tile.x}/{tile.y}.mvt", headers=auth)
    names = [f["properties"].get("名称") for layer in mapbox_vector_tile.decode(
        mvt.content).values() for f in layer["features"]]
    assert "新增地块" in names
    assert app.delete(f"{base}/4", headers={**auth, "If-Match": made.headers["ETag"]}
                      ).status_code == 204
    assert len(app.get(base, headers=auth).json()["features"]) == 3
    record = app.post(f"/uploads/{upload}/layers/_upload/items", headers=auth,
                      json={"type": "Feature", "geometry": None, "properties": {}})
    assert record.status_code == 404  # the upload's own record is not a layer


def test_concurrent_edits_of_one_version_let_exactly_one_through(app: TestClient) -> None:
    made = app.post(ITEMS, json=sketch("并发"), headers=key())
    fid, tag = made.json()["id"], made.headers["ETag"]

    def edit(i: int) -> int:
        return app.patch(f"{ITEMS}/{fid}", json={"properties": {"note": f"第{i}人"}},
                         headers={**key(), "If-Match": tag}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = sorted(pool.map(edit, range(4)))
    assert codes == [200, 412, 412, 412]
    note = app.get(f"{ITEMS}/{fid}").json()["properties"]["note"]
    assert note.startswith("第")


def test_another_process_sees_the_edit(app: TestClient, tmp_path: Path) -> None:
    """A second app over the same store (as another worker would be) serves the edit in
    items, downloads and tiles, and its stale ETag is refused. On PostGIS it keeps its own
    local upload copies (as another machine would), which must follow the database."""
    settings = app.app.state.services.settings
    if app.kind == "postgis":
        settings = settings.model_copy(update={"uploads_dir": tmp_path / "other-uploads"})
    other = TestClient(create_app(settings))
    made = other.post(ITEMS, json=sketch("另一进程", lon=119.95, lat=30.55), headers=key())
    assert made.status_code == 201
    fid = made.json()["id"]
    seen = app.get(f"{ITEMS}/{fid}")
    assert seen.status_code == 200 and seen.headers["ETag"] == made.headers["ETag"]
    download = app.get(f"/collections/{SKETCH_LAYER}/download", params={"format": "geojson"})
    assert "另一进程" in download.content.decode("utf-8")
    _, names = _tile(app, 119.952, 30.552)
    assert "另一进程" in names
    moved = app.patch(f"{ITEMS}/{fid}", json={"properties": {"note": "改"}},
                      headers={**key(), "If-Match": made.headers["ETag"]})
    assert moved.status_code == 200
    assert other.delete(f"{ITEMS}/{fid}", headers={
        **key(), "If-Match": made.headers["ETag"]}).status_code == 412
    upload, _, auth = _upload(other)
    base = f"/uploads/{upload}/layers/layer_1/items"
    tag = app.get(f"{base}/2", headers=auth).headers["ETag"]  # this process's local copy
    assert other.patch(f"{base}/2", json={"properties": {"名称": "改名"}},
                       headers={**auth, "If-Match": tag}).status_code == 200
    assert app.get(f"{base}/2", headers=auth).json()["properties"]["名称"] == "改名"


@pytest.mark.parametrize("body", [
    [], "Feature", {"type": "Feature"}, {"type": "Feature", "geometry": {"type": "Polygon",
                                                                        "coordinates": "x"}},
    b'{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[1e400, 30],'
    b' [120, 30], [120, 31], [1e400, 30]]]}}',
    b'{"type": "Feature", "geometry": {"type": "Point", "coordinates": [NaN, 30]}}',
    {**sketch("大数"), "id": 1.5}, {**sketch("空"), "id": ""},
    {**sketch("NUL"), "properties": {"name": "a\u0000b"}},
    {**sketch("嵌套"), "properties": {"name": {"x": [1]}}},
])
def test_hostile_bodies_get_a_4xx(app: TestClient, body) -> None:
    if isinstance(body, bytes):
        response = app.post(ITEMS, content=body, headers=key())
    else:
        response = app.post(ITEMS, json=body, headers=key())
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]["zh"] and response.json()["message"]["en"]


def test_hostile_requests_get_a_4xx(app: TestClient) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert app.post(ITEMS, content=deep, headers=key()).status_code == 422
    nul = app.patch(f"{ITEMS}/a%00b", json={"properties": {}}, headers={**key(), "If-Match": "*"})
    assert nul.status_code == 404
    crs = app.post(ITEMS, json=sketch("坐标系"), headers={**key(), "Content-Crs": "<EPSG:9999>"})
    assert crs.status_code == 400 and crs.json()["code"] == "unknown_crs"
    z = app.post(ITEMS, json={**sketch("三维"), "geometry": {"type": "Polygon", "coordinates": [
        [[119.6, 30.6, 5], [119.61, 30.6, 5], [119.61, 30.61, 5], [119.6, 30.6, 5]]]}},
        headers=key())
    assert z.status_code == 201 and len(z.json()["geometry"]["coordinates"][0][0][0]) == 2
