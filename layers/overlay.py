"""Overlay a planner's upload on the atlas' own layers: what it covers, where, how much.

Zone layers are the polygon layers named in `ZONE_LAYERS` that the store holds right now:
counties, townships once `gongfu import-boundaries` has published polygons (until then they are
points and are skipped, with the reason), and the development-axis domains (发展轴影响区) when
built. Rasters (e.g. the bamboo carbon density, t CO2e/ha/yr) are passed in as
`RasterSource`s and give zonal totals (`geo.raster.zonal_stats`, exactextract on EPSG:4549). A
zone layer or raster that is illustrative says so in the result.

Areas are in km² and 亩 on CGCS2000 3° Gauss-Kruger CM 120E (EPSG:4549), never Web Mercator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geo.measure import HUZHOU_ZONE_EPSG, MU_PER_KM2, area_km2, length_km
from geo.pieces import PairAreas, overlap_groups, pair_areas
from layers.model import Layer
from layers.store import Store

ZONE_LAYERS = ("counties", "townships", "axis_domains")
_POLYGONAL = {"Polygon", "MultiPolygon"}


@dataclass(frozen=True)
class RasterSource:
    """A raster to total under the upload: its catalogue entry (geo.raster.RasterMeta) and file."""

    meta: object  # geo.raster.RasterMeta (kept loose: geo.raster imports rasterio lazily here)
    path: Path


def overlay(store: Store, layers: list[tuple[Layer, gpd.GeoDataFrame]],
            rasters: list[RasterSource] | tuple = (), by_feature: int = 0,
            zone_ids: list[str] | None = None) -> dict:
    """Per upload layer: its total measure and, per zone layer, the zones it meets; with
    `by_feature` > 0, also up to that many (feature, zone) rows for polygon layers.

    `zone_ids` names the zone layers (any published polygon layer, e.g. `counties` or a
    `constraint_…` layer; an unknown id is a 404) instead of the default `ZONE_LAYERS`."""
    present = {layer.id: layer for layer in store.layers()}
    for zone_id in zone_ids or ():
        store.layer(zone_id)  # UnknownCollection (404, bilingual) when not published
    zones, skipped = [], []
    for zone_id in zone_ids or ZONE_LAYERS:
        layer = present.get(zone_id)
        if layer is None:
            skipped.append({"layer": zone_id, "reason": "not in the store yet"})
        elif layer.geometry_type not in _POLYGONAL:
            skipped.append({"layer": zone_id, "reason": f"{layer.geometry_type} layer, not "
                            "polygons (township polygons come from import-boundaries)"
                            if zone_id == "townships" else
                            f"{layer.geometry_type} layer, not polygons"})
        else:
            zones.append(layer)
    out = []
    for layer, frame in layers:
        geoms = frame.geometry.to_numpy()
        entry = {"layer": layer.id, "title": layer.title_zh,
                 "geometry_type": layer.geometry_type, "total": {}, "zones": {}}
        family = layer.geometry_type.removeprefix("Multi")
        if family == "Polygon":
            _polygon_overlay(entry, frame, layer, store, zones, rasters, by_feature)
        else:
            # Lines are dissolved so shared stretches count once; points are counted.
            merged = None if family == "Point" else shapely.union_all(geoms)
            entry["total"] = _measure(geoms, merged, layer)
            for zone in zones:
                entry["zones"][zone.id] = _against(geoms, merged, layer, store.frame(zone.id))
            entry["rasters"] = [_zonal(layer, source) for source in rasters]
        out.append(entry)
    return {"area_crs": f"EPSG:{HUZHOU_ZONE_EPSG}", "layers": out,
            "zone_layers": [{"id": z.id, "title": z.title,
                             "illustrative": z.provenance.illustrative} for z in zones],
            "rasters": [source.meta.id for source in rasters], "not_used": skipped}


def _polygon_overlay(entry: dict, frame: gpd.GeoDataFrame, layer: Layer, store: Store,
                     zones: list[Layer], rasters, by_feature: int) -> None:
    """Fill `entry` for a polygon layer: totals and zones over the dissolved upload (so
    overlapping polygons do not count the same ground twice), rasters, per-feature rows.

    The upload is dissolved into disjoint pieces (`geo.pieces`: only overlapping groups are
    unioned), so the zone areas are sums over pieces and only pieces crossing a zone edge are
    intersected — the figures of the union, without building the union."""
    geoms = frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    parcels = geoms[present]
    parcel_km2 = area_km2(parcels, HUZHOU_ZONE_EPSG)
    grouped, merged = overlap_groups(parcels)  # parcels not grouped are pieces as they are
    merged_km2 = area_km2(merged, HUZHOU_ZONE_EPSG)
    pieces = np.concatenate([parcels[~grouped], merged])
    total = float(parcel_km2[~grouped].sum() + merged_km2.sum())
    entry["total"] = {"area_km2": round(total, 6), "area_mu": round(total * MU_PER_KM2, 2)}
    ids = frame[layer.id_field].astype(str).to_numpy()[present]
    features = {}
    for zone in zones:
        zone_frame = store.frame(zone.id)
        zone_frame = zone_frame[~zone_frame.geometry.isna()]
        zone_geoms = zone_frame.geometry.to_numpy()
        codes = zone_frame.index.astype(str).to_numpy()
        names = (zone_frame["name"].astype(str).to_numpy() if "name" in zone_frame.columns
                 else np.full(len(zone_frame), "", dtype=object))
        if by_feature:  # every parcel's pairs anyway: the lone parcels' serve the zones too
            pairs = pair_areas(parcels, zone_geoms, HUZHOU_ZONE_EPSG, parcel_km2)
            features[zone.id] = _feature_rows(pairs, ids, codes, names, by_feature)
            lone = ~grouped[pairs.geom]
            per_zone = np.bincount(pairs.zone[lone], weights=pairs.km2[lone],
                                   minlength=len(zone_geoms))
            if len(merged):
                per_zone += pair_areas(merged, zone_geoms, HUZHOU_ZONE_EPSG,
                                       merged_km2).per_zone(len(zone_geoms))
        else:
            per_zone = pair_areas(pieces, zone_geoms, HUZHOU_ZONE_EPSG,
                                  np.concatenate([parcel_km2[~grouped], merged_km2])
                                  ).per_zone(len(zone_geoms))
        rows = [{"code": codes[z], "name": names[z], "area_km2": round(float(per_zone[z]), 6),
                 "area_mu": round(float(per_zone[z]) * MU_PER_KM2, 2),
                 "share_of_upload": round(float(per_zone[z]) / (total or 1.0), 6)}
                for z in np.flatnonzero(per_zone > 0)]
        entry["zones"][zone.id] = sorted(rows, key=lambda r: -r["area_km2"])
    entry["rasters"] = [_zonal(layer, source, pieces) for source in rasters]
    if by_feature:
        entry["features"] = features


def _feature_rows(pairs: PairAreas, ids: np.ndarray, codes: np.ndarray, names: np.ndarray,
                  limit: int) -> dict:
    """Each upload polygon's area in each zone (km², 亩), in upload order, first `limit` rows.

    Per feature, so overlapping upload polygons each count their own ground here."""
    order = np.lexsort((pairs.zone, pairs.geom))
    shown = order[:limit]
    rows = [{"feature": ids[f], "code": codes[z], "name": names[z],
             "area_km2": round(float(a), 6), "area_mu": round(float(a) * MU_PER_KM2, 2)}
            for f, z, a in zip(pairs.geom[shown], pairs.zone[shown], pairs.km2[shown])]
    return {"rows": rows, "number_matched": len(order), "truncated": len(order) > limit}


def _zonal(layer: Layer, source: RasterSource, pieces: np.ndarray | None = None) -> dict:
    """Zonal statistics of the dissolved upload over one raster (polygons only): totals over
    its disjoint pieces, which add up to the union's."""
    from geo.raster import info, zonal_stats

    meta = source.meta
    head = {"raster": meta.id, "title": f"{meta.title_zh} {meta.title_en}", "unit": meta.unit,
            "illustrative": meta.illustrative, "note": meta.note}
    if layer.geometry_type not in _POLYGONAL or pieces is None:
        return {**head, "available": False, "reason": "zonal statistics need polygons"}
    # Pieces off the raster add nothing; the others go to exactextract as one multipolygon
    # of interior-disjoint parts (coverage adds up per part: the union's figures, unbuilt).
    west, south, east, north = info(source.path).bounds_wgs84
    near = pieces[shapely.intersects(shapely.box(west - 0.01, south - 0.01, east + 0.01,
                                                 north + 0.01), pieces)]
    covered = total = 0.0
    if len(near):
        (result,) = zonal_stats(np.array([shapely.multipolygons(shapely.get_parts(near))]),
                                source.path, repair=False)
        covered, total = result.covered_ha, result.total
    mean = total / covered if covered > 0 else None  # Σ value·cover / Σ cover
    body = {**head, "available": True, "covered_ha": round(covered, 4),
            "mean": None if mean is None else round(mean, 6)}
    if meta.per_ha:  # a density per ha integrates to a total (e.g. t CO2e/yr)
        body["total"] = round(total, 4)
        body["total_unit"] = meta.unit.replace("/ha", "")
    return body


