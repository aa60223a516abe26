"""Editing features (OGC API Features Part 4): create, replace, update (JSON merge patch) and
delete, with optimistic concurrency by ETag.

Which layers may be edited is explicit: a planner's own uploads (with their token) and the
layers marked `editable` (规划人员可编辑, e.g. `planning_sketches` 规划标绘, with an API key).
Official boundaries, registries and census layers are never `editable`.

Every write states the version it changes (`If-Match: "<ETag>"`, the ETag a GET of the item
returned): missing → 428, stale → 412. The ETag is a hash of the stored feature (attributes
and geometry), so it changes exactly when the feature does and is the same in every process
and on both stores. Each write goes through `Store.change_feature`, which calls back here
with the current row read under the store's write lock (so check and write are one step),
writes atomically and durably, and bumps the layer version — tile caches, items and
downloads, all keyed by version, follow.

Incoming geometry is GeoJSON in CRS84 unless a `Content-Crs` header names another supported
CRS (EPSG:4326/4490 lat-lon order, EPSG:4549 northing-easting, GCJ-02); it must be valid, of
the layer's geometry type and inside China's plausible bounds (a swapped lat/lon or projected
metres sent as degrees fail there).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import CRS84, resolve_crs, to_wgs84
from geo.errors import (FeatureExists, InvalidData, NotEditable, PreconditionFailed,
                        PreconditionRequired, UnknownFeature)
from layers.model import Layer, Provenance
from layers.store import FeatureRow, Store, plain, row_of

SKETCH_LAYER = "planning_sketches"
# Lon/lat box of China's territory (incl. the South China Sea islands), degrees.
PLAUSIBLE = (73.0, 3.0, 136.0, 54.0)
KINDS_ZH = {"int": "整数", "float": "数值", "bool": "布尔值", "text": "文本"}


# --- which layers, and what their fields take ----------------------------------------------

def sketch_layer() -> tuple[Layer, gpd.GeoDataFrame]:
    """规划标绘: the shared layer planners edit (empty until they do; never generated data)."""
    fields = {"sketch_id": "编号 id", "name": "名称 name",
              "category": "类别 category（拟选址、意向用地、问题点…）", "note": "备注 note",
              "author": "填报人 author"}
    layer = Layer(
        SKETCH_LAYER, "规划标绘", "Planning sketches", "MultiPolygon", "sketch_id",
        Provenance(source="规划人员在线标绘（OGC API Features Part 4 编辑）planners' own edits",
                   license="内部数据，不公开 internal, not public",
                   crs_of_origin="CRS84, or EPSG:4490/4549/GCJ-02 by Content-Crs; stored WGS84",
                   note="规划人员草图，非审批成果 planners' sketches, not approved plans"),
        "规划人员共享的标绘图层：拟选址、意向用地、问题点等范围，可用 QGIS 或接口编辑。",
        fields, editable=True)
    frame = gpd.GeoDataFrame({name: pd.Series([], dtype=object) for name in fields},
                             geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    return layer, frame


def editable(store: Store, layer_id: str) -> Layer:
    """The layer, if planners may edit it with an API key; NotEditable (403) otherwise."""
    layer = store.layer(layer_id)
    if layer.kind != "vector" or not layer.editable:
        shared = [other for other in store.layers() if other.editable]
        zh = "、".join(f"{other.id}（{other.title_zh}）" for other in shared) or "无"
        en = ", ".join(f"{other.id} ({other.title_en})" for other in shared) or "none"
        raise NotEditable(
            f"图层“{layer.title_zh}”（{layer.id}）不可通过接口编辑：官方边界、统计与名录图层只读。"
            f"可编辑的共享图层：{zh}；您自己的上传可用其令牌编辑。",
            f"Layer '{layer.title_en}' ({layer.id}) cannot be edited through the API: official "
            f"boundaries, statistics and registries are read-only. Editable shared layers: "
            f"{en}; your own uploads can be edited with their token.",
            collection=layer.id)
    return layer


def field_kinds(layer: Layer, frame: gpd.GeoDataFrame) -> dict[str, str]:
    """Each attribute's kind as stored: int, float, bool or text."""
    kinds = {}
    for name in frame.columns:
        if name == frame.geometry.name:
            continue
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            kinds[name] = "bool"
        elif pd.api.types.is_integer_dtype(column):
            kinds[name] = "int"
        elif pd.api.types.is_float_dtype(column):
            kinds[name] = "float"
        else:
            values = [v for v in column if v is not None and not (
                isinstance(v, float) and np.isnan(v))]
            if values and all(isinstance(v, (bool, np.bool_)) for v in values):
                kinds[name] = "bool"
            elif values and all(isinstance(v, (int, np.integer)) and not isinstance(
                    v, (bool, np.bool_)) for v in values):
                kinds[name] = "int"
            else:
                kinds[name] = "text"
    kinds[layer.id_field] = "text"  # ids are text in every answer
    return kinds


