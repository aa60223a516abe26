"""Latency of the OGC API catalogue endpoints (issue 18: every GET p95 under 100 ms), this tree
against the tree before the OGC core work (commit 8c8fa8b: extents and counts computed on every
/collections request), over the same store, one run.

    .venv/bin/python bench/collections.py [--store data/build/atlas.gpkg] [--store …] [--write]

For each store and tree: a server (`api.app:create_app`, one worker, no tile prebuild) on a free loopback port;
every path is asked once to warm it, then N sequential requests (httpx, one connection); p50
and p95 in ms. The old tree runs from a temporary git worktree with this venv. `--write`
replaces this script's section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "8c8fa8b"
PATHS = ["/collections", "/collections?limit=5", "/collections/counties", "/conformance",
         "/openapi.json", "/collections/counties/schema"]
BEGIN, END = "<!-- collections.py begin -->", "<!-- collections.py end -->"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(tree: Path, store: Path) -> Iterator[str]:
    port = _port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "GONGFU_STORE_PATH": str(store), "PYTHONPATH": str(tree)},
        cwd=tree)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(f"{base}/conformance", timeout=60).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(base: str, rounds: int) -> dict[str, tuple[float, float, int]]:
    """path -> (p50 ms, p95 ms, status)."""
    out = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for path in PATHS:
            status = client.get(path).status_code
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            out[path] = (times[len(times) // 2], times[int(len(times) * 0.95) - 1], status)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", action="append", type=Path)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    stores = [s.resolve() for s in args.store or [ROOT / "data" / "build" / "atlas.gpkg"]]
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), BEFORE], cwd=ROOT,
                       check=True, capture_output=True)
        (old / "static" / "vendor").symlink_to(ROOT / "static" / "vendor")  # not in git
        try:
            for store in stores:
                results = {}
                for name, tree in (("before", old), ("now", ROOT)):
                    with server(tree, store) as base:
                        results[name] = measure(base, args.rounds)
                rows.append((store, results))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT,
                           capture_output=True)
    text = render(rows, args.rounds, load, os.getloadavg()[0])
    print(text)
    if args.write:
        results_md = ROOT / "bench" / "RESULTS.md"
        current = results_md.read_text(encoding="utf-8")
        if BEGIN in current:
            head, rest = current.split(BEGIN, 1)
            current = head + text + rest.split(END, 1)[1]
        else:
            current = current.rstrip("\n") + "\n\n" + text + "\n"
        results_md.write_text(current, encoding="utf-8")


def render(rows: list, rounds: int, load_before: float, load_after: float) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [BEGIN, "## OGC API catalogue latency (`bench/collections.py`, issue 18)", "",
             f"Run {when}, {platform.machine()} {os.cpu_count()} cores, load average "
             f"{load_before:.2f} → {load_after:.2f}; one server each, {rounds} sequential "
             f"requests per path after one warm-up; before = {BEFORE} (extents and counts "
             "computed on every /collections request; OpenAPI 3.1 without the OGC "
             "parameters), now = this tree (per-layer-version summaries, paged /collections, "
             "OpenAPI 3.0 rebuilt only when a layer changes). The machine is shared: compare "
             "within a row.", ""]
    for store, results in rows:
        lines += [f"**{store.name}** (`{store}`)", "",
                  "| path | before p50 (ms) | before p95 | now p50 (ms) | now p95 |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for path in PATHS:
            b, n = results["before"][path], results["now"][path]
            before = (f"{b[0]:.1f} | {b[1]:.1f}" if b[2] == 200 else f"({b[2]}) | –")
            lines.append(f"| `{path}` | {before} | {n[0]:.1f} | {n[1]:.1f} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
