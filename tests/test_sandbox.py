"""Uploads are parsed in a limited child process (geo/sandbox.py): a crash, a hang or a memory
blow-up in the reader is a clean bilingual 422, and the server goes on answering."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.errors import UnreadableUpload
from geo.sandbox import Limits, ParseCrashed, ParseTimeout, ParseTooLarge, run_limited

VRT_AS_GEOJSON = ('<OGRVRTDataSource><OGRVRTLayer name="p"><SrcDataSource>/etc/passwd'
                  '</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>')


def test_child_has_only_the_drivers_uploads_need() -> None:
    drivers = run_limited("pyogrio:list_drivers")
    assert {"ESRI Shapefile", "GPKG", "GeoJSON"} <= set(drivers)
    assert not {"VRT", "OGR_VRT", "CSV", "KML", "LIBKML", "WFS"} & set(drivers)


def test_a_crashing_reader_is_a_422_and_the_next_read_works(tmp_path: Path) -> None:
    with pytest.raises(ParseCrashed) as caught:
        run_limited("os:abort", what="地块.shp")  # SIGABRT, as a driver crash would
    assert caught.value.status == 422 and "地块.shp" in caught.value.message_zh
    assert run_limited("os:getpid") > 0  # the next child starts as usual


def test_a_hanging_reader_is_stopped_at_the_wall_clock_limit() -> None:
    with pytest.raises(ParseTimeout) as caught:
        run_limited("time:sleep", 30, sandbox=Limits(wall_s=1.0), what="big.gpkg")
    assert "1 秒" in caught.value.message_zh


def test_a_memory_blow_up_is_stopped_at_the_memory_limit() -> None:
    with pytest.raises(ParseTooLarge):
        run_limited("numpy:ones", 4 * 2**30, sandbox=Limits(memory_mb=256))  # 32 GB of floats


def test_typed_errors_cross_the_process_boundary_whole(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "plan.geojson").write_text(VRT_AS_GEOJSON, encoding="utf-8")
    with pytest.raises(UnreadableUpload) as caught:
        run_limited("geo.vector_read:read_folder", folder, what="plan.geojson")
    assert "plan.geojson" in caught.value.message_zh and caught.value.detail["file"]


def test_a_vrt_disguised_as_geojson_cannot_read_server_files(client) -> None:
    response = client.post("/uploads", params={"dry_run": "true"},
                           files={"file": ("plan.geojson", VRT_AS_GEOJSON.encode(),
                                           "application/geo+json")})
    assert response.status_code == 422
    assert "root:" not in response.text and "/etc/passwd" not in response.text
    assert client.get("/conformance").status_code == 200  # still answering


def test_a_reader_exception_is_a_crash_never_out_of_memory() -> None:
    """The child answers and is then stopped while closing: that is not a memory limit."""
    for _ in range(5):
        with pytest.raises(ParseCrashed):
            run_limited("builtins:int", "不是数字", what="x.csv")
