"""Planner uploads through the API: report, privacy between tokens, restart survival, hostile
files, escaping, overlay areas against a hand-computed case. Fixtures are built in code."""

from __future__ import annotations

import io
import shutil
import threading
import zipfile
from pathlib import Path

import geopandas as gpd
import morecantile
import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from api.app import create_app
from api.settings import Settings
from geo.mvt import decode
from layers.model import Layer, Provenance
from layers.store import GeoPackageStore
from test_vector_read import EASTINGS, NAMES, NORTHINGS, gbk_shapefile

SCRIPT = "<script>window.pwned=1</script>"


@pytest.fixture()
def app_env(store_path: Path, tmp_path: Path, monkeypatch):
    """A private copy of the Huzhou store, its uploads folder, and an app factory (a
    "restart" is a new app on the same files)."""
    path = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    monkeypatch.setenv("GONGFU_UPLOADS_DIR", str(tmp_path / "uploads"))

    def make() -> TestClient:
        return TestClient(create_app(Settings(store_path=path)))

    return make, path, tmp_path / "uploads"


def gbk_zip(tmp_path: Path, x_offset: float = 40_000_000) -> bytes:
    folder = tmp_path / "shp"
    gbk_shapefile(folder / "内层", x_offset=x_offset)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def post(client: TestClient, name: str, data: bytes, token: str | None = None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/uploads", files={"file": (name, data)}, headers=headers,
                       params=params)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def geojson_bytes(geoms, props: list[dict]) -> bytes:
    frame = gpd.GeoDataFrame(props, geometry=list(geoms), crs=4326)
    return frame.to_json().encode()


def test_gbk_zip_upload_reports_encoding_crs_and_huzhou(app_env, tmp_path: Path) -> None:
    make, _, _ = app_env
    client = make()
    response = post(client, "规划.zip", gbk_zip(tmp_path))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("gfu_")
    (layer,) = body["report"]["layers"]
    assert layer["encoding"]["codec"] == "gb18030"
    assert layer["crs"]["key"] == "EPSG:4528" and layer["crs"]["how"] == "inferred"
    assert layer["feature_count"] == 3 and {"名称", "编号"} <= {f["name"] for f in layer["fields"]}
    assert body["report"]["inside_huzhou"] == "inside"
    assert "gb18030" in body["report"]["summary"]["en"] and "推断" in body["report"]["summary"]["zh"]
    items = client.get(f"/uploads/{body['id']}/layers/layer_1/items", headers=auth(body["token"]))
    assert items.status_code == 200
    coords = np.array([f["geometry"]["coordinates"] for f in items.json()["features"]])
    lon, lat = Transformer.from_crs(4528, 4326, always_xy=True).transform(
        EASTINGS + 40_000_000, NORTHINGS)
    np.testing.assert_allclose(coords, np.column_stack([lon, lat]), atol=1e-7)
    assert [f["properties"]["名称"] for f in items.json()["features"]] == NAMES


def test_privacy_between_two_tokens_and_restart(app_env, tmp_path: Path) -> None:
    make, _, _ = app_env
    client = make()
    a = post(client, "a.zip", gbk_zip(tmp_path)).json()
    b = post(client, "b.zip", gbk_zip(tmp_path)).json()
    assert a["token"] != b["token"]
    mine = f"/uploads/{a['id']}"
    paths = [mine, f"{mine}/layers/layer_1/items", f"{mine}/layers/layer_1/download?format=gpkg",
             f"{mine}/overlay", f"/maps/overlay/{a['id']}", f"{mine}/tiles/10/857/419.mvt"]
    for path in paths:
        assert client.get(path, headers=auth(a["token"])).status_code == 200, path
        other = client.get(path, headers=auth(b["token"]))
        assert other.status_code == 404, path
        assert other.json()["message"]["zh"] and other.json()["message"]["en"]
        assert client.get(path).status_code == 404, path  # anonymous
    assert client.delete(mine, headers=auth(b["token"])).status_code == 404
    listed = client.get("/uploads", headers=auth(b["token"])).json()["uploads"]
    assert [u["id"] for u in listed] == [b["id"]]
    assert client.get("/uploads").status_code == 401
    forged = "gfu_" + a["token"][4:-3] + "abc"
    assert client.get("/uploads", headers=auth(forged)).status_code == 401
    collections = client.get("/collections", params={"f": "json"}).json()["collections"]
    assert not any(c["id"].startswith("layer_") or c["id"] == "_upload" for c in collections)

    restarted = make()  # a new process would see the same files
    again = restarted.get(mine, headers=auth(a["token"]))
    assert again.status_code == 200 and again.json()["report"] == a["report"]
    assert restarted.delete(mine, headers=auth(a["token"])).status_code == 204
    assert restarted.get(mine, headers=auth(a["token"])).status_code == 404


