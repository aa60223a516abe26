"""Planner uploads (用户上传): private layers, their owner, and the report shown before use.

Each upload is one GeoPackageStore file (`<folder>/<id>.gpkg`): its layers plus a one-row
`_upload` record (owner, file name, report). The whole file is built under a temporary name and
renamed into place, so an upload appears complete or not at all, two uploads never write the
same file (concurrent uploads are safe without a shared lock), and everything survives a
restart. Uploads live outside the public store, so they never show in `/collections`.

Owners are identified by the SHA-256 of their bearer token, never the token itself: either a
configured API key or a token issued with the first upload (HMAC-signed with a secret kept
beside the uploads, so the server can tell its own tokens from guesses).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import shapely

from geo import durable
from geo.errors import NotFound
from geo.measure import HUZHOU_ZONE_EPSG, MU_PER_KM2, area_km2, length_km
from geo.vector_read import ReadLayer, Upload
from layers.model import Layer, Provenance
from layers.store import GeoPackageStore, Store

RECORD_LAYER = "_upload"
ID_FIELD = "gf_id"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{16}$")
HUZHOU_CODE = "330500"


class UnknownUpload(NotFound):
    code = "unknown_upload"


def _unknown(upload_id: str) -> UnknownUpload:
    # Same answer for "does not exist" and "not yours": existence is not disclosed.
    return UnknownUpload(f"没有编号为“{upload_id}”的上传（或无权访问）。",
                         f"No upload '{upload_id}' (or not yours).", upload=upload_id)


@dataclass(frozen=True)
class UploadRecord:
    id: str
    owner: str  # SHA-256 hex of the owner's token
    created: str
    filename: str
    report: dict
    layers: list[Layer]

    def summary(self) -> dict:
        return {"id": self.id, "filename": self.filename, "created": self.created,
                "layers": [{"id": layer.id, "title": layer.title_zh,
                            "geometry_type": layer.geometry_type} for layer in self.layers]}


class Tokens:
    """Issues and recognises bearer tokens: configured API keys, or tokens we signed."""

    def __init__(self, secret: bytes, api_keys: set[str] | None = None) -> None:
        self._secret = secret
        self._api_keys = {k for k in (api_keys or set()) if k}

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"gfu_{nonce}.{self._sign(nonce)}"

    def owner(self, token: str | None) -> str | None:
        """The owner id for a valid token, else None."""
        if not token:
            return None
        if any(hmac.compare_digest(token, key) for key in self._api_keys):
            return owner_id(token)
        body = token.removeprefix("gfu_")
        nonce, _, signature = body.rpartition(".")
        if token.startswith("gfu_") and nonce and hmac.compare_digest(signature,
                                                                        self._sign(nonce)):
            return owner_id(token)
        return None


def load_secret(folder: Path) -> bytes:
    """The signing secret kept beside the uploads (created once, readable by us only).

    Written whole to a private temporary file, then hard-linked into place: link fails if
    another process won the race, and nobody ever reads a half-written secret.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".token-secret"
    if not path.exists():
        tmp = durable.temp_path(folder, "token-secret")  # mode 0600
        try:
            tmp.write_bytes(secrets.token_bytes(32))
            durable.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()


