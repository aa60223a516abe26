"""Seeded schemathesis fuzzing of every operation in our OpenAPI, against a live server.

Generated ids alone answer 404 and never reach an operation's logic, so each case's path
parameters (and a few query parameters naming layers, indicators…) are taken from the real
ids of a private copy of the Huzhou build: collections and their features, indicators,
places, rasters, axes, projects, a PMTiles archive, and an upload (with its layer) owned by
the key the fuzz sends. Tile coordinates are valid Huzhou tiles or generated ones.

Checks: no answer is a server error (5xx), no request takes longer than 10 s, and nearly
every operation gives at least one answer other than 404 (its logic was reached).
Hypothesis is derandomised (same cases every run) and each operation gets a fixed budget of
cases, so the run is bounded (about two to three minutes on two shared cores).
GETs run first, then POSTs, then DELETEs, so a write cannot take away a later GET's ids.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import morecantile
import pytest
import requests
import schemathesis
from hypothesis.errors import Unsatisfiable
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis import GenerationMode

from layers.pmtiles_archive import export
from layers.store import GeoPackageStore
from layers.tilesets import VectorTiles

ROOT = Path(__file__).parent.parent
KEY = "fuzz-key"  # an API key: owns the fixture's upload and may write shared layers
AUTH = {"Authorization": f"Bearer {KEY}"}
TIMEOUT_S = 10.0
POSITIVE_CASES = 24  # per operation, schema-valid values
NEGATIVE_CASES = 8  # per operation, schema-violating values
SLOW = {"/print": 3, "/maps/": 8, "/overlay": 8, "/compliance": 8, "/axes/accessibility": 4,
        "/axes/stats": 6, "/zonal": 8, "/download": 10, "/axes/generate": 8, "/projects": 10}

PARCELS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"名称": "=SUM(A1)", "用途": "林地"}, "geometry": {
        "type": "Polygon", "coordinates": [[[119.60, 30.60], [119.62, 30.60], [119.62, 30.62],
                                            [119.60, 30.62], [119.60, 30.60]]]}},
    {"type": "Feature", "properties": {"名称": "地块二", "用途": "耕地"}, "geometry": {
        "type": "Polygon", "coordinates": [[[120.08, 30.86], [120.10, 30.86], [120.10, 30.88],
                                            [120.08, 30.88], [120.08, 30.86]]]}}]}
REDLINE = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"名称": "管控区"}, "geometry": {
        "type": "Polygon", "coordinates": [[[119.61, 30.59], [119.63, 30.59], [119.63, 30.61],
                                            [119.61, 30.61], [119.61, 30.59]]]}}]}


@dataclass
class Tally:
    """What the run saw, per operation."""

    cases: Counter = field(default_factory=Counter)
    reached: Counter = field(default_factory=Counter)  # answers other than 404
    errors: list[str] = field(default_factory=list)  # 5xx
    timeouts: list[str] = field(default_factory=list)


def _huzhou_tiles(matrix_set: str = "WebMercatorQuad") -> list[morecantile.Tile]:
    """Tiles over Huzhou's centre (with data) at a few zooms, and one far away (empty)."""
    tms = morecantile.tms.get(matrix_set)
    return [tms.tile(120.0, 30.8, z) for z in (0, 6, 9, 12, 14)] + [tms.tile(100.0, 20.0, 9)]


def _ogc_tiles(matrix_sets: list[str]) -> list[dict]:
    """OGC API – Tiles coordinates (tileMatrix = zoom, tileRow = y, tileCol = x)."""
    return [{"tileMatrixSetId": m, "tileMatrix": str(t.z), "tileRow": t.y, "tileCol": t.x}
            for m in matrix_sets if m in morecantile.tms.list() for t in _huzhou_tiles(m)]


