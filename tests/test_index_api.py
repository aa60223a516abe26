"""POST /indices (dry run open, saving with an API key), the census demonstration, and
`gongfu index`: saved indices become indicators that map and appear on fact sheets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import Settings
from layers.store import GeoPackageStore

SYSTEM = ("指标编号,指标名称,英文名称,领域,方向,权重\n"
          "census_urbanisation_rate,城镇化率,Urbanisation,空间融合,+,2\n"
          "census_avg_years_schooling,受教育年限,Schooling,生活融合,+,1\n"
          "census_share_age_65plus,老龄化,Ageing,生活融合,−,1\n")
PEERS = "地区代码,分组\n330502,城区\n330503,城区\n330521,县\n330522,县\n330523,县\n"


def test_demo_index_is_labelled_and_explains_its_weights(client) -> None:
    body = client.get("/indices/demo").json()
    assert body["demonstration"] and "方法演示" in body["title_zh"]
    assert any("不是浙江省官方" in n for n in body["notes"])
    assert len(body["scores"]) == 5 and {s["year"] for s in body["scores"]} == {2020}
    assert {m["year"] for m in body["missing"]} == {2010}  # reported, not imputed
    assert abs(sum(w["combined"] for w in body["weights"]) - 1) < 1e-9
    assert all(w["derivation"].startswith("w = 0.5×主观") for w in body["weights"])


def test_dry_run_gbk_system_with_peers(client) -> None:
    response = client.post("/indices", files={
        "system": ("体系.csv", SYSTEM.replace("−", "－").encode("gbk"), "text/csv"),
        "peers": ("分组.csv", PEERS.encode("gbk"), "text/csv")},
        data={"method": "critic", "alpha": "0.3"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] and not body["saved"] and body["method"] == "critic"
    groups = {s["code"]: (s["peer_group"], s["peer_rank"]) for s in body["scores"]}
    assert groups["330502"][0] == "城区" and groups["330523"][0] == "县"


@pytest.mark.parametrize("data, files, status", [
    ({"method": "ahp"}, None, 400),
    ({"alpha": "2"}, None, 400),
    ({"id": "Bad Id"}, None, 400),
    ({}, {"system": ("x.csv", "指标编号,领域,方向\nnope,经济,+\n".encode(), "text/csv")}, 404),
    ({}, {"system": ("x.csv", "指标编号,领域,方向\na,经济,?\n".encode(), "text/csv")}, 422),
    ({}, {"system": ("x.xlsx", b"not a workbook", "application/octet-stream")}, 422),
])
def test_bad_input_is_bilingual_4xx(client, data, files, status) -> None:
    files = files or {"system": ("体系.csv", SYSTEM.encode(), "text/csv")}
    response = client.post("/indices", files=files, data=data)
    assert response.status_code == status, response.text
    message = response.json()["message"]
    assert message["zh"] and message["en"] and "Traceback" not in response.text


def test_saving_needs_a_key_and_makes_indicators(store_path: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGFU_API_KEYS", "bureau-key")
    copy = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, copy)
    client = TestClient(create_app(Settings(store_path=copy), GeoPackageStore(copy)))
    files = {"system": ("体系.csv", SYSTEM.encode(), "text/csv")}
    refused = client.post("/indices", files=files, data={"dry_run": "false", "id": "fusion"})
    assert refused.status_code == 401
    saved = client.post("/indices", files=files, data={"dry_run": "false", "id": "fusion"},
                        headers={"Authorization": "Bearer bureau-key"})
    assert saved.status_code == 201, saved.text
    assert saved.json()["indicators"] == ["fusion", "fusion_sub_1", "fusion_sub_2", "fusion_rank"]
    assert client.get("/indicators/fusion").json()["origin"] == "computed"
    assert client.get("/maps/choropleth", params={"indicator": "fusion_sub_2"}).status_code == 200
    sheet = client.get("/places/330523").json()
    assert any(f["indicator"] == "fusion" for f in sheet["facts"])
    # census figures and computed indicators survive the save
    assert client.get("/indicators/census_resident_population").status_code == 200


def test_cli_index_dry_run_and_save(store_path: Path, tmp_path: Path) -> None:
    from cli.main import app

    copy = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, copy)
    runner = CliRunner()
    dry = runner.invoke(app, ["index", "--store", str(copy), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "方法演示" in dry.output
    system = tmp_path / "体系.csv"
    system.write_bytes(SYSTEM.replace("−", "－").encode("gbk"))
    saved = runner.invoke(app, ["index", str(system), "--id", "fusion", "--store", str(copy)])
    assert saved.exit_code == 0, saved.output
    from layers import indicators
    assert "fusion_rank" in indicators.load(GeoPackageStore(copy)).catalog.index
    bad = runner.invoke(app, ["index", "--store", str(copy), "--alpha", "3"])
    assert bad.exit_code == 2 and "alpha" in bad.output
