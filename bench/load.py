"""Load: tiles, items, maps and uploads at once from 50 clients against `gongfu serve
--workers 2`, for 2 minutes; errors and p50/p99 latency per kind.

Four `wrk` processes (Debian `wrk`) run side by side against one server, each one kind of
client with its own connections:

- tiles (20 connections): vector MVT of counties, townships + county seats and the axes over
  Huzhou at z5–14, and one in ten a PNG tile of the bamboo carbon raster (z9–12);
- items (15): `/collections/{id}/items` pages (counties, townships, villages, county seats,
  the ecology ledger), with `limit`/`offset` and `bbox`;
- maps (10): the Folium pages `/maps/overview`, `/maps/choropleth`, `/maps/axes`,
  `/maps/ecology`, `/maps/index`;
- uploads (5): `POST /uploads` of a 20-parcel GeoJSON (saved, not a dry run), each
  connection a planner with its own API key, parsed in the sandbox like any upload.

The server is `gongfu serve --workers 2` (each worker its own caches) over a fresh Huzhou
build (`gongfu build`) in a temporary folder, uploads saved there too. The per-client rate
limit stays in the path but at 100,000/min and the per-owner upload quota at 100,000: with
them at their defaults (120/min, 500 uploads) this test would measure the limiter's 429s,
which tests/test_quotas.py checks. An error is anything wrk counts as one: a connection,
read or write error, a timeout (10 s) or an HTTP status ≥ 400.

    .venv/bin/python bench/load.py [--duration 120] [--write]

`--write` replaces this script's marked section of bench/RESULTS.md. The machine is small
(2 cores, shared): wrk runs on the same cores as the server, and the figures move with
whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from geo.tiles import tiles_covering  # noqa: E402

HUZHOU = (119.23, 30.37, 120.49, 31.19)  # WGS84 bounds of the Huzhou counties
BEGIN, END = "<!-- load.py begin -->", "<!-- load.py end -->"
KEYS = [f"load-planner-{i}" for i in range(1, 6)]
CONNECTIONS = {"tiles": 20, "items": 15, "maps": 10, "uploads": 5}
TIMEOUT_S = 10

LUA = r"""
local paths = {}
for line in io.lines(os.getenv("LOAD_PATHS")) do paths[#paths + 1] = line end
local body = nil
if os.getenv("LOAD_BODY") ~= "" then
  local f = io.open(os.getenv("LOAD_BODY"), "rb"); body = f:read("*a"); f:close()
end
local counter = 0
setup = function(thread)  -- main state: each thread (one connection here) gets its own key
  counter = counter + 1
  thread:set("key", os.getenv("LOAD_KEY_PREFIX") .. counter)
end
local i = 0
request = function()
  i = i % #paths + 1
  if body then
    return wrk.format("POST", paths[i], {
      ["Content-Type"] = "multipart/form-data; boundary=gongfuloadboundary",
      ["Authorization"] = "Bearer " .. key}, body)
  end
  return wrk.format("GET", paths[i], {["Accept"] = os.getenv("LOAD_ACCEPT")})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(base: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(base + path, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def tile_paths() -> list[str]:
    paths = []
    for z in range(5, 15):
        tiles = sorted((t.z, t.x, t.y) for t in tiles_covering(HUZHOU, [z]))
        step = max(1, len(tiles) // 12)
        for n, (tz, tx, ty) in enumerate(tiles[::step][:12]):
            layers = ("counties", "townships,county_seats", "axes,axis_nodes")[n % 3]
            paths.append(f"/tiles/{layers}/{tz}/{tx}/{ty}.mvt")
            if 9 <= z <= 12 and n % 3 == 0:
                paths.append(f"/rasters/bamboo_carbon_density/tiles/{tz}/{tx}/{ty}.png")
    return paths


def item_paths() -> list[str]:
    paths = []
    for offset in range(0, 60, 10):
        paths += [f"/collections/counties/items?limit=5&offset={offset % 5}",
                  f"/collections/townships/items?limit=20&offset={offset}",
                  f"/collections/villages/items?limit=100&offset={offset * 20}",
                  f"/collections/county_seats/items?limit=10",
                  f"/collections/townships/items?bbox=119.8,30.6,120.2,30.9&limit=50",
                  f"/collections/bamboo_ledger/items?limit=20&offset={offset}"]
    return paths


def map_paths(indicator: str) -> list[str]:
    return ["/maps/overview", f"/maps/choropleth?layer=counties&indicator={indicator}",
            "/maps/axes", "/maps/ecology", "/maps/index"]


def upload_body(folder: Path) -> Path:
    """A 20-parcel GeoJSON (名称, 用途, 面积) over 吴兴区 as one multipart body."""
    features = []
    for i in range(20):
        west, south = 120.05 + (i % 5) * 0.01, 30.80 + (i // 5) * 0.01
        ring = [[west, south], [west + 0.006, south], [west + 0.006, south + 0.005],
                [west, south + 0.005], [west, south]]
        features.append({"type": "Feature", "properties": {
            "名称": f"地块{i + 1}", "用途": ("耕地", "林地", "建设用地")[i % 3]},
            "geometry": {"type": "Polygon", "coordinates": [ring]}})
    data = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    body = (b"--gongfuloadboundary\r\nContent-Disposition: form-data; name=\"file\"; "
            b"filename=\"parcels.geojson\"\r\nContent-Type: application/geo+json\r\n\r\n"
            + data.encode() + b"\r\n--gongfuloadboundary--\r\n")
    path = folder / "upload.body"
    path.write_bytes(body)
    return path


def start_wrk(kind: str, base: str, paths: list[str], duration: int, folder: Path,
              body: Path | None = None) -> subprocess.Popen:
    listing = folder / f"{kind}.txt"
    listing.write_text("\n".join(paths) + "\n")
    script = folder / f"{kind}.lua"  # one each: wrk reads it after start, while the next
    script.write_text(LUA)              # kind's script is being written
    connections = CONNECTIONS[kind]
    threads = connections if body else 2  # uploads: one thread per connection (its own key)
    env = {**os.environ, "LOAD_PATHS": str(listing), "LOAD_BODY": str(body or ""),
           "LOAD_KEY_PREFIX": "load-planner-",
           "LOAD_ACCEPT": "text/html" if kind == "maps" else "application/json"}
    return subprocess.Popen(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout",
         f"{TIMEOUT_S}s", "-s", str(script), base],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def parse(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary (exit {process.returncode}): {out}\n{err}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {"requests": raw["requests"], "rps": raw["requests"] / (raw["duration_us"] / 1e6),
            "p50_ms": raw["p50_us"] / 1e3, "p90_ms": raw["p90_us"] / 1e3,
            "p99_ms": raw["p99_us"] / 1e3, "max_ms": raw["max_us"] / 1e3, "errors": errors,
            "by_error": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")}}


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (MB)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next(int(l.split()[1]) for l in status if l.startswith("VmRSS"))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        todo += [int(c) for c in children]
    return total / 1024


def render(results: dict, meta: dict) -> str:
    rows = "\n".join(
        f"| {kind} | {CONNECTIONS[kind]} | {r['requests']:,} | {r['rps']:,.1f} | "
        f"{r['p50_ms']:,.0f} | {r['p90_ms']:,.0f} | {r['p99_ms']:,.0f} | {r['max_ms']:,.0f} | "
        f"{r['errors']} |" for kind, r in results.items())
    total = sum(r["requests"] for r in results.values())
    errors = sum(r["errors"] for r in results.values())
    return f"""{BEGIN}
## Load: tiles, items, maps and uploads at once (`bench/load.py`, issue 17)

Run {meta['when']} on this 2-core shared machine (load average before the run
{meta['load_before']}): `gongfu serve --workers 2` over a fresh Huzhou build, {sum(CONNECTIONS.values())}
clients for {meta['duration']} s in four `wrk` processes on the same cores, timeout
{TIMEOUT_S} s; an error is a connection/read/write error, a timeout or a status ≥ 400. Uploads
are saved (20 parcels each, parsed in the sandbox), each upload connection a planner with its
own key; the rate limit stays in the path at 100,000/min (defaults would answer 429 by design).

| kind | clients | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

Total {total:,} requests, **{errors} errors**; {meta['uploads_saved']:,} uploads saved and
listed afterwards; server resident memory (both workers, their sandbox children and the
supervisor) {meta['rss_before']:.0f} MB before, {meta['rss_after']:.0f} MB after.
{END}"""


def write(section: str) -> None:
    path = PROJECT / "bench" / "RESULTS.md"
    text = path.read_text(encoding="utf-8")
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=120, help="seconds of load")
    parser.add_argument("--write", action="store_true", help="write into bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gongfu-load-") as tmp:
        folder = Path(tmp)
        store = folder / "atlas.gpkg"
        gongfu = str(PROJECT / ".venv" / "bin" / "gongfu")
        subprocess.run([gongfu, "build", "--store", str(store)], check=True,
                       stdout=subprocess.DEVNULL)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "GONGFU_STORE_PATH": str(store),
               "GONGFU_UPLOADS_DIR": str(folder / "uploads"),
               "GONGFU_API_KEYS": ",".join(KEYS), "GONGFU_RATE_LIMIT_PER_MINUTE": "100000",
               "GONGFU_UPLOAD_QUOTA_COUNT": "100000"}
        log = (folder / "server.log").open("w")
        server = subprocess.Popen([gongfu, "serve", "--workers", "2", "--port", str(port)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if fetch(base, "/conformance")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.3)
            else:
                raise RuntimeError("server did not start")
            status, body = fetch(base, "/indicators?mappable=true&limit=1")
            indicator = json.loads(body)["indicators"][0]["id"]
            kinds = {"tiles": tile_paths(), "items": item_paths(),
                     "maps": map_paths(indicator)}
            for kind, paths in kinds.items():  # every path answers before the load starts
                bad = [(p, s) for p in paths if (s := fetch(base, p)[0]) >= 400]
                if bad:
                    raise RuntimeError(f"{kind}: {bad[:5]}")
            time.sleep(2)
            meta = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "load_before": " / ".join(f"{v:.1f}" for v in os.getloadavg()),
                    "duration": args.duration, "rss_before": rss_mb(server.pid)}
            running = {kind: start_wrk(kind, base, paths, args.duration, folder)
                       for kind, paths in kinds.items()}
            running["uploads"] = start_wrk("uploads", base, ["/uploads"], args.duration,
                                           folder, upload_body(folder))
            results = {kind: parse(process) for kind, process in running.items()}
            meta["rss_after"] = rss_mb(server.pid)
            meta["uploads_saved"] = len(list((folder / "uploads").glob("*.gpkg")))
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        for kind, r in results.items():
            print(f"{kind:8s} {r['requests']:7,d} req {r['rps']:7.1f}/s  p50 {r['p50_ms']:7.1f} "
                  f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']} {r['by_error']}")
        section = render(results, meta)
        print(section)
        if any(r["errors"] for r in results.values()):
            print((folder / "server.log").read_text()[-3000:], file=sys.stderr)
        if args.write:
            write(section)


if __name__ == "__main__":
    main()
