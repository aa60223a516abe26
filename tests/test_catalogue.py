"""One catalogue of everything a map can show: vector layers and rasters alike."""

from __future__ import annotations

from layers.catalogue import Catalogue


def test_catalogue_lists_vector_and_raster_layers_with_provenance(client) -> None:
    body = client.get("/catalogue").json()
    by_id = {entry["id"]: entry for entry in body["layers"]}
    assert by_id["counties"]["kind"] == "vector" and by_id["counties"]["theme"] == "admin"
    assert by_id["bamboo_carbon_density"]["theme"] == "ecology"
    assert "面积" in by_id["counties"]["fields"]["area_km2"]  # the field dictionary
    assert {t["id"]: t["title_zh"] for t in body["themes"]}["axes"] == "发展轴"
    assert by_id["counties"]["provenance"]["source"]
    assert by_id["counties"]["links"]["tiles"].endswith("/tiles/counties/{z}/{x}/{y}.mvt")
    raster = by_id["bamboo_carbon_density"]
    assert raster["kind"] == "raster" and raster["geometry_type"] == "Raster"
    assert raster["provenance"]["illustrative"] is True  # derived: labelled as such
    assert raster["provenance"]["crs_of_origin"] == "EPSG:4549"
    assert raster["style"]["unit"].startswith("t CO2e")
    assert client.get(raster["links"]["legend"].replace("http://testserver", "")).status_code == 200
    # a registry without geometry has items but no tiles
    assert "tiles" not in by_id["villages"]["links"]
    only = client.get("/catalogue", params={"kind": "raster"}).json()["layers"]
    assert {entry["kind"] for entry in only} == {"raster"}
    bad = client.get("/catalogue", params={"kind": "pixels"})
    assert bad.status_code == 400 and bad.json()["message"]["zh"]


def test_catalogue_versions_change_when_a_raster_is_rewritten(client) -> None:
    services = client.app.state.services
    catalogue: Catalogue = services.catalogue
    before = catalogue.version("bamboo_carbon_density")
    meta = services.rasters.meta("bamboo_carbon_density")
    services.rasters.put_meta(meta)  # the sidecar rewritten (same content, new file)
    assert catalogue.version("bamboo_carbon_density") != before
    assert catalogue.version("counties") == services.store.version("counties")
    assert catalogue.layer("bamboo_carbon_density").kind == "raster"


def test_themes_group_saved_scenarios_with_the_axes() -> None:
    from dataclasses import replace

    from layers.catalogue import theme_of
    from layers.model import Layer, Provenance

    base = Layer("x", "x", "x", "Point", "id", Provenance("s", "l", "EPSG:4326"))
    assert theme_of(replace(base, id="anji2030_axes")) == "axes"
    assert theme_of(replace(base, id="anji2030_axis_domains")) == "axes"
    assert theme_of(replace(base, id="counties")) == "admin"
    assert theme_of(replace(base, id="bamboo_ledger")) == "ecology"
    assert theme_of(replace(base, id="mystery")) == "other"
