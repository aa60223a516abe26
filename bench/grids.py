"""Vector tiles in other grids than Web Mercator: Gongfu Atlas in WebMercatorQuad, WorldCRS84Quad
and CGCS2000Quad (天地图's 'c' grid) vs TiPg (PyPI, on a real PostGIS) in WorldCRS84Quad and WebMercatorQuad.

TiPg serves the grids morecantile ships, WorldCRS84Quad among them, but no CGCS2000 grid; its
WorldCRS84Quad tiles are the geographic peer. CGCS2000Quad level z is WorldCRS84Quad level z−1.

One run, the same fixed tiles per grid: levels 5–14 over Zhejiang and over Huzhou (up to
--per-zoom per level and region, evenly spread), layer `counties` with all attributes, extent
4096, buffer 64, through the OGC API Tiles routes (/collections/counties/tiles/{tms}/z/row/col).
Servers, one uvicorn worker each: ours warm (tile cache on, every tile requested once before
measuring, so the fast path answers), ours cold (GONGFU_TILE_CACHE_MB=0: every request cuts and
encodes; each grid's simplified pyramid is built once before measuring, its build time
reported), TiPg 1.6.1 over PostGIS 3 (TIPG_TILE_BUFFER=64). Load: `wrk` on loopback, 1 thread,
--connections, in interleaved rounds (bench/tiles.py's harness); medians over rounds.

Run (root, Debian): apt-get install postgresql-15-postgis-3 gdal-bin wrk
     .venv/bin/pip install -c constraints.txt -e '.[bench]'
     .venv/bin/gongfu build --region 33 --store /tmp/zj.gpkg
     .venv/bin/python bench/grids.py --store /tmp/zj.gpkg [--write]  # appends to RESULTS.md
Not part of `make test`. Every server and the cluster are stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import tiles as harness  # noqa: E402  bench/tiles.py: servers, PostGIS, wrk

from geo.grids import GRIDS  # noqa: E402
from layers.store import GeoPackageStore  # noqa: E402

LEVELS = range(5, 15)
LAYER = harness.LAYER
SECTION = "## Tile grids: WebMercatorQuad, WorldCRS84Quad, CGCS2000Quad (`bench/grids.py`)"


def tile_list(store: Path, grid_id: str, per_zoom: int) -> list[tuple[int, int, int]]:
    """(level, column, row) per level over Zhejiang and Huzhou, evenly spread."""
    grid = GRIDS[grid_id]
    zhejiang = tuple(GeoPackageStore(store).frame(LAYER).total_bounds)
    chosen: list[tuple[int, int, int]] = []
    for bounds in (zhejiang, harness.HUZHOU):
        for z in LEVELS:
            found = sorted((t.z, t.x, t.y) for t in grid.tiles_covering(bounds, z))
            step = max(1, len(found) / per_zoom)
            picked = [found[int(i * step)] for i in range(min(per_zoom, len(found)))]
            chosen += [t for t in picked if t not in chosen]
    return chosen


def ours(grid_id: str, tiles: list) -> list[str]:
    return [f"/collections/{LAYER}/tiles/{grid_id}/{z}/{row}/{col}" for z, col, row in tiles]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=Path("/tmp/zj.gpkg"))
    parser.add_argument("--per-zoom", type=int, default=20)
    parser.add_argument("--duration", type=int, default=4, help="seconds of load per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    for tool in ("wrk", "ogr2ogr", "psql"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}: apt-get install wrk gdal-bin postgresql-15-postgis-3")

    lists = {g: tile_list(args.store, g, args.per_zoom) for g in GRIDS}
    load = [os.getloadavg()[0]]
    servers: dict[str, tuple[int, list[str]]] = {}
    build_s: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        env = {"GONGFU_STORE_PATH": str(args.store)}
        warm = stack.enter_context(harness.uvicorn("api.app:serving_app", env, "/conformance",
                                                   factory=True))
        cold = stack.enter_context(harness.uvicorn(
            "api.app:serving_app", {**env, "GONGFU_TILE_CACHE_MB": "0"}, "/conformance",
            factory=True))
        conn = http.client.HTTPConnection("127.0.0.1", cold, timeout=600)
        for grid_id, tiles in lists.items():
            started = time.perf_counter()  # the grid's pyramid is built on its first tile
            status, _ = harness.get(cold, ours(grid_id, tiles)[0], conn)
            build_s[grid_id] = time.perf_counter() - started
            assert status in (200, 204), (grid_id, status)
            conn_warm = http.client.HTTPConnection("127.0.0.1", warm, timeout=600)
            for path in ours(grid_id, tiles):  # seed the warm server's cache
                status, _ = harness.get(warm, path, conn_warm)
                assert status in (200, 204), (path, status)
            servers[f"ours {grid_id} warm"] = (warm, ours(grid_id, tiles))
            servers[f"ours {grid_id} cold"] = (cold, ours(grid_id, tiles))

        dsn = stack.enter_context(harness.postgis(args.store, [LAYER]))
        tipg_env = {"DATABASE_URL": dsn, "TIPG_TILE_BUFFER": str(harness.BUFFER),
                    "TIPG_DB_SCHEMAS": '["public"]', "TIPG_DEBUG": "FALSE"}
        tipg = stack.enter_context(harness.uvicorn("tipg.main:app", tipg_env, "/collections"))
        conn = http.client.HTTPConnection("127.0.0.1", tipg, timeout=600)
        for grid_id in ("WebMercatorQuad", "WorldCRS84Quad"):  # Web Mercator: the control
            tipg_paths = [f"/collections/public.{LAYER}/tiles/{grid_id}/{z}/{col}/{row}"
                          for z, col, row in lists[grid_id]]
            for path in tipg_paths:  # warm PostGIS, check statuses
                status, body = harness.get(tipg, path, conn)
                assert status in (200, 204), (path, status, body[:200])
            servers[f"TiPg {grid_id}"] = (tipg, tipg_paths)

        runs: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (port, paths) in servers.items():
                runs[name].append(harness.wrk(port, paths, args.duration, args.connections,
                                              work))
        results = {name: harness.combine(found) for name, found in runs.items()}
    load.append(os.getloadavg()[0])
    report = render(results, build_s, lists, args, load)
    print(report)
    if args.write:
        path = BENCH / "RESULTS.md"
        text = path.read_text()
        if SECTION in text:  # replace our own section only
            text = re.sub(re.escape(SECTION) + r".*?(?=\n## |\Z)", "", text, flags=re.S)
        path.write_text(text.rstrip() + "\n\n" + report)


def render(results: dict, build_s: dict, lists: dict, args, load: list[float]) -> str:
    rows = "\n".join(
        f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
        f"{r['error_ratio']:.1%} |" for name, r in results.items())
    def peer(grid: str) -> tuple[str, dict]:  # TiPg in the same grid, or WorldCRS84Quad
        name = f"TiPg {grid}" if f"TiPg {grid}" in results else "TiPg WorldCRS84Quad"
        return name, results[name]

    ratios = "\n".join(
        f"- {grid} vs {peer(grid)[0]}: warm "
        f"{results[f'ours {grid} warm']['rps'] / peer(grid)[1]['rps']:.1f}×, cold "
        f"{results[f'ours {grid} cold']['rps'] / peer(grid)[1]['rps']:.1f}× throughput (cold "
        f"p50 {results[f'ours {grid} cold']['p50_ms']:.2f} ms vs {peer(grid)[1]['p50_ms']:.2f}"
        f" ms); first tile of the grid (pyramid built, or mapped from the build's saved file) "
        f"{build_s[grid]:.1f} s"
        for grid in GRIDS)
    return f"""{SECTION}

{time.strftime('%Y-%m-%d')}, one run, {os.cpu_count()} cores shared (load {load[0]:.1f} →
{load[1]:.1f}); layer `{LAYER}` of the Zhejiang build, levels {LEVELS.start}–{LEVELS.stop - 1},
{', '.join(f'{len(t)} {g} tiles' for g, t in lists.items())}; wrk 1 thread, {args.connections}
connections, {args.rounds} interleaved rounds × {args.duration} s, medians.

| server | requests/s | p50 ms | p99 ms | errors |
|---|---:|---:|---:|---:|
{rows}

{ratios}

TiPg has no CGCS2000 grid (it serves morecantile's registered grids); a CGCS2000Quad tile is
cut exactly like a WorldCRS84Quad one (lon/lat, one level finer), so TiPg's WorldCRS84Quad is
the peer for both geographic grids, and TiPg's own WebMercatorQuad in the same run is the
control. TiPg does not simplify; we simplify per level (half a pixel), per grid. The machine
is shared with other engineers' test runs (see the load): ratios, not absolute figures.
"""


if __name__ == "__main__":
    main()
