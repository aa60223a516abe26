"""PNG raster tiles: Gongfu Atlas (/rasters/…/tiles) vs TiTiler (PyPI titiler.core) on the same COG.

Both servers run under uvicorn on loopback ports (one worker each) and are asked for the same
tiles with the same colormap and rescale; we report latency percentiles, tiles/s and whether
the decoded pixels are identical. Rasters: the shipped demo COG (634 × 549 cells) and a
synthetic 6,000 × 6,000 float32 GeoTIFF imported through geo.raster.import_raster (which also
reports its time and peak memory: the import is block-wise, so memory stays bounded).

Run:  .venv/bin/pip install -c constraints.txt -e '.[bench]'
      .venv/bin/python bench/raster_tiles.py [--rounds 3]
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import morecantile
import numpy as np
from PIL import Image

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
WMQ = morecantile.tms.get("WebMercatorQuad")


def titiler_app():
    """TiTiler's stock COG endpoints (uvicorn factory)."""
    from fastapi import FastAPI
    from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
    from titiler.core.factory import TilerFactory

    app = FastAPI()
    app.include_router(TilerFactory().router, prefix="/cog")
    add_exception_handlers(app, DEFAULT_STATUS_CODES)  # as the titiler application does
    return app


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(args: list[str], env: dict, probe: str) -> tuple[subprocess.Popen, str]:
    port = _port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", *args, "--factory",
                                "--host", "127.0.0.1", "--port", str(port),
                                "--log-level", "warning"], env={**os.environ, **env}, cwd=PROJECT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(base + probe, timeout=2).status_code < 500:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server {args} did not start")


def _tiles(bbox: tuple[float, float, float, float], zooms: range) -> list[tuple[int, int, int]]:
    return [(t.z, t.x, t.y) for z in zooms for t in WMQ.tiles(*bbox, zooms=[z])]


def _time(client: httpx.Client, urls: list[str], rounds: int) -> tuple[list[float], list[bytes]]:
    times, bodies = [], []
    for round_ in range(rounds):
        for url in urls:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code not in (200, 404):  # TiTiler: 404 outside the data
                response.raise_for_status()
            if round_ == 0:
                bodies.append(response.content if response.status_code == 200 else b"")
    return times, bodies


def _rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def _same_pixels(ours: bytes, theirs: bytes) -> bool:
    if not theirs:  # TiTiler said 404: ours must be fully transparent
        return bool((_rgba(ours)[..., 3] == 0).all())
    a, b = _rgba(ours), _rgba(theirs)
    visible = (a[..., 3] > 0) | (b[..., 3] > 0)
    return bool(np.array_equal(a[..., 3] > 0, b[..., 3] > 0)
                and np.array_equal(a[visible][:, :3], b[visible][:, :3]))


