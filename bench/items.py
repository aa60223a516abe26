"""Streamed items and downloads: Gongfu Atlas vs TiPg 1.6.1 on PostGIS 3, one run.

The same county polygons everywhere: Zhejiang (90, `gongfu build --region 33`) and China
(~2,870, `--region all`), each put into a private PostgreSQL 15 + PostGIS 3 cluster (tests/
postgis_server.py) by our PostGIS store, whose `gongfu_features.counties` table TiPg serves
as is. Servers, one uvicorn worker each, started fresh:

- ours on the GeoPackage (`api.app:create_app`, the app `gongfu serve` runs minus the tile
  pyramid prebuild, which would compete for the CPU while measuring), and the same with the
  encoded-geometry cache off (`GONGFU_GEOJSON_CACHE_MB=0`: every request encodes)
- ours on PostGIS (`GONGFU_DATABASE_URL`: pages read through a server-side cursor, encoded
  by ST_AsGeoJSON)
- TiPg 1.6.1 (`tipg.main:app`) on the same tables

Requests by `curl` (time to first byte = time_starttransfer, total = time_total; bytes as
received, gzip left compressed): every county as GeoJSON (`items?limit=10000` for all
servers, plus our `download?format=geojson`), raw and with `Accept-Encoding: gzip`, in
--rounds interleaved rounds (medians); `items?limit=100` on Zhejiang, --small sequential
requests (median). Each server is warmed by one request per URL first (layers loaded,
PostgreSQL's buffers filled). Resident memory (VmRSS from /proc) of a fresh GeoPackage China
server: after the layer is loaded (items?limit=1) and the peak while it serves the whole
China answer (sampled every 10 ms).

Previous figures: the issue's table (issue 18, measured with curl the same way before
streaming) and bench/RESULTS.md's `items?limit=100` (postgis.py section).

Run: .venv/bin/pip install -c constraints.txt -e '.[bench]'
     .venv/bin/gongfu build --region 33 --store /tmp/zj.gpkg
     .venv/bin/gongfu build --region all --store /tmp/cn.gpkg
     .venv/bin/python bench/items.py [--write]   # --write replaces its section of RESULTS.md
Not part of `make test`; every server and the cluster are stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "bench"), str(PROJECT / "tests")]

import postgis_server  # noqa: E402  tests/postgis_server.py
import tiles as tiles_bench  # noqa: E402  bench/tiles.py (free_port, wait_for)

from layers.postgis_store import PostGISStore  # noqa: E402
from layers.store import GeoPackageStore  # noqa: E402

LAYER = "counties"
BEGIN, END = "<!-- items.py begin -->", "<!-- items.py end -->"
# Before streaming: issue 18's table (curl, one run) and RESULTS.md (postgis.py, p50).
PREVIOUS = {"zj_raw": (0.65, 0.19), "zj_gzip": (1.20, 0.43), "cn_raw": (17.7, 5.4),
            "cn_raw_first": (17.6, 5.3), "small_ms": 290.19}


@contextmanager
def server(app: str, env: dict, probe: str, factory: bool):
    """One uvicorn worker on a free loopback port: (port, pid); stopped by its pid."""
    port = tiles_bench.free_port()
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"] + (["--factory"] if factory else [])
    process = subprocess.Popen(args, env={**os.environ, **env}, cwd=PROJECT)
    try:
        tiles_bench.wait_for(port, probe)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def curl(port: int, path: str, gzip: bool) -> dict:
    """One GET: seconds to the first byte and in all, bytes received, status."""
    header = "gzip" if gzip else "identity"
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-H", f"Accept-Encoding: {header}", "-w",
         "%{http_code} %{time_starttransfer} %{time_total} %{size_download}",
         f"http://127.0.0.1:{port}{path}"], check=True, capture_output=True, text=True)
    status, first, total, size = out.stdout.split()
    assert status == "200", (port, path, status)
    return {"first": float(first), "total": float(total), "bytes": int(size)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def peak_rss_while(pid: int, action) -> tuple[float, object]:
    """The highest VmRSS (MB) of `pid` sampled every 10 ms while `action()` runs."""
    peak, done = [rss_mb(pid)], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(rss_mb(pid))
            time.sleep(0.01)

    watcher = threading.Thread(target=sample)
    watcher.start()
    try:
        result = action()
    finally:
        done.set()
        watcher.join()
    return max(peak), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zhejiang", type=Path, default=Path("/tmp/zj.gpkg"))
    parser.add_argument("--china", type=Path, default=Path("/tmp/cn.gpkg"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=30, help="items?limit=100 requests")
    parser.add_argument("--write", action="store_true", help="replace the section in RESULTS.md")
    args = parser.parse_args()
    out: dict = {"load": [os.getloadavg()[0]]}
    regions = {"zj": args.zhejiang, "cn": args.china}
    counts = {key: len(GeoPackageStore(path).frame(LAYER)) for key, path in regions.items()}
    with ExitStack() as stack:
        cluster = stack.enter_context(postgis_server.cluster())
        urls = {}
        for key, path in regions.items():
            urls[key] = cluster.database(f"items_{key}")
            source, target = GeoPackageStore(path), PostGISStore(urls[key], pool_size=1)
            target.put(source.layer(LAYER), source.frame(LAYER))
            target.close()

        # memory first, on a fresh server that has served nothing but the layer load
        port, pid = stack.enter_context(server(
            "api.app:create_app", {"GONGFU_STORE_PATH": str(args.china)}, "/conformance", True))
        curl(port, f"/collections/{LAYER}/items?limit=1", gzip=False)
        time.sleep(1)
        out["rss_before"] = rss_mb(pid)
        out["rss_peak"], first = peak_rss_while(
            pid, lambda: curl(port, f"/collections/{LAYER}/items?limit=10000", gzip=False))
        out["rss_after"] = rss_mb(pid)
        out["rss_bytes"] = first["bytes"]

        servers: dict[str, dict] = {}
        for key, path in regions.items():
            gpkg = {"GONGFU_STORE_PATH": str(path)}
            pg = {**gpkg, "GONGFU_DATABASE_URL": urls[key]}
            tipg = {"DATABASE_URL": urls[key], "TIPG_DB_SCHEMAS": '["gongfu_features"]',
                    "TIPG_DEBUG": "FALSE", "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
            servers[f"ours_gpkg_{key}"] = {"port": stack.enter_context(server(
                "api.app:create_app", gpkg, "/conformance", True))[0],
                "paths": {"items": f"/collections/{LAYER}/items?limit=10000",
                          "download": f"/collections/{LAYER}/download?format=geojson"}}
            servers[f"ours_cold_{key}"] = {"port": stack.enter_context(server(
                "api.app:create_app", {**gpkg, "GONGFU_GEOJSON_CACHE_MB": "0"}, "/conformance",
                True))[0], "paths": {"items": f"/collections/{LAYER}/items?limit=10000"}}
            servers[f"ours_pg_{key}"] = {"port": stack.enter_context(server(
                "api.app:create_app", pg, "/conformance", True))[0],
                "paths": {"items": f"/collections/{LAYER}/items?limit=10000"}}
            servers[f"tipg_{key}"] = {"port": stack.enter_context(server(
                "tipg.main:app", tipg, "/collections", False))[0],
                "paths": {"items": f"/collections/gongfu_features.{LAYER}/items?limit=10000"}}
        for name, entry in servers.items():  # warm: layers loaded, buffers filled; check sizes
            for path in entry["paths"].values():
                curl(entry["port"], path, gzip=False)
        runs: dict[tuple, list] = {}
        for _ in range(args.rounds):  # interleaved: each server gets a slice of every stretch
            for name, entry in servers.items():
                for kind, path in entry["paths"].items():
                    for gz in (False, True):
                        runs.setdefault((name, kind, gz), []).append(
                            curl(entry["port"], path, gzip=gz))
        out["runs"] = {key: {m: statistics.median(r[m] for r in found)
                             for m in ("first", "total", "bytes")}
                       for key, found in runs.items()}

        small = {"ours_gpkg_zj": f"/collections/{LAYER}/items?limit=100",
                 "ours_cold_zj": f"/collections/{LAYER}/items?limit=100",
                 "ours_pg_zj": f"/collections/{LAYER}/items?limit=100",
                 "tipg_zj": f"/collections/gongfu_features.{LAYER}/items?limit=100"}
        out["small"] = {}
        for name, path in small.items():
            times = [curl(servers[name]["port"], path, gzip=False)["total"]
                     for _ in range(args.small)]
            out["small"][name] = statistics.median(times) * 1000
    out["load"].append(os.getloadavg()[0])
    out["counts"] = counts
    report = render(out, args)
    print(report)
    if args.write:
        results = PROJECT / "bench" / "RESULTS.md"
        text = results.read_text()
        if BEGIN in text:
            text = text[:text.index(BEGIN)] + text[text.index(END) + len(END) + 1:]
        results.write_text(text.rstrip("\n") + "\n\n" + report)


def render(out: dict, args: argparse.Namespace) -> str:
    r = out["runs"]

    def cell(name: str, kind: str, gz: bool) -> str:
        got = r[(name, kind, gz)]
        return f"{got['total']:.3f} ({got['first']:.3f})"

    rows = []
    for key, title in (("zj", f"Zhejiang, {out['counts']['zj']} counties"),
                       ("cn", f"China, {out['counts']['cn']:,} counties")):
        for gz in (False, True):
            tipg = r[(f"tipg_{key}", "items", gz)]
            ours = r[(f"ours_gpkg_{key}", "items", gz)]
            pg = r[(f"ours_pg_{key}", "items", gz)]
            cold = r[(f"ours_cold_{key}", "items", gz)]
            rows.append(
                f"| {title}, {'gzip' if gz else 'raw'} | {cell(f'ours_gpkg_{key}', 'items', gz)} "
                f"| {cell(f'ours_cold_{key}', 'items', gz)} "
                f"| {cell(f'ours_gpkg_{key}', 'download', gz)} | {cell(f'ours_pg_{key}', 'items', gz)} "
                f"| {cell(f'tipg_{key}', 'items', gz)} | **{tipg['total'] / ours['total']:.1f}×** "
                f"/ {tipg['total'] / cold['total']:.1f}× / {tipg['total'] / pg['total']:.1f}× "
                f"| {ours['bytes'] / 1e6:.1f} / {tipg['bytes'] / 1e6:.1f} |")
    prev = PREVIOUS
    zr, zg = r[("ours_gpkg_zj", "items", False)], r[("ours_gpkg_zj", "items", True)]
    cr = r[("ours_gpkg_cn", "items", False)]
    cg = r[("ours_gpkg_cn", "items", True)]
    tz, tzg = r[("tipg_zj", "items", False)], r[("tipg_zj", "items", True)]
    tc, tcg = r[("tipg_cn", "items", False)], r[("tipg_cn", "items", True)]
    ok = lambda b: "met" if b else "NOT met"  # noqa: E731
    growth = out["rss_peak"] - out["rss_before"]
    s = out["small"]
    return f"""{BEGIN}