def test_configured_api_key_owns_uploads(app_env, tmp_path: Path, monkeypatch) -> None:
    make, _, _ = app_env
    monkeypatch.setenv("GONGFU_API_KEYS", "planner-key-1,planner-key-2")
    client = make()
    body = post(client, "k.zip", gbk_zip(tmp_path), token="planner-key-1").json()
    assert "token" not in body
    assert client.get(f"/uploads/{body['id']}", headers=auth("planner-key-1")).status_code == 200
    assert client.get(f"/uploads/{body['id']}", headers=auth("planner-key-2")).status_code == 404


def test_owner_gets_vector_tiles_of_the_upload(app_env, tmp_path: Path) -> None:
    make, _, _ = app_env
    client = make()
    body = post(client, "a.zip", gbk_zip(tmp_path)).json()
    lon, lat = Transformer.from_crs(4528, 4326, always_xy=True).transform(
        EASTINGS + 40_000_000, NORTHINGS)
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon[0], lat[0], 12)
    got = client.get(f"/uploads/{body['id']}/tiles/{tile.z}/{tile.x}/{tile.y}.mvt",
                     headers=auth(body["token"]))
    assert got.status_code == 200 and got.headers["cache-control"] == "private, no-store"
    features = decode(got.content)["layer_1"]["features"]
    assert NAMES[0] in {f["properties"]["名称"] for f in features}
    empty = client.get(f"/uploads/{body['id']}/tiles/3/0/0.mvt", headers=auth(body["token"]))
    assert empty.status_code == 200 and empty.content == b""


def test_download_through_vector_io_round_trips(app_env, tmp_path: Path) -> None:
    make, _, _ = app_env
    client = make()
    body = post(client, "a.zip", gbk_zip(tmp_path)).json()
    got = client.get(f"/uploads/{body['id']}/layers/layer_1/download",
                     params={"format": "shp", "encoding": "gbk", "crs": "EPSG:4549"},
                     headers=auth(body["token"]))
    assert got.status_code == 200 and got.headers["cache-control"] == "private, no-store"
    path = tmp_path / "back.zip"
    path.write_bytes(got.content)
    back = gpd.read_file(f"zip://{path}")
    assert sorted(back["名称"]) == sorted(NAMES)
    assert back.crs.to_epsg() == 4549


