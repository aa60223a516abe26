"""Reading planners' files: encodings, CRSs (declared, inferred, overridden), repairs, hostile
archives. Every fixture is built here in code; coordinates are checked against pyproj."""

from __future__ import annotations

import io
import os
import stat
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from geo.archive import UnpackLimits
from geo.errors import PayloadTooLarge, UnknownCrs, UnreadableUpload, UnsafeUpload
from geo.vector_read import read_folder

NAMES = ["吴兴区织里镇", "安吉县递铺街道", "德清县莫干山镇"]
# Synthetic points near Huzhou, as CGCS2000 3° GK CM 120E (EPSG:4549) eastings/northings.
EASTINGS = np.array([495_000.0, 470_000.0, 488_000.0])
NORTHINGS = np.array([3_415_000.0, 3_390_000.0, 3_380_000.0])
ESRI_4549 = (
    'PROJCS["CGCS2000_3_Degree_GK_CM_120E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",120.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


def gbk_shapefile(folder: Path, x_offset: float = 0.0, ldid: int = 0,
                  stem: str = "规划地块") -> Path:
    """A GBK point shapefile with no .cpg and no .prj (as many Chinese tools leave them)."""
    frame = gpd.GeoDataFrame({"名称": NAMES, "编号": ["1", "2", "3"]},
                             geometry=shapely.points(EASTINGS + x_offset, NORTHINGS))
    return write_gbk_shapefile(frame, folder, stem, ldid)


def write_gbk_shapefile(frame: gpd.GeoDataFrame, folder: Path, stem: str,
                        ldid: int = 0) -> Path:
    """`frame` as a GBK shapefile without .cpg and .prj. The language-driver byte as the tool
    left it: 0 = none (the reader must sniff GB18030), 0x4D = "936 Chinese GBK" (ArcGIS)."""
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / f"{stem}.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no crs": intended, this file has no .prj
        pyogrio.write_dataframe(frame, shp, driver="ESRI Shapefile", encoding="CP936")
    for sidecar in (".cpg", ".prj"):
        shp.with_suffix(sidecar).unlink(missing_ok=True)
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = ldid
    dbf.write_bytes(bytes(data))
    return shp


def expected_lonlat(epsg: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return Transformer.from_crs(epsg, 4326, always_xy=True).transform(x, y)


def test_gbk_shapefile_without_cpg_or_prj_in_zone_prefixed_gk(tmp_path: Path) -> None:
    gbk_shapefile(tmp_path / "in", x_offset=40_000_000)
    upload = read_folder(tmp_path / "in")
    (layer,) = upload.layers
    assert layer.encoding.codec == "gb18030" and layer.encoding.source == "gb18030"
    assert list(layer.frame["名称"]) == NAMES
    assert "名称" in layer.frame.columns  # field names decoded too
    assert layer.crs.key == "EPSG:4528" and layer.crs.how == "inferred"
    assert "zone prefix 40" in layer.crs.reason_en
    assert any("Xian 80" in w["en"] for w in layer.warnings)
    lon, lat = expected_lonlat(4528, EASTINGS + 40_000_000, NORTHINGS)
    got = shapely.get_coordinates(layer.frame.geometry.to_numpy())
    np.testing.assert_allclose(got[:, 0], lon, atol=1e-9)
    np.testing.assert_allclose(got[:, 1], lat, atol=1e-9)
    assert 119 < lon.min() and lon.max() < 121 and 30 < lat.min() and lat.max() < 31.5


def test_gk_without_zone_prefix_is_assumed_huzhou_zone(tmp_path: Path) -> None:
    gbk_shapefile(tmp_path / "in", ldid=0x4D)
    (layer,) = read_folder(tmp_path / "in").layers
    assert layer.crs.key == "EPSG:4549" and layer.crs.how == "inferred"
    assert "120E" in layer.crs.reason_en
    # Language driver 0x4D (GBK) is trusted before sniffing.
    assert layer.encoding.source == "dbf-ldid" and layer.encoding.codec == "gbk"
    assert list(layer.frame["名称"]) == NAMES
    lon, lat = expected_lonlat(4549, EASTINGS, NORTHINGS)
    got = shapely.get_coordinates(layer.frame.geometry.to_numpy())
    np.testing.assert_allclose(got, np.column_stack([lon, lat]), atol=1e-9)


def test_esri_prj_name_is_declared_epsg_4549_and_crs_override_wins(tmp_path: Path) -> None:
    shp = gbk_shapefile(tmp_path / "in")
    shp.with_suffix(".prj").write_text(ESRI_4549)
    shp.with_suffix(".cpg").write_text("936")
    (layer,) = read_folder(tmp_path / "in").layers
    assert (layer.crs.key, layer.crs.how) == ("EPSG:4549", "declared")
    assert layer.encoding.source == "cpg"
    # The override says Xian 80 on the same grid: accepted and flagged.
    (over,) = read_folder(tmp_path / "in", crs_override="EPSG:2385").layers
    assert (over.crs.key, over.crs.how) == ("EPSG:2385", "override")
    assert any("Xian 1980" in w["en"] for w in over.warnings)
    lon, lat = expected_lonlat(2385, EASTINGS, NORTHINGS)
    got = shapely.get_coordinates(over.frame.geometry.to_numpy())
    np.testing.assert_allclose(got, np.column_stack([lon, lat]), atol=1e-9)


def test_xian80_prj_is_flagged(tmp_path: Path) -> None:
    shp = gbk_shapefile(tmp_path / "in")
    from pyproj import CRS
    shp.with_suffix(".prj").write_text(CRS.from_epsg(2385).to_wkt("WKT1_ESRI"))
    (layer,) = read_folder(tmp_path / "in").layers
    assert layer.crs.key == "EPSG:2385"
    assert any("Xian 1980" in w["en"] and "西安80" in w["zh"] for w in layer.warnings)


def test_utf8_cpg_and_zip_with_subfolders_and_several_layers(tmp_path: Path) -> None:
    src = tmp_path / "src"
    a = gbk_shapefile(src / "一期", stem="地块")
    b = gbk_shapefile(src / "二期" / "深", stem="地块", x_offset=40_000_000)
    archive = tmp_path / "in" / "plans.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(src).as_posix())
        zf.writestr("说明.txt", "not geodata")
    upload = read_folder(tmp_path / "in")
    assert sorted(layer.crs.key for layer in upload.layers) == ["EPSG:4528", "EPSG:4549"]
    assert len({layer.name for layer in upload.layers}) == 2  # same stem, made unique
    assert upload.ignored == ["plans.zip/说明.txt"]
    assert sorted(layer.source for layer in upload.layers) == [
        "plans.zip/一期/地块.shp", "plans.zip/二期/深/地块.shp"]
    assert all(len(layer.frame) == 3 for layer in upload.layers)
    del a, b


def test_self_intersecting_ring_and_z_and_empty_are_fixed_and_counted(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])  # self-intersecting
    square_z = shapely.Polygon([(3, 0, 5), (4, 0, 5), (4, 1, 5), (3, 1, 5)])
    geoms = [shapely.affinity.translate(g, 119.9, 30.8) if not g.is_empty else g
             for g in (bowtie, square_z, shapely.Polygon())]
    geoms = [shapely.affinity.scale(g, 0.01, 0.01, origin=(119.9, 30.8)) for g in geoms]
    folder = tmp_path / "in"
    folder.mkdir()
    frame = gpd.GeoDataFrame({"name": ["bow", "cube", "void"]}, geometry=geoms, crs=4326)
    frame.to_file(folder / "fix.geojson", driver="GeoJSON")
    (layer,) = read_folder(folder).layers
    assert layer.fixes["made_valid"] == 1
    assert layer.fixes["z_dropped"] == 1
    assert layer.fixes["empty_dropped"] + layer.fixes["null_dropped"] == 1
    assert len(layer.frame) == 2 and layer.frame.geometry.is_valid.all()
    assert not layer.frame.geometry.has_z.any()
    bow = layer.frame.geometry[layer.frame["name"] == "bow"].iloc[0]
    assert bow.geom_type == "MultiPolygon" and len(bow.geoms) == 2
    assert bow.area == pytest.approx(2 * (0.01 * 0.01), rel=1e-6)  # two triangles of 1×1 /100²
    assert layer.geometry_type == "MultiPolygon"


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>踏勘</name>
<Placemark><name>马家弄村 &lt;script&gt;alert(1)&lt;/script&gt;</name>
<Point><coordinates>119.68,30.64,0</coordinates></Point></Placemark>
<Placemark><name>竹林</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
119.60,30.60,0 119.62,30.60,0 119.62,30.62,0 119.60,30.62,0 119.60,30.60,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Document></kml>"""


def test_kmz_with_points_and_polygons_becomes_two_layers(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    with zipfile.ZipFile(folder / "survey.kmz", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", KML)
    upload = read_folder(folder)
    kinds = {layer.geometry_type: layer for layer in upload.layers}
    assert set(kinds) == {"Point", "Polygon"}
    point = kinds["Point"]
    assert point.crs.how == "declared" and point.crs.key == "EPSG:4326"
    assert "<script>" in point.frame["name"].iloc[0]  # kept as text; escaped when shown
    x, y = shapely.get_coordinates(point.frame.geometry.to_numpy())[0]
    assert (x, y) == pytest.approx((119.68, 30.64))
    assert point.fixes["z_dropped"] == 1  # KML coordinates carry a height (0)
    assert kinds["Polygon"].fixes["z_dropped"] == 1  # counted per layer, not per file


def test_csv_with_survey_xy_swapped_in_gb18030(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = ["名称,X,Y"] + [f"{n},{north},{east + 40_000_000}"
                            for n, east, north in zip(NAMES, EASTINGS, NORTHINGS)]
    (folder / "点位.csv").write_bytes("\n".join(rows).encode("gb18030"))
    (layer,) = read_folder(folder).layers
    assert layer.encoding.codec == "gb18030"
    assert layer.crs.key == "EPSG:4528" and layer.crs.swap_xy
    lon, lat = expected_lonlat(4528, EASTINGS + 40_000_000, NORTHINGS)
    got = shapely.get_coordinates(layer.frame.geometry.to_numpy())
    np.testing.assert_allclose(got, np.column_stack([lon, lat]), atol=1e-9)


def test_geojson_with_projected_numbers_and_no_crs_is_sniffed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    features = ",".join(
        f'{{"type":"Feature","properties":{{"n":{i}}},"geometry":{{"type":"Point",'
        f'"coordinates":[{x},{y}]}}}}' for i, (x, y) in enumerate(zip(EASTINGS, NORTHINGS)))
    (folder / "p.geojson").write_text(f'{{"type":"FeatureCollection","features":[{features}]}}')
    (layer,) = read_folder(folder).layers
    assert layer.crs.key == "EPSG:4549" and layer.crs.how == "inferred"


def test_unknown_magnitudes_ask_for_crs(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "p.csv").write_text("x,y\n123456789,987654321\n")
    with pytest.raises(UnknownCrs) as error:
        read_folder(folder)
    assert "crs" in error.value.message_en


# Hostile files: each a clear error, nothing written outside the upload folder.

def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo("link.shp")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, symlink)
    return path


@pytest.mark.parametrize("name", ["../../evil.geojson", "/etc/evil.geojson", "C:/evil.geojson",
                                  "a/../../evil.geojson"])
def test_zip_path_traversal_refused(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "up" / "in"
    folder.mkdir(parents=True)
    _zip(folder / "x.zip", {name: b'{"type":"FeatureCollection","features":[]}'})
    with pytest.raises(UnsafeUpload):
        read_folder(folder)
    assert not list(tmp_path.rglob("evil.geojson"))


def test_zip_symlink_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _zip(folder / "x.zip", {}, symlink="/etc/passwd")
    with pytest.raises(UnsafeUpload):
        read_folder(folder)
    assert not list(folder.rglob("link.shp"))


def test_zip_bomb_ratio_and_total_size_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _zip(folder / "bomb.zip", {"zeros.geojson": bytes(20 * 2**20)})  # 20 MB of zeros, ~20 kB
    with pytest.raises(PayloadTooLarge) as error:
        read_folder(folder)
    assert "zip bomb" in error.value.message_en
    assert not (folder / "bomb.zip.d" / "zeros.geojson").exists()
    # Not compressible beyond the ratio, but more than the unpacked total allows.
    (folder / "bomb.zip").unlink()
    _zip(folder / "big.zip", {"a.bin": os.urandom(300_000), "b.bin": os.urandom(300_000)})
    with pytest.raises(PayloadTooLarge):
        read_folder(folder, limits=UnpackLimits(max_unpacked_bytes=500_000))


def test_non_geo_files_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "readme.txt").write_text("hello")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(UnreadableUpload) as error:
        read_folder(folder)
    assert error.value.message_zh and "No readable geodata" in error.value.message_en


def test_truncated_shp_refused(tmp_path: Path) -> None:
    shp = gbk_shapefile(tmp_path / "in")
    data = shp.read_bytes()
    shp.write_bytes(data[:-10])
    with pytest.raises(UnreadableUpload) as error:
        read_folder(tmp_path / "in")
    assert "truncated" in error.value.message_en


def test_dbf_with_wrong_record_count_refused(tmp_path: Path) -> None:
    shp = gbk_shapefile(tmp_path / "in")
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[4:8] = (2).to_bytes(4, "little")  # header says 2 records, the .shp has 3 shapes
    dbf.write_bytes(bytes(data))
    with pytest.raises(UnreadableUpload) as error:
        read_folder(tmp_path / "in")
    assert "2 records" in error.value.message_en and "3 shapes" in error.value.message_en
    data[4:8] = (9).to_bytes(4, "little")  # header says more than the file holds
    dbf.write_bytes(bytes(data))
    with pytest.raises(UnreadableUpload) as error:
        read_folder(tmp_path / "in")
    assert "declares 9 records" in error.value.message_en


def test_garbage_with_geo_extension_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.geojson").write_bytes(b"\x00\x01 not json")
    with pytest.raises(UnreadableUpload):
        read_folder(folder)


def test_geopackage_with_two_layers_and_a_table(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "规划.gpkg"
    points = gpd.GeoDataFrame({"名称": NAMES}, geometry=shapely.points(EASTINGS, NORTHINGS),
                              crs=4549)
    roads = gpd.GeoDataFrame({"等级": ["主轴"]},
                             geometry=[shapely.LineString(zip(EASTINGS, NORTHINGS))], crs=4549)
    pyogrio.write_dataframe(points, path, layer="村点")
    pyogrio.write_dataframe(roads, path, layer="道路")
    pyogrio.write_dataframe(gpd.pd.DataFrame({"k": ["v"]}), path, layer="说明表")
    upload = read_folder(folder)
    assert sorted(layer.name for layer in upload.layers) == ["村点", "道路"]
    assert all(layer.crs.key == "EPSG:4549" and layer.crs.how == "declared"
               for layer in upload.layers)
    roads_layer = next(layer for layer in upload.layers if layer.name == "道路")
    assert roads_layer.geometry_type == "LineString"
    lon, lat = expected_lonlat(4549, EASTINGS, NORTHINGS)
    got = shapely.get_coordinates(roads_layer.frame.geometry.to_numpy())
    np.testing.assert_allclose(got, np.column_stack([lon, lat]), atol=1e-9)


def test_web_mercator_and_six_degree_zones_are_sniffed(tmp_path: Path) -> None:
    lon, lat = np.array([119.9, 120.1]), np.array([30.8, 30.9])
    for epsg, expected, flagged in ((3857, "EPSG:3857", False), (4499, "EPSG:4499", True)):
        x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
        if epsg == 4499:  # CGCS2000 6° zone 21 (CM 123E), with its zone prefix
            assert 21e6 < x.min() < 22e6
        folder = tmp_path / str(epsg)
        folder.mkdir()
        (folder / "p.csv").write_text("x,y\n" + "\n".join(f"{a},{b}" for a, b in zip(x, y)))
        (layer,) = read_folder(folder).layers
        assert layer.crs.key == expected
        assert any("6°" in w["en"] for w in layer.warnings) == flagged
        got = shapely.get_coordinates(layer.frame.geometry.to_numpy())
        np.testing.assert_allclose(got, np.column_stack([lon, lat]), atol=1e-7)


def test_gcj02_override_is_converted_to_wgs84(tmp_path: Path) -> None:
    from geo.gcj02 import wgs84_to_gcj02

    lon, lat = np.array([120.09]), np.array([30.87])
    glon, glat = wgs84_to_gcj02(lon, lat)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "amap.csv").write_text(f"name,lng,lat\n点,{glon[0]},{glat[0]}\n")
    (layer,) = read_folder(folder, crs_override="GCJ-02").layers
    assert layer.crs.key == "GCJ-02" and layer.crs.how == "override"
    got = shapely.get_coordinates(layer.frame.geometry.to_numpy())[0]
    assert got == pytest.approx([lon[0], lat[0]], abs=1e-6)  # back within ~0.1 m
    assert abs(glon[0] - lon[0]) > 1e-3  # the shift was real (hundreds of metres)


def test_cpg_that_lies_falls_back_and_says_so(tmp_path: Path) -> None:
    shp = gbk_shapefile(tmp_path / "in")
    shp.with_suffix(".cpg").write_text("UTF-8")  # but the values are GBK
    (layer,) = read_folder(tmp_path / "in").layers
    assert layer.encoding.codec == "gb18030"
    assert "do not decode" in layer.encoding.note_en
    assert list(layer.frame["名称"]) == NAMES


def test_degrees_outside_china_are_still_degrees(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "p.csv").write_text("lon,lat\n2.35,48.85\n")  # Paris: far away, but degrees
    (layer,) = read_folder(folder).layers
    assert layer.crs.key == "EPSG:4490" and not layer.crs.swap_xy


def test_plain_json_beside_geodata_is_listed_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "style.json").write_text('{"colour": "red"}')
    (folder / "p.csv").write_text("lon,lat\n120.1,30.9\n")
    upload = read_folder(folder)
    assert [layer.name for layer in upload.layers] == ["p"]
    assert upload.ignored == ["style.json"]


@pytest.mark.parametrize("epsg", [4490, 4528, 4549, 4499, 2385, 2437, 3857, 4214, 4610])
def test_esri_prj_of_chinese_crss_resolves_to_epsg(epsg: int) -> None:
    from pyproj import CRS

    from geo.source_crs import from_prj

    source = from_prj(CRS.from_epsg(epsg).to_wkt("WKT1_ESRI"))
    assert source.key == f"EPSG:{epsg}" and source.how == "declared"
    old = epsg in (2385, 2437, 4214, 4610)  # Xian 80 / Beijing 54 based
    assert any("tens of metres" in w["en"] for w in source.warnings) == old


def test_encrypted_member_and_too_many_members_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.geojson", b'{"type":"FeatureCollection","features":[]}')
    data = bytearray(buffer.getvalue())
    # Set the "encrypted" flag bit in both the local and the central header.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x01
    (folder / "locked.zip").write_bytes(bytes(data))
    with pytest.raises(UnreadableUpload) as error:
        read_folder(folder)
    assert "encrypted" in error.value.message_en
    (folder / "locked.zip").unlink()
    _zip(folder / "many.zip", {f"{i}.txt": b"x" for i in range(12)})
    with pytest.raises(PayloadTooLarge):
        read_folder(folder, limits=UnpackLimits(max_members=10))


def test_measures_are_dropped_and_counted() -> None:
    from geo.vector_read import repair

    line = shapely.from_wkt("LINESTRING ZM (120.0 30.8 5 1, 120.1 30.9 6 2)")
    measured = shapely.from_wkt("POINT M (120.0 30.8 7)")
    geoms, keep, fixes, _ = repair(np.array([line, measured, None], dtype=object))
    assert fixes["z_dropped"] == 2 and fixes["null_dropped"] == 1
    assert list(keep) == [True, True, False]
    assert not shapely.has_z(geoms[:2]).any() and not shapely.has_m(geoms[:2]).any()
