"""Vector tiles: Gongfu Atlas vs TiPg (PyPI, on a real PostGIS) vs a bare uvicorn endpoint.

One run, the same fixed tile list for every server: zooms 5–14 over Zhejiang and over Huzhou
(up to --per-zoom tiles per zoom and region, spread evenly over the region's tiles), layer
`counties` with all attributes, extent 4096, buffer 64. Servers, one uvicorn worker each:

- bare   a raw ASGI app returning fixed bytes: for each path of the list as many bytes as our
         tile there (204 where ours is empty), so the same bytes cross the wire: the HTTP ceiling
- ours   `gongfu serve`'s app (api.app:serving_app); warm: tile cache on, every tile requested once before measuring
- ours   cold: GONGFU_TILE_CACHE_MB=0, every request renders (the per-layer simplified pyramid
         is built once per layer version, before measuring, as in a running server)
- tipg   TiPg 1.6.1 over PostGIS 3 (Debian postgresql-15-postgis-3) in a private cluster on a
         loopback port, loaded with ogr2ogr from the same GeoPackage; TIPG_TILE_BUFFER=64

Load: `wrk` (Debian) on loopback, 1 thread, --connections, cycling through the list, in
--rounds interleaved rounds of --duration seconds per server (the machine is shared: each
server gets a slice of every stretch of time); its Lua `done` hook reports requests/s, p50/p99
and error counts; medians over the rounds are reported.
Also: the China county set (~2,900 polygons) at z5, cold, sequential requests (target < 100 ms).

Run (root, Debian): apt-get install postgresql-15-postgis-3 gdal-bin wrk
     .venv/bin/pip install -c constraints.txt -e '.[bench]'
     .venv/bin/gongfu build --region 33 --store /tmp/zj.gpkg
     .venv/bin/gongfu build --region all --store /tmp/cn.gpkg
     .venv/bin/python bench/tiles.py [--write]    # --write replaces bench/RESULTS.md
Not part of `make test`. Every server and the cluster are stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import mapbox_vector_tile

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from geo.tiles import tiles_covering  # noqa: E402
from layers.store import GeoPackageStore  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
HUZHOU = (119.23, 30.37, 120.49, 31.19)  # WGS84 bounds of the Huzhou counties
ZOOMS = range(5, 15)
LAYER = "counties"
BUFFER = 64
LUA = r"""
local paths = {}
for line in io.lines(os.getenv("TILE_LIST")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""
BARE_APP = '''
import json, os
# Per path: fixed bytes of the same length as our tile there (204 when ours is empty), built once.
SIZES = json.load(open(os.environ["BARE_SIZES"]))
BODIES = {path.encode(): b"\\x1a" * size for path, size in SIZES.items()}
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = BODIES.get(scope["raw_path"], b"")
    status = 200 if body else 204
    headers = [(b"content-type", b"application/vnd.mapbox-vector-tile"),
               (b"content-length", b"%d" % len(body))] if body else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def wait_for(port: int, path: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status, _ = get(port, path)
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server on port {port} did not answer {path}")


@contextmanager
def uvicorn(app: str, env: dict, probe: str, factory: bool = False, cwd: Path = PROJECT):
    """One uvicorn worker on a free loopback port; yields the port, stops it by its pid."""
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"] + (["--factory"] if factory else [])
    process = subprocess.Popen(args, env={**os.environ, **env}, cwd=cwd)
    try:
        wait_for(port, probe)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, **kw)


@contextmanager
def postgis(store: Path, layers: list[str]):
    """A private PostgreSQL 15 + PostGIS 3 cluster on loopback holding the store's layers."""
    work = Path(tempfile.mkdtemp(prefix="gongfu-bench-pg-"))
    data = work / "data"
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
    port = free_port()
    as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                 "-E", "UTF8"])
    as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(work / "log"), "-w", "-o",
                 f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c shared_buffers=512MB "
                 "-c max_connections=50 -c fsync=off", "start"])
    try:
        dsn = f"host=127.0.0.1 port={port} user=postgres dbname=bench"
        subprocess.run(["psql", f"postgresql://postgres@127.0.0.1:{port}/postgres", "-qc",
                        "CREATE DATABASE bench"], check=True)
        subprocess.run(["psql", f"postgresql://postgres@127.0.0.1:{port}/bench", "-qc",
                        "CREATE EXTENSION postgis"], check=True)
        for layer in layers:
            subprocess.run(["ogr2ogr", "-f", "PostgreSQL", f"PG:{dsn}", str(store), layer,
                            "-nln", layer, "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid",
                            "-nlt", "PROMOTE_TO_MULTI"], check=True)
        subprocess.run(["psql", f"postgresql://postgres@127.0.0.1:{port}/bench", "-qc",
                        "ANALYZE"], check=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/bench"
    finally:
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(work, ignore_errors=True)


def tile_list(store: Path, per_zoom: int) -> list[tuple[int, int, int]]:
    """Fixed tiles: per zoom 5–14, up to `per_zoom` over Zhejiang and over Huzhou, evenly spread."""
    zhejiang = tuple(GeoPackageStore(store).frame(LAYER).total_bounds)
    chosen: list[tuple[int, int, int]] = []
    for bounds in (zhejiang, HUZHOU):
        for z in ZOOMS:
            tiles = sorted((t.z, t.x, t.y) for t in tiles_covering(bounds, [z]))
            step = max(1, len(tiles) / per_zoom)
            picked = [tiles[int(i * step)] for i in range(min(per_zoom, len(tiles)))]
            chosen += [t for t in picked if t not in chosen]
    return chosen


def wrk(port: int, paths: list[str], duration: int, connections: int, workdir: Path) -> dict:
    listing = workdir / f"paths-{port}.txt"
    listing.write_text("\n".join(paths) + "\n")
    script = workdir / "list.lua"
    script.write_text(LUA)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "60s", "-s",
         str(script), f"http://127.0.0.1:{port}"],
        check=True, capture_output=True, text=True, env={**os.environ, "TILE_LIST": str(listing)})
    line = next(l for l in out.stdout.splitlines() if l.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {"rps": raw["requests"] / (raw["duration_us"] / 1e6), "p50_ms": raw["p50_us"] / 1e3,
            "p99_ms": raw["p99_us"] / 1e3, "requests": raw["requests"], "errors": errors,
            "error_ratio": errors / max(raw["requests"], 1)}


def combine(runs: list[dict]) -> dict:
    """Median requests/s and latencies over rounds; errors and requests summed."""
    requests, errors = sum(r["requests"] for r in runs), sum(r["errors"] for r in runs)
    return {"rps": statistics.median(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "rps_range": (min(r["rps"] for r in runs), max(r["rps"] for r in runs)),
            "requests": requests, "errors": errors, "error_ratio": errors / max(requests, 1)}


def features(data: bytes, layer: str) -> int:
    if not data:
        return 0
    decoded = mapbox_vector_tile.decode(data)
    return len(decoded[layer]["features"]) if layer in decoded else 0


def china_z5(store: Path, rounds: int) -> dict:
    """Our cold z5 tiles over China's counties, sequentially (pyramid built first, timed)."""
    env = {"GONGFU_STORE_PATH": str(store), "GONGFU_TILE_CACHE_MB": "0"}
    with uvicorn("api.app:serving_app", env, "/conformance", factory=True) as port:
        bounds = tuple(GeoPackageStore(store).frame(LAYER).total_bounds)
        tiles = [(t.z, t.x, t.y) for t in tiles_covering(bounds, [5])]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        start = time.perf_counter()
        get(port, f"/tiles/{LAYER}/5/{tiles[0][1]}/{tiles[0][2]}.mvt", conn)
        first = time.perf_counter() - start
        times, sizes, counts, empty = [], [], [], 0
        for _ in range(rounds):
            for z, x, y in tiles:
                t0 = time.perf_counter()
                status, body = get(port, f"/tiles/{LAYER}/{z}/{x}/{y}.mvt", conn)
                elapsed = (time.perf_counter() - t0) * 1000
                if status == 200:  # only tiles with counties count: empty ones are trivial
                    times.append(elapsed)
                    sizes.append(len(body))
                    counts.append(features(body, LAYER))
                else:
                    empty += status == 204
        conn.close()
    times.sort()
    return {"tiles": len(tiles) - empty // rounds, "rounds": rounds, "first_s": first,
            "p50_ms": statistics.median(times), "p99_ms": times[int(0.99 * (len(times) - 1))],
            "max_ms": times[-1], "max_features": max(counts), "max_kb": max(sizes) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=Path("/tmp/zj.gpkg"))
    parser.add_argument("--china", type=Path, default=Path("/tmp/cn.gpkg"))
    parser.add_argument("--per-zoom", type=int, default=30)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args()
    for tool in ("wrk", "ogr2ogr", "psql"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}: apt-get install wrk gdal-bin postgresql-15-postgis-3")

    tiles = tile_list(args.store, args.per_zoom)
    ours_paths = [f"/tiles/{LAYER}/{z}/{x}/{y}.mvt" for z, x, y in tiles]
    tipg_paths = [f"/collections/public.{LAYER}/tiles/WebMercatorQuad/{z}/{x}/{y}"
                  for z, x, y in tiles]
    load = [os.getloadavg()[0]]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        store_env = {"GONGFU_STORE_PATH": str(args.store)}

        warm_port = stack.enter_context(uvicorn("api.app:serving_app", store_env, "/conformance",
                                                factory=True))
        conn = http.client.HTTPConnection("127.0.0.1", warm_port, timeout=600)
        ours_bodies = {}
        for path, tile in zip(ours_paths, tiles):  # seed the cache (and check statuses)
            status, body = get(warm_port, path, conn)
            assert status in (200, 204), (path, status)
            ours_bodies[tile] = body
        # TiPg selects features by the tile's own bounds (its buffer only widens the clip), so
        # feature counts are compared with our tiles at buffer=0, which select the same way.
        ours_counts = {tile: features(get(warm_port, f"{path}?buffer=0", conn)[1], LAYER)
                       for path, tile in zip(ours_paths, tiles)}
        # The bare app answers each path with as many fixed bytes as our tile there (same
        # statuses, same bytes on the wire), so only the work behind the response differs.
        bare_bytes = round(statistics.mean(len(b) for b in ours_bodies.values()))
        sizes_file = work / "bare_sizes.json"
        sizes_file.write_text(json.dumps({path: len(ours_bodies[tile])
                                          for path, tile in zip(ours_paths, tiles)}))

        bare_file = work / "bare_app.py"
        bare_file.write_text(BARE_APP)
        bare_port = stack.enter_context(
            uvicorn("bare_app:app", {"BARE_SIZES": str(sizes_file)}, "/", cwd=work))
        cold_env = {**store_env, "GONGFU_TILE_CACHE_MB": "0"}
        cold_port = stack.enter_context(
            uvicorn("api.app:serving_app", cold_env, "/conformance", factory=True))
        get(cold_port, ours_paths[0])  # builds the simplified pyramid once (per layer version)

        dsn = stack.enter_context(postgis(args.store, [LAYER]))
        env = {"DATABASE_URL": dsn, "TIPG_TILE_BUFFER": str(BUFFER),
               "TIPG_DB_SCHEMAS": '["public"]', "TIPG_DEBUG": "FALSE"}
        tipg_port = stack.enter_context(uvicorn("tipg.main:app", env, "/collections"))
        conn = http.client.HTTPConnection("127.0.0.1", tipg_port, timeout=600)
        agree, tipg_bytes = 0, []
        for path, tile in zip(tipg_paths, tiles):  # warm PostGIS and compare contents
            status, body = get(tipg_port, path, conn)
            assert status in (200, 204), (path, status, body[:200])
            agree += _tipg_count(body) == ours_counts[tile]
            tipg_bytes.append(len(body))

        # Interleaved rounds: the machine is shared, so each server gets a slice of every
        # stretch of time instead of one stretch of its own; medians over rounds are reported.
        servers = {"bare": (bare_port, ours_paths), "ours_warm": (warm_port, ours_paths),
                   "ours_cold": (cold_port, ours_paths), "tipg": (tipg_port, tipg_paths)}
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (port, paths) in servers.items():
                runs[name].append(wrk(port, paths, args.duration, args.connections, work))
        results = {name: combine(found) for name, found in runs.items()}
        results["tipg"]["same_features"] = f"{agree}/{len(tiles)}"
        results["tipg"]["mean_bytes"] = statistics.mean(tipg_bytes)

    china = china_z5(args.china, rounds=3) if args.china.exists() else None
    load.append(os.getloadavg()[0])
    report = render(results, china, tiles, bare_bytes, args, load)
    print(report)
    if args.write:
        (PROJECT / "bench" / "RESULTS.md").write_text(report)


def _tipg_count(data: bytes) -> int:
    """Features in a TiPg tile, whatever its layer is called."""
    if not data:
        return 0
    return sum(len(layer["features"]) for layer in mapbox_vector_tile.decode(data).values())


def render(results: dict, china: dict | None, tiles: list, bare_bytes: int,
           args: argparse.Namespace, load: list[float]) -> str:
    bare, warm, cold, tipg = (results[k] for k in ("bare", "ours_warm", "ours_cold", "tipg"))
    rows = "\n".join(
        f"| {name} | {r['rps']:,.0f} ({r['rps_range'][0]:,.0f}–{r['rps_range'][1]:,.0f}) | "
        f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
        f"{r['errors']} / {r['requests']:,} ({r['error_ratio']:.2%}) |"
        for name, r in (("bare uvicorn (fixed bytes)", bare), ("Gongfu warm (cache on)", warm),
                        ("Gongfu cold (cache off)", cold), ("TiPg 1.6.1 + PostGIS 3.3", tipg)))
    by_zoom = {z: sum(1 for t in tiles if t[0] == z) for z in ZOOMS}

    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = [
        "# Vector tile benchmark (bench/tiles.py)", "",
        f"One run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {load[0]:.1f} before and {load[1]:.1f} after (the machine is shared, so "
        "absolute figures move between runs; the ratios are taken within this one run).", "",
        f"Tiles: {len(tiles)} fixed tiles, layer `{LAYER}` from `{args.store}` (Zhejiang build, "
        f"all attributes, extent 4096, buffer {BUFFER}); per zoom "
        + ", ".join(f"z{z}: {n}" for z, n in by_zoom.items())
        + f". wrk: 1 thread, {args.connections} connections, cycling through the list; "
        f"{args.rounds} interleaved rounds of {args.duration} s per server (medians shown, "
        "requests/s range in brackets); one uvicorn worker per server.", "",
        "| server | requests/s (range) | p50 ms | p99 ms | errors / requests |",
        "| --- | ---: | ---: | ---: | ---: |", rows, "",
        "## Ratios and targets", "",
        f"- warm throughput vs TiPg: **{warm['rps'] / tipg['rps']:.1f}×** (target ≥ 3×: "
        f"{mark(warm['rps'] >= 3 * tipg['rps'])})",
        f"- warm throughput vs bare endpoint: **{warm['rps'] / bare['rps']:.0%}** (target ≥ 80%: "
        f"{mark(warm['rps'] >= 0.8 * bare['rps'])}); the bare app answers each path with as "
        f"many fixed bytes as our tile there (mean {bare_bytes:,} bytes; 204 where ours is empty)"
        + ("; above 100% means the two are level within this shared machine's noise"
           if warm["rps"] > bare["rps"] else ""),
        f"- cold p50 vs TiPg p50: **{cold['p50_ms']:.2f} ms vs {tipg['p50_ms']:.2f} ms** "
        f"(target: no worse: {mark(cold['p50_ms'] <= tipg['p50_ms'])}); cold throughput "
        f"{cold['rps'] / tipg['rps']:.1f}× TiPg",
        f"- same data check: TiPg's tile and ours (at buffer=0, which selects features by the "
        f"tile's own bounds as TiPg does) hold the same number of features in "
        f"{tipg['same_features']} tiles. TiPg runs with its defaults, which do not simplify: its "
        f"tiles average {tipg['mean_bytes']:,.0f} bytes against our {bare_bytes:,} (simplified "
        "per zoom at half a pixel), part of why its low-zoom tiles are slow.",
    ]
    if china:
        lines += [
            f"- China counties ({args.china}), z5, cache off: {china['tiles']} non-empty tiles × "
            f"{china['rounds']} rounds, p50 **{china['p50_ms']:.0f} ms**, p99 "
            f"{china['p99_ms']:.0f} ms, max {china['max_ms']:.0f} ms (target < 100 ms: "
            f"{mark(china['max_ms'] < 100)} for every tile, {mark(china['p50_ms'] < 100)} at "
            f"p50); largest tile {china['max_features']} features, {china['max_kb']:.0f} KB. "
            f"The first request, which builds the layer's simplified pyramid once per layer "
            f"version, took {china['first_s']:.1f} s.",
        ]
    lines += ["", "Cold means the tile cache is off (`GONGFU_TILE_CACHE_MB=0`): every request "
              "clips and encodes; the per-zoom coverage simplification is per layer version and "
              "was built before measuring. TiPg has no tile cache, so its figures are the same "
              "warm or cold (PostGIS's own buffers were warmed by one pass over the list).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