def _import_big(folder: Path) -> dict:
    """Write a 6,000 × 6,000 WGS84 float32 GeoTIFF and import it (in a child: clean RSS)."""
    code = f"""
import resource, time, numpy as np, rasterio
from pathlib import Path
from rasterio.transform import from_origin
from geo.raster import RasterCatalog, RasterMeta, import_raster
folder = Path({str(folder)!r}); src = folder / "big_wgs84.tif"
n = 6000
with rasterio.open(src, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
                   crs="EPSG:4326", transform=from_origin(119.2, 30.9, 0.55 / n, 0.55 / n),
                   tiled=True, compress="DEFLATE") as dst:
    for row in range(0, n, 500):
        y = np.arange(row, row + 500)[:, None]; x = np.arange(n)[None, :]
        dst.write((np.sin(x / 400) + np.cos(y / 300) + 2).astype("float32") * 1.5,
                  1, window=((row, row + 500), (0, n)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
import_raster(src, folder / "big.tif")
took = time.perf_counter() - start
RasterCatalog(folder).put_meta(RasterMeta(id="big", title_zh="合成", title_en="synthetic",
                                          unit="", colormap="viridis", rescale=(0, 6)))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(took, before, peak, src.stat().st_size, (folder / "big.tif").stat().st_size)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                         text=True, check=True).stdout.split()
    took, before, peak, src_size, cog_size = (float(v) for v in out)
    return {"import_s": took, "rss_before_mb": before / 1024, "rss_peak_mb": peak / 1024,
            "source_mb": src_size / 2**20, "cog_mb": cog_size / 2**20,
            "raw_pixels_mb": 6000 * 6000 * 4 / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from geo.raster import info
    from layers.boundaries import Region, build_all
    from layers.store import GeoPackageStore

    work = Path(tempfile.mkdtemp(prefix="raster-bench-"))
    store = GeoPackageStore(work / "atlas.gpkg")
    for layer, frame in build_all(Region.parse("3305")):
        store.put(layer, frame)
    big = _import_big(work / "rasters") if (work / "rasters").mkdir() is None else {}

    ours, ours_base = _serve(["api.app:create_app"], {"GONGFU_STORE_PATH": str(work / "atlas.gpkg")},
                             "/rasters")
    theirs, theirs_base = _serve(["--app-dir", str(PROJECT / "bench"), "raster_tiles:titiler_app"],
                                 {}, "/cog/tiles")
    try:
        cases = {
            "bamboo_carbon_density": (range(8, 13), "ylgn", (0, 5.85)),
            "big": (range(8, 13), "viridis", (0, 6)),
        }
        print(f"rounds={args.rounds}; one uvicorn worker each; loopback; sequential requests")
        if big:
            print(f"import 6000x6000 float32 WGS84 -> EPSG:4549 COG: {big['import_s']:.1f} s, "
                  f"peak RSS {big['rss_peak_mb']:.0f} MB (before {big['rss_before_mb']:.0f} MB; "
                  f"raw pixels {big['raw_pixels_mb']:.0f} MB), source {big['source_mb']:.0f} MB "
                  f"-> COG {big['cog_mb']:.0f} MB")
        print(f"{'raster':24s} {'tiles':>5s} {'server':8s} {'p50 ms':>7s} {'p95 ms':>7s} "
              f"{'tiles/s':>8s} {'KB/tile':>8s}")
        with httpx.Client(timeout=60) as client:
            for raster, (zooms, cmap, (low, high)) in cases.items():
                client.get(f"{ours_base}/rasters").raise_for_status()  # builds the demo COG
                cog = work / "rasters" / f"{raster}.tif"
                tiles = _tiles(info(cog).bounds_wgs84, zooms)
                our_urls = [f"{ours_base}/rasters/{raster}/tiles/{z}/{x}/{y}.png"
                            f"?colormap={cmap}&rescale={low},{high}" for z, x, y in tiles]
                their_urls = [f"{theirs_base}/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png"
                              f"?url={cog}&bidx=1&colormap_name={cmap}&rescale={low},{high}"
                              for z, x, y in tiles]
                _time(client, our_urls[:5], 1)  # warm up both
                _time(client, their_urls[:5], 1)
                # interleaved (ours, theirs, ours, …) so load drift on a shared machine hits both
                times = {"atlas": [], "titiler": []}
                bodies = {"atlas": [], "titiler": []}
                for round_ in range(args.rounds):
                    for ours_url, their_url in zip(our_urls, their_urls):
                        for name, url in (("atlas", ours_url), ("titiler", their_url)):
                            took, body = _time(client, [url], 1)
                            times[name] += took
                            if round_ == 0:
                                bodies[name] += body
                results = {}
                for name in ("atlas", "titiler"):
                    results[name] = (times[name], bodies[name])
                    total_s = sum(times[name]) / 1000
                    sizes = [len(b) for b in bodies[name] if b]
                    print(f"{raster:24s} {len(tiles):5d} {name:8s} "
                          f"{statistics.median(times[name]):7.1f} "
                          f"{np.percentile(times[name], 95):7.1f} "
                          f"{len(times[name]) / total_s:8.1f} "
                          f"{np.mean(sizes) / 1024:8.1f}  ({len(sizes)} with data)")
                same = sum(_same_pixels(a, b) for a, b in zip(results["atlas"][1],
                                                              results["titiler"][1]))
                ratio = statistics.median(results["atlas"][0]) / statistics.median(
                    results["titiler"][0])
                print(f"{'':24s} identical pixels: {same}/{len(tiles)} tiles; "
                      f"median latency atlas/titiler = {ratio:.2f}")
    finally:
        for process in (ours, theirs):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
