"""p50/p95 latency of every GET endpoint in the OpenAPI, with real ids, against a live server.

The server is `gongfu serve` (one worker) over a fresh Huzhou build (`gongfu build`: the
boundaries, the demo axes, the ecology ledger and raster, the census indicators; the seed
facts are served from the shipped table) in a temporary folder, plus what a planner adds: an
upload (a few parcels, owned by an API key), a constraint layer, a project snapshot and a
PMTiles archive. Each GET operation gets one URL, its path parameters filled from real ids
(the first collection, feature, indicator, raster, tile over Huzhou…) and the query a page
would send (an indicator for the choropleth, a layer for the index…).

Requests are sequential over one keep-alive connection, with `Accept-Encoding: gzip` as a
browser sends; every URL is asked once (the first answer, cold, reported apart), then the
URLs are asked in turn for `--rounds` rounds (interleaved, so background load on the shared
machine hits all alike). An endpoint whose first answer took over 2 s gets 5 rounds. Target
(issue 18): p95 < 100 ms each.

    .venv/bin/python bench/endpoints.py [--rounds 20] [--write]

`--write` replaces this script's marked section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import morecantile  # noqa: E402

BEGIN, END = "<!-- endpoints.py begin -->", "<!-- endpoints.py end -->"
KEY = "bench-key"
TARGET_MS = 100.0
HUZHOU_CENTRE = (120.0, 30.8)
PARCELS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"名称": f"地块{i}", "用途": "林地"}, "geometry": {
        "type": "Polygon", "coordinates": [[[119.60 + i / 100, 30.60], [119.605 + i / 100, 30.60],
                                            [119.605 + i / 100, 30.605], [119.60 + i / 100, 30.60]]]}}
    for i in range(10)]}
REDLINE = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
    "geometry": {"type": "Polygon", "coordinates": [[[119.61, 30.59], [119.64, 30.59],
                                                     [119.64, 30.61], [119.61, 30.59]]]}}]}
# Query a caller would send where the page is empty or meaningless without one.
QUERIES = {
    "/maps/choropleth": {"layer": "counties", "indicator": "{indicator}"},
    "/collections/{collection_id}/download": {"format": "geojson"},
    "/rasters/{raster}/zonal": {"collection": "counties"},
    "/search": {"q": "安吉"},
    "/print": {"layers": "counties", "bbox": "119.2,30.4,120.5,31.2"},
    "/projects/curves": {"by": "axis"},
}


class Client:
    """One keep-alive HTTP connection; `get` returns (status, seconds, bytes)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, float, bytes]:
        headers = {"Authorization": f"Bearer {KEY}", "Accept-Encoding": "gzip", **(headers or {})}
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            raise
        return response.status, time.perf_counter() - start, data

    def json(self, path: str) -> dict:
        status, _, data = self.request("GET", path, headers={"Accept-Encoding": "identity"})
        assert status == 200, (path, status, data[:300])
        return json.loads(data)

    def multipart(self, path: str, filename: str, data: bytes, fields: dict | None = None
                  ) -> dict:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                 .encode() for k, v in (fields or {}).items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{filename}"\r\n\r\n'.encode() + data + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        status, _, out = self.request("POST", path, body, {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Accept-Encoding": "identity"})
        assert status < 300, (path, status, out[:300])
        return json.loads(out)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def real_ids(client: Client) -> dict[str, str]:
    """One real value per path parameter name (and a few query values)."""
    upload = client.multipart("/uploads", "地块.geojson",
                              json.dumps(PARCELS, ensure_ascii=False).encode())
    client.multipart("/constraints?" + urlencode({"kind": "生态保护红线", "id": "bench_redline",
                                                  "dry_run": "false"}),
                     "红线.geojson", json.dumps(REDLINE).encode())
    client.multipart("/projects", "projects.csv",
                     (PROJECT / "data/projects/projects_template.csv").read_bytes(),
                     {"dry_run": "false"})
    feature = client.json("/collections/counties/items?limit=1")["features"][0]
    upload_layer = client.json(f"/uploads/{upload['id']}")["layers"][0]["id"]
    indicator = client.json("/indicators?mappable=true&limit=1")["indicators"][0]["id"]
    tile = morecantile.tms.get("WebMercatorQuad").tile(*HUZHOU_CENTRE, 10)
    axis = client.json("/collections/axes/items?limit=1")["features"][0]["properties"]
    project = client.json("/collections/projects/items?limit=1")["features"][0]["properties"]
    return {
        "collection_id": "counties", "collectionId": "counties", "feature_id": str(feature["id"]),
        "indicator_id": indicator, "indicator": indicator, "code": "330523",
        "raster": client.json("/rasters")["rasters"][0]["id"], "layers": "counties",
        "upload_id": upload["id"], "layer_id": upload_layer, "axis_id": str(axis["axis_id"]),
        "project_id": str(project["project_id"]), "name": "huzhou", "styleId": "default",
        "z": str(tile.z), "x": str(tile.x), "y": str(tile.y),
        "tileMatrixSetId": "WebMercatorQuad", "tileMatrix": str(tile.z),
        "tileRow": str(tile.y), "tileCol": str(tile.x),
    }