@pytest.fixture(scope="module")
def fuzz_target(start_server, tmp_path_factory) -> tuple[str, dict]:
    """A live server over a private copy of the build, and the real ids to fuzz with."""
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "atlas.gpkg"  # the whole `gongfu build`: axes, ledger, raster, census
    subprocess.run([sys.executable, "-m", "cli", "build", "--store", str(path)], check=True,
                   capture_output=True, cwd=ROOT)
    pmtiles = folder / "pmtiles"
    pmtiles.mkdir()
    export(VectorTiles(GeoPackageStore(path), 0), ["counties"], range(0, 7),
           pmtiles / "huzhou.pmtiles")
    base = start_server(path, GONGFU_API_KEYS=KEY, GONGFU_RATE_LIMIT_PER_MINUTE="0",
                        GONGFU_UPLOADS_DIR=str(folder / "uploads"),
                        GONGFU_PMTILES_DIR=str(pmtiles), GONGFU_UPLOAD_QUOTA_COUNT="100000")
    http = httpx.Client(base_url=base, headers=AUTH, timeout=60)

    def ok(response: httpx.Response) -> dict:
        assert response.status_code < 300, response.text
        return response.json()

    upload = ok(http.post("/uploads", files={"file": (
        "地块.geojson", json.dumps(PARCELS, ensure_ascii=False).encode())}))
    ok(http.post("/constraints", params={"kind": "生态保护红线", "id": "fuzz_redline",
                                         "dry_run": "false"},
                 files={"file": ("红线.geojson", json.dumps(REDLINE).encode())}))
    ok(http.post("/projects", data={"dry_run": "false"}, files={"file": (
        "projects.csv", (ROOT / "data/projects/projects_template.csv").read_bytes())}))
    collections = [c["id"] for c in ok(http.get("/collections"))["collections"]]
    features: list[dict] = []
    for collection in collections:
        items = ok(http.get(f"/collections/{collection}/items", params={"limit": 2}))
        features += [{"collection_id": collection, "feature_id": str(f["id"])}
                     for f in items["features"] if f.get("id") is not None]
    indicators = [i["id"] for i in ok(http.get("/indicators", params={"limit": 40}))[
        "indicators"]]
    axes = [str(f["properties"]["axis_id"]) for f in ok(http.get(
        "/collections/axes/items", params={"limit": 5}))["features"]]
    projects = [str(f["properties"]["project_id"]) for f in ok(http.get(
        "/collections/projects/items", params={"limit": 5}))["features"]]
    rasters = [r["id"] for r in ok(http.get("/rasters"))["rasters"]]
    upload_layers = ok(http.get(f"/uploads/{upload['id']}"))["layers"]
    matrix_sets = [m["id"] for m in ok(http.get("/tileMatrixSets"))["tileMatrixSets"]]
    styles = [{"collectionId": c, "styleId": style["id"]} for c in collections[:4]
              for style in ok(http.get(f"/collections/{c}/styles"))["styles"]]
    http.close()
    vectors = [c for c in collections if c not in ("villages", "indicators",
                                                   "indicator_catalog")]
    ids = {
        "collection_id": collections,
        "collection_id+feature_id": features,
        "indicator_id": indicators,
        "code": ["330500", "330523", "330502", "330523101", "330523101001"],
        "raster": rasters,
        "layers": vectors[:6] + ["counties,cities"],
        "upload_id": [upload["id"]],
        "upload_id+layer_id": [{"upload_id": upload["id"], "layer_id": layer["id"]}
                               for layer in upload_layers],
        # Part 4 on the upload's features (api/routers/transactions.py): a real feature id
        "upload_id+layer_id+feature_id": [{"upload_id": upload["id"], "layer_id": layer["id"],
                                           "feature_id": "1"} for layer in upload_layers],
        "axis_id": axes,
        "project_id": projects,
        "name": ["huzhou"],
        "z+x+y": [{"z": t.z, "x": t.x, "y": t.y} for t in _huzhou_tiles()],
        # OGC API – Tiles and Styles (their own parameter names)
        "collectionId": collections,
        "collectionId+styleId": styles,
        "tileMatrixSetId": matrix_sets,
        "tileMatrixSetId+tileMatrix+tileRow+tileCol": _ogc_tiles(matrix_sets),
    }
    queries = {  # query parameters whose useful values a generator would never guess
        "layer": ["counties", "townships"], "collection": ["counties"],
        "indicator": indicators[:5], "layers": vectors[:4] + ["counties,fuzz_redline"],
        "constraints": ["fuzz_redline"], "q": ["安吉", "人口", "330523"],
        "scenario": [""], "crs": ["GCJ-02", "EPSG:4549"], "format": ["csv", "xlsx", "gpkg"],
    }
    return base, {"paths": ids, "queries": queries}


