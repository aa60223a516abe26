"""报盘 coordinate text files: parcels with holes and islands, zones with and without the
easting prefix, 3° and 6° zones, old datums, GBK, declared vs computed areas, bad lines, and
the upload through the API (in the sandbox). Fixtures are synthetic; areas computed by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from api.app import create_app
from api.settings import Settings
from geo.baopan import read_baopan
from geo.errors import InvalidData
from geo.vector_read import read_folder

TEMPLATE = Path(__file__).parent.parent / "data" / "templates" / "报盘示例_虚构示例.txt"

HEADER = """[属性描述]
格式版本号=1.01版本
数据产生单位=测试（虚构示例）
坐标系={system}
几度分带={width}
投影类型=高斯克吕格
计量单位=米
带号={zone}
精度=0.001
转换参数=,,,,,,
[地块坐标]
"""


def baopan_text(prefix: float = 40_000_000, system: str = "2000国家大地坐标系", width: int = 3,
                zone: str = "40", declared: tuple[str, str] = ("1.8", "1.25"),
                shift: float = 0.0) -> str:
    """Parcel A: 200 m × 100 m with a 50 m × 40 m hole = 18 000 m² = 1.8 ha (declared 1.8).
    Parcel B: 150 m × 80 m = 12 000 m² = 1.2 ha, declared 1.25 (−4 %: reported).
    X is the northing, Y the easting (survey order)."""
    def row(point: str, ring: int, north: float, east: float) -> str:
        return f"{point},{ring},{north:.3f},{east + shift + prefix:.3f}"
    a = [row("J1", 1, 3415000, 495000), row("J2", 1, 3415000, 495200),
         row("J3", 1, 3415100, 495200), row("J4", 1, 3415100, 495000),
         row("J1", 1, 3415000, 495000),
         row("J5", 2, 3415030, 495050), row("J6", 2, 3415070, 495050),
         row("J7", 2, 3415070, 495100), row("J8", 2, 3415030, 495100),
         row("J5", 2, 3415030, 495050)]
    b = [row("J1", 1, 3414800, 495300), row("J2", 1, 3414800, 495450),
         row("J3", 1, 3414880, 495450), row("J4", 1, 3414880, 495300)]  # not closed: we close
    lines = [HEADER.format(system=system, width=width, zone=zone).rstrip("\n"),
             f"10,{declared[0]},DK-001,甲地块,面,H50G001001,建设用地,0702,@", *a,
             f"4,{declared[1]},DK-002,乙地块,,,设施农用地,1202,@", *b]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, encoding: str = "gbk", name: str = "报盘.txt") -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(text.encode(encoding))
    return folder


def test_gbk_file_with_zone_prefix_two_parcels_one_hole(tmp_path: Path) -> None:
    (layer,) = read_folder(write(tmp_path, baopan_text(), "gbk")).layers
    assert layer.encoding.codec == "gb18030"
    assert layer.crs.key == "EPSG:4528" and layer.crs.how == "declared"
    assert "报盘" in layer.crs.reason_zh
    frame = layer.frame
    assert list(frame["地块编号"]) == ["DK-001", "DK-002"]
    assert list(frame["地块名称"]) == ["甲地块", "乙地块"]
    assert list(frame["地块用途"]) == ["建设用地", "设施农用地"]
    assert list(frame["地类编码"]) == ["0702", "1202"]
    assert list(frame["面积单位"]) == ["公顷", "公顷"]
    np.testing.assert_allclose(frame["计算面积"], [1.8, 1.2], rtol=1e-9)
    a, b = frame.geometry
    assert a.geom_type == "Polygon" and len(a.interiors) == 1 and len(b.interiors) == 0
    # X = north, Y = east: the first vertex lands where pyproj puts (40 495 000 E, 3 415 000 N)
    lon, lat = Transformer.from_crs(4528, 4326, always_xy=True).transform(40_495_000, 3_415_000)
    coords = shapely.get_coordinates(a.exterior)
    assert np.abs(coords - [lon, lat]).sum(axis=1).min() < 1e-9
    warned = [w["en"] for w in layer.warnings if "over 1%" in w["en"]]
    assert len(warned) == 1 and "DK-002" in warned[0] and "-4.00%" in warned[0]
    assert any("DK-002" in w["zh"] and "1%" in w["zh"] for w in layer.warnings)


def test_six_digit_easting_takes_the_zone_from_the_header(tmp_path: Path) -> None:
    (layer,) = read_folder(write(tmp_path, baopan_text(prefix=0), "utf-8")).layers
    assert layer.encoding.codec == "utf-8"
    assert layer.crs.key == "EPSG:4549"  # 3° zone 40 → CM 120E
    lon, lat = Transformer.from_crs(4549, 4326, always_xy=True).transform(495_000, 3_415_000)
    coords = shapely.get_coordinates(layer.frame.geometry.iloc[0].exterior)
    assert np.abs(coords - [lon, lat]).sum(axis=1).min() < 1e-9


@pytest.mark.parametrize("system,width,zone,prefix,epsg,flag", [
    ("西安80坐标系", 3, "40", 40_000_000, "EPSG:2364", "Xian 1980"),
    ("北京54坐标系", 3, "40", 0, "EPSG:2437", "Beijing 1954"),
    ("2000国家大地坐标系", 6, "20", 0, "EPSG:4509", None),  # 6° zone 20: CM 117E
])
def test_datums_and_zone_widths(tmp_path: Path, system, width, zone, prefix, epsg,
                                flag) -> None:
    # 6°: the same parcels, moved to where a CM 117E easting puts Huzhou (≈ 783 km)
    text = baopan_text(prefix=prefix, system=system, width=width, zone=zone,
                       shift=288_000 if width == 6 else 0)
    (layer,) = read_folder(write(tmp_path, text)).layers
    assert layer.crs.key == epsg
    flagged = [w for w in layer.warnings if "approximate" in w["en"]]
    assert bool(flagged) == bool(flag) and (not flag or flag in flagged[0]["en"])
    np.testing.assert_allclose(layer.frame["计算面积"], [1.8, 1.2], rtol=1e-9)


def test_a_ring_outside_the_first_is_an_island_not_a_hole() -> None:
    text = HEADER.format(system="2000国家大地坐标系", width=3, zone=40) + "\n".join([
        "8,0.02,DK-9,两块,面,,,,@",
        "1,1,3415000,40495000", "2,1,3415000,40495010", "3,1,3415010,40495010",
        "4,1,3415010,40495000",
        "5,2,3415100,40495100", "6,2,3415100,40495110", "7,2,3415110,40495110",
        "8,2,3415110,40495100"])
    parsed = read_baopan(text.encode("utf-8"), "岛.txt")
    geom = parsed.frame.geometry.iloc[0]
    assert geom.geom_type == "MultiPolygon" and geom.area == pytest.approx(200.0)
    assert parsed.frame["计算面积"].iloc[0] == pytest.approx(0.02)
    assert not [w for w in parsed.warnings if "over 1%" in w["en"]]


def test_square_metres_when_the_header_says_so() -> None:
    text = baopan_text(declared=("18000", "12000")).replace("计量单位=米", "计量单位=米\n面积单位=平方米")
    parsed = read_baopan(text.encode("gbk"), "m2.txt")
    assert parsed.area_unit == "平方米"
    assert list(parsed.frame["计算面积"]) == [18000.0, 12000.0]
    assert not [w for w in parsed.warnings if "over 1%" in w["en"]]


@pytest.mark.parametrize("bad,line", [
    ("J3,1,3415100.000,abc", 15),  # not a number
    ("J3,1,3415100.000", 15),  # three fields
])
def test_bad_line_is_a_bilingual_422_naming_it(tmp_path: Path, bad: str, line: int) -> None:
    lines = baopan_text().split("\n")
    assert lines[line - 1].startswith("J3,1,")
    lines[line - 1] = bad
    with pytest.raises(InvalidData) as caught:
        read_folder(write(tmp_path, "\n".join(lines)))
    error = caught.value
    assert error.status == 422 and error.detail["line"] == line
    assert f"第 {line} 行" in error.message_zh and f"line {line}" in error.message_en
    assert str(tmp_path) not in error.message_en


def test_two_point_ring_is_refused() -> None:
    text = HEADER.format(system="2000国家大地坐标系", width=3, zone=40) + \
        "2,,DK,线,,,,,@\n1,1,3415000,40495000\n2,1,3415000,40495010\n"
    with pytest.raises(InvalidData) as caught:
        read_baopan(text.encode(), "x.txt")
    assert caught.value.detail["line"] == 13 and "3" in caught.value.message_en


def test_plain_text_files_are_not_geodata(tmp_path: Path) -> None:
    folder = write(tmp_path, "说明：见附件\n", name="readme.txt")
    write(tmp_path, baopan_text(), name="地块.txt")
    upload = read_folder(folder)
    assert [layer.name for layer in upload.layers] == ["地块"]
    assert upload.ignored == ["readme.txt"]


def test_shipped_template_is_marked_fictional_and_reads_exactly() -> None:
    parsed = read_baopan(TEMPLATE.read_bytes(), TEMPLATE.name)
    assert "虚构示例" in parsed.header["数据产生单位"]
    assert all("虚构示例" in name for name in parsed.frame["地块名称"])
    assert parsed.crs.to_epsg() == 4528
    np.testing.assert_allclose(parsed.frame["计算面积"], parsed.frame["地块面积"], rtol=1e-9)


def test_upload_through_the_api_in_the_sandbox(store_path: Path, tmp_path: Path,
                                               monkeypatch) -> None:
    path = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    monkeypatch.setenv("GONGFU_UPLOADS_DIR", str(tmp_path / "uploads"))
    app = create_app(Settings(store_path=path))
    assert app.state.services.uploads.sandbox is not None  # parsed in a limited child
    client = TestClient(app)
    got = client.post("/uploads", files={"file": ("报盘.txt", baopan_text().encode("gbk"))})
    assert got.status_code == 201, got.text
    (layer,) = got.json()["report"]["layers"]
    assert layer["feature_count"] == 2 and layer["crs"]["key"] == "EPSG:4528"
    # 1.8 ha + 1.2 ha = 30 000 m² = 0.03 km² = 45 亩 on EPSG:4549 (the same plane as zone 40)
    assert layer["measures"]["area_km2"] == pytest.approx(0.03, rel=1e-6)
    assert layer["measures"]["area_mu"] == pytest.approx(45.0, rel=1e-6)
    assert "DK-002" in got.json()["report"]["summary"]["zh"]
    bad = baopan_text().replace("J3,1,3415100.000,40495200.000", "J3,1,x,40495200.000")
    refused = client.post("/uploads", files={"file": ("坏.txt", bad.encode("gbk"))})
    assert refused.status_code == 422
    body = refused.json()
    assert body["detail"]["line"] == 15 and "第 15 行" in body["message"]["zh"]