# --- ETags ---------------------------------------------------------------------------------

def etag(row: FeatureRow) -> str:
    """A strong ETag of a stored feature: changes exactly when its attributes or geometry do."""
    text = json.dumps({k: plain(v) for k, v in row.properties.items()}, sort_keys=True,
                      ensure_ascii=False, default=str)
    wkb = b"" if row.geometry is None else shapely.to_wkb(row.geometry, byte_order=1)
    return '"' + hashlib.sha256(text.encode() + b"\0" + wkb).hexdigest()[:32] + '"'


def feature_etag(frame: gpd.GeoDataFrame, fid: str) -> str | None:
    """The ETag of feature `fid` in a store frame (None when there is none)."""
    row = row_of(frame, fid)
    return None if row is None else etag(row)


def check_if_match(if_match: str | None, current: FeatureRow, fid: str) -> None:
    """428 without If-Match; 412 when none of its tags is the current one (`*` matches)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            f"修改要素“{fid}”须带 If-Match 请求头（先 GET 该要素取得 ETag），以免覆盖他人的修改。",
            f"Changing feature '{fid}' needs an If-Match header (GET the feature for its "
            "ETag first), so that nobody's edit is overwritten unseen.", feature=fid)
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" not in tags and etag(current) not in tags:
        raise PreconditionFailed(
            f"要素“{fid}”在您读取之后已被他人修改（ETag 不符）：请重新读取后再编辑。",
            f"Feature '{fid}' was changed by someone else since you read it (ETag mismatch): "
            "read it again, then edit.", feature=fid)


# --- input ---------------------------------------------------------------------------------

def content_crs(header: str | None):
    """The CRS named by a `Content-Crs` header (`<uri>`), default CRS84."""
    if header is None or not header.strip():
        return CRS84
    return resolve_crs(header.strip().strip("<>").strip())


_REASONS = {"Self-intersection": ("自相交", "self-intersection"),
            "Ring Self-intersection": ("环自相交", "ring self-intersection"),
            "Too few points": ("点数过少", "too few points"),
            "Hole lies outside shell": ("内环在外环之外", "hole outside its shell"),
            "Nested shells": ("外环嵌套", "nested shells"),
            "Interior is disconnected": ("内部不连通", "disconnected interior"),
            "Invalid Coordinate": ("坐标无效", "invalid coordinate")}


def parse_geometry(value: object, layer: Layer, crs) -> shapely.Geometry | None:
    """A GeoJSON geometry in `crs` → a valid WGS84 geometry of the layer's type."""
    if layer.geometry_type == "None":
        if value is not None:
            raise InvalidData(f"图层“{layer.id}”没有图形，geometry 须为 null。",
                              f"Layer '{layer.id}' has no geometry: geometry must be null.")
        return None
    if not isinstance(value, dict):
        raise InvalidData(f"图层“{layer.id}”的要素须有图形（GeoJSON geometry）。",
                          f"Features of layer '{layer.id}' need a GeoJSON geometry.")
    try:
        geom = shapely.from_geojson(json.dumps(value))
    except (shapely.errors.GEOSException, ValueError, TypeError):
        raise InvalidData("图形不是有效的 GeoJSON geometry。",
                          "The geometry is not a valid GeoJSON geometry.") from None
    if geom is None or geom.is_empty:
        raise InvalidData("图形为空。", "The geometry is empty.")
    allowed = {layer.geometry_type, layer.geometry_type.removeprefix("Multi")}
    if geom.geom_type not in allowed:
        raise InvalidData(
            f"图层“{layer.id}”只接受 {layer.geometry_type}，收到 {geom.geom_type}。",
            f"Layer '{layer.id}' takes {layer.geometry_type} only, got {geom.geom_type}.")
    geom = shapely.force_2d(geom)  # the stores hold x/y; a Z or M value is dropped
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise InvalidData("图形含非有限坐标。", "The geometry has non-finite coordinates.")
    geom = to_wgs84(np.array([geom]), crs, authority_order=True)[0]
    west, south, east, north = PLAUSIBLE
    coords = shapely.get_coordinates(geom)
    if not ((coords[:, 0] >= west) & (coords[:, 0] <= east) & (coords[:, 1] >= south)
            & (coords[:, 1] <= north)).all():
        raise InvalidData(
            f"坐标超出合理范围（中国境内：经度 {west:g}–{east:g}°，纬度 {south:g}–{north:g}°）。"
            f"请检查坐标系（Content-Crs 请求头，当前 {crs.key}）或经纬度顺序。",
            f"Coordinates outside plausible bounds (China: longitude {west:g}–{east:g}°, "
            f"latitude {south:g}–{north:g}°). Check the CRS (Content-Crs header, now "
            f"{crs.key}) or the axis order.")
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        zh, en = next((v for k, v in _REASONS.items() if reason.startswith(k)),
                      ("拓扑无效", "invalid topology"))
        where = re.search(r"\[([-\d.eE+]+) ([-\d.eE+]+)\]", reason)
        at = f"{float(where[1]):.6f}, {float(where[2]):.6f}" if where else ""
        raise InvalidData(f"图形无效：{zh}" + (f"（约在 {at}）" if at else "") + "。请修正后再提交。",
                          f"Invalid geometry: {en}" + (f" (near {at})" if at else "")
                          + ". Fix it and send again.")
    if layer.geometry_type.startswith("Multi") and not geom.geom_type.startswith("Multi"):
        geom = {"MultiPolygon": shapely.multipolygons, "MultiLineString":
                shapely.multilinestrings, "MultiPoint": shapely.multipoints}[
            layer.geometry_type]([geom])
    return geom


