"""Real GIS clients read the atlas unchanged: GDAL's OAPIF driver and OWSLib."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pyogrio
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


# --- how many requests a client needs (counted by a forwarding proxy in front of the server) -

class _Forward(BaseHTTPRequestHandler):
    """Forwards GET/HEAD to the upstream server unchanged (Host kept, so the server's links
    point back at the proxy) and records each request's path."""

    protocol_version = "HTTP/1.1"
    upstream: tuple[str, int]
    seen: list[str]

    def _forward(self) -> None:
        self.seen.append(self.path)
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        conn.request(self.command, self.path, headers=dict(self.headers))
        answer = conn.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        conn.close()

    do_GET = do_HEAD = _forward

    def log_message(self, *args: object) -> None:  # quiet
        pass


@contextmanager
def counting_proxy(base_url: str) -> Iterator[tuple[str, list[str]]]:
    """A proxy URL in front of `base_url` and the list of paths it has forwarded."""
    parts = urlsplit(base_url)
    seen: list[str] = []
    handler = type("Handler", (_Forward,), {"upstream": (parts.hostname, parts.port),
                                            "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_gdal_pages_by_the_declared_limit_maximum(start_server, store_path: Path) -> None:
    """GDAL ≥ 3.8 (here pyogrio's GDAL) reads `limit`'s maximum and default from /openapi.json
    to choose its page size: with a 500 maximum it reads the 1,301 villages in pages of 500.
    (Before OpenAPI 3.0 declared it, it asked for 1,000 and got a 400.)"""
    server = start_server(store_path, GONGFU_MAX_LIMIT="500")
    # pyogrio holds the GIL while GDAL reads: the client runs in its own process
    script = ("import sys, pyogrio; frame = pyogrio.read_dataframe(sys.argv[1], "
              "layer='villages'); print(len(frame), '余村村委会' in set(frame['name']))")
    with counting_proxy(server) as (url, seen):
        read = subprocess.run([sys.executable, "-c", script, f"OAPIF:{url}"],
                              capture_output=True, text=True, timeout=120)
    assert read.stdout.split() == ["1301", "True"], read.stderr[-2000:]
    pages = [p for p in seen if p.startswith("/collections/villages/items")]
    assert "/openapi.json" in seen
    assert sum("limit=500" in p for p in pages) == 3, seen  # 500 + 500 + 301
    # collections, schema, landing, OpenAPI, the first look, 3 pages
    assert len(seen) <= 8, seen
    print(f"\nGDAL {pyogrio.__gdal_version_string__} read villages in {len(seen)} requests")


def test_ogrinfo_reads_the_villages_in_three_requests(live_server: str) -> None:
    """Debian's GDAL 3.6 does not read the OpenAPI document: its page is 10 (ogrinfo -al on
    the villages took 132 requests). With a page size above our maximum it is now capped, not
    refused, so one page carries the whole registry."""
    with counting_proxy(live_server) as (url, seen):
        features = ogrinfo("-al", "-q", "-oo", "PAGE_SIZE=100000", f"OAPIF:{url}", "villages")
    assert features.count("OGRFeature(villages)") == 1301
    assert len(seen) <= 3, seen  # collections, the first look, one page
    print(f"\nogrinfo (GDAL 3.6, PAGE_SIZE above the maximum) read villages in {len(seen)} "
          "requests")
