"""Every CSV and XLSX export keeps text that starts like a formula (= + - @) as text: CSV cells
get a leading apostrophe (OWASP), XLSX cells are text cells, never formulas. Checked through
the HTTP API on each export: public layer downloads, a planner's own layer, the overlay, the
compliance check and the indicator table."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.settings import Settings

KEY = "escape-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
HOSTILE = ["=HYPERLINK(\"http://example.invalid\",\"x\")", "+SUM(1,2)", "-2+3", "@SUM(4)"]


def _features(west: float) -> bytes:
    features = [{"type": "Feature", "properties": {"名称": text, "备注": text, "面积": -2.5},
                 "geometry": {"type": "Polygon", "coordinates": [[
                     [west + i * 0.01, 30.6], [west + i * 0.01 + 0.008, 30.6],
                     [west + i * 0.01 + 0.008, 30.608], [west + i * 0.01, 30.6]]]}}
                for i, text in enumerate(HOSTILE)]
    return json.dumps({"type": "FeatureCollection", "features": features},
                      ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def exports(store_path: Path, tmp_path_factory) -> tuple[TestClient, dict]:
    folder = tmp_path_factory.mktemp("escape")
    path = folder / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    mp = pytest.MonkeyPatch()
    for key, value in {"GONGFU_API_KEYS": KEY, "GONGFU_UPLOADS_DIR": str(folder / "up"),
                       "GONGFU_RATE_LIMIT_PER_MINUTE": "0"}.items():
        mp.setenv(key, value)
    client = TestClient(create_app(Settings(store_path=path)))
    published = client.post("/constraints", headers=AUTH, params={
        "kind": "生态保护红线", "id": "escape_check", "dry_run": "false"},
        files={"file": ("红线.geojson", _features(119.6))})
    assert published.status_code in (200, 201), published.text
    upload = client.post("/uploads", headers=AUTH, files={"file": ("地块.geojson",
                                                                   _features(119.601))})
    assert upload.status_code == 201, upload.text
    upload_id = upload.json()["id"]
    layer = client.get(f"/uploads/{upload_id}", headers=AUTH).json()["layers"][0]["id"]
    table = "地区,指标,年份,数值,单位\n湖州市,=HYPERLINK(1),2023,5,个\n安吉县,@SUM(4),2023,3,个\n"
    saved = client.post("/indicators", headers=AUTH, data={"dry_run": "false"},
                        files={"file": ("指标.csv", table.encode())})
    assert saved.status_code < 300, saved.text
    yield client, {"upload": upload_id, "layer": layer}
    mp.undo()


def _csv_cells(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _xlsx_cells(data: bytes) -> list:
    book = load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


CSV_EXPORTS = {
    "public layer": "/collections/constraint_escape_check/download?format=csv",
    "public layer, GBK": "/collections/constraint_escape_check/download?format=csv&encoding=gbk",
    "own layer": "/uploads/{upload}/layers/{layer}/download?format=csv",
    "overlay": "/uploads/{upload}/overlay.csv?layers=counties,constraint_escape_check",
    "compliance": "/uploads/{upload}/compliance.csv?constraints=constraint_escape_check",
    "indicator table": "/collections/indicators/download?format=csv",
}
XLSX_EXPORTS = {
    "public layer": "/collections/constraint_escape_check/download?format=xlsx",
    "own layer": "/uploads/{upload}/layers/{layer}/download?format=xlsx",
    "overlay": "/uploads/{upload}/overlay.xlsx?by_feature=100"
               "&layers=counties,constraint_escape_check",
    "compliance": "/uploads/{upload}/compliance.xlsx?constraints=constraint_escape_check",
    "indicator table": "/collections/indicators/download?format=xlsx",
}


@pytest.mark.parametrize("name", CSV_EXPORTS)
def test_csv_exports_escape_formula_text(exports, name: str) -> None:
    client, ids = exports
    response = client.get(CSV_EXPORTS[name].format(**ids), headers=AUTH)
    assert response.status_code == 200, response.text
    data = response.content
    cells = _csv_cells(data if "GBK" not in name else data.decode("gbk").encode())
    risky = [c for c in cells if c.startswith(("=", "+", "-", "@"))
             and not c.lstrip("-").replace(".", "", 1).isdigit()]  # negative numbers are fine
    assert risky == []
    escaped = [c for c in cells if c.startswith("'") and c[1:2] in ("=", "+", "-", "@")]
    assert escaped, "the hostile text should be in this export, escaped"


@pytest.mark.parametrize("name", XLSX_EXPORTS)
def test_xlsx_exports_write_formula_text_as_text(exports, name: str) -> None:
    client, ids = exports
    response = client.get(XLSX_EXPORTS[name].format(**ids), headers=AUTH)
    assert response.status_code == 200, response.text
    cells = _xlsx_cells(response.content)
    assert all(c.data_type != "f" for c in cells)
    hostile = [c for c in cells if isinstance(c.value, str)
               and c.value.lstrip("'").startswith(("=", "+", "@", "-2+"))]
    assert hostile, "the hostile text should be in this export"
    assert all(c.data_type == "s" for c in hostile)
    assert b"<f>" not in response.content  # no formula element (the sheets are zipped, so
    # also read them back: openpyxl reports a formula cell as data_type "f", checked above)