def _measure(geoms: np.ndarray, merged, layer: Layer) -> dict:
    """Total length (km) of a line layer, or count of a point layer."""
    family = layer.geometry_type.removeprefix("Multi")
    if family == "LineString":
        return {"length_km": round(float(length_km(geoms).sum()), 6)}
    return {"count": int(len(geoms))}


def _against(geoms: np.ndarray, merged, layer: Layer, zones: gpd.GeoDataFrame) -> list[dict]:
    """The zones a line or point layer meets, with the length/count inside each."""
    family = layer.geometry_type.removeprefix("Multi")
    zones = zones[~zones.geometry.isna()]
    if family == "LineString":
        hits = zones.sindex.query(merged, predicate="intersects")
        parts = shapely.intersection(zones.geometry.to_numpy()[hits], merged)
        km = length_km(parts)
        rows = [{"code": str(zones.index[h]), "name": _name(zones, h),
                 "length_km": round(float(v), 6)} for h, v in zip(hits, km) if v > 0]
        return sorted(rows, key=lambda r: -r["length_km"])
    pairs = zones.sindex.query(geoms, predicate="intersects")
    counts = np.bincount(pairs[1], minlength=len(zones)) if pairs.size else np.zeros(len(zones))
    rows = [{"code": str(zones.index[h]), "name": _name(zones, h), "count": int(counts[h])}
            for h in np.flatnonzero(counts)]
    return sorted(rows, key=lambda r: -r["count"])


