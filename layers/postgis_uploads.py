"""Planner uploads in PostGIS, so every API process (and machine) sees the same uploads.

`PostGISUploadStore` keeps `UploadStore`'s verbs and privacy rule (only the owner's token
opens an upload; anyone else gets "not found"). The record, the owner id and the upload's
GeoPackage bytes live in `gongfu.uploads` (layers/migrations/002_uploads.sql); each process
writes a private local copy (0600) on first read and serves from it. The database row is the
truth: a deleted upload's local copies are removed when next asked for.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from psycopg_pool import ConnectionPool

from geo import durable
from geo.vector_read import Upload
from layers.model import Layer
from layers.store import GeoPackageStore, Store
from layers.uploads import UploadRecord, UploadStore, _unknown

TOKEN_SECRET = "upload-token-secret"


def shared_secret(pool: ConnectionPool, name: str = TOKEN_SECRET) -> bytes:
    """A 32-byte secret stored once in the database (the first process to ask creates it)."""
    with pool.connection() as conn:
        conn.execute("INSERT INTO gongfu.secrets (name, value) VALUES (%s, %s) "
                     "ON CONFLICT (name) DO NOTHING", (name, secrets.token_bytes(32)))
        return bytes(conn.execute("SELECT value FROM gongfu.secrets WHERE name = %s",
                                  (name,)).fetchone()[0])


class PostGISUploadStore(UploadStore):
    """Uploads in `gongfu.uploads`; `folder` holds this process's local copies."""

    def __init__(self, folder: Path, pool: ConnectionPool) -> None:
        super().__init__(folder)
        self.pool = pool
        self._seen: dict[str, str] = {}  # upload id -> row version (xmin) of the local copy

    def _row_version(self, upload_id: str) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT xmin::text FROM gongfu.uploads WHERE id = %s",
                               (upload_id,)).fetchone()
        return None if row is None else row[0]

    def save(self, owner: str, upload: Upload, report: dict, filename: str) -> UploadRecord:
        record = super().save(owner, upload, report, filename)  # the GeoPackage, locally
        path = self._path(record.id)
        try:
            with self.pool.connection() as conn:
                conn.execute(
                    "INSERT INTO gongfu.uploads (id, owner, created, filename, report, layers, "
                    "data) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (record.id, record.owner, record.created, record.filename,
                     json.dumps(record.report, ensure_ascii=False),
                     json.dumps([layer.to_json() for layer in record.layers],
                                ensure_ascii=False), path.read_bytes()))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return record

    def get(self, upload_id: str, owner: str | None) -> UploadRecord:
        path = self._path(upload_id)  # refuses malformed ids
        if owner is None:
            raise _unknown(upload_id)
        with self.pool.connection() as conn:
            row = conn.execute("SELECT owner, created, filename, report::text, layers::text "
                               "FROM gongfu.uploads WHERE id = %s", (upload_id,)).fetchone()
        if row is None:
            path.unlink(missing_ok=True)  # deleted through another process
            raise _unknown(upload_id)
        if not hmac.compare_digest(row[0], owner):
            raise _unknown(upload_id)
        return _record(upload_id, row)

    def layers_store(self, upload_id: str, owner: str | None) -> tuple[UploadRecord, Store]:
        record = self.get(upload_id, owner)
        path = self._path(upload_id)
        version = self._row_version(upload_id)
        # first read in this process, or edited (through any process) since: a fresh copy
        if not path.exists() or self._seen.get(upload_id) != version:
            with self.pool.connection() as conn:
                data = conn.execute("SELECT data FROM gongfu.uploads WHERE id = %s",
                                    (upload_id,)).fetchone()
            if data is None:
                raise _unknown(upload_id)
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{upload_id}.")  # 0600
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data[0])
                durable.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            self._seen[upload_id] = version
        return record, GeoPackageStore(path)

    @contextmanager
    def editing(self, upload_id: str, owner: str | None) -> Iterator[tuple[UploadRecord, Store]]:
        """Edit a copy of the upload under its row lock; the database row takes the edited
        GeoPackage in the same transaction (or nothing, on an error), then the local copy
        follows. Other processes see the new row version and fetch a fresh copy."""
        record = self.get(upload_id, owner)
        tmp = durable.temp_path(self.folder, upload_id, ".gpkg")
        try:
            with self.pool.connection() as conn, conn.transaction():
                data = conn.execute("SELECT data FROM gongfu.uploads WHERE id = %s FOR UPDATE",
                                    (upload_id,)).fetchone()
                if data is None:
                    raise _unknown(upload_id)
                tmp.write_bytes(data[0])
                yield record, GeoPackageStore(tmp)
                version = conn.execute(
                    "UPDATE gongfu.uploads SET data = %s WHERE id = %s RETURNING xmin::text",
                    (tmp.read_bytes(), upload_id)).fetchone()[0]
            durable.replace(tmp, self._path(upload_id))
            self._seen[upload_id] = version
        finally:
            tmp.unlink(missing_ok=True)
            (self.folder / f".{tmp.name}.edit-lock").unlink(missing_ok=True)

    def list(self, owner: str) -> list[UploadRecord]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT id, owner, created, filename, report::text, "
                                "layers::text FROM gongfu.uploads WHERE owner = %s "
                                "ORDER BY created, id", (owner,)).fetchall()
        return [_record(row[0], row[1:]) for row in rows]

    def delete(self, upload_id: str, owner: str | None) -> None:
        self.get(upload_id, owner)
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM gongfu.uploads WHERE id = %s", (upload_id,))
        self._path(upload_id).unlink(missing_ok=True)


def _record(upload_id: str, row: tuple) -> UploadRecord:
    owner, created, filename, report, layers = row
    return UploadRecord(upload_id, owner, created, filename, json.loads(report),
                        [Layer.from_json(text) for text in json.loads(layers)])
