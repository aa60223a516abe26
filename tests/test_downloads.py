"""Downloads, read back with real GDAL: pyogrio (bundled GDAL) and Debian's `ogrinfo` CLI."""

from __future__ import annotations

import io
import os
import re
import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from api.app import create_app
from api.settings import Settings
from geo.errors import UnsupportedFormat
from geo.vector_io import GBK, UTF8, resolve_format, shapefile_field_names, write_vector
from layers.model import Layer, Provenance
from layers.store import GeoPackageStore

COUNTIES = {"吴兴区", "南浔区", "德清县", "长兴县", "安吉县"}
# EPSG:4549 (false easting 500 000 m, no zone prefix) around Huzhou.
GK_X, GK_Y = (3.9e5, 5.5e5), (3.3e6, 3.5e6)
HUZHOU_LON, HUZHOU_LAT = (119.2, 120.6), (30.3, 31.2)


def fetch(client: TestClient, layer: str, **params: str) -> httpx.Response:
    response = client.get(f"/collections/{layer}/download", params=params)
    assert response.status_code == 200, response.text
    return response


def save(response: httpx.Response, folder: Path) -> Path:
    """The body under the name Content-Disposition gives."""
    disposition = response.headers["content-disposition"]
    match = re.fullmatch(r'attachment; filename="([^"/\\]+)"', disposition)
    assert match, disposition
    path = folder / match.group(1)
    path.write_bytes(response.content)
    return path


def ogrinfo(*args: str, encoding: str = "utf-8") -> str:
    """Debian's ogrinfo, with no encoding hint: files must describe themselves."""
    env = {k: v for k, v in os.environ.items() if k != "SHAPE_ENCODING"}
    result = subprocess.run(["ogrinfo", *args], capture_output=True, timeout=120, check=True,
                            env=env)
    stderr = result.stderr.decode("utf-8", "replace")
    assert "ERROR" not in stderr and "partially supported" not in stderr, stderr
    return result.stdout.decode(encoding)


def ogr_names(listing: str) -> set[str]:
    """Values of the name field (KML calls it Name) in an `ogrinfo -al` listing."""
    return set(re.findall(r"^\s+[Nn]ame \(String\) = (.+)$", listing, re.M))


def ogr_extent(listing: str) -> tuple[float, float, float, float]:
    found = re.search(r"Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)", listing)
    assert found, listing
    return tuple(float(v) for v in found.groups())  # type: ignore[return-value]


def assert_in_gauss_kruger(bounds: tuple[float, ...] | np.ndarray) -> None:
    minx, miny, maxx, maxy = bounds
    assert GK_X[0] < minx < maxx < GK_X[1], bounds
    assert GK_Y[0] < miny < maxy < GK_Y[1], bounds


def assert_in_huzhou_lonlat(bounds: tuple[float, ...] | np.ndarray) -> None:
    minx, miny, maxx, maxy = bounds
    assert HUZHOU_LON[0] < minx < maxx < HUZHOU_LON[1], bounds
    assert HUZHOU_LAT[0] < miny < maxy < HUZHOU_LAT[1], bounds


# --- every format round-trips the five counties ----------------------------------------------

ROUND_TRIPS = [
    pytest.param({"format": "geojson"}, "application/geo+json", "counties_CRS84.geojson",
                 id="geojson"),
    pytest.param({"format": "gpkg"}, "application/geopackage+sqlite3", "counties_CRS84.gpkg",
                 id="gpkg"),
    pytest.param({"format": "shp"}, "application/zip", "counties_CRS84.shp.zip", id="shp-utf8"),
    pytest.param({"format": "shp", "encoding": "gbk"}, "application/zip",
                 "counties_CRS84.shp.zip", id="shp-gbk"),
    pytest.param({"format": "kml"}, "application/vnd.google-earth.kml+xml",
                 "counties_CRS84.kml", id="kml"),
    pytest.param({"format": "csv"}, "text/csv; charset=utf-8", "counties_CRS84.csv",
                 id="csv-utf8"),
    pytest.param({"format": "csv", "encoding": "gbk"}, "text/csv; charset=gbk",
                 "counties_CRS84.csv", id="csv-gbk"),
]