## Streamed items and downloads (`bench/items.py`)

Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.machine()} {os.cpu_count()} cores,
Python {platform.python_version()}, load average {out['load'][0]:.2f} → {out['load'][1]:.2f} (shared
machine: read the ratios, taken within this run). One uvicorn worker per server; PostgreSQL 15 +
PostGIS 3.3 in a private cluster; TiPg 1.6.1 serves our PostGIS store's `gongfu_features.counties`.
`curl`, {args.rounds} interleaved rounds, medians; seconds in all (to the first byte).

| every county as GeoJSON | ours, GeoPackage items | ours, GeoPackage items, cache off | ours, GeoPackage download | ours, PostGIS items | TiPg items | TiPg ÷ ours (GeoPackage / cache off / PostGIS) | MB ours / TiPg |
|---|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Targets (GeoPackage items vs TiPg, same run):
- Zhejiang ≥ 1.5× faster than TiPg: raw {tz['total'] / zr['total']:.1f}× ({ok(tz['total'] >= 1.5 * zr['total'])}), gzip {tzg['total'] / zg['total']:.1f}× ({ok(tzg['total'] >= 1.5 * zg['total'])})
- China ≥ 1.5× faster than TiPg: raw {tc['total'] / cr['total']:.1f}× ({ok(tc['total'] >= 1.5 * cr['total'])}), gzip {tcg['total'] / cg['total']:.1f}× ({ok(tcg['total'] >= 1.5 * cg['total'])}); first byte < 0.5 s: raw {cr['first']:.3f} s, gzip {cg['first']:.3f} s ({ok(max(cr['first'], cg['first']) < 0.5)})
- server memory while serving China's {out['rss_bytes'] / 1e6:.0f} MB answer (fresh GeoPackage server, layer loaded): VmRSS {out['rss_before']:.0f} MB before, peak {out['rss_peak']:.0f} MB, {out['rss_after']:.0f} MB after: growth **{growth:.0f} MB** (target < 100 MB: {ok(growth < 100)})
- `items?limit=100` on Zhejiang (90 counties, {zr['bytes'] / 1e6:.1f} MB), {args.small} sequential requests, median: GeoPackage **{s['ours_gpkg_zj']:.1f} ms** (target < 30 ms: {ok(s['ours_gpkg_zj'] < 30)}), with the geometry cache off {s['ours_cold_zj']:.1f} ms, PostGIS {s['ours_pg_zj']:.1f} ms, TiPg {s['tipg_zj']:.1f} ms

