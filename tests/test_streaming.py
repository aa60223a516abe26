"""Items and GeoJSON downloads are streamed: the answer starts before the page is encoded,
in the same bytes as the whole-page encoder gave, gzip-compressed on the fly, from both
stores. The ASGI app is driven directly (TestClient would gather the whole body first)."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import threading
import zlib

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from geo import geojson, geojson_stream
from geo.byte_stream import Prefetched, accepts_gzip, gzipped
from geo.crs import SUPPORTED, from_wgs84
from layers.postgis_store import PostGISStore


def _first_body(app, path: str, query: str, accept: str = "identity") -> tuple[dict, bytes, int]:
    """Drive the app for one GET: the response-start message, the first non-empty body chunk
    and how many slices the encoder had produced when that chunk was sent."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": query.encode(),
             "headers": [(b"host", b"testserver"), (b"accept-encoding", accept.encode())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    seen: dict = {}

    async def receive() -> dict:
        await asyncio.sleep(3600)  # the client never hangs up during the test
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            seen["start"] = message
        elif message.get("body") and "first" not in seen:
            seen["first"] = message["body"]
            seen["slices"] = geojson_stream.slices_encoded
            seen["more"] = message.get("more_body", False)

    # a thread of its own: another test's event loop may still be set on this one
    runner = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))
    runner.start()
    runner.join()
    return seen["start"], seen["first"], seen["slices"], seen["more"]