def test_concurrent_uploads_are_all_kept(app_env, tmp_path: Path) -> None:
    make, _, folder = app_env
    client = make()
    first = post(client, "0.zip", gbk_zip(tmp_path)).json()
    data = gbk_zip(tmp_path)
    codes: list[int] = []

    def send() -> None:
        codes.append(post(client, "c.zip", data, token=first["token"]).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [201] * 6
    assert len(client.get("/uploads", headers=auth(first["token"])).json()["uploads"]) == 7
    assert not list(folder.glob(".*.tmp.gpkg"))
    assert all(p.stat().st_mode & 0o077 == 0 for p in folder.glob("*.gpkg"))


def _files(folder: Path) -> set[str]:
    """Everything in the uploads folder but the token-signing secret."""
    return {p.name for p in folder.glob("*") if p.name != ".token-secret"} \
        if folder.exists() else set()


@pytest.mark.parametrize("name,members,status,code", [
    ("trav.zip", {"../../x.geojson": b"{}"}, 422, "unsafe_upload"),
    ("abs.zip", {"/tmp/x.geojson": b"{}"}, 422, "unsafe_upload"),
    ("bomb.zip", {"z.geojson": bytes(30 * 2**20)}, 413, "payload_too_large"),
    ("notes.zip", {"readme.txt": b"hello", "a.exe": b"MZ"}, 422, "unreadable_upload"),
])
def test_hostile_zips_get_4xx_and_nothing_written(app_env, name, members, status, code) -> None:
    make, _, folder = app_env
    client = make()
    before = _files(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    response = post(client, name, buffer.getvalue())
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json()["message"]["zh"]
    assert _files(folder) == before


def test_truncated_shapefile_parts_uploaded_loose_get_422(app_env, tmp_path: Path) -> None:
    make, _, folder = app_env
    client = make()
    shp = gbk_shapefile(tmp_path / "loose")
    files = [("file", (p.name, p.read_bytes()[:-10] if p.suffix == ".shp" else p.read_bytes()))
             for p in sorted(shp.parent.iterdir())]
    response = client.post("/uploads", files=files)
    assert response.status_code == 422 and "truncated" in response.json()["message"]["en"]
    assert _files(folder) == set()
    good = [("file", (p.name, p.read_bytes())) for p in sorted(shp.parent.iterdir())]
    assert client.post("/uploads", files=good).status_code == 201


def test_size_limit_enforced_while_streaming(app_env, monkeypatch) -> None:
    make, _, folder = app_env
    monkeypatch.setenv("GONGFU_UPLOAD_MAX_MB", "1")
    client = make()

    def body():  # no Content-Length: the limit must hold on the bytes actually received
        yield b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.geojson\""
        yield b"\r\n\r\n"
        for _ in range(40):
            yield b"0" * 65536
        yield b"\r\n--xyz--\r\n"

    response = client.post("/uploads", content=body(),
                           headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert not list(folder.glob("*.gpkg"))


def test_dry_run_stores_nothing(app_env, tmp_path: Path) -> None:
    make, _, folder = app_env
    client = make()
    response = post(client, "a.zip", gbk_zip(tmp_path), dry_run="true")
    assert response.status_code == 200 and response.json()["dry_run"] is True
    assert response.json()["report"]["layers"][0]["crs"]["key"] == "EPSG:4528"
    assert not list(folder.glob("*.gpkg"))


def test_crs_override_and_unknown_crs(app_env) -> None:
    make, _, _ = app_env
    client = make()
    csv = "name,x,y\n" + "\n".join(f"{n},{x},{y}" for n, x, y in zip(NAMES, EASTINGS, NORTHINGS))
    body = post(client, "p.csv", csv.encode(), crs="EPSG:2385").json()
    layer = body["report"]["layers"][0]
    assert layer["crs"]["how"] == "override" and layer["crs"]["key"] == "EPSG:2385"
    assert any("Xian 1980" in w["en"] for w in layer["warnings"])
    bad = post(client, "p.csv", csv.encode(), crs="EPSG:999999")
    assert bad.status_code == 400 and bad.json()["code"] == "unknown_crs"


def test_script_text_is_escaped_in_map_and_report(app_env) -> None:
    make, _, _ = app_env
    client = make()
    square = shapely.box(119.95, 30.85, 119.96, 30.86)
    body = post(client, "x.geojson", geojson_bytes([square], [{"名称": SCRIPT}])).json()
    token = body["token"]
    page = client.get(f"/maps/overlay/{body['id']}", params={"access_token": token}).text
    # The text is there, HTML-escaped (then JSON-escaped: & → \\u0026), never as markup.
    assert SCRIPT not in page and "\\u0026lt;script\\u0026gt;window.pwned" in page
    # File names are reduced to safe characters on arrival; field names are shown as sent.
    name_script = post(client, f"{SCRIPT}.geojson", geojson_bytes([square], [{SCRIPT: 1}]),
                       token=token).json()
    assert "<" not in name_script["report"]["filename"]
    report = client.get(f"/uploads/{name_script['id']}",
                        params={"f": "html", "access_token": token})
    assert report.headers["cache-control"] == "private, no-store"
    assert "<script>window" not in report.text and "&lt;script&gt;window" in report.text
    assert f"/maps/overlay/{name_script['id']}?access_token={token}" in report.text


def _synthetic_townships(store: GeoPackageStore) -> tuple[float, float]:
    """Two clearly synthetic 4 km × 4 km 'townships' (A west, B east) inside Anji, drawn as
    squares on EPSG:4549; returns their south-west corner (easting, northing)."""
    e0, n0 = 460_000.0, 3_390_000.0
    to_wgs = Transformer.from_crs(4549, 4326, always_xy=True)

    def square(e, n, w, h):
        xs, ys = to_wgs.transform([e, e + w, e + w, e, e], [n, n, n + h, n + h, n])
        return shapely.MultiPolygon([shapely.Polygon(zip(xs, ys))])

    frame = gpd.GeoDataFrame(
        {"code": ["999000001", "999000002"], "name": ["示意A Synthetic A", "示意B Synthetic B"]},
        geometry=[square(e0, n0, 4000, 4000), square(e0 + 4000, n0, 4000, 4000)], crs=4326)
    layer = Layer(id="townships", title_zh="乡镇（测试用示意）", title_en="Synthetic townships",
                  geometry_type="MultiPolygon", id_field="code",
                  provenance=Provenance(source="test fixture", license="none",
                                        crs_of_origin="EPSG:4549", illustrative=True))
    store.put(layer, frame)
    return e0, n0


def test_overlay_areas_match_a_hand_computed_case(app_env) -> None:
    make, path, _ = app_env
    e0, n0 = _synthetic_townships(GeoPackageStore(path))
    client = make()
    # Upload: 2 km × 2 km on EPSG:4549, straddling the A|B edge: 1 km × 2 km in each.
    # Hand computation: 4 km² = 6,000 亩 in all; 2 km² = 3,000 亩 in A and in B.
    to_wgs = Transformer.from_crs(4549, 4326, always_xy=True)
    xs, ys = to_wgs.transform([e0 + 3000, e0 + 5000, e0 + 5000, e0 + 3000],
                              [n0 + 1000, n0 + 1000, n0 + 3000, n0 + 3000])
    plot = shapely.Polygon(zip(xs, ys))
    body = post(client, "plot.geojson", geojson_bytes([plot], [{"name": "地块"}])).json()
    result = client.get(f"/uploads/{body['id']}/overlay", headers=auth(body["token"])).json()
    (layer,) = result["layers"]
    assert result["area_crs"] == "EPSG:4549"
    assert layer["total"]["area_km2"] == pytest.approx(4.0, rel=1e-5)
    assert layer["total"]["area_mu"] == pytest.approx(6000, rel=1e-5)
    towns = {row["code"]: row for row in layer["zones"]["townships"]}
    assert set(towns) == {"999000001", "999000002"}
    for row in towns.values():
        assert row["area_km2"] == pytest.approx(2.0, rel=1e-4)
        assert row["area_mu"] == pytest.approx(3000, rel=1e-4)
        assert row["share_of_upload"] == pytest.approx(0.5, rel=1e-4)
    counties = layer["zones"]["counties"]
    assert [c["name"] for c in counties] == ["安吉县"]
    assert counties[0]["area_km2"] == pytest.approx(4.0, rel=1e-5)
    # The bamboo carbon density raster (derived, uniform over Anji, t CO2e/ha/yr): the square
    # lies wholly inside Anji, so it covers 400 ha and totals 400 ha × the density.
    (carbon,) = [r for r in layer["rasters"] if r["raster"] == "bamboo_carbon_density"]
    assert carbon["available"] and carbon["illustrative"]
    assert carbon["covered_ha"] == pytest.approx(400, rel=1e-4)
    with rasterio.open(path.parent / "rasters" / "bamboo_carbon_density.tif") as raster:
        to_raster = Transformer.from_crs(4549, raster.crs.to_wkt(), always_xy=True)
        (value,) = next(raster.sample([to_raster.transform(e0 + 4000, n0 + 2000)]))
    assert carbon["mean"] == pytest.approx(float(value), rel=1e-5) and value > 0
    assert carbon["total"] == pytest.approx(400 * carbon["mean"], rel=1e-4)
    assert carbon["total_unit"] == "t CO2e/yr"
    used = {z["id"] for z in result["zone_layers"]} | {n["layer"] for n in result["not_used"]}
    assert used == {"counties", "townships", "axis_domains"}

    # Per feature: the one plot, half in each synthetic township.
    detail = client.get(f"/uploads/{body['id']}/overlay", params={"by_feature": 10},
                        headers=auth(body["token"])).json()["layers"][0]["features"]
    rows = detail["townships"]["rows"]
    assert [(r["feature"], r["code"]) for r in rows] == [("1", "999000001"), ("1", "999000002")]
    assert [r["area_mu"] for r in rows] == pytest.approx([3000, 3000], rel=1e-4)
    assert detail["townships"]["truncated"] is False


def test_malformed_multipart_is_a_400(app_env) -> None:
    make, _, _ = app_env
    client = make()
    response = client.post("/uploads", content=b"--xyz\r\nno headers end",
                           headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert response.status_code == 400 and response.json()["message"]["en"]
    truncated = client.post(
        "/uploads", content=b'--xyz\r\nContent-Disposition: form-data; name="file"; '
                            b'filename="a.geojson"\r\n\r\n{"type":',
        headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert truncated.status_code == 400 and "truncated" in truncated.json()["message"]["en"]
    plain = client.post("/uploads", content=b"{}", headers={"Content-Type": "application/json"})
    assert plain.status_code == 400 and "multipart" in plain.json()["message"]["en"]


def test_attributes_named_like_storage_columns_are_kept(app_env) -> None:
    make, _, _ = app_env
    client = make()
    body = post(client, "p.csv", "fid,geometry,gf_id,lon,lat\nA-1,wkt?,7,120.1,30.9\n".encode())
    assert body.status_code == 201, body.text
    got = client.get(f"/uploads/{body.json()['id']}/layers/layer_1/items",
                     headers=auth(body.json()["token"])).json()["features"][0]["properties"]
    assert (got["fid_source"], got["geometry_source"], got["gf_id_source"]) == ("A-1", "wkt?", "7")


def test_geojson_with_mixed_and_nested_values_is_stored(app_env) -> None:
    make, _, _ = app_env
    client = make()
    text = ('{"type":"FeatureCollection","features":['
            '{"type":"Feature","properties":{"a":1,"b":[1,2],"c":{"k":"v"}},'
            '"geometry":{"type":"Point","coordinates":[120.1,30.9]}},'
            '{"type":"Feature","properties":{"a":"二","b":null,"c":null},'
            '"geometry":{"type":"Point","coordinates":[120.2,30.8]}}]}')
    response = post(client, "mixed.geojson", text.encode())
    assert response.status_code == 201, response.text


def test_token_secret_is_created_once_under_races(tmp_path: Path) -> None:
    from layers.uploads import load_secret

    secrets_seen: list[bytes] = []
    threads = [threading.Thread(target=lambda: secrets_seen.append(
        load_secret(tmp_path / "u"))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(secrets_seen)) == 1 and len(secrets_seen[0]) == 32
    assert (tmp_path / "u" / ".token-secret").stat().st_mode & 0o077 == 0
    assert [p.name for p in (tmp_path / "u").iterdir()] == [".token-secret"]


def test_part_file_names_are_sanitised_but_keep_their_extension() -> None:
    from api.upload_stream import _part_filename

    def name(raw: str) -> str | None:
        return _part_filename(f'form-data; name="file"; filename="{raw}"'.encode())

    assert name("../../etc/passwd") == "passwd"
    assert name("C:\\\\Users\\\\规划\\\\地块.shp") == "地块.shp"
    assert name("..") == "upload"
    assert name("a" * 300 + ".shp") == "a" * 100 + ".shp"
    assert name("<script>.geojson") == "script_.geojson"
    assert _part_filename(b'form-data; name="crs"') is None


def test_overlay_joins_axis_domains_when_built(app_env) -> None:
    """With the (illustrative) development-axis layers in the store, the overlay reports the
    axis domains the upload meets, flagged illustrative."""
    from layers.axes import build_axes_layers

    make, path, _ = app_env
    store = GeoPackageStore(path)
    built = [(store.layer(i), store.frame(i))
             for i in ("counties", "county_seats", "townships", "villages")]
    for layer, frame in build_axes_layers(built):
        store.put(layer, frame)
    domains = store.frame("axis_domains")
    # A 1 km square centred inside the first domain (a point on its surface).
    centre = shapely.point_on_surface(domains.geometry.iloc[0])
    to_gk = Transformer.from_crs(4326, 4549, always_xy=True)
    e, n = to_gk.transform(centre.x, centre.y)
    to_wgs = Transformer.from_crs(4549, 4326, always_xy=True)
    xs, ys = to_wgs.transform([e - 500, e + 500, e + 500, e - 500], [n - 500, n - 500, n + 500,
                                                                     n + 500])
    client = make()
    body = post(client, "sq.geojson",
                geojson_bytes([shapely.Polygon(zip(xs, ys))], [{"n": 1}])).json()
    result = client.get(f"/uploads/{body['id']}/overlay", headers=auth(body["token"])).json()
    zone_layers = {z["id"]: z for z in result["zone_layers"]}
    assert zone_layers["axis_domains"]["illustrative"] is True
    rows = result["layers"][0]["zones"]["axis_domains"]
    assert str(domains.index[0]) in {r["code"] for r in rows}
    assert max(r["area_km2"] for r in rows) == pytest.approx(1.0, rel=1e-3)


def test_kmz_upload_gives_point_and_polygon_layers(app_env) -> None:
    from test_vector_read import KML

    make, _, _ = app_env
    client = make()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", KML)
    body = post(client, "踏勘.kmz", buffer.getvalue()).json()
    kinds = sorted(layer["geometry_type"] for layer in body["report"]["layers"])
    assert kinds == ["Point", "Polygon"]
    assert body["report"]["inside_huzhou"] == "inside"
    polygon = next(layer for layer in body["report"]["layers"]
                   if layer["geometry_type"] == "Polygon")
    # 0.02° × 0.02° at 30.6°N on EPSG:4549: ≈ 1.916 km × 2.218 km ≈ 4.25 km².
    assert polygon["measures"]["area_km2"] == pytest.approx(4.25, rel=0.01)
