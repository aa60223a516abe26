"""`gongfu seed`: warm a running atlas's tile cache, requesting every tile of some zooms over a
tileset's extent.

Talks only HTTP (TileJSON for the extent, then each tile over one keep-alive connection), so it
warms exactly the process that will answer users. For tiles that outlive a restart, export a
PMTiles archive instead (`gongfu export pmtiles`).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import typer

from cli.errors import bilingual_errors, fail
from cli.options import zoom_range


def seed_server(url: str, layers: str, zooms: Sequence[int],
                progressbar: Callable | None = None) -> dict[str, int]:
    """GET every tile of `layers` at `zooms` from the server at `url`; returns counts."""
    parts = urlsplit(url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuntimeError(f"not an http(s) URL: {url}")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=120)
    prefix = parts.path

    def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn.request("GET", prefix + path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()

    status, body = get(f"/tiles/{layers}/tilejson.json")
    if status != 200:
        message = json.loads(body).get("message", {}).get("en", body[:200]) if body else status
        raise RuntimeError(f"{url}/tiles/{layers}/tilejson.json answered {status}: {message}")
    from geo.tiles import tiles_covering  # morecantile: loaded by the command, not the CLI

    todo = list(tiles_covering(tuple(json.loads(body)["bounds"]), zooms))
    counts = {"tiles": len(todo), "ok": 0, "empty": 0}
    bar = progressbar(todo, label="seeding") if progressbar else _Plain(todo)
    with bar as tiles:
        for t in tiles:
            # As a browser asks, so the gzip variant is warmed too (bodies are not read back).
            status, _ = get(f"/tiles/{layers}/{t.z}/{t.x}/{t.y}.mvt", {"Accept-Encoding": "gzip"})
            if status == 200:
                counts["ok"] += 1
            elif status == 204:
                counts["empty"] += 1
            else:
                raise RuntimeError(f"tile {t.z}/{t.x}/{t.y} answered {status}")
    conn.close()
    return counts


class _Plain:
    """Stands in for a progress bar when none is wanted."""

    def __init__(self, items: list) -> None:
        self.items = items

    def __enter__(self) -> list:
        return self.items

    def __exit__(self, *exc: object) -> None:
        return None


@bilingual_errors
def seed(
    layers: str = typer.Argument(..., help="Comma-separated layer ids, e.g. counties,cities"),
    zooms: str = typer.Option("5-12", help="Zoom range to pre-render, e.g. 5-10"),
    url: str = typer.Option("http://127.0.0.1:8000", help="The running atlas to warm"),
) -> None:
    """Pre-render vector tiles in a running server's cache (every tile over the layers' extent)."""
    levels = zoom_range(zooms)
    try:
        counts = seed_server(url, layers, levels, typer.progressbar)
    except (OSError, RuntimeError) as error:  # the server, not the input: exit 1
        fail(f"预渲染失败 Seeding failed: {error}", code=1)
    typer.echo(f"{counts['tiles']} tiles: {counts['ok']} rendered, {counts['empty']} empty")