@pytest.mark.parametrize("params,media_type,filename", ROUND_TRIPS)
def test_counties_round_trip(client: TestClient, tmp_path: Path, params: dict[str, str],
                             media_type: str, filename: str) -> None:
    response = fetch(client, "counties", **params)
    assert response.headers["content-type"] == media_type
    path = save(response, tmp_path)
    assert path.name == filename
    gbk_csv = params == {"format": "csv", "encoding": "gbk"}

    # pyogrio; a CSV is plain text, so its reader is told the encoding (a .cpg needs no hint).
    frame = pyogrio.read_dataframe(path, encoding="GBK" if gbk_csv else None)
    assert len(frame) == 5
    name_column = "Name" if params["format"] == "kml" else "name"
    assert set(frame[name_column]) == COUNTIES
    if params["format"] != "csv":
        assert_in_huzhou_lonlat(frame.total_bounds)

    # ogrinfo 3.6 on the same file, no hints; it passes CSV bytes through unconverted.
    listing = ogrinfo("-al", "-geom=SUMMARY", str(path), encoding="gbk" if gbk_csv else "utf-8")
    assert len(re.findall(r"^OGRFeature\(", listing, re.M)) == 5
    assert ogr_names(listing) == COUNTIES
    if params["format"] in ("geojson", "gpkg", "shp", "kml"):
        assert "MULTIPOLYGON" in listing or "POLYGON" in listing


