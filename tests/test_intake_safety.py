"""Nothing lost, nothing leaked at intake: KML attributes kept, CSV rows never shifted, hostile
XML refused, errors without server paths or library text."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from geo.errors import InvalidData, UnreadableUpload
from geo.vector_read import read_folder

KML_WITH_DATA = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>踏勘</name>
<Schema name="s" id="s"><SimpleField name="类型" type="string"/></Schema>
<Folder><name>一期</name>
<Placemark><name>马家弄村竹林</name><description>踏勘记录 A</description>
<visibility>1</visibility>
<ExtendedData><Data name="乡镇"><value>山川乡</value></Data>
<SchemaData schemaUrl="#s"><SimpleData name="类型">毛竹林</SimpleData></SchemaData>
</ExtendedData>
<Polygon><tessellate>1</tessellate><outerBoundaryIs><LinearRing><coordinates>
119.60,30.60,0 119.62,30.60,0 119.62,30.62,0 119.60,30.62,0 119.60,30.60,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Folder>
<Folder><name>二期</name>
<Placemark><name>大里村竹林</name>
<ExtendedData><Data name="乡镇"><value>递铺街道</value></Data>
<SchemaData schemaUrl="#s"><SimpleData name="类型">杂竹</SimpleData></SchemaData>
</ExtendedData>
<Polygon><outerBoundaryIs><LinearRing><coordinates>
119.70,30.60 119.72,30.60 119.72,30.62 119.70,30.60
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Folder></Document></kml>"""


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


def test_kmz_keeps_every_extended_data_field_under_its_own_name(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with zipfile.ZipFile(folder / "survey.kmz", "w") as zf:
        zf.writestr("doc.kml", KML_WITH_DATA)
    (layer,) = read_folder(folder).layers
    frame = layer.frame
    assert list(frame["乡镇"]) == ["山川乡", "递铺街道"]  # not folded into "______"
    assert list(frame["类型"]) == ["毛竹林", "杂竹"]
    assert list(frame["folder"]) == ["一期", "二期"]
    assert frame["description"].iloc[0] == "踏勘记录 A"
    housekeeping = {"tessellate", "extrude", "visibility", "drawOrder", "icon", "begin", "end",
                    "altitudeMode", "timestamp"}
    assert not housekeeping & set(frame.columns)


@pytest.mark.parametrize("xml", [
    # billion laughs: entity expansion
    '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><kml><Document><Placemark><name>&b;'
    '</name><Point><coordinates>119.6,30.6</coordinates></Point></Placemark></Document></kml>',
    # external entity: reading a server file
    '<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<kml><Document><Placemark><name>&x;</name><Point><coordinates>119.6,30.6</coordinates>'
    '</Point></Placemark></Document></kml>',
])
def test_hostile_kml_is_refused_without_reading_anything(tmp_path: Path, xml: str) -> None:
    folder = _folder(tmp_path)
    (folder / "bad.kml").write_text(xml, encoding="utf-8")
    with pytest.raises(UnreadableUpload) as caught:
        read_folder(folder)
    assert "DTD" in caught.value.message_en and "root" not in caught.value.message_zh


def test_broken_kml_error_names_the_file_not_the_server_path(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "坏.kml").write_text("<kml><Document><Placemark>", encoding="utf-8")
    with pytest.raises(UnreadableUpload) as caught:
        read_folder(folder)
    text = caught.value.message_zh + caught.value.message_en + str(caught.value.detail)
    assert "坏.kml" in text and str(tmp_path) not in text


def test_csv_row_with_an_extra_field_is_refused_naming_the_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    rows = ["名称,lon,lat", "马家弄村,119.68,30.64", "余村,竹林,119.70,30.65",
            "大里村,119.71,30.66", "上杨村,119.72"]
    (folder / "点位.csv").write_text("\n".join(rows), encoding="utf-8")
    with pytest.raises(InvalidData) as caught:
        read_folder(folder)
    assert caught.value.status == 422
    assert caught.value.detail["lines"] == [3, 5]  # header is line 1
    assert "第 3、5 行" in caught.value.message_zh and "line(s) 3, 5" in caught.value.message_en


def test_csv_formula_like_values_stay_text(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    rows = ["名称,lon,lat", "=HYPERLINK(\"http://x\"),119.68,30.64", "+86-572,119.70,30.65"]
    (folder / "点位.csv").write_text("\n".join(rows), encoding="utf-8")
    (layer,) = read_folder(folder).layers
    assert list(layer.frame["名称"]) == ['=HYPERLINK("http://x")', "+86-572"]


def test_api_errors_carry_a_request_id_and_no_server_paths(client) -> None:
    bad = b"<kml><Document><Placemark><name>x</name><Point><coordinates>oops</coordinates>"
    response = client.post("/uploads", params={"dry_run": "true"},
                           files={"file": ("坏.kml", bad, "application/vnd.google-earth.kml")})
    assert response.status_code == 422
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"] != "-"
    text = response.text
    assert "坏.kml" in text
    for leak in ("/tmp", "gongfu-upload-", "Traceback", "pyogrio", "GDAL"):
        assert leak not in text, leak


def test_framework_validation_errors_are_worded_for_planners(client) -> None:
    response = client.get("/ecology/accounting", params={"area_mu": "很多"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message["zh"] == "参数 area_mu 须为数字。"
    assert "Input should be" not in message["en"]  # pydantic's own wording stays out
    missing = client.get("/ecology/accounting").json()["message"]
    assert "缺少必填参数 area_mu" in missing["zh"]
