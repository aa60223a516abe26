"""China in one small worker (issue 18): build time, time to the first China z5 tile after
`gongfu serve` starts, and resident memory per worker, for this checkout and (optionally) an
older commit checked out in a temporary git worktree, in one run.

For each variant:
1. `gongfu build --region all` into a temporary folder (wall-clock seconds);
2. `gongfu serve --workers 2` on a loopback port over that store; the clock starts when the
   process is spawned and stops at the first 200 answer for China z5 tile 5/25/13 (central
   China), polled every 50 ms (connection refused while uvicorn starts counts as waiting);
3. every worker left to settle (its CPU time unchanged for 3 s: background pyramid builds
   done), then each worker's VmRSS (/proc/PID/status) and PSS (/proc/PID/smaps_rollup: shared
   pages divided among the processes that map them) read; then every non-empty z5 tile and
   the z8 tiles over Zhejiang requested 4 times each (both workers serve some), and memory
   read again.
4. ("after" only) cutting speed, in this process, tile cache off: every tile of a fixed list
   (every China z5 tile, and over Zhejiang up to 30 tiles per zoom 5–14) rendered from the
   pyramid built in memory and from the saved, memory-mapped one, in 5 interleaved rounds;
   the tiles must be byte-identical. (bench/tiles.py measures the HTTP path against TiPg.)

Run:  .venv/bin/python bench/china.py [--before 8c8fa8b] [--after HEAD] [--write]
(each variant runs from a temporary git worktree of its commit, so commit first)
(--write appends/replaces the marked section of bench/RESULTS.md). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PYTHON = PROJECT / ".venv" / "bin" / "python"
FIRST_TILE = "/tiles/counties/5/25/13.mvt"
ZHEJIANG = (118.0, 27.0, 123.0, 31.2)
BEGIN, END = "<!-- china.py begin -->", "<!-- china.py end -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def gongfu(source: Path, *args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    """`gongfu ARGS` from the checkout at `source` (its modules first on sys.path)."""
    environ = {**os.environ, "PYTHONPATH": str(source), **(env or {})}
    return subprocess.Popen([str(PYTHON), "-m", "cli", *args], cwd=source, env=environ, **kw)


def build(source: Path, store: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (the command and its worker processes) of the build."""
    before = os.times()
    start = time.perf_counter()
    process = gongfu(source, "build", "--region", "all", "--store", str(store),
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = process.communicate()
    if process.returncode:
        raise SystemExit(f"build failed in {source}:\n{err.decode()[-2000:]}")
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system
                                                           - before.children_system)
    return time.perf_counter() - start, cpu