def test_shapefile_gauss_kruger_gbk(client: TestClient, tmp_path: Path) -> None:
    response = fetch(client, "counties", format="shp", crs="EPSG:4549", encoding="gbk")
    path = save(response, tmp_path)
    assert path.name == "counties_EPSG4549.shp.zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        members = set(zipped.namelist())
        assert {f"counties_EPSG4549.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} \
            <= members
        prj = zipped.read("counties_EPSG4549.prj").decode("ascii")
        cpg = zipped.read("counties_EPSG4549.cpg").decode("ascii")
        dbf = zipped.read("counties_EPSG4549.dbf")
        readme = zipped.read("README.txt").decode("utf-8-sig")
        zipped.extractall(tmp_path / "unzipped")

    # ESRI WKT 1 (what ArcGIS reads), not WKT 2.
    assert prj.startswith('PROJCS["CGCS2000_3_Degree_GK_CM_120E"'), prj
    assert 'PROJECTION["Gauss_Kruger"]' in prj
    assert 'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"' in prj
    assert 'PARAMETER["False_Easting",500000.0]' in prj and "PROJCRS" not in prj
    assert cpg == "936"
    assert "吴兴区".encode("gbk") in dbf and "吴兴区".encode("utf-8") not in dbf

    # dBASE names are ≤ 10 bytes: county_code was renamed, and the README says so.
    assert "cnty_code = county_code" in readme and "EPSG:4549" in readme

    frame = pyogrio.read_dataframe(path)
    assert set(frame["name"]) == COUNTIES and "cnty_code" in frame.columns
    assert frame.crs.to_epsg() == 4549
    assert_in_gauss_kruger(frame.total_bounds)

    # Debian's ogrinfo, unzipped files, no encoding hint: the .cpg alone makes GBK readable.
    shp = tmp_path / "unzipped" / "counties_EPSG4549.shp"
    listing = ogrinfo("-al", "-geom=NO", str(shp))
    assert ogr_names(listing) == COUNTIES
    summary = ogrinfo("-so", "-al", str(shp))
    assert "Feature Count: 5" in summary
    assert 'PROJCRS["CGCS2000 / 3-degree Gauss-Kruger CM 120E"' in summary
    assert_in_gauss_kruger(ogr_extent(summary))


def test_shapefile_utf8_cpg(client: TestClient, tmp_path: Path) -> None:
    response = fetch(client, "counties", format="shp", crs="EPSG:4490")
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        assert zipped.read("counties_EPSG4490.cpg") == b"UTF-8"
        assert zipped.read("counties_EPSG4490.prj").startswith(
            b'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"')
        assert "吴兴区".encode("utf-8") in zipped.read("counties_EPSG4490.dbf")
    listing = ogrinfo("-so", "-al", str(save(response, tmp_path)))
    assert "Feature Count: 5" in listing
    assert_in_huzhou_lonlat(ogr_extent(listing))  # east-first: x is the longitude


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv"])
def test_gauss_kruger_coordinates_are_metres(client: TestClient, tmp_path: Path,
                                             fmt: str) -> None:
    path = save(fetch(client, "counties", format=fmt, crs="EPSG:4549"), tmp_path)
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == 5
    assert_in_gauss_kruger(shapely.total_bounds(frame.geometry.to_numpy()))
    if fmt != "csv":
        assert frame.crs.to_epsg() == 4549
        assert_in_gauss_kruger(ogr_extent(ogrinfo("-so", "-al", str(path))))


def test_gcj02_is_offset_by_hundreds_of_metres(client: TestClient, tmp_path: Path) -> None:
    wgs = pyogrio.read_dataframe(save(fetch(client, "county_seats", format="geojson"),
                                      tmp_path))
    gcj_path = save(fetch(client, "county_seats", format="geojson", crs="GCJ-02"), tmp_path)
    gcj = pyogrio.read_dataframe(gcj_path)
    assert gcj_path.name == "county_seats_GCJ-02.geojson"
    assert list(wgs["code"]) == list(gcj["code"])
    distance = Geod(ellps="WGS84").inv(wgs.geometry.x, wgs.geometry.y,
                                       gcj.geometry.x, gcj.geometry.y)[2]
    assert np.all((distance > 100) & (distance < 1000)), distance
    # GeoJSON cannot name GCJ-02, so the file's description does.
    assert "GCJ-02" in gcj_path.read_text(encoding="utf-8").split('"features"')[0]


def test_gcj02_shapefile_and_geopackage_name_their_crs(client: TestClient,
                                                       tmp_path: Path) -> None:
    response = fetch(client, "counties", format="shp", crs="GCJ-02")
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        prj = zipped.read("counties_GCJ-02.prj").decode("ascii")
    assert prj.startswith('GEOGCS["GCS_GCJ-02_Amap_offset_from_WGS_84",DATUM["D_WGS_1984"')
    gpkg = save(fetch(client, "counties", format="gpkg", crs="GCJ-02"), tmp_path)
    summary = ogrinfo("-so", "-al", str(gpkg))
    assert 'GEOGCRS["GCJ-02 (Amap) offset from WGS 84"' in summary
    assert "Feature Count: 5" in summary and "GCJ-02（高德" in summary  # layer description


def test_kml_is_wgs84_only(client: TestClient) -> None:
    response = client.get("/collections/counties/download",
                          params={"format": "kml", "crs": "EPSG:4549"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unsupported_format"
    assert "WGS 84" in body["message"]["en"] and "WGS84" in body["message"]["zh"]
    assert fetch(client, "counties", format="kml", crs="EPSG:4326").status_code == 200


def test_csv_points_and_bom(client: TestClient) -> None:
    utf8 = fetch(client, "county_seats", format="csv").content
    assert utf8.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8
    lines = utf8.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("lon,lat,code,name")
    assert any("安吉县" in line for line in lines) and len(lines) == 6

    gbk = fetch(client, "county_seats", format="csv", encoding="gbk", crs="EPSG:4549").content
    assert not gbk.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    lines = gbk.decode("gbk").splitlines()
    assert lines[0].startswith("x,y,code,name")
    x, y = (float(v) for v in lines[1].split(",")[:2])
    assert GK_X[0] < x < GK_X[1] and GK_Y[0] < y < GK_Y[1]
    assert any("安吉县" in line for line in lines)


def test_csv_polygons_as_wkt(client: TestClient) -> None:
    text = fetch(client, "counties", format="csv", crs="EPSG:4549").content.decode("utf-8-sig")
    header, first = text.splitlines()[:2]
    assert header.startswith("WKT,code,name") and first.startswith('"MULTIPOLYGON (((')


# --- a layer without geometry ---------------------------------------------------------------

def test_villages_download_without_geometry(client: TestClient, tmp_path: Path) -> None:
    geojson = save(fetch(client, "villages", format="geojson"), tmp_path)
    frame = pyogrio.read_dataframe(geojson)
    assert len(frame) == 1301 and frame.geometry.isna().all()
    assert "余村村委会" in set(frame["name"])

    gpkg = save(fetch(client, "villages", format="gpkg"), tmp_path)
    summary = ogrinfo("-so", "-al", str(gpkg))
    assert "Feature Count: 1301" in summary and "Geometry: None" in summary

    csv = fetch(client, "villages", format="csv", encoding="gbk").content.decode("gbk")
    assert csv.splitlines()[0] == "code,name,township_code,township_name,county_code,county_name"
    assert len(csv.splitlines()) == 1302 and "余村村委会" in csv

    # Shapefile: a dBASE table only (+ .cpg, README), readable with the .cpg alone.
    response = fetch(client, "villages", format="shp", encoding="gbk")
    path = save(response, tmp_path)
    assert path.name == "villages_CRS84.zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        assert set(zipped.namelist()) == {"villages_CRS84.dbf", "villages_CRS84.cpg",
                                          "README.txt"}
    listing = ogrinfo("-al", "-q", f"/vsizip/{path}")
    assert listing.count("OGRFeature(") == 1301 and "余村村委会" in listing
    assert "town_code (String) = 330523" in listing  # township_code shortened to 10 bytes


# --- narrowing: bbox, filters, properties ---------------------------------------------------

def test_filters_bbox_and_properties(client: TestClient, tmp_path: Path) -> None:
    one = pyogrio.read_dataframe(save(fetch(client, "counties", format="gpkg",
                                            county_code="330523"), tmp_path))
    assert list(one["name"]) == ["安吉县"]
    anji_box = "119.4,30.4,119.9,30.8"
    boxed = fetch(client, "counties", format="csv", bbox=anji_box, properties="name,code")
    lines = boxed.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "WKT,name,code"
    names = {line.rsplit(",", 2)[1] for line in lines[1:]}
    assert "安吉县" in names and "南浔区" not in names  # far to the north-east of the box


# --- errors: one JSON shape, bilingual --------------------------------------------------------

def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["message"]["zh"] and body["message"]["en"]
    return body


@pytest.mark.parametrize(
    "url,status,code",
    [
        ("/collections/counties/download?format=dwg", 400, "unsupported_format"),
        ("/collections/counties/download?format=shp&encoding=big5", 400, "unsupported_format"),
        ("/collections/counties/download?format=geojson&encoding=gbk", 400,
         "unsupported_format"),
        ("/collections/counties/download?format=shp&crs=EPSG:9999", 400, "unknown_crs"),
        ("/collections/counties/download?format=shp&colour=red", 400, "invalid_parameter"),
        ("/collections/nowhere/download?format=shp", 404, "unknown_collection"),
    ],
)
def test_errors(client: TestClient, url: str, status: int, code: str) -> None:
    assert_error(client.get(url), status, code)


def test_error_messages_list_the_choices(client: TestClient) -> None:
    body = assert_error(client.get("/collections/counties/download?format=dwg"), 400,
                        "unsupported_format")
    for choice in ("geojson", "gpkg", "shp", "kml", "csv"):
        assert choice in body["message"]["en"] and choice in body["message"]["zh"]
    body = assert_error(client.get("/collections/counties/download?encoding=latin1"), 400,
                        "unsupported_format")
    assert "utf-8, gbk" in body["message"]["en"] and "utf-8, gbk" in body["message"]["zh"]


def test_value_gbk_cannot_encode_is_a_400(tmp_path: Path) -> None:
    """𫚭 (U+2B6AD) is outside GBK: GDAL would silently drop the whole value."""
    layer = Layer(id="places", title_zh="地名", title_en="Places", geometry_type="Point",
                  id_field="code", provenance=Provenance("test", "MIT", "WGS84"),
                  fields={"code": "代码", "name": "名称"})
    frame = gpd.GeoDataFrame({"code": ["1", "2"], "name": ["安吉", "𫚭村"]},
                             geometry=[shapely.Point(119.7, 30.6)] * 2, crs=4326)
    store = GeoPackageStore(tmp_path / "store.gpkg")
    store.put(layer, frame)
    client = TestClient(create_app(Settings(store_path=tmp_path / "store.gpkg")))
    for fmt in ("shp", "csv"):
        response = client.get(f"/collections/places/download?format={fmt}&encoding=gbk")
        body = assert_error(response, 400, "unsupported_format")
        assert "𫚭" in body["message"]["zh"] and "utf-8" in body["message"]["en"]
        assert body["detail"]["feature"] == "2" and body["detail"]["field"] == "name"
    assert client.get("/collections/places/download?format=shp").status_code == 200


# --- the pure writer ------------------------------------------------------------------------

def test_shapefile_field_names_fit_and_stay_unique() -> None:
    names = ["county_code", "county_cod", "cnty_code", "township_name", "面积平方公里", "code"]
    mapping = shapefile_field_names(names, GBK)
    assert mapping["code"] == "code" and mapping["county_cod"] == "county_cod"
    assert mapping["cnty_code"] == "cnty_code"  # names that fit are never displaced
    assert mapping["county_code"] == "cnty_code1"
    assert mapping["面积平方公里"] == "面积平方公"  # 10 bytes in GBK
    assert len({v.upper() for v in mapping.values()}) == len(names)
    for encoding in (GBK, UTF8):
        for short in shapefile_field_names(names, encoding).values():
            assert len(short.encode(encoding.codec)) <= 10


def test_text_over_the_dbase_limit_is_refused() -> None:
    """dBASE text fields hold 254 bytes: 120 characters fit in GBK (240), not in UTF-8 (360)."""
    long_name = "湖" * 120
    frame = gpd.GeoDataFrame({"name": [long_name]}, geometry=[shapely.Point(120, 30)], crs=4326)
    shp = resolve_format("shp")
    gbk = write_vector(frame, name="long", geometry_type="Point", fmt=shp, encoding=GBK)
    with zipfile.ZipFile(io.BytesIO(gbk.content)) as zipped:
        assert long_name.encode("gbk") in zipped.read("long_CRS84.dbf")
    with pytest.raises(UnsupportedFormat, match="360 bytes, over the Shapefile limit of 254"):
        write_vector(frame, name="long", geometry_type="Point", fmt=shp, encoding=UTF8)


def test_empty_selection_still_writes_a_valid_file(tmp_path: Path) -> None:
    empty = gpd.GeoDataFrame({"name": []}, geometry=[], crs=4326)
    result = write_vector(empty, name="empty", geometry_type="MultiPolygon",
                          fmt=resolve_format("gpkg"))
    path = tmp_path / result.filename
    path.write_bytes(result.content)
    assert "Feature Count: 0" in ogrinfo("-so", "-al", str(path))
