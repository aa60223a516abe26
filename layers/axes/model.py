"""What a development-axis plan is made of: ranks, types, default widths, the provincial
benchmarks, and the Axis / AxisDomain / Cluster / AxisPlan records.

Geometries are WGS84 lon/lat; lengths (km) and areas (km²) are measured on the CGCS2000 3°
Gauss-Kruger plane of Huzhou (EPSG:4549).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import shapely

from geo import measure
from geo.measure import HUZHOU_ZONE_EPSG
from layers.settlement_nodes import Node

RANKS = ("main", "secondary", "branch")  # 主轴 次轴 支轴
RANK_ZH = {"main": "主轴", "secondary": "次轴", "branch": "支轴"}
AXIS_TYPES = ("industry", "common_prosperity", "radiation")  # 产业轴 共富轴 辐射轴
AXIS_TYPE_ZH = {"industry": "产业轴", "common_prosperity": "共富轴", "radiation": "辐射轴"}
# Buffer distance on each side of an axis, km. Not from a source: the province publishes no
# width; planners override these per request.
DEFAULT_BUFFER_KM = {"main": 5.0, "secondary": 3.0, "branch": 1.5}
# Provincial benchmarks (《今日浙江》2025年第23期): axis domains cover 46.4% of county land and
# 73.7% of resident population.
PROVINCIAL_AREA_SHARE_PCT = 46.4
PROVINCIAL_POPULATION_SHARE_PCT = 73.7
BENCHMARK_SOURCE = "《今日浙江》2025年第23期（总第782期）, 2025-12"
ACCESS_THRESHOLDS_KM = (5, 10, 20)
GENERATION_RULE = ("以点串轴: main = shortest open path through the county town and central "
                   "towns (EPSG:4549); secondary = key village to its nearest higher-tier node "
                   "in the county; straight segments (schematic)")
# The store layers a served plan is read from (a scenario's copies carry a prefix).
AXIS_LAYER_IDS = ("axis_nodes", "axes", "axis_domains", "axis_clusters")


@dataclass(frozen=True)
class Axis:
    """A development axis: ordered member nodes and the line through them (WGS84)."""

    axis_id: str
    name: str
    rank: str  # main 主轴 | secondary 次轴 | branch 支轴
    type: str  # industry | common_prosperity | radiation
    county_code: str
    members: tuple[str, ...]
    line: shapely.LineString
    length_km: float  # on EPSG:4549
    schematic: bool  # True for generated axes (算法生成; 演示 in the shipped demo)
    rule: str = ""

    @classmethod
    def through(cls, axis_id: str, name: str, rank: str, kind: str, county: str,
                members: list[Node], schematic: bool, rule: str = "") -> Axis:
        """The straight polyline through placed `members` in order, its length in km."""
        line = shapely.LineString([(m.point.x, m.point.y) for m in members])
        length = float(measure.length_km([line], HUZHOU_ZONE_EPSG)[0])
        return cls(axis_id, name, rank, kind, county, tuple(m.name for m in members), line,
                   round(length, 3), schematic, rule)


@dataclass(frozen=True)
class AxisDomain:
    """轴域: the axis buffered by its rank's distance, clipped to its county (WGS84)."""

    axis_id: str
    rank: str
    county_code: str
    buffer_km: float
    geometry: shapely.Geometry
    area_km2: float


@dataclass(frozen=True)
class Cluster:
    """片区组团: a key village (hub) and its member villages."""

    hub: str
    county_code: str
    members: tuple[str, ...]
    unplaced_members: tuple[str, ...]
    geometry: shapely.MultiLineString | None  # spider lines hub → each placed member
    area: shapely.MultiPolygon | None = None  # union of hub/member polygons, where given
    area_km2: float | None = None


@dataclass
class AxisPlan:
    """Everything derived from one node table: the result of `plan_axes`."""

    nodes: list[Node]
    axes: list[Axis]
    domains: list[AxisDomain]
    clusters: list[Cluster]
    buffer_km: dict[str, float]
    generated: bool
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def unplaced(self) -> list[Node]:
        return [n for n in self.nodes if not n.placed]
