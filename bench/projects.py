"""Project import and plan-sheet timing (issue 14): 20,000 fictional projects (every name
虚构示例, the seed documents' order of magnitude: "21000多个项目点位") placed on the Huzhou
demo axes and saved as one snapshot, then a second snapshot; then the busiest axis's plan
sheet (JSON and HTML) with 40,000 snapshot rows behind it.

    .venv/bin/python bench/projects.py [--rows 20000] [--store data/build/atlas.gpkg]

Works on a copy of the store (the shared atlas is never written). Positions: random points
inside Huzhou's counties in a mix of CRS84, GCJ-02 and EPSG:4549 lon/lat, 5 % township codes
(stand-ins), 2 % with no position.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402
from geo.crs import from_wgs84, resolve_crs  # noqa: E402
from layers.projects import TYPES, empty_project_layers  # noqa: E402
from layers.store import GeoPackageStore  # noqa: E402


def table(store: GeoPackageStore, n: int, date: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    counties = shapely.union_all(store.frame("counties").geometry.to_numpy())
    xmin, ymin, xmax, ymax = counties.bounds
    pts: list[shapely.Point] = []
    while len(pts) < n:
        cand = shapely.points(rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n))
        pts += list(cand[shapely.contains_xy(counties, shapely.get_x(cand),
                                             shapely.get_y(cand))])
    pts = np.array(pts[:n], dtype=object)
    crs = rng.choice(["", "GCJ-02", "EPSG:4549"], n)
    lon, lat = shapely.get_x(pts).copy(), shapely.get_y(pts).copy()
    for name in ("GCJ-02", "EPSG:4549"):
        m = crs == name
        moved = from_wgs84(pts[m], resolve_crs(name), False)
        lon[m], lat[m] = shapely.get_x(moved), shapely.get_y(moved)
    towns = store.frame("townships")
    towns = towns[towns.geometry.notna()]["code"].to_numpy()
    kind = rng.uniform(0, 1, n)
    planned = rng.integers(0, 101, n)
    actual = np.clip(planned - rng.integers(-5, 30, n), 0, 100)
    total = rng.integers(100, 50000, n)
    frame = pd.DataFrame({
        "项目编号": [f"XM-{i:05d}" for i in range(n)],
        "项目名称": [f"虚构示例·项目{i:05d}" for i in range(n)],
        "项目类型": rng.choice(TYPES, n),
        "经度": np.where(kind < 0.93, np.round(lon, 6).astype(str), ""),
        "纬度": np.where(kind < 0.93, np.round(lat, 6).astype(str), ""),
        "坐标系": np.where(kind < 0.93, crs, ""),
        "位置代码": np.where((kind >= 0.93) & (kind < 0.98), rng.choice(towns, n), ""),
        "总投资(万元)": total, "计划开工": "2023-01-01",
        "计划竣工": rng.choice(["2024-03-31", "2025-12-31", "2026-12-31"], n),
        "计划进度(%)": planned, "实际进度(%)": actual,
        "累计完成投资(万元)": (total * actual / 100).round(1),
        "责任单位": "虚构示例·责任单位", "更新日期": date})
    return frame.to_csv(index=False).encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--store", default="data/build/atlas.gpkg")
    parser.add_argument("--results", default="bench/RESULTS.md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "atlas.gpkg"
    shutil.copyfile(args.store, path)
    store = GeoPackageStore(path)
    for layer, frame in empty_project_layers():
        store.put(layer, frame)
    client = TestClient(create_app(Settings(store_path=path, api_keys="bench")))
    head = {"Authorization": "Bearer bench"}
    load = os.getloadavg()[0]
    timings: dict[str, float] = {}
    for label, date, seed, dry in (("dry run (2024-03-31)", "2024-03-31", 1, "true"),
                                   ("save snapshot 1 (2024-03-31)", "2024-03-31", 1, "false"),
                                   ("save snapshot 2 (2024-04-30)", "2024-04-30", 2, "false")):
        content = table(store, args.rows, date, seed)
        t0 = time.perf_counter()
        r = client.post("/projects", files={"file": ("p.csv", content)},
                        data={"dry_run": dry}, headers=head)
        timings[label] = time.perf_counter() - t0
        assert r.status_code == 200, r.text[:500]
        placement = r.json()["placement"]
    status = client.get("/projects/status").json()
    busiest = max((k for k in status["counts"]["by_axis"] if "-" in k),
                  key=lambda k: status["counts"]["by_axis"][k]["total"])
    n_busiest = status["counts"]["by_axis"][busiest]["total"]
    sheet = {}
    for f in ("json", "html"):
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert client.get(f"/axes/{busiest}/plan?f={f}").status_code == 200
            runs.append(time.perf_counter() - t0)
        sheet[f] = sorted(runs)[len(runs) // 2]
    t0 = time.perf_counter()
    assert client.get("/maps/axes").status_code == 200
    map_s = time.perf_counter() - t0
    lines = [
        "<!-- projects.py begin -->",
        "## Project import and plan sheet (`bench/projects.py`)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()} "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load average "
        f"{load:.2f} → {os.getloadavg()[0]:.2f}; GeoPackage store (copy of the Huzhou build), "
        f"in-process `TestClient` (no network). {args.rows:,} fictional projects (虚构示例) "
        "per snapshot, CSV UTF-8, lon/lat in CRS84/GCJ-02/EPSG:4549, 5 % township codes, "
        "2 % unplaced.",
        "",
        "| step | seconds | projects/s |", "| --- | ---: | ---: |",
        *[f"| `POST /projects` {k} | {v:.2f} | {args.rows / v:,.0f} |"
          for k, v in timings.items()],
        f"| `GET /axes/{busiest}/plan?f=json` ({n_busiest:,} projects, "
        f"{2 * args.rows:,} snapshot rows; median of 5) | {sheet['json']:.2f} | |",
        f"| `GET /axes/{busiest}/plan?f=html` (median of 5) | {sheet['html']:.2f} | |",
        f"| `GET /maps/axes` first render with {args.rows:,} markers | {map_s:.2f} | |",
        "",
        f"Placement of the last snapshot: {placement}.",
        "<!-- projects.py end -->",
    ]
    text = "\n".join(lines)
    print(text)
    results = Path(args.results)
    old = results.read_text(encoding="utf-8") if results.exists() else ""
    if "<!-- projects.py begin -->" in old:
        before, rest = old.split("<!-- projects.py begin -->", 1)
        old = before + rest.split("<!-- projects.py end -->", 1)[1].lstrip("\n")
    results.write_text(old.rstrip("\n") + "\n\n" + text + "\n", encoding="utf-8")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
