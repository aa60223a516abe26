"""Compliance check (合规性审查) against synthetic constraint layers published from a planner's
file: planted conflicts with hand-computed areas, holes and overlapping constraint polygons,
API-key publishing, owner-only results, GeoJSON/XLSX/CSV exports with formula-safe text."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from test_baopan import baopan_text

KEY = "compliance-test-key"


@pytest.fixture()
def client(store_path: Path, tmp_path: Path, monkeypatch) -> TestClient:
    path = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    monkeypatch.setenv("GONGFU_UPLOADS_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("GONGFU_API_KEYS", KEY)
    return TestClient(create_app(Settings(store_path=path)))


def farmland_gpkg(tmp_path: Path, names: list[str] | None = None) -> bytes:
    """Synthetic 永久基本农田 (EPSG:4549 boxes), planted against the 报盘 parcels of
    test_baopan (A: E 495000–495200 × N 3415000–3415100 minus the hole E 495050–495100 ×
    N 3415030–3415070 = 18 000 m²; B: E 495300–495450 × N 3414800–3414880 = 12 000 m²):
    - F1 meets A in 50 × 50 = 2 500 m²;
    - F2 meets B in 50 × 50 = 2 500 m²;
    - F3 (70 × 60 = 4 200 m²) holds A's hole (2 000 m²): 2 200 m² of A;
    - F4 lies inside F1 ∩ A: must not count twice.
    A: 4 700 m² (26.11 %), B: 2 500 m² (20.83 %); total 7 200 m² = 10.8 亩 (24 %)."""
    boxes = [shapely.box(495150, 3414900, 495400, 3415050),
             shapely.box(495400, 3414700, 495500, 3414850),
             shapely.box(495040, 3415020, 495110, 3415080),
             shapely.box(495150, 3415000, 495200, 3415020)]
    frame = gpd.GeoDataFrame({"name": names or ["虚构F1", "虚构F2", "虚构F3", "虚构F4"]},
                             geometry=boxes, crs=4549)
    path = tmp_path / "farmland.gpkg"
    frame.to_file(path, driver="GPKG")
    return path.read_bytes()


def redline_geojson() -> bytes:
    far = shapely.box(120.5, 30.5, 120.51, 30.51)  # nowhere near the parcels
    return gpd.GeoDataFrame({"name": ["虚构红线"]}, geometry=[far], crs=4326).to_json().encode()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def publish(client: TestClient, name: str, data: bytes, token: str | None = KEY, **params):
    return client.post("/constraints", files={"file": (name, data)},
                       headers=auth(token) if token else {}, params=params)


def parcels(client: TestClient, text: str | None = None) -> dict:
    got = client.post("/uploads", files={"file": ("报盘.txt",
                                                  (text or baopan_text()).encode("gbk"))})
    assert got.status_code == 201, got.text
    return got.json()


def test_publishing_needs_a_key_and_dry_run_stores_nothing(client, tmp_path: Path) -> None:
    data = farmland_gpkg(tmp_path)
    dry = publish(client, "基本农田.gpkg", data, token=None, kind="永久基本农田")
    assert dry.status_code == 200, dry.text
    layer = dry.json()["layer"]
    assert dry.json()["saved"] is False and layer["id"] == "constraint_permanent_farmland"
    assert layer["feature_count"] == 4
    # 250×150 + 100×150 + 70×60 + 50×20 = 37 500 + 15 000 + 4 200 + 1 000 m²
    assert layer["area_km2"] == pytest.approx(0.0577, rel=1e-6)
    assert client.get("/constraints").json()["constraints"] == []
    refused = publish(client, "基本农田.gpkg", data, token=None, kind="永久基本农田",
                      dry_run="false")
    assert refused.status_code == 401 and refused.json()["message"]["zh"]
    saved = publish(client, "基本农田.gpkg", data, kind="永久基本农田", dry_run="false",
                    title="测试基本农田（虚构）")
    assert saved.status_code == 201, saved.text
    (listed,) = client.get("/constraints").json()["constraints"]
    assert listed["id"] == "constraint_permanent_farmland" and listed["kind"] == "永久基本农田"
    assert listed["title_zh"] == "测试基本农田（虚构）" and listed["feature_count"] == 4
    assert "planner's file" in listed["provenance"]["source"]
    assert "基本农田.gpkg" in listed["provenance"]["source"]
    assert listed["provenance"]["crs_of_origin"] == "EPSG:4549"
    items = client.get("/collections/constraint_permanent_farmland/items",
                       params={"f": "json"}).json()
    assert {f["properties"]["constraint_kind"] for f in items["features"]} == {"永久基本农田"}


@pytest.mark.parametrize("params,code", [
    ({"kind": ""}, 400),
    ({"kind": "文物保护范围"}, 400),  # a custom kind needs an id
    ({"kind": "文物保护范围", "id": "Bad-Id"}, 400),
])
def test_bad_kind_or_id_is_a_bilingual_400(client, tmp_path, params, code) -> None:
    got = publish(client, "a.gpkg", farmland_gpkg(tmp_path), **params)
    assert got.status_code == code and got.json()["message"]["en"]


def test_points_cannot_be_a_constraint(client) -> None:
    points = gpd.GeoDataFrame({"n": ["a"]}, geometry=[shapely.Point(120.0, 30.8)], crs=4326)
    got = publish(client, "p.geojson", points.to_json().encode(), kind="永久基本农田")
    assert got.status_code == 422 and "polygon" in got.json()["message"]["en"]


def test_planted_conflict_areas_per_parcel_and_in_total(client, tmp_path: Path) -> None:
    assert publish(client, "基本农田.gpkg", farmland_gpkg(tmp_path), kind="永久基本农田",
                   dry_run="false").status_code == 201
    assert publish(client, "红线.geojson", redline_geojson(), kind="生态保护红线",
                   dry_run="false").status_code == 201
    upload = parcels(client)
    got = client.get(f"/uploads/{upload['id']}/compliance", headers=auth(upload["token"]))
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "private, no-store"
    body = got.json()
    assert body["area_crs"] == "EPSG:4549" and body["compliant"] is False
    assert {c["kind"] for c in body["constraints"]} == {"永久基本农田", "生态保护红线"}
    totals = {t["kind"]: t for t in body["totals"]}
    farm = totals["永久基本农田"]
    assert farm["conflict_area_m2"] == pytest.approx(7200, rel=1e-3)  # the planted area
    assert farm["conflict_area_m2"] == pytest.approx(7200, rel=1e-6)  # in fact far closer
    assert farm["conflict_area_mu"] == pytest.approx(10.8, rel=1e-6)
    assert farm["share_of_layer"] == pytest.approx(0.24, rel=1e-5)
    assert farm["parcels_in_conflict"] == 2 and farm["parcel_count"] == 2
    assert totals["生态保护红线"]["conflict_area_m2"] == 0
    assert totals["生态保护红线"]["parcels_in_conflict"] == 0
    rows = {r["label"]: r for r in body["parcels"]}
    assert set(rows) == {"DK-001", "DK-002"}  # only conflicts are listed
    assert rows["DK-001"]["conflict_area_m2"] == pytest.approx(4700, rel=1e-6)
    assert rows["DK-001"]["share_of_parcel"] == pytest.approx(4700 / 18000, rel=1e-5)
    assert rows["DK-001"]["parcel_area_m2"] == pytest.approx(18000, rel=1e-6)
    assert rows["DK-002"]["conflict_area_m2"] == pytest.approx(2500, rel=1e-6)
    assert rows["DK-002"]["conflict_area_mu"] == pytest.approx(3.75, rel=1e-6)
    one = client.get(f"/uploads/{upload['id']}/compliance", headers=auth(upload["token"]),
                     params={"constraints": "constraint_ecological_redline"}).json()
    assert one["compliant"] is True and one["parcels"] == []
    unknown = client.get(f"/uploads/{upload['id']}/compliance", headers=auth(upload["token"]),
                         params={"constraints": "counties"})
    assert unknown.status_code == 400 and unknown.json()["message"]["zh"]


def test_conflict_polygons_and_exports(client, tmp_path: Path) -> None:
    publish(client, "基本农田.gpkg", farmland_gpkg(tmp_path), kind="永久基本农田",
            dry_run="false")
    upload = parcels(client, baopan_text().replace("DK-002", "=HYPERLINK(1)"))
    base, headers = f"/uploads/{upload['id']}/compliance", auth(upload["token"])
    geo = client.get(f"{base}.geojson", headers=headers)
    assert geo.status_code == 200 and geo.headers["content-type"] == "application/geo+json"
    feats = geo.json()["features"]
    assert len(feats) == 2
    shapes = {f["properties"]["feature"]: shapely.geometry.shape(f["geometry"]) for f in feats}
    measured = gpd.GeoSeries(list(shapes.values()), crs=4326).to_crs(4549).area
    # 7 decimals of a degree (~1 cm) in GeoJSON: within 0.1 % of the planted areas
    assert sorted(measured) == pytest.approx([2500.0, 4700.0], rel=1e-3)
    # the hole (E 495050–495100 × N 3415030–3415070), 1 m inside its edges, is not in conflict
    hole = gpd.GeoSeries([shapely.box(495051, 3415031, 495099, 3415069)], crs=4549).to_crs(4326)
    assert shapes["1"].intersection(hole.iloc[0]).is_empty

    book = openpyxl.load_workbook(io.BytesIO(client.get(f"{base}.xlsx", headers=headers).content))
    sheet = book["地块冲突 Parcels"]
    header = [c.value for c in sheet[1]]
    label_col = header.index("地块编号/名称 label")
    cells = {row[label_col].value: row for row in sheet.iter_rows(min_row=2)}
    assert cells["=HYPERLINK(1)"][label_col].data_type == "s"  # text, never a formula
    assert cells["DK-001"][header.index("冲突面积（平方米） conflict m²")].value == \
        pytest.approx(4700, rel=1e-6)
    assert book["汇总 Totals"].max_row == 2
    text = client.get(f"{base}.csv", headers=headers).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][2] == "地块编号/名称 label" and len(rows) == 3
    assert "'=HYPERLINK(1)" in [r[2] for r in rows]


def test_only_the_owner_sees_the_check(client, tmp_path: Path) -> None:
    publish(client, "基本农田.gpkg", farmland_gpkg(tmp_path), kind="永久基本农田",
            dry_run="false")
    mine, other = parcels(client), parcels(client)
    for suffix in ("", ".geojson", ".xlsx", ".csv"):
        path = f"/uploads/{mine['id']}/compliance{suffix}"
        assert client.get(path, headers=auth(mine["token"])).status_code == 200
        assert client.get(path, headers=auth(other["token"])).status_code == 404
        assert client.get(path).status_code == 404
