"""Real GIS clients read the atlas unchanged: GDAL's OAPIF driver and OWSLib."""

from __future__ import annotations

import re
import subprocess

import pytest
from owslib.ogcapi.features import Features

EXPECTED_COUNTS = {"cities": 1, "counties": 5, "county_seats": 5, "townships": 72,
                   "villages": 1301}


def ogrinfo(*args: str) -> str:
    result = subprocess.run(["ogrinfo", *args], capture_output=True, text=True, timeout=120,
                            check=True)
    return result.stdout


def test_ogrinfo_lists_every_collection(live_server: str) -> None:
    listing = ogrinfo(f"OAPIF:{live_server}")
    for layer_id in EXPECTED_COUNTS:
        assert re.search(rf"^\d+: {layer_id} \(title: ", listing, re.M), listing


@pytest.mark.parametrize("layer_id,count", EXPECTED_COUNTS.items())
def test_ogrinfo_reports_the_right_feature_count(live_server: str, layer_id: str,
                                                  count: int) -> None:
    summary = ogrinfo("-so", f"OAPIF:{live_server}", layer_id)
    assert f"Feature Count: {count}" in summary


def test_ogrinfo_pages_through_all_villages(live_server: str) -> None:
    """GDAL follows our `next` links (10 per page) to read all 1,301 registry rows."""
    features = ogrinfo("-al", "-q", f"OAPIF:{live_server}", "villages")
    assert features.count("OGRFeature(villages)") == 1301
    assert "余村村委会" in features


def test_ogrinfo_spatial_filter_and_chinese_names(live_server: str) -> None:
    anji_box = ("119.4", "30.4", "119.9", "30.8")
    features = ogrinfo("-q", f"OAPIF:{live_server}", "counties", "-spat", *anji_box)
    assert "安吉县" in features
    assert "南浔区" not in features  # far to the north-east of the box


def test_ogrinfo_reads_geometries_in_huzhou(live_server: str) -> None:
    features = ogrinfo("-q", f"OAPIF:{live_server}", "county_seats")
    points = re.findall(r"POINT \(([\d.]+) ([\d.]+)\)", features)
    assert len(points) == 5
    for lon, lat in points:
        assert 119.2 < float(lon) < 120.6 and 30.3 < float(lat) < 31.2


def test_owslib_reads_collections_and_items(live_server: str) -> None:
    api = Features(live_server)
    ids = [c["id"] for c in api.collections()["collections"]]
    assert ids == list(EXPECTED_COUNTS)
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in (
        api.conformance()["conformsTo"])
    items = api.collection_items("counties", limit=10)
    assert items["numberMatched"] == 5
    names = {f["properties"]["name"] for f in items["features"]}
    assert names == {"吴兴区", "南浔区", "德清县", "长兴县", "安吉县"}


def test_owslib_attribute_filter_and_paging(live_server: str) -> None:
    api = Features(live_server)
    anji = api.collection_items("townships", county_code="330523", limit=100)
    assert anji["numberMatched"] == 15
    assert {f["properties"]["county_name"] for f in anji["features"]} == {"安吉县"}
    second = api.collection_items("villages", limit=100, offset=1300)
    assert second["numberReturned"] == 1