def workers(pid: int) -> list[int]:
    """uvicorn's worker processes under `gongfu serve` (not multiprocessing's helpers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, PSS) of a process, MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) / 1024
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)[1]) / 1024
    return rss, pss


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def settle(pids: list[int], quiet_s: float = 3.0, limit_s: float = 300.0) -> float:
    """Wait until no worker used CPU for `quiet_s`; returns the seconds waited."""
    start = time.monotonic()
    last = [cpu_ticks(p) for p in pids]
    quiet_since = time.monotonic()
    while time.monotonic() - start < limit_s:
        time.sleep(0.5)
        now = [cpu_ticks(p) for p in pids]
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            break
    return time.monotonic() - start


def tile_paths() -> list[str]:
    from geo.tiles import tiles_covering

    china = [f"/tiles/counties/5/{t.x}/{t.y}.mvt" for t in tiles_covering((73, 18, 135, 54), [5])]
    zhejiang = [f"/tiles/counties/8/{t.x}/{t.y}.mvt" for t in tiles_covering(ZHEJIANG, [8])]
    return china + zhejiang


def serve(source: Path, store: Path, workdir: Path) -> dict:
    port = free_port()
    env = {"GONGFU_STORE_PATH": str(store), "GONGFU_UPLOADS_DIR": str(workdir / "uploads"),
           "GONGFU_PMTILES_DIR": str(workdir / "pmtiles")}
    log = open(workdir / "serve.log", "wb")
    start = time.perf_counter()
    process = gongfu(source, "serve", "--port", str(port), "--workers", "2", env=env,
                     stdout=log, stderr=subprocess.STDOUT)
    try:
        first = ready = None
        while time.perf_counter() - start < 600:
            if ready is None and b"startup complete" in (workdir / "serve.log").read_bytes():
                ready = time.perf_counter() - start  # a worker has imported and built the app
            try:
                if get(port, FIRST_TILE) == 200:
                    first = time.perf_counter() - start
                    break
            except OSError:
                pass
            time.sleep(0.05)
        if first is None:
            raise SystemExit(f"no tile from {source} within 600 s; see {workdir / 'serve.log'}")
        pids = workers(process.pid)
        # CPU seconds each worker used from its spawn to the first tile: what the start costs
        # on an idle machine, whatever the load on this shared one
        cpu = [cpu_ticks(p) / os.sysconf("SC_CLK_TCK") for p in pids]
        waited = settle(pids)
        idle = [memory_mb(p) for p in pids]
        for _ in range(4):
            for path in tile_paths():
                get(port, path)
        settle(pids)
        served = [memory_mb(p) for p in pids]
        return {"first_tile_s": first, "ready_s": ready or first, "cpu_s": cpu,
                "settle_s": waited, "idle": idle, "served": served}
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def cut_rates(source: Path, store: Path) -> dict:
    """`cut_rates_here` run with the code of the checkout at `source`."""
    environ = {**os.environ, "PYTHONPATH": str(source)}
    out = subprocess.run([str(PYTHON), str(Path(__file__).resolve()), "--cut", str(store)],
                         env=environ, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cut_rates_here(store: Path, rounds: int = 5) -> dict:
    """Tiles/s cut from the in-memory pyramid and from the mapped one (same tiles)."""
    from api.settings import Settings
    from geo.tiles import tiles_covering
    from layers.store import GeoPackageStore
    from layers.tilesets import VectorTiles

    folder = Settings(store_path=store).pyramid_folder()

    tiles = [(t.z, t.x, t.y) for t in tiles_covering((73, 18, 135, 54), [5])]
    for z in range(5, 15):
        found = list(tiles_covering(ZHEJIANG, [z]))
        tiles += [(t.z, t.x, t.y) for t in found[:: max(1, len(found) // 30)]]
    memory = VectorTiles(GeoPackageStore(store), 0)
    mapped = VectorTiles(GeoPackageStore(store), 0, folder)
    memory.tileset("counties").level(0)  # built before timing, as in a running server
    times: dict[str, list[float]] = {"memory": [], "mapped": []}
    for _ in range(rounds):
        for name, tiles_of in (("memory", memory), ("mapped", mapped)):
            start = time.perf_counter()
            out = [tiles_of.tile(["counties"], *t).data for t in tiles]
            times[name].append(time.perf_counter() - start)
            if name == "memory":
                expected = out
            elif out != expected:
                raise SystemExit("mapped tiles differ from in-memory tiles")
    best = {name: len(tiles) / sorted(v)[len(v) // 2] for name, v in times.items()}
    return {"tiles": len(tiles), **best}


def measure(name: str, source: Path, workdir: Path) -> dict:
    workdir.mkdir(parents=True)
    store = workdir / "atlas.gpkg"
    seconds, cpu = build(source, store)
    print(f"{name}: build {seconds:.1f} s, CPU {cpu:.1f} s", flush=True)
    result = serve(source, store, workdir)
    result["build_s"], result["build_cpu_s"] = seconds, cpu
    if name == "after":
        result["cut"] = cut_rates(source, store)
    print(f"{name}: {result}", flush=True)
    return result


def worktree(rev: str, folder: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), rev], cwd=PROJECT,
                   check=True, capture_output=True)
    return folder


def mb(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.0f} / {pair[1]:.0f}"


def report(results: dict[str, dict], labels: dict[str, str], load: tuple[float, float]) -> str:
    lines = [BEGIN, "## China in one small worker (`bench/china.py`, issue 18)", "",
             f"One run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{platform.machine()} {os.cpu_count()} cores, load average {load[0]:.1f} before "
             f"and {load[1]:.1f} after (shared machine). China build (`gongfu build --region "
             "all`, 2,875 counties) into a temporary folder; `gongfu serve --workers 2`.", "",
             "| variant | build s (CPU s) | first z5 tile after start, s | of which app start, s "
             "| worker CPU s at first tile | worker RSS / PSS MB, idle "
             "| worker RSS / PSS MB, after 4 passes over z5 + Zhejiang z8 |",
             "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for name, r in results.items():
        idle = ", ".join(mb(p) for p in r["idle"])
        served = ", ".join(mb(p) for p in r["served"])
        cpu = ", ".join(f"{c:.1f}" for c in r["cpu_s"])
        lines.append(f"| {labels[name]} | {r['build_s']:.1f} ({r['build_cpu_s']:.1f}) | "
                     f"{r['first_tile_s']:.2f} | {r['ready_s']:.2f} | {cpu} | {idle} | {served} |")
    cut = results.get("after", {}).get("cut")
    if cut:
        lines += ["", f"Cutting speed, tile cache off, {cut['tiles']} tiles (every China z5 "
                  "tile, Zhejiang z5–14), median of 5 rounds, byte-identical tiles: pyramid "
                  f"in memory {cut['memory']:.0f} tiles/s, memory-mapped {cut['mapped']:.0f} "
                  f"tiles/s ({cut['mapped'] / cut['memory']:.0%})."]
    lines += ["", "Targets (issue 18): RSS ≤ 400 MB per worker, first China z5 tile ≤ 2 s after "
              "start, build ≤ 60 s. App start: until the first worker logged 'startup "
              "complete' (imports, app built). CPU seconds do not depend on the machine's "
              "load (the build's include its worker processes). Idle means after the worker's CPU time stopped moving "
              "for 3 s (background pyramid builds, if any, done). PSS divides pages shared "
              "between processes (the memory-mapped pyramid files, shared libraries) among "
              "them.", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="git revision to measure too (temporary worktree)")
    parser.add_argument("--after", default="HEAD", help="git revision measured as 'after'")
    parser.add_argument("--write", action="store_true", help="write into bench/RESULTS.md")
    parser.add_argument("--cut", type=Path, help=argparse.SUPPRESS)  # internal: cut_rates
    args = parser.parse_args()
    if args.cut:
        print(json.dumps(cut_rates_here(args.cut)))
        return
    load0 = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="gongfu-china-"))
    results: dict[str, dict] = {}
    labels: dict[str, str] = {}
    try:
        if args.before:
            old = worktree(args.before, tmp / "before-src")
            results["before"] = measure("before", old, tmp / "before")
            labels["before"] = f"before ({args.before}, pyramid rebuilt in each worker)"
        new = worktree(args.after, tmp / "after-src")  # frozen: edits meanwhile do not count
        results["after"] = measure("after", new, tmp / "after")
        head = subprocess.run(["git", "rev-parse", "--short", args.after], cwd=PROJECT,
                              capture_output=True, text=True).stdout.strip()
        labels["after"] = f"after ({head}, memory-mapped pyramid)"
    finally:
        for name in ("before-src", "after-src"):
            if (tmp / name).exists():
                subprocess.run(["git", "worktree", "remove", "--force", str(tmp / name)],
                               cwd=PROJECT, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(results, labels, (load0, os.getloadavg()[0]))
    print(text)
    if args.write:
        path = PROJECT / "bench" / "RESULTS.md"
        old = path.read_text()
        if BEGIN in old:
            head, rest = old.split(BEGIN, 1)
            old = head + rest.split(END, 1)[1].lstrip("\n")
        path.write_text(old.rstrip("\n") + "\n\n" + text + "\n")


if __name__ == "__main__":
    main()