"Cache off" is a server with `GONGFU_GEOJSON_CACHE_MB=0`: every request encodes every geometry
(the default keeps encoded geometries per layer version and CRS, 64 MB in all and 16 MB per
layer, so Zhejiang's 3 MB is kept after the warm-up request and China's 104 MB is mostly
encoded each time). TiPg has no such cache; PostgreSQL's buffers were warm.

Against our previous figures (before streaming; issue 18's one-run table, TiPg in brackets,
and RESULTS.md's postgis.py section for `limit=100`): Zhejiang raw {prev['zj_raw'][0]} s ({prev['zj_raw'][1]}) →
{zr['total']:.3f} s ({tz['total']:.3f}); gzip {prev['zj_gzip'][0]} s ({prev['zj_gzip'][1]}) → {zg['total']:.3f} s ({tzg['total']:.3f});
China raw {prev['cn_raw'][0]} s, first byte {prev['cn_raw_first'][0]} s ({prev['cn_raw'][1]} s, {prev['cn_raw_first'][1]} s) → {cr['total']:.3f} s, first byte
{cr['first']:.3f} s ({tc['total']:.3f} s, {tc['first']:.3f} s); `items?limit=100` {prev['small_ms']} ms → {s['ours_gpkg_zj']:.1f} ms.
Gzip is ours at zlib level 1 (GeoJSON still shrinks ~2.7×), compressed as the answer streams.
{END}
"""


if __name__ == "__main__":
    main()
