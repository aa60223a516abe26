"""GeoJSON written as a stream: features encoded a slice at a time, geometries in bulk.

A FeatureCollection of any size leaves as a sequence of byte chunks: the document's head, the
features slice by slice (each slice ~`SLICE_COORDS` coordinates, so memory is bounded by a
slice, not by the layer), and its tail. Geometries of a slice are rounded and written by GEOS
in one vectorised call (`shapely.set_precision` + `shapely.to_geojson`); properties by the C
JSON encoder. The bytes are those `json.dumps(..., ensure_ascii=False, separators=(",", ":"))`
gives for the same features (Chinese text as UTF-8, coordinates at the shortest repr of the
rounded value).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterable, Iterator

import numpy as np
import pandas as pd
import shapely

FIRST_SLICE_COORDS = 4_000  # a small first slice: the first byte leaves within milliseconds
SLICE_COORDS = 100_000  # then ~2.5 MB of text per slice at 7 decimals
_SLOT = "\u0000features\u0000"  # stands in for the features while the head/tail are dumped

# Test hooks: slices sent and geometries encoded in this process (the answer starts before
# its end; a cached page is not encoded again).
slices_encoded = 0
geometries_encoded = 0


def _plain(value: Any) -> Any:
    """A JSON-safe value: numpy scalars unwrapped, NaN/NA/±inf as null."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _jsonable(value: Any) -> Any:
    """Values JSON has no type for: dates and times as ISO 8601 text, the rest as text (an
    answer already under way must not fail on one odd value)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> str:
    """Compact JSON with Chinese text kept as is (the items answer's own style)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_jsonable)


def split_around(document: dict[str, Any], key: str) -> tuple[bytes, bytes]:
    """The bytes of `document` before and after its `key` member's value (a list to stream)."""
    text = dumps({**document, key: _SLOT})
    head, _, tail = text.partition(dumps(_SLOT))
    return (head + "[").encode(), ("]" + tail).encode()


def _shortest(texts: list[str | None], precision: int) -> list[bytes]:
    """GEOS's GeoJSON of rounded coordinates, with the few numbers its double printer writes
    at 17 digits (120.20838379999999) rewritten at their shortest (120.2083838): each such
    number has more than `precision` decimals, which no correctly printed rounded one has."""
    joined = "\n".join("null" if t is None else t for t in texts).encode()
    raw = np.frombuffer(joined, dtype=np.uint8)
    dots = np.flatnonzero(raw == ord("."))
    dots = dots[dots + precision + 1 < len(raw)]
    # a digit precision+1 places after the dot (rare), then all the places between digits
    dots = dots[(raw[dots + precision + 1] - ord("0")) < 10]
    for k in range(1, precision + 1):
        dots = dots[(raw[dots + k] - ord("0")) < 10]
    if not len(dots):
        return joined.split(b"\n")
    parts, start = [], 0
    for dot in dots:
        begin = int(dot)
        while begin > 0 and joined[begin - 1] in b"-0123456789":
            begin -= 1
        end = int(dot) + 1
        while end < len(joined) and joined[end] in b"0123456789eE-+":
            end += 1
        parts += [joined[start:begin], repr(float(joined[begin:end])).encode()]
        start = end
    parts.append(joined[start:])
    return b"".join(parts).split(b"\n")


def _slices(counts: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, stop) rows: a small first slice, then ~SLICE_COORDS coordinates each."""
    start, budget, total = 0, FIRST_SLICE_COORDS, len(counts)
    cumulative = np.cumsum(counts)
    while start < total:
        base = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, base + budget, side="right"))
        stop = min(total, max(stop, start + 1))
        yield start, stop
        start, budget = stop, SLICE_COORDS


class GeometryTexts:
    """Encoded geometries kept between requests, so a repeated page costs no encoding.

    Grouped in sections (the caller's key: a layer version in one CRS and axis order), each
    a map feature id -> GeoJSON geometry bytes. Bounded: `max_bytes` in all, sections least
    recently used dropped first, and `section_bytes` per section, past which a section's
    other features are simply encoded each time (a 100 MB layer streams, it is not kept).
    """

    def __init__(self, max_bytes: int, section_bytes: int) -> None:
        self.max_bytes, self.section_bytes = max_bytes, section_bytes
        self._sections: OrderedDict[Hashable, dict[str, bytes]] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def section(self, key: Hashable) -> Section | None:
        if self.max_bytes <= 0:
            return None
        with self._lock:
            texts = self._sections.setdefault(key, {})
            self._sizes.setdefault(key, 0)
            self._sections.move_to_end(key)
        return Section(self, key, texts)

    def _keep(self, key: Hashable, texts: dict[str, bytes], new: dict[str, bytes]) -> None:
        size = sum(len(t) for t in new.values())
        with self._lock:
            if key not in self._sections or self._sizes[key] + size > self.section_bytes:
                return
            while sum(self._sizes.values()) + size > self.max_bytes and len(self._sections) > 1:
                oldest = next(iter(self._sections))
                if oldest == key:
                    self._sections.move_to_end(key)
                    oldest = next(iter(self._sections))
                del self._sections[oldest], self._sizes[oldest]
            if sum(self._sizes.values()) + size <= self.max_bytes:
                texts.update(new)
                self._sizes[key] += size

    @property
    def size(self) -> int:
        return sum(self._sizes.values())


class Section:
    def __init__(self, owner: GeometryTexts, key: Hashable, texts: dict[str, bytes]) -> None:
        self._owner, self._key, self.texts = owner, key, texts

    def keep(self, new: dict[str, bytes]) -> None:
        self._owner._keep(self._key, self.texts, new)


def _encode(geoms: np.ndarray, precision: int,
            transform: Callable[[np.ndarray], np.ndarray] | None) -> list[bytes]:
    """GeoJSON geometry bytes (b"null" for a missing one), in bulk."""
    global geometries_encoded
    geometries_encoded += len(geoms)
    if transform is not None:
        geoms = np.asarray(transform(geoms))
    rounded = shapely.set_precision(geoms, 10.0 ** -precision, mode="pointwise")
    return _shortest(list(shapely.to_geojson(rounded)), precision)


def feature_chunks(
    frame: pd.DataFrame,
    geometries: np.ndarray,
    properties: Iterable[str],
    precision: int,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ids: bool = True,
    cache: Section | None = None,
) -> Iterator[bytes]:
    """The features of `frame` as comma-separated GeoJSON Feature text, a slice per chunk.

    `geometries` (WGS84, one per row) go through `transform` a slice at a time (reprojection)
    and are rounded to `precision` decimals; those found in `cache` (by feature id) are not
    encoded again, and the others are offered to it. With `ids`, each Feature carries the
    frame's index as "id" before its geometry (OGC API items); without, properties come first
    and there is no id (as GDAL writes a GeoJSON file, whose readers would turn "id" into a
    field).
    """
    global slices_encoded
    names = list(properties)
    index = frame.index
    counts = shapely.get_num_coordinates(geometries)
    for n, (start, stop) in enumerate(_slices(counts)):
        fids = [str(fid) for fid in index[start:stop]]
        known = cache.texts if cache is not None else {}
        shapes = [known.get(fid) for fid in fids]
        missing = [i for i, shape in enumerate(shapes) if shape is None]
        if missing:
            encoded = _encode(geometries[start:stop][missing], precision, transform)
            for i, text in zip(missing, encoded):
                shapes[i] = text
            if cache is not None:
                cache.keep({fids[i]: text for i, text in zip(missing, encoded)})
        columns = [frame[name].iloc[start:stop].tolist() for name in names]
        out = []
        for i, shape in enumerate(shapes):
            props = dumps({name: _plain(column[i]) for name, column in zip(names, columns)})
            if ids:
                out += [b'{"type":"Feature","id":', dumps(fids[i]).encode(), b',"geometry":',
                        shape, b',"properties":', props.encode(), b"},"]
            else:
                out += [b'{"type":"Feature","properties":', props.encode(), b',"geometry":',
                        shape, b"},"]
        slices_encoded += 1
        out[-1] = b"}"  # no comma after the slice's last feature
        yield (b"," if n else b"") + b"".join(out)


def collection(head: bytes, chunks: Iterable[bytes], tail: bytes) -> Iterator[bytes]:
    """A whole document: `head`, the feature chunks, `tail` (the head rides with the first
    chunk so the first write is already well-formed JSON text up to a feature boundary)."""
    first = True
    for chunk in chunks:
        yield head + chunk if first else chunk
        first = False
    yield tail if not first else head + tail
