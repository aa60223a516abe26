"""Page weight and load time of the 一张图 workspace (`/`) over a build, in Debian Chromium.

    .venv/bin/python bench/workspace_load.py data/build/atlas.gpkg [/tmp/zj/atlas.gpkg …]

For each store: a server (`api.app:serving_app`) on a free loopback port; two page loads in
one browser (cold, then with the browser's and server's caches warm); time until every
catalogue entry is listed and the county outlines are drawn; bytes received (Playwright's
response sizes) and requests. Nothing leaves the machine (no basemap is chosen).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
COUNTIES = ".leaflet-ws-counties-pane path"  # the county layer the workspace opens with


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(store: Path) -> list[dict]:
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:serving_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "GONGFU_STORE_PATH": str(store)}, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                catalogue = httpx.get(f"{base}/catalogue", timeout=60).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        rows = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            context = browser.new_context(viewport={"width": 1366, "height": 800})
            for run in ("cold", "warm"):
                page = context.new_page()
                responses: list = []
                page.on("response", lambda r: responses.append(r))
                start = time.perf_counter()
                page.goto(f"{base}/", wait_until="load")
                page.locator(".ws-layer").nth(len(catalogue["layers"]) - 1).wait_for()
                page.wait_for_selector(COUNTIES)
                load_ms = (time.perf_counter() - start) * 1000
                page.wait_for_load_state("networkidle")
                received = sum(r.request.sizes()["responseBodySize"] for r in responses)
                rows.append({"store": str(store), "run": run, "load_ms": round(load_ms),
                             "received_kib": round(received / 1024), "requests": len(responses),
                             "layers": len(catalogue["layers"])})
                page.close()
            browser.close()
        return rows
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    for path in sys.argv[1:] or [str(ROOT / "data" / "build" / "atlas.gpkg")]:
        for row in measure(Path(path)):
            print(row)
