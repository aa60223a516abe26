"""Overlay against any published polygon layer (`?layers=`) and its XLSX/CSV export: the same
rows as /overlay, km², 亩 and shares, hand-computed on a synthetic zone layer; formula-safe
text; owner only."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from test_baopan import baopan_text
from test_compliance import KEY, auth, client, farmland_gpkg, parcels, publish  # noqa: F401

ZONES = "constraint_permanent_farmland"


@pytest.fixture()
def setup(client, tmp_path):  # noqa: F811 - the fixture imported above
    gpkg = farmland_gpkg(tmp_path, names=["虚构F1", "虚构F2", "虚构F3", "=cmd|' /C calc'!A0"])
    assert publish(client, "zones.gpkg", gpkg, kind="永久基本农田",
                   dry_run="false").status_code == 201
    return client, parcels(client)


def test_overlay_against_a_published_layer_hand_computed(setup) -> None:
    client, upload = setup
    got = client.get(f"/uploads/{upload['id']}/overlay", headers=auth(upload["token"]),
                     params={"layers": f"counties,{ZONES}"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert [z["id"] for z in body["zone_layers"]] == ["counties", ZONES]
    (entry,) = body["layers"]
    # parcels: 18 000 + 12 000 m² = 0.03 km² = 45 亩
    assert entry["total"]["area_km2"] == pytest.approx(0.03, rel=1e-6)
    assert entry["total"]["area_mu"] == pytest.approx(45, rel=1e-6)
    # each zone polygon against the dissolved parcels (F4 lies inside F1: both count, each
    # its own zone): F1 2 500, F2 2 500, F3 2 200 (A's hole left out), F4 50 × 20 = 1 000 m²
    rows = {r["name"]: r for r in entry["zones"][ZONES]}
    expected = {"虚构F1": 2500, "虚构F2": 2500, "虚构F3": 2200, "=cmd|' /C calc'!A0": 1000}
    assert set(rows) == set(expected)
    for name, m2 in expected.items():
        assert rows[name]["area_km2"] == pytest.approx(m2 / 1e6, rel=1e-5)
        assert rows[name]["area_mu"] == pytest.approx(m2 * 0.0015, rel=1e-3)
        assert rows[name]["share_of_upload"] == pytest.approx(m2 / 30000, rel=1e-4)
    counties = entry["zones"]["counties"]
    assert sum(r["area_km2"] for r in counties) == pytest.approx(0.03, rel=1e-6)
    assert not [n for n in body["not_used"] if n["layer"] == ZONES]


def test_unknown_or_point_zone_layers(setup) -> None:
    client, upload = setup
    base, headers = f"/uploads/{upload['id']}/overlay", auth(upload["token"])
    missing = client.get(base, headers=headers, params={"layers": "no_such_layer"})
    assert missing.status_code == 404 and missing.json()["message"]["zh"]
    points = client.get(base, headers=headers, params={"layers": "county_seats"}).json()
    assert points["zone_layers"] == []
    assert points["not_used"][0]["layer"] == "county_seats"
    default = client.get(base, headers=headers).json()  # unchanged without ?layers=
    assert "counties" in {z["id"] for z in default["zone_layers"]}
    assert ZONES not in {z["id"] for z in default["zone_layers"]}


def test_xlsx_and_csv_hold_the_json_rows_and_never_formulas(setup) -> None:
    client, upload = setup
    base, headers = f"/uploads/{upload['id']}/overlay", auth(upload["token"])
    params = {"layers": f"counties,{ZONES}"}
    body = client.get(base, headers=headers, params=params).json()
    (entry,) = body["layers"]
    json_rows = [(z, r["code"], r["area_km2"]) for z in ("counties", ZONES)
                 for r in entry["zones"][z]]

    got = client.get(f"{base}.xlsx", headers=headers, params=params)
    assert got.status_code == 200 and got.headers["cache-control"] == "private, no-store"
    sheet = openpyxl.load_workbook(io.BytesIO(got.content))["叠加 Zones"]
    header = [c.value for c in sheet[1]]
    assert "面积（亩） area mu" in header and "占上传比例 share of upload" in header
    col = {name: header.index(name) for name in header}
    lines = list(sheet.iter_rows(min_row=2))
    total = lines[0]
    assert total[col["叠加图层 zone layer"]].value == "合计 total"
    assert total[col["面积（亩） area mu"]].value == pytest.approx(45, rel=1e-6)
    xlsx_rows = [(r[col["叠加图层 zone layer"]].value, r[col["代码 code"]].value,
                  r[col["面积（平方千米） area km²"]].value) for r in lines[1:]]
    assert xlsx_rows == json_rows
    risky = [r[col["名称 name"]] for r in lines if str(r[col["名称 name"]].value).startswith("=")]
    assert len(risky) == 1 and risky[0].data_type == "s"

    text = client.get(f"{base}.csv", headers=headers, params=params).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][5] == "名称 name" and len(rows) == 1 + 1 + len(json_rows)
    assert "'=cmd|' /C calc'!A0" in [r[5] for r in rows]
    assert [(r[2], r[4], float(r[6])) for r in rows[2:]] == json_rows


def test_exports_are_owner_only(setup) -> None:
    client, upload = setup
    other = parcels(client, baopan_text())
    for suffix in (".xlsx", ".csv"):
        path = f"/uploads/{upload['id']}/overlay{suffix}"
        assert client.get(path, headers=auth(upload["token"])).status_code == 200
        assert client.get(path, headers=auth(other["token"])).status_code == 404
        assert client.get(path).status_code == 404


def test_xlsx_with_coordinate_columns_uploads_like_a_csv(client, tmp_path) -> None:  # noqa: F811
    import openpyxl as xl

    book = xl.Workbook()
    book.active.append(["名称", "经度", "纬度"])
    book.active.append(["甲", 119.9, 30.8])
    book.active.append(["乙", 120.1, 30.9])
    buffer = io.BytesIO()
    book.save(buffer)
    got = client.post("/uploads", files={"file": ("点位.xlsx", buffer.getvalue())})
    assert got.status_code == 201, got.text
    (layer,) = got.json()["report"]["layers"]
    assert layer["feature_count"] == 2 and layer["crs"]["key"] == "EPSG:4490"
    assert layer["bbox_wgs84"] == pytest.approx([119.9, 30.8, 120.1, 30.9], abs=1e-6)
    book.active.append(["丙", 120.0, 30.85, "多出一格"])
    buffer = io.BytesIO()
    book.save(buffer)
    ragged = client.post("/uploads", files={"file": ("点位.xlsx", buffer.getvalue())})
    assert ragged.status_code == 422 and ragged.json()["detail"]["lines"] == [4]
