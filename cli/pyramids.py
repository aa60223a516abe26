"""Tile pyramids saved by the commands that write layers (`gongfu build`, `db load`,
`import-boundaries`), so no server worker has to build, or hold, its own
(layers/pyramids.py, issue 18)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from layers.store import Store



def save_pyramids(target: Store, folder: Path, layer_ids: Sequence[str] | None = None) -> None:
    """Each vector layer's (or the named layers') tile pyramid, built and saved in `folder`.
    Two processes share the work (China's counties and cities are most of it); each opens
    the store again from its path or URL."""
    started = time.perf_counter()
    source = (str(getattr(target, "path", "")), getattr(target, "url", ""))
    ids = [layer.id for layer in target.layers() if layer.geometry_type != "None"
           and (layer_ids is None or layer.id in layer_ids)]
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        done = list(pool.map(_save_pyramid, [(source, folder, i) for i in ids]))
    typer.echo(f"tile pyramids of {len(done)} layers saved in {folder} "
               f"({time.perf_counter() - started:.1f} s)")


def _save_pyramid(job: tuple[tuple[str, str], Path, str]) -> str:
    """One layer's pyramid, in a worker process."""
    from layers.tilesets import VectorTiles

    (path, url), folder, layer_id = job
    from layers.store import open_store

    store = open_store(path, url)
    try:
        VectorTiles(store, cache_bytes=0, pyramid_dir=folder).tileset(layer_id)
    finally:
        store.close()
    return layer_id
