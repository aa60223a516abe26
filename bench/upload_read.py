"""What our upload reader costs over GDAL alone, and how fast an upload goes through the API.

Fixture (built here, synthetic): a GBK shapefile of N square parcels around Huzhou on the
CGCS2000 3° GK plane with zone prefix (EPSG:4528), no .cpg, no .prj, zipped — the case planners
send most. Timed, best of --repeat:

- peer: `pyogrio.read_dataframe` with the encoding given and `to_crs(4326)` with the CRS given
  (what a script that already knows the answers would run: the floor).
- ours: `geo.vector_read.read_folder` on the zip (safe unzip, header checks, encoding and CRS
  resolution, repair, reprojection) — the ratio to the peer is our overhead.
- api: `POST /uploads` through FastAPI's TestClient (streamed multipart, read, report, atomic
  GeoPackage write).
- overlay: `GET /uploads/{id}/overlay` on that upload (dissolve, intersect with the counties,
  zonal totals over the carbon raster).

Usage: .venv/bin/python bench/upload_read.py [--features 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely


def fixture(folder: Path, n: int) -> Path:
    rng = np.random.default_rng(7)
    east = 40_460_000 + rng.uniform(0, 60_000, n)
    north = 3_370_000 + rng.uniform(0, 60_000, n)
    frame = gpd.GeoDataFrame(
        {"名称": [f"地块{i}号" for i in range(n)], "用地类型": rng.choice(["林地", "耕地", "建设用地"], n),
         "面积亩": rng.uniform(1, 100, n).round(2)},
        geometry=shapely.box(east, north, east + 80, north + 60))
    shp_dir = folder / "shp"
    shp_dir.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyogrio.write_dataframe(frame, shp_dir / "地块.shp", encoding="CP936")
    for sidecar in (".cpg", ".prj"):
        (shp_dir / f"地块{sidecar}").unlink(missing_ok=True)
    archive = folder / "parcels.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in shp_dir.iterdir():
            zf.write(part, part.name)
    return archive


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings
    from geo.vector_read import read_folder
    from layers.boundaries import Region, build_all
    from layers.store import GeoPackageStore

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = fixture(tmp, args.features)
        size_mb = archive.stat().st_size / 2**20

        def peer() -> None:
            frame = pyogrio.read_dataframe(f"/vsizip/{archive}/地块.shp", encoding="GB18030")
            frame.set_crs(4528, allow_override=True).to_crs(4326)

        def ours() -> None:
            work = tmp / "work"
            work.mkdir()
            shutil.copyfile(archive, work / archive.name)
            try:
                read_folder(work)
            finally:
                shutil.rmtree(work)

        store = GeoPackageStore(tmp / "atlas.gpkg")
        for layer, frame in build_all(Region.parse("3305")):
            store.put(layer, frame)
        client = TestClient(create_app(Settings(store_path=store.path)))
        data = archive.read_bytes()

        uploaded: list[dict] = []

        def api() -> None:
            response = client.post("/uploads", files={"file": ("parcels.zip", data)})
            assert response.status_code == 201, response.text
            uploaded.append(response.json())

        def overlay() -> None:
            body = uploaded[-1]
            response = client.get(f"/uploads/{body['id']}/overlay",
                                  headers={"Authorization": f"Bearer {body['token']}"})
            assert response.status_code == 200, response.text

        t_peer, t_ours, t_api, t_overlay = (best(fn, args.repeat)
                                            for fn in (peer, ours, api, overlay))
        print(f"{args.features} parcels, zip {size_mb:.1f} MB, best of {args.repeat}")
        print(f"peer  pyogrio read + to_crs (answers given): {t_peer:6.2f} s")
        print(f"ours  read_folder (unzip, checks, sniffing, repair): {t_ours:6.2f} s "
              f"({t_ours / t_peer:.2f}× peer)")
        print(f"api   POST /uploads (stream, read, report, store): {t_api:6.2f} s "
              f"({t_api / t_peer:.2f}× peer, {args.features / t_api:,.0f} features/s)")
        print(f"overlay GET /uploads/{{id}}/overlay (counties, townships, rasters): "
              f"{t_overlay:6.2f} s")


if __name__ == "__main__":
    main()
