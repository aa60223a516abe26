"""Compliance check (合规性审查): a planner's parcels against constraint layers.

Constraint layers (约束图层) are published from a planner's **own** file — no open data for
生态保护红线 / 永久基本农田 / 城镇开发边界 exists and nothing here pretends to hold the official
三区三线. Each becomes a public store layer `constraint_<slug>`: polygons only, its kind
(one of `STANDARD_KINDS` or a custom name) kept in the Layer's `style["constraint_kind"]` and
in every feature, and the file's name and SHA-256 in its provenance ("planner's file").

`compliance(store, layers)` measures, per constraint and per parcel of an upload's polygon
layers, the conflict area (m², 亩) on CGCS2000 3° GK CM 120E (EPSG:4549, `geo.measure`) and its
share of the parcel, plus per-layer totals (parcels dissolved first, so overlapping parcels
never count the same ground twice). `conflict_features` gives the conflict polygons (WGS84)
for drawing in red and downloading.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import InvalidData, InvalidParameter
from geo.measure import HUZHOU_ZONE_EPSG, MU_PER_KM2, area_km2
from geo.sandbox import run_limited
from geo.vector_read import Upload, read_folder
from layers.intake import Uploads
from layers.model import Layer, Provenance
from layers.overlay import rows_csv, rows_xlsx
from layers.store import Store

PREFIX = "constraint_"
KIND_FIELD = "constraint_kind"
# The three control lines (三区三线) and their English names and default slugs.
STANDARD_KINDS = {
    "生态保护红线": ("Ecological protection red line", "ecological_redline"),
    "永久基本农田": ("Permanent basic farmland", "permanent_farmland"),
    "城镇开发边界": ("Urban development boundary", "urban_development_boundary"),
}
MU_PER_M2 = MU_PER_KM2 / 1e6  # 1 m² = 0.0015 亩
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_POLYGONAL = {"Polygon", "MultiPolygon"}
LABEL_FIELDS = ("地块编号", "地块名称", "name", "名称", "DKBH", "DKMC", "code", "编号")
NOTE = {
    "zh": "约束图层来自规划人员自己上传的文件，并非官方三区三线成果；面积在 CGCS2000 3° "
          "高斯-克吕格 CM 120E（EPSG:4549）平面上计算，1 平方米 = 0.0015 亩。",
    "en": "Constraint layers come from planners' own files, not the official 三区三线 data; "
          "areas on CGCS2000 3° Gauss-Kruger CM 120E (EPSG:4549), 1 m² = 0.0015 mu.",
}


def resolve_kind(kind: str, slug: str | None, title: str | None) -> tuple[str, str, str, str]:
    """(kind, layer id, title zh, title en) for a publish request; bilingual 400 if wrong."""
    kind = (kind or "").strip()
    if not kind or len(kind) > 40:
        raise InvalidParameter(
            "参数 kind 须为约束类型：生态保护红线、永久基本农田、城镇开发边界或自定义名称（≤ 40 字）。",
            "Parameter kind must name the constraint: 生态保护红线, 永久基本农田, 城镇开发边界 or a "
            "custom name (≤ 40 characters).", parameter="kind")
    english, default_slug = STANDARD_KINDS.get(kind, (kind, None))
    slug = (slug or default_slug or "").strip().lower()
    if not _SLUG.match(slug):
        raise InvalidParameter(
            "参数 id 须为小写英文字母开头、由小写字母/数字/下划线组成（≤ 40 字符）；"
            "自定义约束类型必须给出 id。",
            "Parameter id must start with a lowercase letter and hold only a–z, 0–9 and _ "
            "(≤ 40 characters); a custom constraint kind needs one.", parameter="id")
    title_zh = (title or "").strip()[:80] or kind
    return kind, PREFIX + slug, title_zh, title_zh if title else english


def read_constraint_file(uploads: Uploads, work: Path, filename: str,
                         crs: str | None) -> Upload:
    """Read the received files like any upload: in the sandbox when the service has one."""
    if uploads.sandbox is None:
        return read_folder(work, crs_override=crs, limits=uploads.limits)
    return run_limited("geo.vector_read:read_folder", work, crs_override=crs,
                       limits=uploads.limits, sandbox=uploads.sandbox, what=filename)


def constraint_layer(upload: Upload, work: Path, filename: str, kind: str, layer_id: str,
                     title_zh: str, title_en: str) -> tuple[Layer, gpd.GeoDataFrame]:
    """Every polygon layer of the upload as one constraint layer (WGS84, id `1…n`)."""
    polygons = [read for read in upload.layers if read.geometry_type in _POLYGONAL]
    if not polygons:
        raise InvalidData("约束图层须为面要素，上传中没有面图层。",
                          "A constraint layer must be polygons; the upload has no polygon "
                          "layer.", layers=[read.name for read in upload.layers])
    geoms = np.concatenate([read.frame.geometry.to_numpy() for read in polygons])
    sources = [read.name for read in polygons for _ in range(len(read.frame))]
    names = np.concatenate([_labels(read.frame) for read in polygons])
    frame = gpd.GeoDataFrame(
        {"id": [str(i) for i in range(1, len(geoms) + 1)], KIND_FIELD: kind,
         "name": names, "source_layer": sources},
        geometry=[_multi(g) for g in geoms], crs=4326).set_index("id", drop=False)
    digest = hashlib.sha256()
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        digest.update(path.read_bytes())
    crs_keys = sorted({read.crs.key for read in polygons})
    english = STANDARD_KINDS.get(kind, (kind,))[0]
    layer = Layer(
        id=layer_id, title_zh=title_zh, title_en=title_en, geometry_type="MultiPolygon",
        id_field="id",
        description=f"约束图层（{kind}），来自规划人员上传的文件，非官方三区三线成果。"
                    f"Constraint layer ({english}) from a planner's file, not official data.",
        provenance=Provenance(
            source=f"规划人员上传 planner's file: {filename} (SHA-256 {digest.hexdigest()})",
            license="planner's own data (published with an API key)",
            crs_of_origin=", ".join(crs_keys),
            date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            note=f"约束类型 constraint kind: {kind}; 非官方三区三线 not the official control "
                 "lines"),
        fields={"id": "编号 id", KIND_FIELD: "约束类型 constraint kind", "name": "名称 name",
                "source_layer": "来源图层 source layer"},
        style={KIND_FIELD: kind, "kind_en": english, "fill": "#d7301f"},
    )
    return layer, frame


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom


def _labels(frame: gpd.GeoDataFrame) -> np.ndarray:
    for name in LABEL_FIELDS:
        if name in frame.columns:
            return frame[name].map(lambda v: "" if v is None else str(v)).to_numpy()
    return np.array([""] * len(frame), dtype=object)


def constraint_layers(store: Store, wanted: list[str] | None = None) -> list[Layer]:
    """The published constraint layers (all, or the ids asked for: unknown ids → 404)."""
    found = [layer for layer in store.layers()
             if layer.id.startswith(PREFIX) and layer.geometry_type in _POLYGONAL]
    if wanted:
        for layer_id in wanted:
            store.layer(layer_id)  # 404 with the bilingual message if absent
        known = {layer.id for layer in found}
        odd = [i for i in wanted if i not in known]
        if odd:
            raise InvalidParameter(f"不是约束图层：{', '.join(odd)}",
                                   f"Not constraint layers: {', '.join(odd)}",
                                   parameter="constraints")
        found = [layer for layer in found if layer.id in wanted]
    return found


def describe(layer: Layer, store: Store) -> dict:
    """A constraint layer as `GET /constraints` lists it."""
    return {"id": layer.id, "kind": layer.style.get(KIND_FIELD, ""),
            "kind_en": layer.style.get("kind_en", ""), "title_zh": layer.title_zh,
            "title_en": layer.title_en, "feature_count": len(store.frame(layer.id)),
            "provenance": {"source": layer.provenance.source,
                           "license": layer.provenance.license,
                           "crs_of_origin": layer.provenance.crs_of_origin,
                           "date": layer.provenance.date, "note": layer.provenance.note}}


def _m2(geoms: np.ndarray) -> np.ndarray:
    if not len(geoms):
        return np.zeros(0)
    return area_km2(np.asarray(geoms, dtype=object), HUZHOU_ZONE_EPSG) * 1e6


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygon parts of an intersection (touching edges give lines and points)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _conflicts(store: Store, constraints: list[Layer],
               layers: list[tuple[Layer, gpd.GeoDataFrame]]):
    """Yield (upload layer, frame, constraint, per-parcel conflict geometries, merged
    conflict of the dissolved layer) for every polygon layer × constraint."""
    for constraint in constraints:
        zones = store.frame(constraint.id)
        zones = zones[~zones.geometry.isna()]
        zone_geoms = zones.geometry.to_numpy()
        for layer, frame in layers:
            geoms = frame.geometry.to_numpy()
            pieces = np.empty(len(geoms), dtype=object)
            pieces[:] = [shapely.Polygon()] * len(geoms)
            pairs = zones.sindex.query(geoms, predicate="intersects") if len(zones) else \
                np.zeros((2, 0), dtype=int)
            for i in np.unique(pairs[0]):
                hit = shapely.union_all(zone_geoms[pairs[1][pairs[0] == i]])
                pieces[i] = _polygonal(shapely.intersection(geoms[i], hit))
            yield layer, frame, constraint, pieces


def compliance(store: Store, layers: list[tuple[Layer, gpd.GeoDataFrame]],
               wanted: list[str] | None = None) -> dict:
    """Conflict areas per constraint and parcel, and totals (see the module docstring)."""
    constraints = constraint_layers(store, wanted)
    polygon_layers = [(layer, frame) for layer, frame in layers
                      if layer.geometry_type in _POLYGONAL]
    not_checked = [{"layer": layer.id, "title": layer.title_zh,
                    "reason": {"zh": "非面图层，不做合规性审查。",
                               "en": "Not a polygon layer: no compliance check."}}
                   for layer, _ in layers if layer.geometry_type not in _POLYGONAL]
    parcel_area = {layer.id: _m2(frame.geometry.to_numpy()) for layer, frame in polygon_layers}
    merged_area = {layer.id: float(_m2(np.array([shapely.union_all(
        frame.geometry.to_numpy())]))[0]) for layer, frame in polygon_layers}
    parcels, totals = [], []
    for layer, frame, constraint, pieces in _conflicts(store, constraints, polygon_layers):
        conflict = _m2(pieces)
        labels = _labels(frame)
        ids = frame[layer.id_field].astype(str).to_numpy()
        areas = parcel_area[layer.id]
        kind = constraint.style.get(KIND_FIELD, "")
        for i in np.flatnonzero(conflict > 0):
            parcels.append({
                "layer": layer.id, "feature": ids[i], "label": labels[i],
                "constraint": constraint.id, "kind": kind, "constraint_title": constraint.title_zh,
                "parcel_area_m2": round(float(areas[i]), 2),
                "conflict_area_m2": round(float(conflict[i]), 2),
                "conflict_area_mu": round(float(conflict[i]) * MU_PER_M2, 4),
                "share_of_parcel": round(float(conflict[i] / areas[i]), 6) if areas[i] else None,
            })
        hit = [p for p in pieces if not p.is_empty]
        dissolved = float(_m2(np.array([shapely.union_all(hit)]))[0]) if hit else 0.0
        layer_area = merged_area[layer.id]
        totals.append({
            "layer": layer.id, "layer_title": layer.title_zh, "constraint": constraint.id,
            "kind": kind, "constraint_title": constraint.title_zh,
            "parcel_count": len(frame), "parcels_in_conflict": int((conflict > 0).sum()),
            "layer_area_m2": round(layer_area, 2),
            "conflict_area_m2": round(dissolved, 2),
            "conflict_area_mu": round(dissolved * MU_PER_M2, 4),
            "share_of_layer": round(dissolved / layer_area, 6) if layer_area else None,
        })
    return {"area_crs": f"EPSG:{HUZHOU_ZONE_EPSG}",
            "constraints": [describe(c, store) for c in constraints],
            "totals": totals, "parcels": parcels, "not_checked": not_checked,
            "compliant": not any(t["conflict_area_m2"] > 0 for t in totals),
            "note": NOTE}


def conflict_features(store: Store, layers: list[tuple[Layer, gpd.GeoDataFrame]],
                      wanted: list[str] | None = None) -> gpd.GeoDataFrame:
    """The conflict polygons (WGS84), one per parcel × constraint, with their areas."""
    constraints = constraint_layers(store, wanted)
    polygon_layers = [(layer, frame) for layer, frame in layers
                      if layer.geometry_type in _POLYGONAL]
    rows, geoms = [], []
    for layer, frame, constraint, pieces in _conflicts(store, constraints, polygon_layers):
        conflict = _m2(pieces)
        labels = _labels(frame)
        ids = frame[layer.id_field].astype(str).to_numpy()
        for i in np.flatnonzero(conflict > 0):
            rows.append({"layer": layer.id, "feature": ids[i], "label": labels[i],
                         "constraint": constraint.id,
                         "kind": constraint.style.get(KIND_FIELD, ""),
                         "constraint_title": constraint.title_zh,
                         "conflict_area_m2": round(float(conflict[i]), 2),
                         "conflict_area_mu": round(float(conflict[i]) * MU_PER_M2, 4)})
            geoms.append(pieces[i])
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326) if rows else \
        gpd.GeoDataFrame({"layer": []}, geometry=[], crs=4326)


TOTAL_COLUMNS = [("layer", "图层 layer"), ("layer_title", "图层名称 layer title"),
                 ("constraint", "约束图层 constraint"), ("kind", "约束类型 kind"),
                 ("constraint_title", "约束名称 constraint title"),
                 ("parcel_count", "地块数 parcels"),
                 ("parcels_in_conflict", "冲突地块数 parcels in conflict"),
                 ("layer_area_m2", "图层面积（平方米） layer area m²"),
                 ("conflict_area_m2", "冲突面积（平方米） conflict m²"),
                 ("conflict_area_mu", "冲突面积（亩） conflict mu"),
                 ("share_of_layer", "占图层比例 share of layer")]
PARCEL_COLUMNS = [("layer", "图层 layer"), ("feature", "要素编号 feature"),
                  ("label", "地块编号/名称 label"), ("constraint", "约束图层 constraint"),
                  ("kind", "约束类型 kind"), ("constraint_title", "约束名称 constraint title"),
                  ("parcel_area_m2", "地块面积（平方米） parcel m²"),
                  ("conflict_area_m2", "冲突面积（平方米） conflict m²"),
                  ("conflict_area_mu", "冲突面积（亩） conflict mu"),
                  ("share_of_parcel", "占地块比例 share of parcel")]


def compliance_xlsx(result: dict, upload_id: str) -> bytes:
    note = f"合规性审查 Compliance check — upload {upload_id}\n{NOTE['zh']}\n{NOTE['en']}"
    return rows_xlsx([("地块冲突 Parcels", PARCEL_COLUMNS, result["parcels"]),
                      ("汇总 Totals", TOTAL_COLUMNS, result["totals"])], note)


def compliance_csv(result: dict) -> bytes:
    """The per-parcel rows (the totals are in the XLSX and the JSON)."""
    return rows_csv(PARCEL_COLUMNS, result["parcels"])
