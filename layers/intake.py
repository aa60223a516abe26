"""The upload intake pipeline, once for API and CLI: read → report → owner token → save.

Callers bring a work folder holding the received files (the API streams them there, the CLI
copies them); `Uploads.intake` reads it (encoding and CRS resolved, geometry repaired),
builds the bilingual report, and, unless it is a dry run, issues a token when the caller has
none and saves the upload privately. The work folder is the caller's to remove.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from geo.archive import UnpackLimits
from geo.errors import QuotaExceeded
from geo.sandbox import Limits, run_limited
from geo.vector_read import read_folder
from layers.editing import Target
from layers.store import Store, find_layer
from layers.tilesets import Tileset, cut_tile, store_tilesets
from layers.uploads import Tokens, UploadRecord, build_report, huzhou_outline


@dataclass(frozen=True)
class Intake:
    """What an intake produced: always the report; the record and, for a new owner, the token
    once saved."""

    report: dict
    record: UploadRecord | None = None
    token: str | None = None


class Uploads:
    """Planners' private uploads beside a public store: where they live, who owns them, and
    how big they may be."""

    def __init__(self, public: Store, folder: Path, api_keys: set[str],
                 limits: UnpackLimits, sandbox: Limits | None = Limits(),
                 quota: int = 500) -> None:
        self.public = public
        self.store = public.upload_store(Path(folder))
        self.tokens = Tokens(public.token_secret(Path(folder)), api_keys)
        self.limits = limits
        self.sandbox = sandbox  # None: read in this process (trusted files, e.g. benchmarks)
        self.quota = quota  # uploads one owner may keep
        # An upload's tilesets (projected, indexed) are built once per version of its layers
        # (its owner may edit them, layers/editing.py) and kept for the next tiles, a few
        # uploads at a time.
        self._tilesets: OrderedDict[str, tuple[tuple, list[Tileset]]] = OrderedDict()
        self._tiles_lock = threading.Lock()

    def owner(self, token: str | None) -> str | None:
        """The owner id behind a token (an issued token or an API key), else None."""
        return self.tokens.owner(token)

    def tile(self, upload_id: str, owner: str | None, z: int, x: int, y: int) -> bytes:
        """Tile z/x/y of all the upload's layers; only for its owner (UnknownUpload else)."""
        _, store = self.store.layers_store(upload_id, owner)  # the owner check, every time
        versions = tuple(store.version(layer.id) for layer in store.layers())
        with self._tiles_lock:
            cached = self._tilesets.get(upload_id)
            sets = cached[1] if cached is not None and cached[0] == versions else None
            if sets is not None:
                self._tilesets.move_to_end(upload_id)
        if sets is None:
            sets = store_tilesets(store)
            with self._tiles_lock:
                self._tilesets[upload_id] = (versions, sets)
                while len(self._tilesets) > 16:
                    self._tilesets.popitem(last=False)
        return cut_tile(sets, z, x, y)

    @contextmanager
    def editing(self, upload_id: str, owner: str | None, layer_id: str) -> Iterator[Target]:
        """The upload layer `layer_id` to edit (owner only; UnknownUpload else), written back
        when the block ends without error (layers/editing.py does the edits)."""
        with self.store.editing(upload_id, owner) as (record, store):
            # UnknownCollection unless it is one of the upload's layers (not its record)
            layer = find_layer(record.layers, layer_id)
            yield Target.of(store, layer)

    def delete(self, upload_id: str, owner: str | None) -> None:
        """Delete an upload (owner only) and forget its tiles."""
        self.store.delete(upload_id, owner)
        with self._tiles_lock:
            self._tilesets.pop(upload_id, None)

    def intake(self, work: Path, filename: str, crs: str | None = None,
               dry_run: bool = False, owner: str | None = None) -> Intake:
        """Read the files in `work`, report, and save unless `dry_run` (blocking; run it off
        the event loop). `crs` overrides what the files say, e.g. "EPSG:4549" or "GCJ-02"."""
        if self.sandbox is None:
            read = read_folder(work, crs_override=crs, limits=self.limits)
        else:  # a crash, hang or memory blow-up in GDAL costs a child process, not the server
            read = run_limited("geo.vector_read:read_folder", work, crs_override=crs,
                               limits=self.limits, sandbox=self.sandbox, what=filename)
        report = build_report(read, filename, huzhou_outline(self.public))
        if dry_run:
            return Intake(report)
        if owner is not None and len(self.store.list(owner)) >= self.quota:
            raise QuotaExceeded(
                f"已达每人 {self.quota} 个上传的上限：请先删除不再需要的上传。",
                f"You have reached the limit of {self.quota} uploads: delete ones you no "
                "longer need first.", quota=self.quota)
        token = None
        if owner is None:
            token = self.tokens.issue()
            owner = self.tokens.owner(token)
        record = self.store.save(owner, read, report, filename)
        return Intake(report, record, token)