def owner_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UploadStore:
    """Uploads under one folder, each its own GeoPackage, readable only by its owner."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        durable.sweep(self.folder)  # leftovers of a save killed midway (never a live one's)
        # Records read from the files, per file version (inode, size, mtime): listing the
        # caller's uploads looks at every upload, and opening each GeoPackage costs ~1 ms.
        self._records: dict[str, tuple[tuple[int, int, int], UploadRecord]] = {}

    def _record(self, path: Path, upload_id: str) -> UploadRecord:
        """The upload's record, read again only when its file changed (NotFound, OSError)."""
        stat = path.stat()
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        cached = self._records.get(upload_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        record = _read_record(GeoPackageStore(path), upload_id)
        if len(self._records) > 100_000:  # bounded: start again rather than grow for ever
            self._records.clear()
        self._records[upload_id] = (version, record)
        return record

    def _path(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.match(upload_id):
            raise _unknown(upload_id)
        return self.folder / f"{upload_id}.gpkg"

    def save(self, owner: str, upload: Upload, report: dict, filename: str) -> UploadRecord:
        """Write an upload atomically; returns its record."""
        self.folder.mkdir(parents=True, exist_ok=True)
        upload_id = secrets.token_hex(8)
        tmp = durable.temp_path(self.folder, upload_id, ".gpkg")
        tmp.unlink()  # GeoPackageStore creates the file itself
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            target = GeoPackageStore(tmp)
            layers = []
            for i, read in enumerate(upload.layers, start=1):
                layer, frame = as_layer(read, f"layer_{i}", filename, created)
                target.put(layer, frame)
                layers.append(layer)
            record = UploadRecord(upload_id, owner, created, filename, report, layers)
            target.put(_record_layer(), _record_frame(record))
            tmp.chmod(0o600)  # private data: not readable by other accounts on the host
            durable.replace(tmp, self._path(upload_id))
        finally:
            tmp.unlink(missing_ok=True)
        return record

    def get(self, upload_id: str, owner: str | None) -> UploadRecord:
        path = self._path(upload_id)
        if owner is None or not path.exists():
            raise _unknown(upload_id)
        try:
            record = self._record(path, upload_id)
        except FileNotFoundError:  # deleted meanwhile
            raise _unknown(upload_id) from None
        if not hmac.compare_digest(record.owner, owner):
            raise _unknown(upload_id)
        return record

    def layers_store(self, upload_id: str, owner: str | None) -> tuple[UploadRecord, Store]:
        """The record and the Store holding the upload's layers (owner checked)."""
        record = self.get(upload_id, owner)
        return record, GeoPackageStore(self._path(upload_id))

    @contextmanager
    def editing(self, upload_id: str, owner: str | None) -> Iterator[tuple[UploadRecord, Store]]:
        """The record and a Store to edit the upload's layers in (owner checked); each
        `change_feature` on it is atomic and durable by itself (layers/editing.py)."""
        yield self.layers_store(upload_id, owner)

    def list(self, owner: str) -> list[UploadRecord]:
        out = []
        for path in sorted(self.folder.glob("*.gpkg")):
            if not _UPLOAD_ID.match(path.stem):
                continue
            try:
                record = self._record(path, path.stem)
            except (NotFound, OSError):
                continue  # deleted meanwhile
            if hmac.compare_digest(record.owner, owner):
                out.append(record)
        return sorted(out, key=lambda r: r.created)

    def delete(self, upload_id: str, owner: str | None) -> None:
        self.get(upload_id, owner)
        self._path(upload_id).unlink(missing_ok=True)
        self._records.pop(upload_id, None)
        (self.folder / f".{upload_id}.gpkg.edit-lock").unlink(missing_ok=True)


def _record_layer() -> Layer:
    return Layer(id=RECORD_LAYER, title_zh="上传记录", title_en="Upload record",
                 geometry_type="None", id_field="id",
                 provenance=Provenance(source="upload", license="owner's", crs_of_origin="none"))


def _record_frame(record: UploadRecord) -> gpd.GeoDataFrame:
    row = {"id": record.id, "owner": record.owner, "created": record.created,
           "filename": record.filename,
           "report": json.dumps(record.report, ensure_ascii=False),
           "layers": json.dumps([layer.to_json() for layer in record.layers],
                                ensure_ascii=False)}
    return gpd.GeoDataFrame([row], geometry=gpd.GeoSeries([None], crs=4326))


def _read_record(store: GeoPackageStore, upload_id: str) -> UploadRecord:
    try:
        row = store.frame(RECORD_LAYER).iloc[0]
    except (NotFound, IndexError):
        raise _unknown(upload_id) from None
    layers = [Layer.from_json(text) for text in json.loads(row["layers"])]
    return UploadRecord(str(row["id"]), str(row["owner"]), str(row["created"]),
                        str(row["filename"]), json.loads(row["report"]), layers)


def as_layer(read: ReadLayer, layer_id: str, filename: str,
             created: str) -> tuple[Layer, gpd.GeoDataFrame]:
    """A read layer as a store Layer (id field `gf_id` = 1…n) and its WGS84 frame."""
    frame = read.frame.copy()
    if ID_FIELD in frame.columns:
        frame = frame.rename(columns={ID_FIELD: f"{ID_FIELD}_source"})
    frame.insert(0, ID_FIELD, [str(i) for i in range(1, len(frame) + 1)])
    frame = frame.set_crs(4326, allow_override=True)
    for column in frame.columns:  # GeoPackage needs one plain type per column
        if column != frame.geometry.name and frame[column].dtype == object:
            values = frame[column]
            if not all(v is None or isinstance(v, str) for v in values):
                frame[column] = values.map(lambda v: None if v is None else str(v))
    layer = Layer(
        id=layer_id, title_zh=read.name, title_en=read.name,
        geometry_type=read.geometry_type, id_field=ID_FIELD,
        provenance=Provenance(
            source=f"用户上传 planner upload: {filename} ({read.source})",
            license="owner's own data (private)", crs_of_origin=read.crs.key,
            date=created, note=f"encoding {read.encoding.codec} ({read.encoding.source}); "
                               f"CRS {read.crs.how}"),
        fields={c: str(frame[c].dtype) for c in frame.columns if c != frame.geometry.name},
    )
    return layer, frame


def huzhou_outline(store: Store) -> shapely.Geometry | None:
    """Huzhou's outline from the public store (city polygon, else union of its counties)."""
    ids = {layer.id for layer in store.layers()}
    if "cities" in ids and HUZHOU_CODE in store.frame("cities").index:
        return store.frame("cities").geometry.loc[HUZHOU_CODE]
    if "counties" in ids:
        counties = store.frame("counties")
        mine = counties[counties.index.astype(str).str.startswith(HUZHOU_CODE[:4])]
        if len(mine):
            return shapely.union_all(mine.geometry.to_numpy())
    return None


def build_report(upload: Upload, filename: str, outline: shapely.Geometry | None) -> dict:
    """The bilingual report a planner reads before using the upload."""
    layers = [_layer_report(read, outline) for read in upload.layers]
    total = sum(layer["feature_count"] for layer in layers)
    verdicts = {layer["inside_huzhou"]["verdict"] for layer in layers}
    verdict = verdicts.pop() if len(verdicts) == 1 else "partly"
    zh = [f"文件“{filename}”：{len(layers)} 个图层，共 {total} 个要素。"]
    en = [f"File '{filename}': {len(layers)} layer(s), {total} feature(s) in all."]
    for layer in layers:
        crs, enc, fixes = layer["crs"], layer["encoding"], layer["fixes"]
        how_zh = {"declared": "文件声明", "inferred": "推断", "override": "用户指定"}[crs["how"]]
        zh.append(f"· {layer['name']}：{layer['feature_count']} 个{layer['geometry_type']}；"
                  f"编码 {enc['codec']}（{enc['source']}）；坐标系 {crs['key']}（{how_zh}）；"
                  f"修复 {fixes['made_valid']} 个无效图形，去除 {fixes['z_dropped']} 个 Z/M 值，"
                  f"丢弃 {fixes['empty_dropped'] + fixes['null_dropped']} 个空图形。")
        en.append(f"· {layer['name']}: {layer['feature_count']} {layer['geometry_type']}; "
                  f"encoding {enc['codec']} ({enc['source']}); CRS {crs['key']} ({crs['how']}); "
                  f"{fixes['made_valid']} made valid, {fixes['z_dropped']} Z/M dropped, "
                  f"{fixes['empty_dropped'] + fixes['null_dropped']} empty dropped.")
        for warning in layer["warnings"]:
            zh.append(f"  ⚠ {warning['zh']}")
            en.append(f"  ⚠ {warning['en']}")
    where = {"inside": ("全部位于湖州市范围内。", "Entirely inside Huzhou."),
             "partly": ("部分位于湖州市范围内。", "Partly inside Huzhou."),
             "outside": ("不在湖州市范围内，请检查坐标系。", "Outside Huzhou: check the CRS."),
             "unknown": ("无湖州边界可比对。", "No Huzhou outline to compare with.")}[verdict]
    zh.append(where[0])
    en.append(where[1])
    return {"filename": filename, "layers": layers, "ignored_files": upload.ignored,
            "inside_huzhou": verdict, "summary": {"zh": "\n".join(zh), "en": "\n".join(en)}}


def _layer_report(read: ReadLayer, outline: shapely.Geometry | None) -> dict:
    frame = read.frame
    fields = [{"name": c, "type": str(frame[c].dtype)}
              for c in frame.columns if c != frame.geometry.name]
    return {
        "name": read.name, "source": read.source, "geometry_type": read.geometry_type,
        "feature_count": len(frame), "fields": fields,
        "encoding": {"codec": read.encoding.codec, "source": read.encoding.source,
                     "note": read.encoding.note_en},
        "crs": read.crs.to_dict(), "warnings": read.warnings,
        "bbox_wgs84": [round(v, 7) for v in read.bbox],
        "bbox_source_crs": [round(v, 3) for v in read.source_bounds],
        "fixes": read.fixes, "measures": _measures(frame.geometry.to_numpy()),
        "inside_huzhou": _inside(frame.geometry.to_numpy(), outline),
    }


def _measures(geoms: np.ndarray) -> dict:
    """Total area (km², 亩) or length (km) on the CGCS2000 GK plane EPSG:4549."""
    kind = shapely.get_type_id(geoms[0]) if len(geoms) else -1
    if kind in (3, 6):
        km2 = float(area_km2(geoms, HUZHOU_ZONE_EPSG).sum())
        return {"area_km2": round(km2, 6), "area_mu": round(km2 * MU_PER_KM2, 2),
                "area_crs": f"EPSG:{HUZHOU_ZONE_EPSG}"}
    if kind in (1, 5):
        return {"length_km": round(float(length_km(geoms).sum()), 6),
                "length_crs": f"EPSG:{HUZHOU_ZONE_EPSG}"}
    return {}


def _inside(geoms: np.ndarray, outline: shapely.Geometry | None) -> dict:
    """Whether features fall inside Huzhou; a feature counts as inside when ≥ 99.9 % of its
    area (or length) is, since a planner's file and our Amap-derived outline differ by metres
    along the border."""
    if outline is None:
        return {"verdict": "unknown"}
    shapely.prepare(outline)
    dim = shapely.get_dimensions(geoms)
    # The prepared outline must be the first operand for GEOS to use its index.
    hits = shapely.intersects(outline, geoms)
    share = shapely.contains(outline, geoms).astype(float)
    for i in np.flatnonzero(hits & (share < 1)):  # only features crossing the border
        g = geoms[i]
        if dim[i] == 0:
            share[i] = 0.5  # a multipoint with points on both sides
        else:
            size = shapely.area if dim[i] == 2 else shapely.length
            share[i] = size(shapely.intersection(g, outline)) / max(size(g), 1e-30)
    within = int((share >= 0.999).sum())
    touching = int(hits.sum())
    verdict = "inside" if within == len(geoms) else "outside" if touching == 0 else "partly"
    return {"verdict": verdict, "features_within": within, "features_intersecting": touching}


def remove_tree(path: Path) -> None:
    """Remove a work folder (the received files) without following symlinks out of it."""
    shutil.rmtree(path, ignore_errors=True)

