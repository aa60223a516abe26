"""Bamboo carbon accounting against hand-computed values, the sourced parameter file, the ledger."""

from __future__ import annotations

import math

import pytest

from geo.errors import InvalidParameter
from layers.ecology import (COMPUTED_FIELDS, BambooParameters, account_area, account_tonnes,
                            anji_mean_density, ledger_frame, ledger_layer, parameter_sources)

PARAMS = BambooParameters.from_file()


def test_parameter_file_gives_the_sourced_numbers() -> None:
    assert PARAMS.sequestration_t_per_mu_yr == 0.39
    assert PARAMS.collection_price_yuan_per_mu_yr == 16.926
    assert PARAMS.trade_price_yuan_per_t == 73.41
    assert PARAMS.trade_price_alt_yuan_per_t == 59.0
    assert PARAMS.village_share == 0.80
    assert PARAMS.mu_per_ha == 15.0
    assert math.isclose(PARAMS.c_per_co2, 12 / 44)
    assert PARAMS.carbon_basis == "CO2e"


def test_every_parameter_names_a_source_and_the_ambiguity_is_stated() -> None:
    sources = parameter_sources()
    for name, entry in sources.items():
        assert entry["source"].strip(), name
        assert entry["unit"].strip(), name
    note = sources["sequestration_t_per_mu_yr"]["note"]
    assert "CO2" in note and "carbon" in note and "44/12" in note


def test_majianong_4500_mu_by_hand() -> None:
    result = account_area(4500, PARAMS)
    assert result.sequestration_t_co2e_yr == pytest.approx(1755.0)  # 4,500 × 0.39
    assert result.sequestration_t_c_yr == pytest.approx(1755.0 * 12 / 44)
    assert result.collection_yuan_yr == pytest.approx(76_167.0)  # 4,500 × 16.926
    assert result.trade_value_yuan_yr == pytest.approx(128_834.55)  # 1,755 × 73.41
    assert result.village_share_yuan_yr == pytest.approx(103_067.64)  # × 0.8


def test_dali_three_year_payment_matches_the_reported_27_5_wan() -> None:
    """5,425 亩 × 16.926 元 × 3 years = 275,470.5 元; the source says 27.5万余元."""
    paid = account_area(5425, PARAMS).collection_yuan_yr * 3
    assert paid == pytest.approx(275_470.5)
    assert 275_000 <= paid < 276_000


def test_overrides_per_request() -> None:
    cheaper = PARAMS.override(trade_price_yuan_per_t=59)
    assert account_area(4500, cheaper).trade_value_yuan_yr == pytest.approx(1755 * 59)
    as_carbon = PARAMS.override(carbon_basis="C")
    assert account_area(4500, as_carbon).sequestration_t_co2e_yr == pytest.approx(1755 * 44 / 12)
    assert as_carbon.density_t_co2e_per_ha_yr == pytest.approx(5.85 * 44 / 12)
    assert PARAMS.density_t_co2e_per_ha_yr == pytest.approx(5.85)


@pytest.mark.parametrize("change", [{"village_share": 1.5}, {"trade_price_yuan_per_t": -1},
                                    {"carbon_basis": "CH4"}, {"sequestration_t_per_mu_yr": math.inf},
                                    {"no_such": 1}])
def test_bad_overrides_are_refused(change: dict) -> None:
    with pytest.raises(InvalidParameter):
        PARAMS.override(**change)


def test_tonnes_to_equivalent_area() -> None:
    result = account_tonnes(339_300, PARAMS)
    assert result.area_mu == pytest.approx(870_000)
    assert result.collection_yuan_yr == pytest.approx(870_000 * 16.926)


def test_anji_mean_density_is_the_moso_share_of_5_85() -> None:
    assert anji_mean_density(PARAMS, 2_900_000) == pytest.approx(5.85 * 870_000 / 2_900_000)
    assert anji_mean_density(PARAMS, 100_000) == pytest.approx(5.85)  # never above full cover


def test_ledger_villages_get_registry_codes_and_no_invented_point(store) -> None:
    frame = ledger_frame(PARAMS, store).set_index("id")
    assert frame.loc["majianong", "code"] == "330523206205"
    assert frame.loc["dali", "code"] == "330523206202"
    for village in ("majianong", "dali"):  # 山川乡 has no open seat point
        assert frame.loc[village, "geometry"] is None
        assert frame.loc[village, "placement"].startswith("unplaced")
    county = frame.loc["anji-moso-area"]
    assert county["placement"].startswith("county seat as stand-in")
    assert 119.5 < county.geometry.x < 119.8 and 30.5 < county.geometry.y < 30.8


def test_ledger_computed_fields_are_marked_and_correct(store) -> None:
    frame = ledger_frame(PARAMS, store).set_index("id")
    assert set(COMPUTED_FIELDS) <= set(frame.columns)
    assert all(frame["computed_fields"] == ",".join(COMPUTED_FIELDS))
    assert frame.loc["majianong", "sequestration_t_co2e_yr"] == pytest.approx(1755)
    assert frame.loc["majianong", "reported_yuan"] == 1_800_000  # as written (180余万)
    assert frame.loc["dali", "collection_yuan_period"] == pytest.approx(275_470.5)
    assert math.isnan(frame.loc["anji-sales-2023", "sequestration_t_co2e_yr"])  # no area


def test_ledger_layer_fits_the_store(tmp_path, store) -> None:
    from layers.store import GeoPackageStore

    layer, frame = ledger_layer(store)
    target = GeoPackageStore(tmp_path / "ledger.gpkg")
    target.put(layer, frame)
    back = target.frame("bamboo_ledger")
    assert len(back) == len(frame)
    assert layer.provenance.illustrative
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    client = TestClient(create_app(Settings(store_path=tmp_path / "ledger.gpkg")))
    dali = client.get("/collections/bamboo_ledger/items/dali", params={"f": "json"}).json()
    assert dali["geometry"] is None
    assert dali["properties"]["code"] == "330523206202"
    assert dali["properties"]["source_title"].startswith("《湖州")
    assert dali["properties"]["collection_yuan_period"] == pytest.approx(275_470.5)


def test_api_accounting_and_parameters(client) -> None:
    body = client.get("/ecology/accounting", params={"area_mu": 4500}).json()
    assert body["computed"] is True
    assert body["sequestration_t_co2e_yr"] == pytest.approx(1755)
    body = client.get("/ecology/accounting", params={"area_mu": 4500, "village_share": 0.7,
                                                     "trade_price_yuan_per_t": 59}).json()
    assert body["village_share_yuan_yr"] == pytest.approx(1755 * 59 * 0.7)
    params = client.get("/ecology/parameters").json()["parameters"]
    assert params["collection_price_yuan_per_mu_yr"]["value"] == 16.926


def test_api_bad_parameter_is_a_bilingual_400(client) -> None:
    response = client.get("/ecology/accounting", params={"area_mu": 10, "village_share": 2})
    assert response.status_code == 400
    assert response.json()["message"]["zh"] and response.json()["message"]["en"]
    assert client.get("/ecology/accounting", params={"area_mu": -1}).status_code == 400


def test_api_ledger_geojson(client) -> None:
    body = client.get("/ecology/ledger").json()
    features = {f["id"]: f for f in body["features"]}
    assert features["dali"]["geometry"] is None
    assert features["dali"]["properties"]["code"] == "330523206202"
    assert features["anji-moso-area"]["geometry"]["type"] == "Point"
    assert features["majianong"]["properties"]["source_title"].startswith("《这个")
