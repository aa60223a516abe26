"""PMTiles v3 archives of our vector tiles (PyPI `pmtiles`): write with `export`, serve with
`PMTilesArchive`. Tiles are stored gzip-compressed, as PMTiles readers expect for MVT.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from geo import durable
from geo.errors import InvalidParameter, NotFound
from geo.tiles import MERCATOR_LAT, tiles_covering
from layers.tilesets import VectorTiles

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def layers_bounds(tiles: VectorTiles, layer_ids: Sequence[str]) -> tuple[float, float, float, float]:
    """WGS84 (west, south, east, north) around the layers' features."""
    # tileset() refuses unknown layers and layers without geometry; an empty one has no bounds
    boxes = [box for box in (tiles.tileset(layer_id).bounds for layer_id in layer_ids)
             if box is not None]
    if not boxes:
        return (-180.0, -MERCATOR_LAT, 180.0, MERCATOR_LAT)
    return (float(min(b[0] for b in boxes)), float(min(b[1] for b in boxes)),
            float(max(b[2] for b in boxes)), float(max(b[3] for b in boxes)))


def tile_list(tiles: VectorTiles, layer_ids: Sequence[str], zooms: Sequence[int]) -> list:
    """Every tile of `zooms` over the layers' extent, in PMTiles (Hilbert) order."""
    bounds = layers_bounds(tiles, layer_ids)
    return sorted(tiles_covering(bounds, zooms), key=lambda t: zxy_to_tileid(t.z, t.x, t.y))


def export(tiles: VectorTiles, layer_ids: Sequence[str], zooms: Sequence[int], path: Path,
           on_tile: Callable[[], None] = lambda: None) -> dict:
    """Write a PMTiles v3 archive of the layers at `zooms` atomically; returns counts."""
    todo = tile_list(tiles, layer_ids, zooms)
    bounds = layers_bounds(tiles, layer_ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(suffix=".pmtiles", dir=path.parent)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            writer = Writer(out)
            for t in todo:
                data = tiles.tile(layer_ids, t.z, t.x, t.y).data
                if data:
                    writer.write_tile(zxy_to_tileid(t.z, t.x, t.y), gzip.compress(data, mtime=0))
                    written += 1
                on_tile()
            if not written:
                raise InvalidParameter("所选范围内没有要素，未生成瓦片。",
                                       "No features in the chosen zooms: no tiles to write.")
            writer.finalize(_header(bounds, zooms), _metadata(tiles, layer_ids, zooms, bounds))
        os.chmod(tmp_name, 0o644)
        durable.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return {"tiles": len(todo), "written": written, "empty": len(todo) - written}


def _header(bounds: tuple[float, float, float, float], zooms: Sequence[int]) -> dict:
    west, south, east, north = bounds
    return {
        "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
        "min_lon_e7": int(west * 1e7), "min_lat_e7": int(south * 1e7),
        "max_lon_e7": int(east * 1e7), "max_lat_e7": int(north * 1e7),
        "center_zoom": min(zooms), "center_lon_e7": int((west + east) / 2 * 1e7),
        "center_lat_e7": int((south + north) / 2 * 1e7),
    }


def _metadata(tiles: VectorTiles, layer_ids: Sequence[str], zooms: Sequence[int],
              bounds: tuple[float, float, float, float]) -> dict:
    sets = [tiles.tileset(layer_id) for layer_id in layer_ids]
    return {
        "name": ",".join(layer_ids),
        "attribution": "; ".join(sorted({s.layer.provenance.source for s in sets})),
        "vector_layers": [{"id": s.layer.id, "description": s.layer.title,
                           "fields": {name: "" for name in s.fields},
                           "minzoom": min(zooms), "maxzoom": max(zooms)} for s in sets],
        "gongfu": {"layers": {s.layer.id: s.version for s in sets},
                   "illustrative": [s.layer.id for s in sets if s.layer.provenance.illustrative]},
        "bounds": list(bounds),
    }


@dataclass
class PMTilesArchive:
    """One archive file opened for reading (memory-mapped)."""

    path: Path
    reader: Reader
    mtime_ns: int

    @classmethod
    def open(cls, path: Path) -> "PMTilesArchive":
        handle = path.open("rb")
        return cls(path, Reader(MmapSource(handle)), path.stat().st_mtime_ns)

    def header(self) -> dict:
        return self.reader.header()

    def metadata(self) -> dict:
        return self.reader.metadata()

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The stored (gzip-compressed) bytes of tile z/x/y, or None if the archive has none."""
        return self.reader.get(z, x, y)


class PMTilesFolder:
    """The archives in one folder, by name (file name without `.pmtiles`), reopened on change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._open: dict[str, PMTilesArchive] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        if not NAME.match(name) or not (self.folder / f"{name}.pmtiles").is_file():
            raise NotFound(f"没有名为“{name}”的 PMTiles 档案。",
                           f"No PMTiles archive named '{name}'.", archive=name)
        return self.folder / f"{name}.pmtiles"

    def archive(self, name: str) -> PMTilesArchive:
        path = self.path(name)
        stamp = path.stat().st_mtime_ns
        with self._lock:
            current = self._open.get(name)
            if current is None or current.mtime_ns != stamp:
                current = self._open[name] = PMTilesArchive.open(path)
            return current

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.pmtiles") if NAME.match(p.stem))