def urls(openapi: dict, ids: dict[str, str]) -> list[tuple[str, str]]:
    """(operation path, concrete URL) for every GET operation."""
    out = []
    for path, operations in sorted(openapi["paths"].items()):
        if "get" not in operations:
            continue
        url = path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", quote(value, safe=","))
        if "{" in url:
            print(f"no real id for {path}", file=sys.stderr)
            continue
        query = {k: v.format(**ids) for k, v in QUERIES.get(path, {}).items()}
        out.append((path, url + (f"?{urlencode(query)}" if query else "")))
    return out


def measure(client: Client, targets: list[tuple[str, str]], rounds: int) -> dict:
    results: dict[str, dict] = {}
    for path, url in targets:  # the first answer of each, cold
        status, seconds, data = client.request("GET", url)
        results[path] = {"url": url, "status": status, "first_ms": seconds * 1e3,
                         "bytes": len(data), "times": []}
    for round_ in range(rounds):
        for path, url in targets:
            entry = results[path]
            if round_ >= 5 and entry["first_ms"] > 2000:
                continue
            status, seconds, _ = client.request("GET", url)
            entry["times"].append(seconds * 1e3)
            entry["status"] = status
    for entry in results.values():
        times = sorted(entry.pop("times"))
        entry["n"] = len(times)
        entry["p50_ms"] = statistics.median(times)
        entry["p95_ms"] = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    return results


def render(results: dict, meta: dict) -> str:
    slow = {p: r for p, r in results.items() if r["p95_ms"] >= TARGET_MS}
    rows = "\n".join(
        f"| `{p}` | {r['status']} | {r['bytes'] / 1024:,.1f} | {r['first_ms']:,.0f} | "
        f"{r['p50_ms']:,.1f} | {r['p95_ms']:,.1f} | {'✓' if r['p95_ms'] < TARGET_MS else '✗'} |"
        for p, r in sorted(results.items(), key=lambda kv: -kv[1]["p95_ms"]))
    return f"""{BEGIN}
## Every GET endpoint, p95 (`bench/endpoints.py`, issue 18)

Run {meta['when']} (load average before the run {meta['load']}; 2 shared cores):
`gongfu serve` (1 worker) over a fresh Huzhou build (census indicators saved, seed facts
served) plus an upload, a constraint layer, a project snapshot and a PMTiles archive; one URL
per GET operation with real ids; sequential requests on one keep-alive connection with
`Accept-Encoding: gzip`; the first answer (cold) apart, then {meta['rounds']} interleaved rounds
(5 for endpoints whose first answer took over 2 s). Target p95 < {TARGET_MS:.0f} ms:
**{len(results) - len(slow)} of {len(results)} GET endpoints meet it**. Slowest first:

| endpoint | status | KiB | first ms | p50 ms | p95 ms | < 100 ms |
|---|---:|---:|---:|---:|---:|:-:|
{rows}
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
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="write into bench/RESULTS.md")
    parser.add_argument("--only", default="", help="measure only paths containing this text")
    args = parser.parse_args()
    gongfu = str(PROJECT / ".venv" / "bin" / "gongfu")
    with tempfile.TemporaryDirectory(prefix="gongfu-endpoints-") as tmp:
        folder = Path(tmp)
        store = folder / "atlas.gpkg"
        subprocess.run([gongfu, "build", "--store", str(store)], check=True,
                       stdout=subprocess.DEVNULL)
        pmtiles = folder / "pmtiles"
        subprocess.run([gongfu, "export", "pmtiles", "counties", "--zooms", "0-8", "-o",
                        str(pmtiles / "huzhou.pmtiles"), "--store", str(store)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = free_port()
        env = {**os.environ, "GONGFU_STORE_PATH": str(store), "GONGFU_API_KEYS": KEY,
               "GONGFU_UPLOADS_DIR": str(folder / "uploads"), "GONGFU_PMTILES_DIR": str(pmtiles),
               "GONGFU_RATE_LIMIT_PER_MINUTE": "0"}
        log = (folder / "server.log").open("w")
        server = subprocess.Popen([gongfu, "serve", "--port", str(port)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            client = Client(port)
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.request("GET", "/conformance")[0] == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            openapi = client.json("/openapi.json")
            targets = [t for t in urls(openapi, real_ids(client)) if args.only in t[0]]
            meta = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "load": " / ".join(f"{v:.1f}" for v in os.getloadavg()),
                    "rounds": args.rounds}
            results = measure(client, targets, args.rounds)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    section = render(results, meta)
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
