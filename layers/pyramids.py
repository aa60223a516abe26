"""A layer's simplified tile pyramid saved once per layer version, beside the store, and
memory-mapped by every server worker (issue 18: the China counties' pyramid costs ~20 s and
~1 GB per worker when each builds its own).

One file per layer, tile CRS and grid (`{folder}/{layer}.{crs}.{grid}.pyramid`, geo/array_file.py): per
zoom level the Web Mercator geometries as packed WKB with bounding boxes
(geo/packed_geometries.py), the feature ids and attributes as JSON, and in the header the
layer version and the simplification settings it was built with. A file whose version or
settings differ from what the server would build is stale: it is not used (the log says so)
and the pyramid is built again, so a stale file can cost time but never serve wrong tiles.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo.array_file import ArrayFileError, open_arrays, write_arrays
from geo.packed_geometries import PackedGeometries
from geo.tiles import MAX_SIMPLIFY_ZOOM, TOLERANCE_UNITS

log = logging.getLogger(__name__)
# Bump when the pyramid's content or file layout changes: older files then count as stale.
FORMAT = 1
SETTINGS = {"format": FORMAT, "max_simplify_zoom": MAX_SIMPLIFY_ZOOM,
            "tolerance_units": TOLERANCE_UNITS}


@dataclass
class Pyramid:
    """A saved pyramid: geometries per level key (0..MAX_SIMPLIFY_ZOOM + 1, the last one
    unsimplified), label points (polygon layers), feature ids and attributes, WGS84 bounds."""

    version: str
    levels: dict[int, PackedGeometries]
    labels: PackedGeometries | None
    ids: list[int | None]
    properties: list[dict]
    fields: list[str]
    bounds: tuple[float, float, float, float] | None


def pyramid_path(folder: Path, layer_id: str, variant: str) -> Path:
    """The file of a layer's pyramid in one variant ("WGS84.WebMercatorQuad": CRS drawn and
    tile grid); names safe on every filesystem."""
    name = f"{layer_id}.{variant}"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name):
        name = "layer-" + hashlib.blake2b(name.encode(), digest_size=10).hexdigest()
    return Path(folder) / f"{name}.pyramid"


def save(folder: Path, layer_id: str, variant: str, pyramid: Pyramid,
         geometries: dict[str, np.ndarray], settings: dict | None = None) -> Path:
    """Write `pyramid` atomically with its `geometries` in the grid's CRS: by level key
    ("0".."13") and, for labelled layers, "labels". `settings` (JSON values) join the
    module's SETTINGS: a later `load` with other values finds the file stale."""
    arrays: dict[str, np.ndarray] = {}
    for key, geoms in geometries.items():
        arrays.update(PackedGeometries.pack(geoms).arrays(f"level{key}"))
    table = json.dumps({"ids": pyramid.ids, "properties": pyramid.properties},
                       ensure_ascii=False, allow_nan=True).encode()
    arrays["features"] = np.frombuffer(table, np.uint8)
    meta = {**SETTINGS, **(settings or {}), "layer": layer_id, "variant": variant, "version": pyramid.version,
            "levels": sorted(int(k) for k in geometries if k.isdigit()),
            "labels": "labels" in geometries, "fields": pyramid.fields,
            "bounds": list(pyramid.bounds) if pyramid.bounds else None}
    path = pyramid_path(folder, layer_id, variant)
    write_arrays(path, meta, arrays)
    return path


@contextmanager
def building(folder: Path, layer_id: str, variant: str) -> Iterator[None]:
    """Held while one process builds and saves a pyramid: other workers wanting the same one
    wait, then map what it saved, instead of each building its own (an exclusive `flock`,
    released by the OS if the builder dies). Without a writable folder, no lock."""
    path = pyramid_path(folder, layer_id, variant)
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(f".{path.name}.lock"), os.O_CREAT | os.O_RDWR, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def load(folder: Path, layer_id: str, variant: str, version: str,
         settings: dict | None = None) -> Pyramid | None:
    """The saved pyramid of this layer version, or None (logged) when there is none, it is
    stale (another version or other settings) or it cannot be read."""
    path = pyramid_path(folder, layer_id, variant)
    try:
        meta, arrays = open_arrays(path)
    except FileNotFoundError:
        log.info("no saved tile pyramid for %s (%s): building it", layer_id, variant)
        return None
    except (OSError, ArrayFileError, ValueError) as error:
        log.warning("saved tile pyramid %s unreadable (%s): building it again", path.name, error)
        return None
    wanted = {**SETTINGS, **(settings or {}), "layer": layer_id, "variant": variant, "version": version}
    stale = {k: meta.get(k) for k in wanted if meta.get(k) != wanted[k]}
    if stale:
        log.info("saved tile pyramid %s is stale (%s): building it again", path.name,
                 ", ".join(f"{k}={v!r}" for k, v in stale.items()))
        return None
    try:
        levels = {int(key): PackedGeometries.from_arrays(arrays, f"level{key}")
                  for key in meta["levels"]}
        labels = PackedGeometries.from_arrays(arrays, "levellabels") if meta["labels"] else None
        table = json.loads(arrays["features"].tobytes())
    except (KeyError, ValueError) as error:
        log.warning("saved tile pyramid %s unreadable (%s): building it again", path.name, error)
        return None
    bounds = tuple(meta["bounds"]) if meta.get("bounds") else None
    return Pyramid(version, levels, labels, table["ids"], table["properties"], meta["fields"], bounds)