def check_properties(values: object, layer: Layer, kinds: dict[str, str]) -> dict[str, object]:
    """Attributes as given, checked against the layer's fields and their kinds."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InvalidData("properties 须为 JSON 对象。", "properties must be a JSON object.")
    unknown = sorted(set(values) - set(kinds))
    if unknown:
        raise InvalidData(
            f"图层“{layer.id}”没有这些字段：{', '.join(unknown)}。现有字段：{', '.join(kinds)}",
            f"Layer '{layer.id}' has no field(s): {', '.join(unknown)}. "
            f"Fields: {', '.join(kinds)}")
    for name, value in values.items():
        kind = kinds[name]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = value is None or {
            # 64-bit integers and finite doubles: what both stores hold
            "int": number and isinstance(value, int) and -2**63 <= value < 2**63,
            "float": number and abs(value) <= 1.7e308,
            "bool": isinstance(value, bool),
            "text": isinstance(value, str) and "\x00" not in value and len(value) <= 100_000,
        }[kind]
        if not ok:
            raise InvalidData(
                f"字段“{name}”须为{KINDS_ZH[kind]}，收到 {json.dumps(value, ensure_ascii=False)}。",
                f"Field '{name}' takes {kind} values, got {json.dumps(value)}.")
    return dict(values)


@dataclass(frozen=True)
class Target:
    """A layer being edited: the store that writes it and what its fields take."""

    store: Store
    layer: Layer
    kinds: dict[str, str]

    @classmethod
    def of(cls, store: Store, layer: Layer) -> "Target":
        return cls(store, layer, field_kinds(layer, store.frame(layer.id)))


def _feature(body: object) -> dict:
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidData("请求体须为一个 GeoJSON Feature（type 为 “Feature”）。",
                          "The body must be one GeoJSON Feature (type \"Feature\").")
    return body


def _whole_row(target: Target, body: dict, fid: str, crs) -> FeatureRow:
    layer = target.layer
    properties = {name: None for name in target.kinds}
    properties.update(check_properties(body.get("properties"), layer, target.kinds))
    given = properties.get(layer.id_field)
    if given is not None and str(given) != fid:
        raise InvalidData(f"编号字段“{layer.id_field}”（{given}）与要素编号“{fid}”不一致。",
                          f"Id field '{layer.id_field}' ({given}) differs from the feature "
                          f"id '{fid}'.")
    properties[layer.id_field] = fid
    return FeatureRow(properties, parse_geometry(body.get("geometry"), layer, crs))


def _new_id(frame: gpd.GeoDataFrame) -> str:
    """Next integer id when every id is an integer (uploads: 1…n), else a random one."""
    ids = pd.to_numeric(pd.Series(frame.index.astype(str)), errors="coerce")
    if len(ids) == 0 or ids.notna().all():
        return str(int(ids.max()) + 1 if len(ids) else 1)
    return secrets.token_hex(6)


def _check_fid(layer_id: str, fid: str) -> None:
    """A feature id no store can hold (NUL, over-long) names no feature."""
    if "\x00" in fid or len(fid) > 200:
        raise _unknown(layer_id, fid.replace("\x00", "")[:200])


def _unknown(layer_id: str, fid: str) -> UnknownFeature:
    return UnknownFeature(f"图层“{layer_id}”中没有编号为“{fid}”的要素。",
                          f"Layer '{layer_id}' has no feature with id '{fid}'.",
                          collection=layer_id, feature=fid)


# --- the four verbs -------------------------------------------------------------------------

def create(target: Target, body: object, crs) -> FeatureRow:
    """Add a feature (id from `id`, the id field, or the next free one); 409 if taken."""
    body = _feature(body)
    layer = target.layer
    properties = body.get("properties") if isinstance(body.get("properties"), dict) else {}
    given = body.get("id")
    if given is None:
        given = properties.get(layer.id_field)
    if given is not None and (isinstance(given, bool) or not isinstance(given, (str, int))):
        raise InvalidData("要素编号须为文本或整数。", "A feature id must be text or an integer.")
    fid = str(given) if given is not None else _new_id(target.store.frame(layer.id))
    if not fid.strip() or len(fid) > 200 or "\x00" in fid:
        raise InvalidData("要素编号不能为空或过长。", "A feature id must be 1–200 characters.")
    row = _whole_row(target, {**body, "properties": {**properties, layer.id_field: fid}},
                     fid, crs)

    def change(current: FeatureRow | None) -> FeatureRow:
        if current is not None:
            raise FeatureExists(f"图层“{layer.id}”中已有编号为“{fid}”的要素。",
                                f"Layer '{layer.id}' already has a feature '{fid}'.",
                                feature=fid)
        return row

    return target.store.change_feature(layer.id, fid, change)


def replace(target: Target, fid: str, body: object, if_match: str | None, crs) -> FeatureRow:
    """Replace a feature whole (attributes not given become null)."""
    _check_fid(target.layer.id, fid)
    row = _whole_row(target, _feature(body), fid, crs)

    def change(current: FeatureRow | None) -> FeatureRow:
        if current is None:
            raise _unknown(target.layer.id, fid)
        check_if_match(if_match, current, fid)
        return row

    return target.store.change_feature(target.layer.id, fid, change)


def update(target: Target, fid: str, patch: object, if_match: str | None, crs) -> FeatureRow:
    """Apply a JSON merge patch (RFC 7396) to a feature: `properties` members set (null
    clears), `geometry` replaced when given."""
    _check_fid(target.layer.id, fid)
    if not isinstance(patch, dict):
        raise InvalidData("请求体须为 JSON 合并补丁对象。", "The body must be a JSON merge patch object.")
    layer = target.layer
    extra = sorted(set(patch) - {"type", "id", "properties", "geometry", "links"})
    if extra:
        raise InvalidData(f"不能修改：{', '.join(extra)}（只能改 properties 与 geometry）。",
                          f"Cannot change: {', '.join(extra)} (only properties and geometry).")
    if "id" in patch and str(patch["id"]) != fid:
        raise InvalidData("不能修改要素编号。", "A feature's id cannot be changed.")
    values = check_properties(patch.get("properties"), layer, target.kinds)
    if layer.id_field in values and str(values[layer.id_field]) != fid:
        raise InvalidData("不能修改要素编号。", "A feature's id cannot be changed.")
    geometry = parse_geometry(patch["geometry"], layer, crs) if "geometry" in patch else None

    def change(current: FeatureRow | None) -> FeatureRow:
        if current is None:
            raise _unknown(layer.id, fid)
        check_if_match(if_match, current, fid)
        return FeatureRow({**current.properties, **values},
                          geometry if "geometry" in patch else current.geometry)

    return target.store.change_feature(layer.id, fid, change)


def delete(target: Target, fid: str, if_match: str | None) -> None:
    """Remove a feature."""
    _check_fid(target.layer.id, fid)

    def change(current: FeatureRow | None) -> None:
        if current is None:
            raise _unknown(target.layer.id, fid)
        check_if_match(if_match, current, fid)
        return None

    target.store.change_feature(target.layer.id, fid, change)