def _path_choices(path_names: list[str], ids: dict) -> list[dict]:
    """Every real assignment of this operation's path parameters (joint ids kept together)."""
    choices: list[dict] = [{}]
    names = set(path_names)
    for key, values in sorted(ids.items(), key=lambda kv: -kv[0].count("+")):
        parts = key.split("+")
        if not set(parts) <= names:
            continue
        names -= set(parts)
        options = [v if isinstance(v, dict) else {parts[0]: v} for v in values]
        choices = [{**c, **o} for c in choices for o in options] or choices
    return choices


def _budget(path: str, positive: bool) -> int:
    base = POSITIVE_CASES if positive else NEGATIVE_CASES
    for fragment, cases in SLOW.items():
        if fragment in path:
            return min(base, cases if positive else max(2, cases // 3))
    return base


def _operations(schema) -> list:
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    operations = [result.ok() for result in schema.get_all_operations()]
    # deeper DELETEs first: deleting an upload must not leave its features' DELETE only 404s
    return sorted(operations, key=lambda op: (
        order.get(op.method.upper(), 1),
        -op.path.count("/") if op.method.upper() == "DELETE" else 0, op.path))


def _run(operation, mode: GenerationMode, base: str, ids: dict, tally: Tally,
         session: requests.Session) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    names = [p.name for p in operation.path_parameters]
    paths = _path_choices(names, ids["paths"]) if names else [{}]
    declared = {p.name for p in operation.query}
    queries = [{}] + [{name: value} for name, values in ids["queries"].items()
                      if name in declared for value in values]
    strategy = st.tuples(st.sampled_from(paths), st.sampled_from(queries)).flatmap(
        lambda pq: operation.as_strategy(mode, path_parameters=pq[0] or None,
                                         query=pq[1] or None))

    @settings(max_examples=_budget(operation.path, mode == GenerationMode.POSITIVE),
              derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategy)
    def fuzz(case) -> None:
        tally.cases[label] += 1
        try:
            response = case.call(base_url=base, session=session, headers=AUTH,
                                 timeout=TIMEOUT_S)
        except requests.Timeout:
            tally.timeouts.append(f"{label}: {case.as_curl_command(headers=AUTH)}")
            return
        if response.status_code != 404:
            tally.reached[label] += 1
        if response.status_code >= 500:
            tally.errors.append(f"{label} → {response.status_code}: "
                                f"{case.as_curl_command(headers=AUTH)}\n  {response.text[:300]}")

    try:
        fuzz()
    except Unsatisfiable:  # nothing to break: no parameters, or none that can be invalid
        assert mode == GenerationMode.NEGATIVE, label


def test_every_operation_survives_seeded_fuzzing_with_real_ids(fuzz_target) -> None:
    base, ids = fuzz_target
    raw = httpx.get(f"{base}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(raw)
    tally = Tally()
    with requests.Session() as session:
        for operation in _operations(schema):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _run(operation, mode, base, ids, tally, session)
    operations = list(tally.cases)
    unreached = [op for op in operations if not tally.reached[op]]
    total = sum(tally.cases.values())
    print(f"\nfuzz: {len(operations)} operations, {total} cases, "
          f"{sum(tally.reached.values())} answers other than 404 "
          f"({len(operations) - len(unreached)}/{len(operations)} operations reached), "
          f"{len(tally.errors)} server errors, {len(tally.timeouts)} timeouts")
    for op in unreached:
        print(f"  only 404: {op}")
    import os
    if os.environ.get("FUZZ_VERBOSE"):
        for op, n in sorted(tally.cases.items()):
            print(f"  {n:4d} cases {tally.reached[op]:4d} non-404  {op}")
    assert not tally.errors, "\n".join(tally.errors[:20])
    assert not tally.timeouts, "\n".join(tally.timeouts[:20])
    assert len(operations) >= 70 and total >= 12 * len(operations)
    assert len(unreached) <= max(1, len(operations) // 25), unreached
