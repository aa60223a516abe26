"""Named numpy arrays in one file, read back memory-mapped: every process that opens the file
shares its pages through the OS page cache instead of holding its own copy.

Layout: 8-byte magic, 8-byte little-endian header length, a UTF-8 JSON header (the caller's
`meta` and, per array, dtype, shape and byte offset), then each array's bytes at a 64-byte
aligned offset. Written atomically and durably (geo/durable.py): a reader sees the old file,
the new one, or none, never half of one.
"""

from __future__ import annotations

import json
import mmap
import os
from pathlib import Path

import numpy as np

from geo import durable

MAGIC = b"GFARR001"
ALIGN = 64


class ArrayFileError(ValueError):
    """The file is not an array file of this format (truncated, foreign, older format)."""


def write_arrays(path: str | os.PathLike[str], meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` (any fixed-size dtype) and the JSON-able `meta` to `path`, replacing it
    only once everything is on disk."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    entries, offset = {}, 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        if array.dtype.hasobject:
            raise TypeError(f"array {name!r} holds Python objects; pack it first")
        entries[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset += -(-array.nbytes // ALIGN) * ALIGN
    header = json.dumps({"meta": meta, "arrays": entries}, ensure_ascii=False).encode()
    start = -(-(16 + len(header)) // ALIGN) * ALIGN  # arrays begin aligned after the header
    tmp = durable.temp_path(target.parent, target.name)
    try:
        with open(tmp, "wb") as out:
            out.write(MAGIC + len(header).to_bytes(8, "little") + header)
            out.write(b"\0" * (start - 16 - len(header)))
            for name, array in arrays.items():
                data = np.ascontiguousarray(array)
                out.write(memoryview(data).cast("B") if data.nbytes else b"")
                out.write(b"\0" * (-data.nbytes % ALIGN))
        tmp.chmod(0o644)  # read by every worker, whoever wrote it
        durable.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def read_meta(path: str | os.PathLike[str]) -> dict:
    """Only the `meta` of an array file (cheap: reads the header)."""
    with open(path, "rb") as f:
        return _header(f.read(16), f)["meta"]


def open_arrays(path: str | os.PathLike[str]) -> tuple[dict, dict[str, np.ndarray]]:
    """(`meta`, arrays) of a file written by `write_arrays`; the arrays are read-only views
    of one shared memory map (pages are read from disk when first touched)."""
    with open(path, "rb") as f:
        header = _header(f.read(16), f)
        size = os.fstat(f.fileno()).st_size
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    start = -(-(16 + header["length"]) // ALIGN) * ALIGN
    arrays = {}
    for name, entry in header["arrays"].items():
        dtype = np.dtype(entry["dtype"])
        shape = tuple(entry["shape"])
        count = int(np.prod(shape)) if shape else 1
        begin = start + entry["offset"]
        if begin + count * dtype.itemsize > size:
            raise ArrayFileError(f"{path}: truncated (array {name!r})")
        arrays[name] = np.frombuffer(mapped, dtype, count, begin).reshape(shape)
    return header["meta"], arrays


def _header(prefix: bytes, f) -> dict:
    if len(prefix) < 16 or prefix[:8] != MAGIC:
        raise ArrayFileError("not an array file of this format")
    length = int.from_bytes(prefix[8:16], "little")
    raw = f.read(length)
    if len(raw) != length:
        raise ArrayFileError("truncated header")
    try:
        header = json.loads(raw)
    except ValueError:
        raise ArrayFileError("unreadable header") from None
    header["length"] = length
    return header