def _name(zones: gpd.GeoDataFrame, i: int) -> str:
    return str(zones["name"].iloc[i]) if "name" in zones.columns else ""


# --- Table exports (overlay and compliance rows as XLSX/CSV) -------------------------------

# Text starting with these is a formula to Excel (CSV/formula injection, OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_safe(value: object, csv: bool) -> object:
    if isinstance(value, (list, dict)):
        value = str(value)
    if csv and isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value  # shown as text by Excel; the quote says it was escaped
    return value


def rows_csv(columns: list[tuple[str, str]], rows: list[dict]) -> bytes:
    """Rows as CSV (UTF-8 with BOM for Excel), headers "中文 English"; text that Excel would
    read as a formula is prefixed with an apostrophe."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([title for _, title in columns])
    for row in rows:
        writer.writerow([_text_safe(row.get(key), csv=True) for key, _ in columns])
    return buffer.getvalue().encode("utf-8-sig")


def rows_xlsx(sheets: list[tuple[str, list[tuple[str, str]], list[dict]]],
              note: str) -> bytes:
    """Sheets of rows as one workbook plus a 说明 sheet; every text cell is text, never a
    formula (a leading = + - @ gets Excel's quote prefix)."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, columns, rows in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append([name for _, name in columns])
        for row in rows:
            sheet.append([_text_safe(row.get(key), csv=False) for key, _ in columns])
        for line in sheet.iter_rows():
            for cell in line:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never "f" (formula)
                    if cell.value.startswith(FORMULA_START):
                        cell.quotePrefix = True
    about = book.create_sheet("说明 About")
    for line in note.splitlines():
        cell = about.cell(row=about.max_row + 1 if about.max_row > 1 or about["A1"].value
                          else 1, column=1, value=line)
        cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


ZONE_COLUMNS = [("layer", "上传图层 upload layer"), ("layer_title", "图层名称 layer title"),
                ("zone_layer", "叠加图层 zone layer"), ("zone_title", "叠加图层名称 zone title"),
                ("code", "代码 code"), ("name", "名称 name"),
                ("area_km2", "面积（平方千米） area km²"), ("area_mu", "面积（亩） area mu"),
                ("share_of_upload", "占上传比例 share of upload"),
                ("length_km", "长度（千米） length km"), ("count", "个数 count")]
FEATURE_COLUMNS = [("layer", "上传图层 upload layer"), ("zone_layer", "叠加图层 zone layer"),
                   ("feature", "要素编号 feature"), ("code", "代码 code"), ("name", "名称 name"),
                   ("area_km2", "面积（平方千米） area km²"), ("area_mu", "面积（亩） area mu")]
RASTER_COLUMNS = [("layer", "上传图层 upload layer"), ("raster", "栅格 raster"),
                  ("title", "名称 title"), ("unit", "单位 unit"),
                  ("covered_ha", "覆盖面积（公顷） covered ha"), ("mean", "均值 mean"),
                  ("total", "合计 total"), ("total_unit", "合计单位 total unit"),
                  ("illustrative", "示例数据 illustrative")]


def overlay_rows(result: dict) -> dict[str, list[dict]]:
    """The /overlay answer as flat rows: zones (with each upload layer's total first), rasters,
    and per-feature rows when asked for."""
    titles = {z["id"]: z["title"] for z in result["zone_layers"]}
    zones, rasters, features = [], [], []
    for entry in result["layers"]:
        head = {"layer": entry["layer"], "layer_title": entry["title"]}
        zones.append({**head, "zone_layer": "合计 total", "share_of_upload": 1.0
                      if "area_km2" in entry["total"] else None, **entry["total"]})
        for zone_id, rows in entry["zones"].items():
            for row in rows:
                zones.append({**head, "zone_layer": zone_id, "zone_title": titles.get(zone_id),
                              **row})
        for raster in entry.get("rasters", []):
            rasters.append({"layer": entry["layer"], **raster})
        for zone_id, block in entry.get("features", {}).items():
            for row in block["rows"]:
                features.append({"layer": entry["layer"], "zone_layer": zone_id, **row})
    return {"zones": zones, "rasters": rasters, "features": features}


def overlay_xlsx(result: dict, upload_id: str) -> bytes:
    rows = overlay_rows(result)
    sheets = [("叠加 Zones", ZONE_COLUMNS, rows["zones"])]
    if rows["rasters"]:
        sheets.append(("栅格 Rasters", RASTER_COLUMNS, rows["rasters"]))
    if rows["features"]:
        sheets.append(("逐要素 Features", FEATURE_COLUMNS, rows["features"]))
    note = (f"叠加分析 Overlay — upload {upload_id}\n面积在 CGCS2000 3° 高斯-克吕格 CM 120E"
            f"（{result['area_crs']}）平面上计算，1 平方千米 = 1500 亩。\nAreas on CGCS2000 3° "
            f"Gauss-Kruger CM 120E ({result['area_crs']}); 1 km² = 1,500 mu.")
    for zone in result["zone_layers"]:
        if zone["illustrative"]:
            note += f"\n{zone['title']}：演示/算法生成数据 illustrative, not official."
    return rows_xlsx(sheets, note)


def overlay_csv(result: dict) -> bytes:
    """The zone rows (rasters and per-feature rows are in the XLSX and the JSON)."""
    return rows_csv(ZONE_COLUMNS, overlay_rows(result)["zones"])