@pytest.fixture
def one_feature_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of one feature each, so the Huzhou townships make ~70 of them."""
    monkeypatch.setattr(geojson_stream, "FIRST_SLICE_COORDS", 1)
    monkeypatch.setattr(geojson_stream, "SLICE_COORDS", 1)


@pytest.mark.parametrize("accept", ["identity", "gzip, deflate"])
def test_items_start_before_the_page_is_encoded(client: TestClient, one_feature_slices,
                                                accept: str) -> None:
    total = client.get("/collections/townships/items", params={"limit": 1000}).json()
    count = total["numberReturned"]
    assert count > 40
    before = geojson_stream.slices_encoded
    start, first, slices, more = _first_body(client.app, "/collections/townships/items",
                                             "limit=1000", accept)
    headers = dict(start["headers"])
    assert start["status"] == 200 and b"content-length" not in headers and more
    if accept.startswith("gzip"):
        assert headers[b"content-encoding"] == b"gzip"
        first = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(first)
    # a well-formed prefix: the collection's head and whole features, nothing more yet
    prefix = json.loads(first + b"]}")
    assert prefix["type"] == "FeatureCollection"
    assert 1 <= len(prefix["features"]) < count
    assert prefix["features"][0] == total["features"][0]
    assert slices - before < count  # the rest of the page was not encoded yet


def test_download_starts_before_the_file_is_encoded(client: TestClient,
                                                    one_feature_slices) -> None:
    count = len(client.get("/collections/townships/download?format=geojson").json()["features"])
    before = geojson_stream.slices_encoded
    start, first, slices, more = _first_body(client.app, "/collections/townships/download",
                                             "format=geojson&crs=EPSG:4549")
    assert start["status"] == 200 and more
    prefix = json.loads(first + b"]}")
    assert prefix["name"] == "townships" and "EPSG:4549" in prefix["description"]
    assert prefix["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4549"
    assert 1 <= len(prefix["features"]) < count and slices - before < count


@pytest.mark.parametrize("crs", [c.key for c in SUPPORTED])
def test_streamed_features_are_the_bytes_of_the_whole_page_encoder(client: TestClient,
                                                                   crs: str) -> None:
    """The streamed page equals json.dumps of geo.geojson.features (the encoder items used
    before), byte for byte, in every CRS: 7 decimals for degrees, 3 for metres."""
    store = client.app.state.store
    frame = store.frame("counties")
    choice = next(c for c in SUPPORTED if c.key == crs)
    precision = 7 if choice.is_geographic else 3
    geoms = np.asarray(from_wgs84(frame.geometry.to_numpy(), choice, authority_order=True))
    fields = list(store.layer("counties").fields)
    whole = json.dumps(geojson.features(frame, geoms, fields, precision),
                       ensure_ascii=False, separators=(",", ":"))
    answer = client.get("/collections/counties/items", params={"crs": crs, "limit": 100})
    body = answer.content.decode()
    assert whole[1:-1] in body and "吴兴区" in body
    numbers = re.findall(r"-?\d+\.(\d+)", body[body.index('"coordinates"'):])
    longest = max(len(n) for n in numbers)  # (the GCJ-02 shift itself keeps 6 decimals)
    assert longest == precision or (choice.is_gcj02 and longest <= precision)


def test_numbers_geos_prints_long_are_written_at_their_shortest() -> None:
    """GEOS prints some rounded doubles with 17 digits (120.20838379999999); ours are the
    shortest text of the same double, as json.dumps writes it."""
    line = shapely.LineString([(120.2083838, 30.3611221), (-0.1234567, 1e-7), (5.0, 0.5)])
    frame = pd.DataFrame({"name": ["测试"]}, index=["a"])
    text = b"".join(geojson_stream.feature_chunks(frame, np.array([line]), ["name"], 7))
    assert text.decode() == ('{"type":"Feature","id":"a","geometry":{"type":"LineString",'
                             '"coordinates":[[120.2083838,30.3611221],[-0.1234567,1e-07],'
                             '[5.0,0.5]]},"properties":{"name":"测试"}}')


def test_dates_and_odd_values_do_not_break_an_answer_under_way() -> None:
    frame = pd.DataFrame({"day": [pd.Timestamp("2024-03-31"), pd.NaT],
                          "share": [float("inf"), np.float32(0.5)]}, index=["a", "b"])
    text = b"".join(geojson_stream.feature_chunks(
        frame, np.array([shapely.Point(120, 30), None]), ["day", "share"], 7))
    a, b = json.loads(b"[" + text + b"]")
    assert a["properties"] == {"day": "2024-03-31T00:00:00", "share": None}
    assert b["properties"] == {"day": None, "share": 0.5} and b["geometry"] is None


@pytest.mark.parametrize("path", ["/collections/counties/items?limit=100",
                                  "/collections/villages/items?limit=500&offset=3",
                                  "/collections/townships/download?format=geojson"])
def test_gzip_decodes_to_the_same_json(client: TestClient, postgis_client: TestClient,
                                       path: str) -> None:
    for app in (client, postgis_client):
        plain = app.get(path, headers={"Accept-Encoding": "identity"})
        packed = app.get(path, headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in plain.headers
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.headers["vary"] == "Accept-Encoding"
        a, b = plain.json(), packed.json()  # httpx decodes the gzip
        a.pop("timeStamp", None), b.pop("timeStamp", None)
        assert a == b and a["features"]


def test_postgis_page_is_read_through_a_cursor_in_batches(postgis_url: str) -> None:
    store = PostGISStore(postgis_url, pool_size=2)
    try:
        page = store.features_geojson("villages", None, {}, 1000, 10, ["code", "name"])
        assert page.number_matched == 1301 and page.number_returned == 1000
        chunks = iter(page.features)
        first = next(chunks)  # the cursor's small first batch, before the rest is fetched
        assert len(json.loads(b"[" + first + b"]")) == 20
        rest = list(chunks)
        features = json.loads(b"[" + first + b"".join(rest) + b"]")
        assert len(rest) > 1 and len(features) == 1000
        assert all(f["geometry"] is None and f["properties"]["name"] for f in features)
        assert features[0]["id"] == store.frame("villages").index[10]
    finally:
        store.close()


def test_postgis_stream_left_early_returns_its_connection(postgis_url: str) -> None:
    """A client that hangs up mid-answer: the producer stops and the cursor's pooled
    connection goes back, so the next requests are served."""
    store = PostGISStore(postgis_url, pool_size=1)
    try:
        for _ in range(3):  # one connection in the pool: a leak would block the next round
            page = store.features_geojson("villages", None, {}, 1000, 0, ["code"])
            reader = Prefetched(page.features, depth=1)
            assert next(reader)
            reader.close()
            reader._thread.join(timeout=10)
            assert not reader._thread.is_alive()
        assert store.features_geojson("villages", None, {}, 1, 0, ["code"]).number_matched
    finally:
        store.close()


def test_a_repeated_page_is_not_encoded_again(client: TestClient) -> None:
    path = "/collections/counties/items?crs=EPSG:4549&properties=name"
    first = client.get(path).json()
    before = geojson_stream.geometries_encoded
    again = client.get(path).json()
    assert geojson_stream.geometries_encoded == before  # every geometry came from the cache
    first.pop("timeStamp"), again.pop("timeStamp")
    assert again == first and len(first["features"]) == 5


def test_geometry_cache_stays_within_its_bounds() -> None:
    cache = geojson_stream.GeometryTexts(max_bytes=1000, section_bytes=600)
    a = cache.section("a")
    a.keep({"1": b"x" * 400})
    a.keep({"2": b"x" * 400})  # would pass the section's 600 bytes: not kept
    assert set(a.texts) == {"1"} and cache.size == 400
    b = cache.section("b")
    b.keep({"1": b"y" * 500})
    c = cache.section("c")
    c.keep({"1": b"z" * 500})  # over 1000 in all: the least recently used section goes
    assert cache.size <= 1000 and c.texts == {"1": b"z" * 500}
    assert cache.section("a").texts == {}  # "a" was dropped, and starts again empty
    assert geojson_stream.GeometryTexts(0, 0).section("a") is None  # cache off


def test_gzip_stream_and_accept_encoding() -> None:
    chunks = [("第%d块," % i).encode() * 500 for i in range(20)]
    packed = list(gzipped(iter(chunks)))
    assert gzip.decompress(b"".join(packed)) == b"".join(chunks)
    # the first output already decodes to the first chunk (flushed, not held in zlib)
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(packed[0]) == chunks[0]
    assert accepts_gzip("gzip, deflate, br") and accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert not accepts_gzip("gzip;q=0") and not accepts_gzip("identity") and not accepts_gzip("")


def test_producer_error_reaches_the_reader() -> None:
    def failing():
        yield b"a"
        raise ValueError("boom")

    reader = Prefetched(failing())
    assert next(reader) == b"a"
    with pytest.raises(ValueError):
        next(reader)


def test_other_formats_are_sent_from_the_finished_file_in_blocks(store, tmp_path) -> None:
    """CSV/GeoPackage/…: written whole by GDAL, then read back in blocks (memory holds a
    block, not the file) from a temporary folder that is removed once they are sent."""
    import tempfile
    from pathlib import Path

    from geo.vector_io import FORMATS, stream_vector, write_vector

    frame = store.frame("townships")
    args = dict(name="townships", geometry_type="Point", fmt=FORMATS["csv"])
    whole = write_vector(frame, **args)
    before = set(Path(tempfile.gettempdir()).glob("gongfu-download-*"))
    info, blocks = stream_vector(frame, block_bytes=1000, **args)
    made = set(Path(tempfile.gettempdir()).glob("gongfu-download-*")) - before
    assert info.filename == whole.filename and info.media_type == whole.media_type
    assert len(made) == 1  # the finished file waits on disk, not in memory
    parts = list(blocks)
    assert len(parts) > 2 and max(map(len, parts)) <= 1000
    assert b"".join(parts) == whole.content and "长兴县".encode() in whole.content
    assert not any(path.exists() for path in made)  # removed once sent


def test_a_gpkg_download_is_chunked_and_opens(client: TestClient, tmp_path) -> None:
    import pyogrio

    start, first, _, more = _first_body(client.app, "/collections/counties/download",
                                        "format=gpkg")
    assert start["status"] == 200 and b"content-length" not in dict(start["headers"])
    answer = client.get("/collections/counties/download?format=gpkg")
    path = tmp_path / "counties.gpkg"
    path.write_bytes(answer.content)
    assert first.startswith(b"SQLite format 3\x00") and more  # the file's first block
    assert len(pyogrio.read_dataframe(path)) == 5


def test_head_on_a_streamed_answer_stops_the_stream(client: TestClient, one_feature_slices,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """HEAD gets the GET's status and headers, and the streamed body is not produced to the
    end (api/head.py stops it once the headers are out); nothing is logged as an error."""
    count = client.get("/collections/townships/items", params={"limit": 1000}
                       ).json()["numberReturned"]
    before = geojson_stream.slices_encoded
    head = client.head("/collections/townships/items", params={"limit": 1000})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("application/geo+json")
    # the GET made ~one slice per feature; the HEAD stopped after the first few
    assert geojson_stream.slices_encoded - before < count // 2
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_a_small_page_is_sent_whole_with_its_length(client: TestClient) -> None:
    """An answer that ends within a few chunks (api/streaming.WHOLE_CHUNKS / WHOLE_BYTES) is
    sent as one body with Content-Length, not chunk by chunk through the thread pool; the
    same page is the same JSON either way."""
    small = client.get("/collections/counties/items", params={"limit": 2},
                       headers={"Accept-Encoding": "identity"})
    assert small.status_code == 200
    assert int(small.headers["content-length"]) == len(small.content)
    assert small.json()["numberReturned"] == 2
    big = client.get("/collections/villages/items", params={"limit": 1000},
                     headers={"Accept-Encoding": "identity"})
    assert "content-length" not in big.headers  # 1,000 registry rows: streamed
    assert big.json()["numberReturned"] == 1000
