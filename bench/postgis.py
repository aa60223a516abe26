"""The PostGIS store: Gongfu Atlas on PostGIS vs on its GeoPackage vs TiPg on the same database.

Same fixed tile list as bench/tiles.py (its `tile_list`: zooms 5–14 over Zhejiang and Huzhou),
layer `counties` of a Zhejiang build, all attributes, extent 4096, buffer 64. One private
PostgreSQL 15 + PostGIS 3 cluster (tests/postgis_server.py) holds the database, filled by
`gongfu build --region 33 --database URL` (timed, against the same build into a GeoPackage).
Servers, one uvicorn worker each:

- gpkg_warm / gpkg_cold   our app over the GeoPackage (tile cache on / GONGFU_TILE_CACHE_MB=0)
- pg_warm / pg_cold       our app over PostGIS (GONGFU_DATABASE_URL), the same two ways
- tipg                    TiPg 1.6.1 over the same PostGIS table (gongfu_features.counties)

Load: `wrk` through bench/tiles.py's `wrk` (one thread, --connections, the list cycled),
interleaved rounds, medians reported. Also, sequential and in-process: a cold tile rendered by
our Python path (in-memory simplified pyramid) vs PostGISStore.mvt (ST_AsMVT/ST_AsMVTGeom in
the database); first read of the layer into memory; /collections/counties/items latency; and
how long a change written by another process takes to show on a server (new tile ETag).

Run: .venv/bin/pip install -c constraints.txt -e '.[bench]'; apt-get install wrk
     .venv/bin/python bench/postgis.py [--write]   # --write replaces its section of RESULTS.md
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "bench"), str(PROJECT / "tests")]

import postgis_server  # noqa: E402  tests/postgis_server.py
import tiles as tiles_bench  # noqa: E402  bench/tiles.py
from layers.postgis_store import PostGISStore  # noqa: E402
from layers.store import GeoPackageStore  # noqa: E402
from layers.tilesets import VectorTiles  # noqa: E402

LAYER, BUFFER = "counties", 64
BEGIN, END = "<!-- postgis.py begin -->", "<!-- postgis.py end -->"


def timed_build(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([str(PROJECT / ".venv" / "bin" / "gongfu"), "build", "--region", "33", *args],
                   check=True, capture_output=True, env={**os.environ, **env})
    return time.perf_counter() - start


def sequential(port: int, paths: list[str], rounds: int = 3) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    times = []
    for _ in range(rounds):
        for path in paths:
            start = time.perf_counter()
            status, _ = tiles_bench.get(port, path, conn)
            times.append((time.perf_counter() - start) * 1000)
            assert status == 200, (path, status)
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(0.99 * (len(times) - 1))]}


def per_tile(render, tiles: list) -> dict:
    times, sizes = [], []
    for z, x, y in tiles:
        start = time.perf_counter()
        data = render(z, x, y)
        times.append((time.perf_counter() - start) * 1000)
        sizes.append(len(data))
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(0.99 * (len(times) - 1))],
            "mean_bytes": statistics.mean(sizes)}


def propagation(port: int, url: str, path: str, tries: int = 5) -> float:
    """Median ms from a put() by another process until the server's tile ETag changes."""
    store = PostGISStore(url, pool_size=1)
    layer, frame = store.layer(LAYER), store.frame(LAYER)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    delays = []
    for _ in range(tries):
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        before = response.getheader("etag")
        store.put(layer, frame)
        start = time.perf_counter()
        while True:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.getheader("etag") != before:
                break
        delays.append((time.perf_counter() - start) * 1000)
    store.close()
    return statistics.median(delays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-zoom", type=int, default=30)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="replace the section in RESULTS.md")
    args = parser.parse_args()
    out: dict = {"load": [os.getloadavg()[0]]}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        gpkg = work / "zj.gpkg"
        cluster = stack.enter_context(postgis_server.cluster())
        url = cluster.database("zj")
        files = {"GONGFU_STORE_PATH": str(work / "files" / "atlas.gpkg")}  # rasters only
        out["build_gpkg_s"] = timed_build(["--store", str(gpkg)], {})
        out["build_pg_s"] = timed_build(["--database", url], files)

        tiles = tiles_bench.tile_list(gpkg, args.per_zoom)
        ours = [f"/tiles/{LAYER}/{z}/{x}/{y}.mvt" for z, x, y in tiles]
        tipg = [f"/collections/gongfu_features.{LAYER}/tiles/WebMercatorQuad/{z}/{x}/{y}"
                for z, x, y in tiles]

        # first read of the layer into memory (what a fresh process pays once per version)
        start = time.perf_counter()
        count = len(GeoPackageStore(gpkg).frame(LAYER))
        out["frame_gpkg_ms"] = (time.perf_counter() - start) * 1000
        pg = PostGISStore(url)
        start = time.perf_counter()
        assert len(pg.frame(LAYER)) == count
        out["frame_pg_ms"] = (time.perf_counter() - start) * 1000
        out["features"] = count

        # a cold tile: our Python path (pyramid built first) vs ST_AsMVT in the database
        python_tiles = VectorTiles(pg, cache_bytes=0)
        python_tiles.tileset(LAYER).level(0)
        out["python"] = per_tile(lambda z, x, y: python_tiles.tile([LAYER], z, x, y).data, tiles)
        out["st_asmvt"] = per_tile(lambda z, x, y: pg.mvt(LAYER, z, x, y, BUFFER), tiles)
        pg.close()

        gpkg_env = {"GONGFU_STORE_PATH": str(gpkg)}
        pg_env = {**files, "GONGFU_DATABASE_URL": url}
        ports = {}
        for name, env in (("gpkg_warm", gpkg_env), ("pg_warm", pg_env),
                          ("gpkg_cold", {**gpkg_env, "GONGFU_TILE_CACHE_MB": "0"}),
                          ("pg_cold", {**pg_env, "GONGFU_TILE_CACHE_MB": "0"})):
            ports[name] = stack.enter_context(tiles_bench.uvicorn(
                "api.app:serving_app", env, "/conformance", factory=True))
            conn = http.client.HTTPConnection("127.0.0.1", ports[name], timeout=600)
            for path in ours:  # warm caches / build the pyramid
                assert tiles_bench.get(ports[name], path, conn)[0] in (200, 204)
        tipg_env = {"DATABASE_URL": url, "TIPG_TILE_BUFFER": str(BUFFER),
                    "TIPG_DB_SCHEMAS": '["gongfu_features"]', "TIPG_DEBUG": "FALSE"}
        ports["tipg"] = stack.enter_context(tiles_bench.uvicorn("tipg.main:app", tipg_env,
                                                                "/collections"))
        conn = http.client.HTTPConnection("127.0.0.1", ports["tipg"], timeout=600)
        for path in tipg:
            status, body = tiles_bench.get(ports["tipg"], path, conn)
            assert status in (200, 204), (path, status, body[:300])

        items = [f"/collections/{LAYER}/items?limit=100&offset={o}" for o in (0, 50)]
        out["items"] = {name: sequential(ports[name], items, rounds=50)
                        for name in ("gpkg_warm", "pg_warm")}
        runs: dict[str, list] = {name: [] for name in ports}
        for _ in range(args.rounds):
            for name, port in ports.items():
                paths = tipg if name == "tipg" else ours
                runs[name].append(tiles_bench.wrk(port, paths, args.duration, args.connections,
                                                  work))
        out["wrk"] = {name: tiles_bench.combine(found) for name, found in runs.items()}
        out["propagation_ms"] = propagation(ports["pg_warm"], url, ours[len(ours) // 2])
    out["load"].append(os.getloadavg()[0])
    out["tiles"] = len(tiles)
    report = render(out, args)
    print(report)
    if args.write:
        results = PROJECT / "bench" / "RESULTS.md"
        text = results.read_text()
        if BEGIN in text:
            text = text[:text.index(BEGIN)] + text[text.index(END) + len(END) + 1:]
        results.write_text(text.rstrip("\n") + "\n\n" + report)


def render(out: dict, args: argparse.Namespace) -> str:
    w = out["wrk"]
    rows = "\n".join(
        f"| {label} | {w[k]['rps']:,.0f} | {w[k]['p50_ms']:.2f} | {w[k]['p99_ms']:.2f} | "
        f"{w[k]['errors']} |"
        for label, k in (("Gongfu on GeoPackage, warm", "gpkg_warm"),
                         ("Gongfu on PostGIS, warm", "pg_warm"),
                         ("Gongfu on GeoPackage, cold (cache off)", "gpkg_cold"),
                         ("Gongfu on PostGIS, cold (cache off)", "pg_cold"),
                         ("TiPg 1.6.1 on the same PostGIS table", "tipg")))
    items = out["items"]
    return f"""{BEGIN}
## PostGIS store (`bench/postgis.py`)

Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load average
{out['load'][0]:.2f} → {out['load'][1]:.2f}; PostgreSQL 15 + PostGIS 3.3 in a private cluster
on loopback (fsync off); layer `{LAYER}` of Zhejiang ({out['features']} polygons); the same
{out['tiles']} tiles as `tiles.py` (--per-zoom {args.per_zoom}); wrk 1 thread,
{args.connections} connections, {args.rounds} interleaved rounds × {args.duration} s, medians.

| server | requests/s | p50 ms | p99 ms | errors |
|---|---:|---:|---:|---:|
{rows}

- build Zhejiang (`gongfu build --region 33`): GeoPackage {out['build_gpkg_s']:.1f} s,
  PostGIS {out['build_pg_s']:.1f} s
- first read of `{LAYER}` into a process's memory: GeoPackage {out['frame_gpkg_ms']:.0f} ms,
  PostGIS {out['frame_pg_ms']:.0f} ms (once per layer version per process)
- one cold tile, in-process, sequential: our Python path (simplified pyramid in memory)
  p50 {out['python']['p50_ms']:.2f} ms / p99 {out['python']['p99_ms']:.2f} ms, mean
  {out['python']['mean_bytes']:,.0f} bytes; `ST_AsMVT`/`ST_AsMVTGeom` in PostGIS
  (`PostGISStore.mvt`) p50 {out['st_asmvt']['p50_ms']:.2f} ms / p99
  {out['st_asmvt']['p99_ms']:.2f} ms, mean {out['st_asmvt']['mean_bytes']:,.0f} bytes
  (unsimplified) — so the server keeps the Python path for tiles
- `/collections/{LAYER}/items?limit=100`, sequential: GeoPackage p50
  {items['gpkg_warm']['p50_ms']:.2f} ms, PostGIS p50 {items['pg_warm']['p50_ms']:.2f} ms
  (GeoPackage: the in-memory layer encoded by Python; PostGIS: selected, paged and encoded
  in the database by `ST_AsGeoJSON`)
- a layer written by another process reaches a running server's tiles (new ETag) in
  {out['propagation_ms']:.0f} ms (median of 5; bounded by the 50 ms version re-read, plus
  reading the layer and rebuilding its pyramid)
{END}
"""


if __name__ == "__main__":
    main()
