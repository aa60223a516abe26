"""`gongfu import-boundaries` and `gongfu import` on clearly synthetic fixtures: Anji county
(real outline) cut into vertical strips labelled with Anji's real township codes. The strips
are NOT township boundaries; they only exercise matching, gaps and overlaps."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from fastapi.testclient import TestClient

from api.app import create_app
from cli.main import app
from api.settings import Settings
from geo.measure import area_km2
from layers.store import GeoPackageStore
from layers.township_import import registry

ANJI = "330523"
runner = CliRunner()


@pytest.fixture()
def atlas(store_path: Path, tmp_path: Path) -> Path:
    path = tmp_path / "atlas.gpkg"
    shutil.copyfile(store_path, path)
    return path


def strips(atlas: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Anji cut into one vertical strip per Anji township code (synthetic!)."""
    county = GeoPackageStore(atlas).frame("counties").geometry.loc[ANJI]
    codes = sorted(registry().query("county_code == @ANJI")["township_code_12"])
    west, south, east, north = county.bounds
    edges = np.linspace(west, east, len(codes) + 1)
    geoms = [shapely.intersection(county, shapely.box(a, south, b, north))
             for a, b in zip(edges[:-1], edges[1:])]
    return gpd.GeoDataFrame({"XZQDM": codes, "XZQMC": ["示意条带"] * len(codes)},
                            geometry=geoms, crs=4326), codes


def write_zip(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """A GBK shapefile in EPSG:4549 (with .prj), zipped."""
    folder = path.parent / "shp"
    folder.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyogrio.write_dataframe(frame.to_crs(4549), folder / "乡镇界.shp", encoding="CP936")
    with zipfile.ZipFile(path, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    return path


def test_import_boundaries_reports_and_publishes(atlas: Path, tmp_path: Path) -> None:
    frame, codes = strips(atlas)
    missing_geom = frame.geometry.iloc[-1]
    # Widen strip 0 by 0.005° eastwards into strip 1: a known overlap.
    widened = shapely.intersection(
        shapely.union_all([frame.geometry.iloc[0], frame.geometry.iloc[1]]),
        shapely.box(frame.geometry.iloc[0].bounds[0], -90,
                    frame.geometry.iloc[0].bounds[2] + 0.005, 90))
    expected_overlap = area_km2(np.array([shapely.intersection(widened, frame.geometry.iloc[1])]),
                                4549)[0]
    frame.loc[0, "geometry"] = widened
    frame = frame.iloc[:-1]
    extra = gpd.GeoDataFrame({"XZQDM": ["330523999000"], "XZQMC": ["未知"]},
                             geometry=[shapely.box(119.5, 30.5, 119.51, 30.51)], crs=4326)
    frame = pd.concat([frame, extra], ignore_index=True)
    path = write_zip(frame, tmp_path / "towns.zip")

    result = runner.invoke(app, ["import-boundaries", str(path), "--level", "township",
                                 "--code-field", "XZQDM", "--store", str(atlas)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):result.output.rindex("}") + 1])
    assert report["matched"] == len(codes) - 1
    assert report["unknown_codes"] == ["330523999"]
    assert len(report["missing"]) == 72 - (len(codes) - 1)
    assert codes[-1][:9] in {m["code"] for m in report["missing"]}
    (gap,) = [g for g in report["gaps"] if g["county_code"] == ANJI]
    assert gap["gap_km2"] == pytest.approx(area_km2(np.array([missing_geom]), 4549)[0], rel=1e-3)
    (overlap,) = report["overlaps"]
    assert {overlap["a"], overlap["b"]} == {codes[0][:9], codes[1][:9]}
    assert overlap["overlap_km2"] == pytest.approx(expected_overlap, rel=1e-3)
    assert "EPSG:4549 (declared)" in result.output or "EPSG:4549" in result.output

    store = GeoPackageStore(atlas)
    layer = store.layer("townships")
    assert layer.geometry_type == "MultiPolygon"
    assert "towns.zip" in layer.provenance.source and "sha256" in layer.provenance.source
    published = store.frame("townships")
    assert len(published) == 72
    has = ~published.geometry.isna()
    assert has.sum() == len(codes) - 1
    assert set(published.loc[has, "county_code"]) == {ANJI}
    assert published.loc[codes[2][:9], "area_km2"] == pytest.approx(
        area_km2(np.array([published.geometry.loc[codes[2][:9]]]), 4549)[0], rel=1e-3)

    # The published layer is what every township feature now reads.
    client = TestClient(create_app(Settings(store_path=atlas)))
    items = client.get("/collections/townships/items",
                       params={"f": "json", "limit": 100, "county_code": ANJI}).json()
    shapes = [f["geometry"]["type"] for f in items["features"] if f["geometry"]]
    assert shapes == ["MultiPolygon"] * (len(codes) - 1)
    home = client.get("/maps/overview", headers={"Accept": "text/html"})
    assert home.status_code == 200 and "atlas-township" in home.text


def test_duplicate_codes_block_publishing(atlas: Path, tmp_path: Path) -> None:
    frame, codes = strips(atlas)
    frame.loc[1, "XZQDM"] = frame.loc[0, "XZQDM"]
    path = write_zip(frame, tmp_path / "dupes.zip")
    before = GeoPackageStore(atlas).version("townships")
    result = runner.invoke(app, ["import-boundaries", str(path), "--code-field", "XZQDM",
                                 "--store", str(atlas)])
    assert result.exit_code == 2
    assert "Duplicate codes" in result.output and codes[0][:9] in result.output
    assert GeoPackageStore(atlas).version("townships") == before
    assert GeoPackageStore(atlas).layer("townships").geometry_type == "Point"


def test_wrong_code_field_is_a_clear_error(atlas: Path, tmp_path: Path) -> None:
    frame, _ = strips(atlas)
    path = write_zip(frame, tmp_path / "t.zip")
    result = runner.invoke(app, ["import-boundaries", str(path), "--code-field", "CODE",
                                 "--store", str(atlas)])
    assert result.exit_code == 2 and "No code field 'CODE'" in result.output


def test_cli_import_prints_report_and_issues_token(atlas: Path, tmp_path: Path,
                                                   monkeypatch) -> None:
    monkeypatch.setenv("GONGFU_UPLOADS_DIR", str(tmp_path / "uploads"))
    frame, _ = strips(atlas)
    path = write_zip(frame.iloc[:3], tmp_path / "plots.zip")
    result = runner.invoke(app, ["import", str(path), "--store", str(atlas)])
    assert result.exit_code == 0, result.output
    assert "EPSG:4549" in result.output and "文件声明" in result.output
    assert "Entirely inside Huzhou." in result.output
    assert "token" in result.output and len(list((tmp_path / "uploads").glob("*.gpkg"))) == 1
    dry = runner.invoke(app, ["import", str(path), "--store", str(atlas), "--dry-run"])
    assert dry.exit_code == 0 and len(list((tmp_path / "uploads").glob("*.gpkg"))) == 1
