"""CQL2 filters and sortby (OGC API Features Part 3): Gongfu Atlas on its GeoPackage (filter
evaluated in memory, layers/filtering.py) and on PostGIS (filter as SQL with bound parameters,
layers/postgis_filter.py) vs TiPg 1.6.1 (pygeofilter → SQL) on the same PostGIS tables.

Data: the China build (`gongfu build --region all`: 2,875 county polygons, 3,048 county seats)
into a GeoPackage,
copied into a private PostgreSQL 15 + PostGIS 3 cluster (tests/postgis_server.py) with
PostGISStore.put. One uvicorn worker per server. Each query is asked sequentially `--rounds`
times per server, servers interleaved, after one warming pass that also checks every server
reports the same numberMatched; median and p90 latency reported. limit=10 on the polygons, so
the time is the selection and count, not the encoding of big pages; one page of up to 1,000
points. (TiPg serves no table without geometry, so the villages registry is left out.)

Run: .venv/bin/pip install -c constraints.txt -e '.[bench]'
     .venv/bin/python bench/filtering.py [--store china.gpkg] [--write]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "bench"), str(PROJECT / "tests")]

import postgis_server  # noqa: E402  tests/postgis_server.py
import tiles as tiles_bench  # noqa: E402  bench/tiles.py
from layers.postgis_store import PostGISStore  # noqa: E402
from layers.store import GeoPackageStore  # noqa: E402

BEGIN, END = "<!-- filtering.py begin -->", "<!-- filtering.py end -->"
HUZHOU = "POLYGON((119.2 30.3, 120.5 30.3, 120.5 31.2, 119.2 31.2, 119.2 30.3))"
# name, layer, our parameters; TiPg gets the same with its geometry column name (geom)
QUERIES = [
    ("equality", "counties", {"filter": "province = '浙江省'", "limit": 10}),
    ("like_and_in", "counties", {"filter": "name LIKE '%县' AND province IN "
                                           "('浙江省', '江苏省', '安徽省')", "limit": 10}),
    ("between", "counties", {"filter": "area_km2 BETWEEN 500 AND 1000", "limit": 10}),
    ("s_intersects", "counties", {"filter": f"S_INTERSECTS(geometry, {HUZHOU})", "limit": 10}),
    ("sortby", "counties", {"sortby": "-area_km2,+code", "limit": 10}),
    ("points_page", "county_seats", {"filter": "code LIKE '33%' OR S_INTERSECTS(geometry, "
                                               f"{HUZHOU})", "limit": 1000}),
]


def _path(server: str, layer: str, params: dict) -> str:
    if server == "tipg":
        params = {k: (v.replace("geometry", "geom") if k == "filter" else v)
                  for k, v in params.items()}
        params["filter-lang"] = "cql2-text"
        return f"/collections/gongfu_features.{layer}/items?{urlencode(params)}"
    return f"/collections/{layer}/items?{urlencode(params)}"


def _ask(port: int, path: str, conn: http.client.HTTPConnection) -> tuple[float, dict]:
    start = time.perf_counter()
    status, body = tiles_bench.get(port, path, conn)
    elapsed = (time.perf_counter() - start) * 1000
    assert status == 200, (path, status, body[:300])
    return elapsed, json.loads(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="an existing China build (else built)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="replace the section in RESULTS.md")
    args = parser.parse_args()
    out: dict = {"load": os.getloadavg()[0], "queries": {}}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        gpkg = args.store or Path(tmp) / "china.gpkg"
        if not args.store:
            subprocess.run([str(PROJECT / ".venv" / "bin" / "gongfu"), "build", "--region",
                            "all", "--store", str(gpkg)], check=True, capture_output=True)
        cluster = stack.enter_context(postgis_server.cluster())
        url = cluster.database("filtering")
        source, target = GeoPackageStore(gpkg), PostGISStore(url, pool_size=1)
        for layer in ("counties", "county_seats"):
            target.put(source.layer(layer), source.frame(layer))
        target.close()
        out["counties"] = len(source.frame("counties"))

        ports = {
            "gpkg": stack.enter_context(tiles_bench.uvicorn(
                "api.app:serving_app", {"GONGFU_STORE_PATH": str(gpkg)}, "/conformance",
                factory=True)),
            "pg": stack.enter_context(tiles_bench.uvicorn(
                "api.app:serving_app", {"GONGFU_STORE_PATH": str(gpkg),
                                        "GONGFU_DATABASE_URL": url}, "/conformance",
                factory=True)),
            "tipg": stack.enter_context(tiles_bench.uvicorn(
                "tipg.main:app", {"DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["gongfu_features"]',
                                  "TIPG_DEBUG": "FALSE"}, "/collections")),
        }
        conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                 for name, port in ports.items()}
        times: dict = {name: {q[0]: [] for q in QUERIES} for name in ports}
        for name, layer, params in QUERIES:  # warm, and check every server selects alike
            matched = {}
            for server, port in ports.items():
                _, body = _ask(port, _path(server, layer, params), conns[server])
                matched[server] = body.get("numberMatched")
            out["queries"][name] = {"matched": matched["gpkg"]}
            assert matched["gpkg"] == matched["pg"] == matched["tipg"], (name, matched)
        for _ in range(args.rounds):
            for name, layer, params in QUERIES:
                for server, port in ports.items():
                    elapsed, _ = _ask(port, _path(server, layer, params), conns[server])
                    times[server][name].append(elapsed)
        for name, *_ in QUERIES:
            for server in ports:
                values = sorted(times[server][name])
                out["queries"][name][server] = {
                    "p50_ms": round(statistics.median(values), 1),
                    "p90_ms": round(values[int(0.9 * (len(values) - 1))], 1)}
        out["load_after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1, ensure_ascii=False))
    if args.write:
        write(out, args.rounds)


def write(out: dict, rounds: int) -> None:
    lines = [BEGIN, "## CQL2 filter and sortby (`bench/filtering.py`, issue 16)", "",
             f"China build, {out['counties']:,} county polygons (limit=10) and the county seats "
             f"(points, limit=1000); {rounds} sequential requests per query and server, "
             f"interleaved; one uvicorn worker each; load average {out['load']:.1f} → "
             f"{out['load_after']:.1f} on the shared 2-core machine. Median (p90) ms; "
             "ratio = TiPg ÷ ours on PostGIS (> 1: ours faster).", "",
             "| query | matched | ours, GeoPackage (in memory) | ours, PostGIS (SQL) | "
             "TiPg 1.6.1 (same tables) | TiPg ÷ ours-PostGIS |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, row in out["queries"].items():
        cells = [f"{row[s]['p50_ms']} ({row[s]['p90_ms']})" for s in ("gpkg", "pg", "tipg")]
        ratio = row["tipg"]["p50_ms"] / row["pg"]["p50_ms"]
        lines.append(f"| {name} | {row['matched']} | {' | '.join(cells)} | {ratio:.2f} |")
    lines += ["", END]
    results = PROJECT / "bench" / "RESULTS.md"
    text = results.read_text(encoding="utf-8")
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + "\n".join(lines) + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + "\n".join(lines) + "\n"
    results.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
